//! End-to-end: the real `app` binary against a real PostgreSQL, one database per test.

use std::process::Command;

use pgbaked_testing::TestDb;

const APP: &str = env!("CARGO_BIN_EXE_app");

mod common;
use common::{LIMIT, Spawned, app, bounded, output, stderr, stdout};

async fn history_rows(db: &TestDb) -> Vec<(i64, String)> {
    bounded("reading the history table", async {
        let client = db.pool().get().await.unwrap();
        client
            .query(
                "SELECT version, name FROM refinery_schema_history ORDER BY version",
                &[],
            )
            .await
            .unwrap()
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect()
    })
    .await
}

#[tokio::test]
async fn up_applies_both_migrations_and_current_prints_2() {
    let db = TestDb::empty().await.unwrap();
    let before = app(db.url(), &["migrate", "current"]);
    assert_eq!(stdout(&before), "base\n");

    let up = app(db.url(), &["migrate", "up"]);
    assert!(up.status.success(), "{}", stderr(&up));
    let lines: Vec<String> = stdout(&up).lines().map(str::to_string).collect();
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert!(
        lines[0].starts_with("applied   V1    initial  ("),
        "{lines:?}"
    );
    assert!(lines[1].starts_with("applied   V2    move_tokens_to_swagger_specs  ("));
    assert!(
        stderr(&up).contains("applied migration"),
        "logs go to stderr"
    );

    let current = app(db.url(), &["migrate", "current"]);
    assert!(current.status.success());
    assert_eq!(stdout(&current), "2\n");
    assert_eq!(
        history_rows(&db).await,
        [
            (1, "initial".into()),
            (2, "move_tokens_to_swagger_specs".into())
        ]
    );

    let again = app(db.url(), &["migrate", "up"]);
    assert!(again.status.success());
    assert_eq!(stdout(&again), "", "nothing to apply prints no result");
}

#[tokio::test]
async fn history_lists_applied_and_pending_in_text_and_json() {
    let db = TestDb::at(app::MIGRATIONS, 1).await.unwrap();
    let text = app(db.url(), &["migrate", "history"]);
    assert!(text.status.success(), "{}", stderr(&text));
    let lines: Vec<&str> = std::str::from_utf8(&text.stdout).unwrap().lines().collect();
    assert_eq!(lines.len(), 2);
    assert!(lines[0].starts_with("applied   V1  initial "), "{lines:?}");
    assert!(lines[0].ends_with('Z'), "applied_on is shown: {lines:?}");
    assert_eq!(lines[1], "pending   V2  move_tokens_to_swagger_specs");

    let json = app(
        db.url(),
        &["migrate", "history", "--verbose", "--format", "json"],
    );
    let value: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(value[0]["state"], "applied");
    assert_eq!(value[1]["state"], "pending");
    assert_eq!(value[1]["file"], "sql/V2__move_tokens_to_swagger_specs.sql");
    assert_eq!(
        value[1]["undo_file"],
        "sql/U2__move_tokens_to_swagger_specs.sql"
    );

    let current = app(db.url(), &["migrate", "current", "--format", "json"]);
    let value: serde_json::Value = serde_json::from_slice(&current.stdout).unwrap();
    assert_eq!(value, serde_json::json!({ "current": 1, "head": 2 }));
}

#[tokio::test]
async fn show_prints_one_migration_with_its_sql_and_undo() {
    let db = TestDb::new(app::MIGRATIONS).await.unwrap();
    let out = app(
        db.url(),
        &["migrate", "show", "V2__move_tokens_to_swagger_specs"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("version:     2\n"), "{text}");
    assert!(text.contains("state:       applied\n"));
    assert!(text.contains("ALTER TABLE swagger_specs ADD COLUMN jwt_token TEXT;"));
    assert!(text.contains("-- sql/U2__move_tokens_to_swagger_specs.sql\n"));
    assert!(text.contains("ALTER TABLE swagger_specs DROP COLUMN jwt_token;"));

    let json = app(db.url(), &["migrate", "show", "1", "--format", "json"]);
    let value: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(value["name"], "initial");
    assert!(
        value["undo_sql"]
            .as_str()
            .unwrap()
            .contains("DROP TABLE users;")
    );
}

#[tokio::test]
async fn bad_revisions_exit_1_with_a_clear_error_and_usage_errors_exit_2() {
    let db = TestDb::empty().await.unwrap();
    // A revision that does not parse is a usage error (2); one that names nothing here, a
    // failure (1).
    let cases = [
        (
            vec!["migrate", "up", "+x"],
            2,
            "error: invalid revision `+x`",
        ),
        (
            vec!["migrate", "up", "7"],
            1,
            "error: no migration has version 7\n  hint: see `app migrate history`",
        ),
        (
            vec!["migrate", "down", "-0"],
            2,
            "error: invalid revision `-0`: a relative step must be at least 1",
        ),
        (
            vec!["migrate", "show", "V2__wrong"],
            1,
            "error: no migration is named V2__wrong",
        ),
    ];
    for (args, code, message) in cases {
        let out = app(db.url(), &args);
        assert_eq!(out.status.code(), Some(code), "{args:?}");
        assert!(stderr(&out).contains(message), "{args:?}: {}", stderr(&out));
        // Nothing but the error: no server warning from the lock's release.
        assert!(
            !stderr(&out).contains("WARNING"),
            "{args:?}: {}",
            stderr(&out)
        );
        assert_eq!(stdout(&out), "");
    }
    let usage = app(db.url(), &["migrate", "sideways"]);
    assert_eq!(usage.status.code(), Some(2));
}

#[tokio::test]
async fn a_reader_that_closes_stdout_early_is_no_error() {
    let db = TestDb::new(app::MIGRATIONS).await.unwrap();
    // `app migrate history | head -0`: the reader is gone before the first line.
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let out = common::Spawned::spawn(
        std::process::Command::new(env!("CARGO_BIN_EXE_app"))
            .args(["migrate", "history"])
            .env("DATABASE_URL", db.url())
            .stdin(std::process::Stdio::null())
            .stdout(writer)
            .stderr(std::process::Stdio::piped()),
    )
    .wait_within(common::LIMIT);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(!stderr(&out).contains("panicked"), "{}", stderr(&out));
}

#[tokio::test]
async fn connection_errors_say_what_the_driver_said_without_the_pools_wrapper() {
    // Nothing listens on port 1.
    let out = app(
        "postgres://postgres@127.0.0.1:1/postgres",
        &["migrate", "current"],
    );
    assert_eq!(out.status.code(), Some(1));
    let text = stderr(&out);
    assert!(
        text.contains("error: connecting to postgres@127.0.0.1:1/postgres: "),
        "{text}"
    );
    assert!(
        !text.contains("Error occurred while creating a new object"),
        "{text}"
    );
}

#[tokio::test]
async fn concurrent_upgrades_apply_each_migration_exactly_once() {
    let db = TestDb::empty().await.unwrap();
    // They queue on the migration lock: one deadline for all, and whichever still run when
    // the test fails are killed.
    let children: Vec<_> = (0..32)
        .map(|_| {
            Spawned::spawn(
                Command::new(APP)
                    .args(["migrate", "up"])
                    .env("DATABASE_URL", db.url())
                    .stdin(std::process::Stdio::null())
                    .stdout(std::process::Stdio::piped())
                    .stderr(std::process::Stdio::piped()),
            )
        })
        .collect();
    let deadline = std::time::Instant::now() + LIMIT;
    let mut applied_lines = 0;
    for child in children {
        let out = child.wait_until(deadline);
        assert!(out.status.success(), "{}", stderr(&out));
        applied_lines += stdout(&out).lines().count();
    }
    assert_eq!(
        applied_lines, 2,
        "each migration is applied by exactly one process"
    );
    assert_eq!(history_rows(&db).await.len(), 2);
}

#[tokio::test]
async fn password_is_printed_nowhere() {
    let secret = "pw-Zq81-secret";
    let db = TestDb::empty().await.unwrap();
    let with_password = db
        .url()
        .replacen("postgres@", &format!("postgres:{secret}@"), 1);
    let unreachable = format!("postgres://postgres:{secret}@127.0.0.1:1/nowhere");
    let missing_db = pgbaked_testing::url_with_dbname(&with_password, "no_such_db_for_app_tests");
    let malformed = format!("postgres://postgres:{secret}@127.0.0.1:notaport/db");
    let runs = [
        (with_password.as_str(), vec!["--help"]),
        (with_password.as_str(), vec!["migrate", "--help"]),
        (with_password.as_str(), vec!["migrate", "up", "--help"]),
        (with_password.as_str(), vec!["migrate", "up"]),
        (
            with_password.as_str(),
            vec!["migrate", "history", "--format", "json"],
        ),
        (unreachable.as_str(), vec!["migrate", "current"]),
        (
            missing_db.as_str(),
            vec!["migrate", "current", "--format", "json"],
        ),
        (malformed.as_str(), vec!["migrate", "current"]),
        (
            with_password.as_str(),
            vec!["--database-url", &unreachable, "migrate", "current"],
        ),
        (
            with_password.as_str(),
            vec!["--database-url", &malformed, "migrate", "up"],
        ),
        (with_password.as_str(), vec!["migrate", "up", "nonsense"]),
    ];
    for (url, args) in runs {
        let out = output(
            Command::new(APP)
                .args(&args)
                .env("DATABASE_URL", url)
                .env("RUST_LOG", "trace"),
        );
        let all = format!("{}{}", stdout(&out), stderr(&out));
        assert!(
            !all.contains(secret),
            "{args:?} printed the password:\n{all}"
        );
    }
    let refused = app(&unreachable, &["migrate", "current"]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(
        stderr(&refused).contains("connecting to postgres@127.0.0.1:1/nowhere"),
        "{}",
        stderr(&refused)
    );
    let malformed_out = app(&malformed, &["migrate", "current"]);
    assert_eq!(malformed_out.status.code(), Some(2));
    assert!(
        stderr(&malformed_out).contains("invalid database URL"),
        "{}",
        stderr(&malformed_out)
    );
}

#[tokio::test]
async fn missing_database_fails_at_once_even_with_wait() {
    let db = TestDb::empty().await.unwrap();
    let missing = pgbaked_testing::url_with_dbname(db.url(), "no_such_db_for_app_tests");
    let started = std::time::Instant::now();
    let out = app(&missing, &["--wait", "30s", "migrate", "current"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
    assert!(stderr(&out).contains("does not exist"), "{}", stderr(&out));
}

#[test]
fn wait_lasts_as_long_as_asked() {
    // Nothing listens on port 1: every attempt is refused at once, and retried until the
    // wait is over, not until the backoff's own delays add up to less than it.
    let started = std::time::Instant::now();
    let out = app(
        "postgres://postgres@127.0.0.1:1/none",
        &["--wait", "2s", "migrate", "current"],
    );
    let elapsed = started.elapsed();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        elapsed >= std::time::Duration::from_secs(2) && elapsed < std::time::Duration::from_secs(6),
        "{elapsed:?}"
    );
}

#[test]
fn a_revision_that_does_not_parse_is_a_usage_error() {
    for rev in ["0", "+0", "sideways"] {
        let out = app(
            "postgres://unused@127.0.0.1:1/none",
            &["migrate", "up", rev, "--sql"],
        );
        assert_eq!(out.status.code(), Some(2), "{rev}: {}", stderr(&out));
        assert!(
            stderr(&out).contains("invalid revision"),
            "{}",
            stderr(&out)
        );
    }
}
