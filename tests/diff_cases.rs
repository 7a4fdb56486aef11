//! The schema planner, case by case, as pg-schema-diff's acceptance tests do it and then some:
//! each case is a schema to start from and one to reach, planned both ways, each plan applied
//! to a database that holds the start, and the result compared with the target twice: by the
//! planner's own catalog, and by `pg_dump --schema-only`, which sees every kind of object
//! whether the planner models it or not.
//!
//! A case the planner cannot generate must say so (a change marked unsupported), never plan
//! nothing: whenever two databases' dumps differ, the plan is not empty.

use std::process::Command;

use pg_migrate::{Catalog, Change};
use pg_migrate_testing::TestDb;

mod common;
use common::bounded;

/// What a case expects of the plan in each direction.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Expect {
    /// Applied, it reaches the target: same catalog, same dump.
    Converges,
    /// It says what it cannot generate (an unsupported change), and plans no less than that.
    Reported,
}

struct Case {
    from: &'static str,
    to: &'static str,
    forward: Expect,
    back: Expect,
}

const fn both(from: &'static str, to: &'static str) -> Case {
    Case {
        from,
        to,
        forward: Expect::Converges,
        back: Expect::Converges,
    }
}

const fn reported(from: &'static str, to: &'static str) -> Case {
    Case {
        from,
        to,
        forward: Expect::Reported,
        back: Expect::Reported,
    }
}

async fn catalog(db: &TestDb) -> Catalog {
    let client = db.pool().get().await.unwrap();
    Catalog::read(&client, &[]).await.unwrap()
}

async fn run(db: &TestDb, sql: &str) {
    let client = db.pool().get().await.unwrap();
    bounded(sql, client.batch_execute(sql))
        .await
        .unwrap_or_else(|err| panic!("{sql}: {err:?}"));
}

/// `pg_dump --schema-only` normalised as the history judge does it: comments, `SET` lines and
/// psql meta-commands dropped, statements sorted, the columns of each `CREATE TABLE` sorted (a
/// plan can only append columns).
fn dump(db: &TestDb) -> String {
    let out = Command::new("pg_dump")
        .args(["--schema-only", "--no-owner", "--no-privileges", db.url()])
        .output()
        .expect("pg_dump runs");
    assert!(
        out.status.success(),
        "pg_dump: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let mut statements = Vec::new();
    let mut current: Vec<&str> = Vec::new();
    for line in text.lines() {
        if line.starts_with("--")
            || line.starts_with("SET ")
            || line.starts_with('\\')
            || line.starts_with("SELECT pg_catalog.set_config")
            || line.trim().is_empty()
        {
            continue;
        }
        current.push(line);
        if line.trim_end().ends_with(';') {
            statements.push(sorted_columns(&current));
            current.clear();
        }
    }
    statements.sort();
    statements.join("\n")
}

fn sorted_columns(lines: &[&str]) -> String {
    let is_table = lines.first().is_some_and(|l| {
        (l.starts_with("CREATE TABLE ") || l.starts_with("CREATE UNLOGGED TABLE "))
            && l.ends_with('(')
    });
    if !is_table || lines.len() < 3 || !lines[lines.len() - 1].starts_with(')') {
        return lines.join("\n");
    }
    let mut columns: Vec<&str> = lines[1..lines.len() - 1]
        .iter()
        .map(|c| c.trim_end_matches(','))
        .collect();
    columns.sort();
    format!(
        "{}\n{}\n{}",
        lines[0],
        columns.join("\n"),
        lines[lines.len() - 1]
    )
}

fn unsupported(plan: &[Change]) -> bool {
    plan.iter().any(|c| c.sql.starts_with("-- unsupported"))
}

/// Plans `start` → `target` on a fresh database holding `start`, applies the plan statement
/// by statement as psql would, and checks the outcome against `expect`.
async fn direction(what: &str, start: &str, target: &str, expect: Expect) {
    let (db, goal) = (
        TestDb::empty().await.unwrap(),
        TestDb::empty().await.unwrap(),
    );
    run(&db, start).await;
    run(&goal, target).await;
    let plan = catalog(&db).await.plan(&catalog(&goal).await);
    let differs = dump(&db) != dump(&goal);
    if differs {
        assert!(
            !plan.is_empty(),
            "{what}: the dumps differ, yet the plan is empty"
        );
    }
    if expect == Expect::Reported {
        assert!(
            unsupported(&plan),
            "{what}: expected an unsupported change: {plan:#?}"
        );
        return;
    }
    assert!(!unsupported(&plan), "{what}: {plan:#?}");
    let client = db.pool().get().await.unwrap();
    for change in &plan {
        bounded(&change.sql, client.batch_execute(&change.sql))
            .await
            .unwrap_or_else(|err| panic!("{what}: {}: {err:?}\nplan: {plan:#?}", change.sql));
    }
    drop(client);
    let left = catalog(&db).await.diff(&catalog(&goal).await);
    assert!(left.is_empty(), "{what}: left after the plan: {left:#?}\nplan: {plan:#?}");
    let (reached, wanted) = (dump(&db), dump(&goal));
    if reached != wanted {
        let only = |a: &str, b: &str| -> Vec<String> {
            let b: Vec<&str> = b.lines().collect();
            a.lines()
                .filter(|l| !b.contains(l))
                .map(str::to_string)
                .collect()
        };
        panic!(
            "{what}: the dump differs after the plan\nonly reached: {:#?}\nonly wanted: {:#?}\nplan: {plan:#?}",
            only(&reached, &wanted),
            only(&wanted, &reached)
        );
    }
}

async fn check(name: &str, case: Case) {
    direction(&format!("{name} (forward)"), case.from, case.to, case.forward).await;
    direction(&format!("{name} (back)"), case.to, case.from, case.back).await;
}

macro_rules! cases {
    ($($name:ident: $case:expr;)*) => {
        $(
            #[tokio::test]
            async fn $name() {
                check(stringify!($name), $case).await;
            }
        )*
    };
}

// Hostile names: every statement the plan writes quotes what it takes from the catalog, and
// what it makes up.
cases! {
    hostile_schema_name_is_quoted: both(
        "CREATE TABLE victim (id int); INSERT INTO victim VALUES (1);",
        r#"CREATE TABLE victim (id int); INSERT INTO victim VALUES (1);
           CREATE SCHEMA "x; DROP TABLE victim";
           CREATE TABLE "x; DROP TABLE victim".t (id int);
           COMMENT ON SCHEMA "x; DROP TABLE victim" IS 'it''s hostile';"#,
    );
    mixed_case_schema_with_a_view_and_a_function: both(
        "",
        r#"CREATE SCHEMA "Mixed Schema";
           CREATE TABLE "Mixed Schema"."Orders" ("Id" serial PRIMARY KEY, "select" text);
           CREATE VIEW "Mixed Schema"."Open ""orders""" AS SELECT "Id", "select" FROM "Mixed Schema"."Orders";
           CREATE FUNCTION "Mixed Schema"."count it"("n" int) RETURNS int LANGUAGE sql AS $$ SELECT n $$;"#,
    );
    quote_in_a_table_with_a_serial: both(
        "",
        r#"CREATE TABLE "Ev'il" (id serial PRIMARY KEY, "a""b" text);
           CREATE INDEX "Ev'il idx" ON "Ev'il" ("a""b");"#,
    );
    quote_in_a_table_whose_serial_becomes_an_identity: both(
        r#"CREATE TABLE "Ev'il" (id serial PRIMARY KEY); INSERT INTO "Ev'il" DEFAULT VALUES;"#,
        r#"CREATE TABLE "Ev'il" (id int GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY);
           INSERT INTO "Ev'il" DEFAULT VALUES;"#,
    );
    same_table_name_in_two_schemas: both(
        "CREATE SCHEMA a; CREATE TABLE a.t (id int); CREATE TABLE t (id int);",
        "CREATE SCHEMA a; CREATE TABLE a.t (id bigint, x text); CREATE TABLE t (id int, y text);",
    );
    unicode_and_keywords: both(
        r#"CREATE TABLE "order" ("select" int);"#,
        r#"CREATE TABLE "order" ("select" bigint, "naïve 🐘" text NOT NULL DEFAULT 'x');
           CREATE TYPE "Mood" AS ENUM ('it''s', 'ok');
           ALTER TABLE "order" ADD COLUMN m "Mood";
           COMMENT ON COLUMN "order"."naïve 🐘" IS 'ünïcode';"#,
    );
    long_names_cut_to_63_bytes: both(
        "",
        "CREATE TABLE a_table_name_that_is_very_long_indeed_and_goes_on_and_on_and_on (
             a_column_name_that_is_also_very_long_and_goes_on_and_on_and_on serial PRIMARY KEY);",
    );
    temporary_not_null_check_does_not_clash: both(
        "CREATE TABLE t (a int, CONSTRAINT a_not_null CHECK (a > 0));",
        "CREATE TABLE t (a int NOT NULL, CONSTRAINT a_not_null CHECK (a > 0));",
    );
}

#[tokio::test]
async fn an_identity_taken_over_from_a_serial_keeps_the_numbering() {
    let (db, goal) = (
        TestDb::empty().await.unwrap(),
        TestDb::empty().await.unwrap(),
    );
    run(&db, "CREATE TABLE t (id bigserial PRIMARY KEY, n int); INSERT INTO t (n) SELECT generate_series(1, 5);").await;
    run(&goal, "CREATE TABLE t (id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, n int);").await;
    let plan = catalog(&db).await.plan(&catalog(&goal).await);
    run(&db, &pg_migrate::render_changes(&plan)).await;
    run(&db, "INSERT INTO t (n) VALUES (6)").await;
    let client = db.pool().get().await.unwrap();
    let max: i64 = client.query_one("SELECT max(id) FROM t", &[]).await.unwrap().get(0);
    assert_eq!(max, 6, "{plan:#?}");
}
