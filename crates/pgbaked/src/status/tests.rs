//! The status logic against hand-built histories: plans up and down, refusals, states.

use super::*;
use crate::migration::Script;

fn migrations(spec: &[(i64, bool)]) -> Vec<Migration> {
    spec.iter()
        .map(|&(v, undo)| {
            Migration::new(
                v,
                &format!("m{v}"),
                Script::new(format!("sql/V{v}__m{v}.sql"), format!("SELECT {v};")),
                undo.then(|| Script::new(format!("sql/U{v}__m{v}.sql"), "SELECT 0;")),
            )
            .unwrap()
        })
        .collect()
}

fn rows(migrations: &[Migration], versions: &[i64]) -> Vec<AppliedRow> {
    versions
        .iter()
        .map(|&v| AppliedRow {
            version: v,
            name: format!("m{v}"),
            applied_on: "2026-11-22T10:00:00Z".into(),
            checksum: migrations
                .iter()
                .find(|m| m.version() == v)
                .map_or("1".into(), |m| m.checksum().to_string()),
        })
        .collect()
}

fn versions(plan: Result<Vec<&Migration>, Error>) -> Result<Vec<i64>, String> {
    plan.map(|p| p.iter().map(|m| m.version()).collect())
        .map_err(|e| e.to_string())
}

#[test]
fn upgrade_plans() {
    let set = migrations(&[(1, true), (2, true), (3, true), (5, true)]);
    let applied = rows(&set, &[1, 2]);
    let status = Status::new(&set, &applied);
    let up = |rev: &str| versions(status.plan_up(&rev.parse().unwrap()));
    assert_eq!(status.current(), Some(2));
    assert_eq!(status.head(), Some(5));
    assert_eq!(up("head"), Ok(vec![3, 5]));
    assert_eq!(up("+1"), Ok(vec![3]));
    assert_eq!(up("+2"), Ok(vec![3, 5]));
    assert_eq!(up("3"), Ok(vec![3]));
    assert_eq!(up("V5__m5"), Ok(vec![3, 5]));
    assert_eq!(up("2"), Ok(vec![]));
    let cases = [
        (
            "+3",
            "cannot go up 3 step(s): only 2 migration(s) are pending",
        ),
        ("1", "cannot upgrade to 1: the database is already at 2"),
        ("4", "no migration has version 4"),
        (
            "V3__other",
            "no migration is named V3__other; version 3 is V3__m3",
        ),
        ("-1", "`-1` points the wrong way for this command"),
        (
            "base",
            "cannot upgrade to base: the database is already at 2",
        ),
    ];
    for (rev, message) in cases {
        assert_eq!(up(rev), Err(message.to_string()), "{rev}");
    }
}

#[test]
fn out_of_order_pending_migration_is_refused() {
    let set = migrations(&[(1, true), (2, true), (3, true)]);
    let applied = rows(&set, &[1, 3]);
    let status = Status::new(&set, &applied);
    assert_eq!(
        versions(status.plan_up(&Rev::Head)),
        Err("migration V2__m2 is pending but the database is already at version 3; give it a version above 3".into())
    );
}

#[test]
fn downgrade_plans() {
    let set = migrations(&[(1, true), (2, true), (3, true)]);
    let applied = rows(&set, &[1, 2, 3]);
    let status = Status::new(&set, &applied);
    let down = |rev: &str| versions(status.plan_down(&rev.parse().unwrap()));
    assert_eq!(down("-1"), Ok(vec![3]));
    assert_eq!(down("-3"), Ok(vec![3, 2, 1]));
    assert_eq!(down("base"), Ok(vec![3, 2, 1]));
    assert_eq!(down("1"), Ok(vec![3, 2]));
    assert_eq!(down("V3__m3"), Ok(vec![]));
    assert_eq!(down("head"), Ok(vec![]));
    assert_eq!(
        down("-4"),
        Err("cannot go down 4 step(s): only 3 migration(s) are applied".into())
    );
    assert_eq!(
        down("+1"),
        Err("`+1` points the wrong way for this command".into())
    );

    let partial = rows(&set, &[1]);
    let status = Status::new(&set, &partial);
    assert_eq!(
        versions(status.plan_down(&"3".parse().unwrap())),
        Err("cannot downgrade to 3: the database is at 1, below it".into())
    );
}

#[test]
fn downgrade_stops_before_an_irreversible_migration() {
    let set = migrations(&[(1, true), (2, false), (3, true)]);
    let applied = rows(&set, &[1, 2, 3]);
    let status = Status::new(&set, &applied);
    assert_eq!(versions(status.plan_down(&Rev::Relative(-1))), Ok(vec![3]));
    assert_eq!(
        versions(status.plan_down(&Rev::Base)),
        Err("migration V2__m2 has no undo file (U2__m2.sql), so it cannot be reverted; nothing was changed".into())
    );
}

#[test]
fn unknown_and_divergent_versions_are_classified() {
    let set = migrations(&[(1, true), (2, true)]);
    let mut applied = rows(&set, &[1, 2, 7]);
    applied[1].checksum = "42".into();
    let status = Status::new(&set, &applied);
    assert_eq!(status.versions(State::Unknown), [7]);
    assert_eq!(status.versions(State::Divergent), [2]);
    assert_eq!(status.current(), Some(7));
    assert_eq!(status.head(), Some(2));
    let err = status.verify_checksums().unwrap_err().to_string();
    assert!(
        err.starts_with("migration V2__m2 (sql/V2__m2.sql) was applied with checksum 42 but the file now hashes to "),
        "{err}"
    );
    // V7 is no migration of this binary's: only its recorded undo could revert it.
    assert!(
        versions(status.plan_down(&Rev::Relative(-1)))
            .unwrap_err()
            .starts_with("migration V7__m7 is not this binary's and no undo was recorded for it")
    );
}

#[test]
fn resolve_names_embedded_migrations() {
    let set = migrations(&[(1, true), (2, true), (3, true)]);
    let applied = rows(&set, &[1, 2]);
    let status = Status::new(&set, &applied);
    let resolve = |rev: &str| {
        status
            .resolve(&rev.parse().unwrap())
            .map(|m| m.map(Migration::version))
            .map_err(|e| e.to_string())
    };
    assert_eq!(resolve("head"), Ok(Some(3)));
    assert_eq!(resolve("base"), Ok(None));
    assert_eq!(resolve("+1"), Ok(Some(3)));
    assert_eq!(resolve("-1"), Ok(Some(1)));
    assert_eq!(resolve("-2"), Ok(None));
    assert_eq!(resolve("2"), Ok(Some(2)));
    assert!(resolve("+2").is_err());
    assert!(resolve("-3").is_err());
}
