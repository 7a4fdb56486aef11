//! Alembic's workflow through the real binary: any target, undo, offline scripts, check,
//! stamp and create. Schemas are compared with `pg_dump -s`.

use std::io::Write;
use std::process::Command;

use pgbaked_testing::TestDb;

mod common;
use common::{app, bounded, output, psql, stderr, stdout};

fn ok(url: &str, args: &[&str]) -> String {
    let out = app(url, args);
    assert!(
        out.status.success(),
        "app {args:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn current(url: &str) -> String {
    ok(url, &["migrate", "current"]).trim().to_string()
}

/// The schema as `pg_dump -s` prints it, without the comment lines that name the database.
fn schema(url: &str) -> String {
    // pg_dump takes a lock on every table: bounded, in case one is held.
    let out = output(Command::new("pg_dump").args([
        "--schema-only",
        "--no-owner",
        "--no-privileges",
        "-d",
        url,
    ]));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .filter(|l| {
            !l.starts_with("--") && !l.starts_with("\\restrict") && !l.starts_with("\\unrestrict")
        })
        .collect::<Vec<_>>()
        .join("\n")
}

async fn history(db: &TestDb) -> Vec<(i64, String, String)> {
    bounded("reading the history table", async {
        let client = db.pool().get().await.unwrap();
        client
            .query(
                "SELECT version, name, checksum FROM refinery_schema_history ORDER BY version",
                &[],
            )
            .await
            .unwrap()
            .iter()
            .map(|r| (r.get(0), r.get(1), r.get(2)))
            .collect()
    })
    .await
}

#[tokio::test]
async fn head_minus_one_plus_one_base_version_head() {
    let db = TestDb::empty().await.unwrap();
    let url = db.url();
    ok(url, &["migrate", "up", "head"]);
    assert_eq!(current(url), "2");
    let after_first_up = schema(url);

    let down = ok(url, &["migrate", "down", "-1"]);
    assert!(
        down.starts_with("reverted  V2    move_tokens_to_swagger_specs"),
        "{down}"
    );
    assert_eq!(current(url), "1");
    ok(url, &["migrate", "up", "+1"]);
    assert_eq!(current(url), "2");
    let base = ok(url, &["migrate", "downgrade", "base"]);
    assert_eq!(base.lines().count(), 2);
    assert_eq!(current(url), "base");
    ok(url, &["migrate", "upgrade", "1"]);
    assert_eq!(current(url), "1");
    ok(url, &["migrate", "up", "V2__move_tokens_to_swagger_specs"]);
    assert_eq!(current(url), "2");
    assert_eq!(
        schema(url),
        after_first_up,
        "down base then up head restores the schema"
    );
}

#[tokio::test]
async fn undo_moves_tokens_back_into_api_tokens() {
    let db = TestDb::at(app::MIGRATIONS, 1).await.unwrap();
    let client = db.pool().get().await.unwrap();
    client
        .batch_execute(
            "INSERT INTO users (id, username, email) VALUES (1, 'ann', 'ann@example.com');
             INSERT INTO swagger_specs (id, user_id, name, spec) VALUES (7, 1, 'petstore', '{}');
             INSERT INTO api_tokens (user_id, swagger_spec_id, token) VALUES (1, 7, 'jwt-abc');",
        )
        .await
        .unwrap();
    ok(db.url(), &["migrate", "up"]);
    let token: String = client
        .query_one("SELECT jwt_token FROM swagger_specs WHERE id = 7", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(token, "jwt-abc");
    ok(db.url(), &["migrate", "down"]);
    let token: String = client
        .query_one(
            "SELECT token FROM api_tokens WHERE swagger_spec_id = 7",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(token, "jwt-abc");
}

#[tokio::test]
async fn offline_upgrade_script_matches_the_online_run() {
    let online = TestDb::empty().await.unwrap();
    let offline = TestDb::empty().await.unwrap();
    ok(online.url(), &["migrate", "up"]);

    // No server is reachable at this URL: --sql must not connect.
    let script = ok(
        "postgres://nobody:pw@127.0.0.1:1/none",
        &["migrate", "up", "--sql"],
    );
    let run = psql(offline.url(), &script);
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );

    assert_eq!(schema(offline.url()), schema(online.url()));
    assert_eq!(history(&offline).await, history(&online).await);
    let check = app(offline.url(), &["migrate", "check"]);
    assert_eq!(check.status.code(), Some(0));
    assert_eq!(String::from_utf8_lossy(&check.stdout), "in sync at 2\n");
}

#[tokio::test]
async fn offline_downgrade_script_removes_everything() {
    let db = TestDb::new(app::MIGRATIONS).await.unwrap();
    let script = ok(
        "postgres://nobody:pw@127.0.0.1:1/none",
        &["migrate", "down", "base", "--sql", "--from", "head"],
    );
    let run = psql(db.url(), &script);
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(history(&db).await.is_empty());
    let client = db.pool().get().await.unwrap();
    let tables: Vec<String> = client
        .query(
            "SELECT tablename::text FROM pg_tables WHERE schemaname = 'public' ORDER BY 1",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    // The history and, beside it, the record of each applied migration's undo (empty now).
    assert_eq!(
        tables,
        ["refinery_schema_history", "refinery_schema_history_undo"]
    );
    assert_eq!(current(db.url()), "base");
}

#[tokio::test]
async fn offline_script_from_a_version_holds_only_what_follows() {
    let script = ok(
        "postgres://nobody:pw@127.0.0.1:1/none",
        &["migrate", "up", "head", "--sql", "--from", "1"],
    );
    assert!(!script.contains("CREATE TABLE users"));
    assert!(script.contains("ALTER TABLE swagger_specs ADD COLUMN jwt_token TEXT;"));
    assert_eq!(script.matches("BEGIN;").count(), 1);
}

#[tokio::test]
async fn offline_script_refuses_a_database_that_is_not_at_its_start_and_holds_the_lock() {
    let script = ok(
        "postgres://nobody:pw@127.0.0.1:1/none",
        &["migrate", "up", "head", "--sql", "--from", "1"],
    );
    assert!(script.contains("SELECT pg_advisory_lock("), "{script}");
    assert!(
        script.contains("SET LOCAL lock_timeout = '3000ms';"),
        "{script}"
    );
    // A database at base, not at 1: the guard stops the script before V2 changes anything.
    let db = TestDb::empty().await.unwrap();
    let run = psql(db.url(), &script);
    assert!(!run.status.success());
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(
        stderr.contains("the database is at version base, but this script starts at 1"),
        "{stderr}"
    );
    let client = db.pool().get().await.unwrap();
    let swagger: bool = client
        .query_one("SELECT to_regclass('swagger_specs') IS NOT NULL", &[])
        .await
        .unwrap()
        .get(0);
    assert!(!swagger, "nothing ran");
    let history: bool = client
        .query_one(
            "SELECT to_regclass('refinery_schema_history') IS NOT NULL",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert!(!history, "not even the history table was created");
    // At 1, it runs.
    let at_one = TestDb::at(app::MIGRATIONS, 1).await.unwrap();
    let run = psql(at_one.url(), &script);
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert_eq!(current(at_one.url()), "2");
}

#[tokio::test]
async fn check_exit_codes_name_the_reason() {
    let db = TestDb::at(app::MIGRATIONS, 1).await.unwrap();
    let pending = app(db.url(), &["migrate", "check"]);
    assert_eq!(pending.status.code(), Some(3));
    assert_eq!(
        String::from_utf8_lossy(&pending.stdout),
        "migrations are pending: V2\n"
    );

    ok(db.url(), &["migrate", "up"]);
    assert_eq!(app(db.url(), &["migrate", "check"]).status.code(), Some(0));

    let client = db.pool().get().await.unwrap();
    client
        .batch_execute("INSERT INTO refinery_schema_history VALUES (99, 'from_the_future', '2026-11-22T00:00:00Z', '1')")
        .await
        .unwrap();
    let unknown = app(db.url(), &["migrate", "check", "--format", "json"]);
    assert_eq!(unknown.status.code(), Some(5));
    let value: serde_json::Value = serde_json::from_slice(&unknown.stdout).unwrap();
    assert_eq!(value["state"], "unknown");
    assert_eq!(value["unknown"], serde_json::json!([99]));

    client
        .batch_execute("UPDATE refinery_schema_history SET checksum = '42' WHERE version = 1")
        .await
        .unwrap();
    let divergent = app(db.url(), &["migrate", "check"]);
    assert_eq!(divergent.status.code(), Some(4));
    assert!(
        String::from_utf8_lossy(&divergent.stdout)
            .starts_with("applied migrations were edited since: V1")
    );

    let repaired = ok(db.url(), &["migrate", "repair"]);
    assert!(
        repaired.starts_with("repaired  V1    initial  checksum 42 -> "),
        "{repaired}"
    );
    assert_eq!(app(db.url(), &["migrate", "check"]).status.code(), Some(5));
}

#[tokio::test]
async fn stamp_head_baselines_an_existing_database_without_running_sql() {
    let db = TestDb::empty().await.unwrap();
    let stamped = ok(db.url(), &["migrate", "stamp", "head"]);
    assert_eq!(stamped.lines().count(), 2, "{stamped}");
    assert_eq!(current(db.url()), "2");
    let client = db.pool().get().await.unwrap();
    let users: bool = client
        .query_one("SELECT to_regclass('users') IS NOT NULL", &[])
        .await
        .unwrap()
        .get(0);
    assert!(!users, "stamp must not run SQL");
    assert_eq!(app(db.url(), &["migrate", "check"]).status.code(), Some(0));
}

#[test]
fn create_writes_the_next_version_with_its_undo_and_never_overwrites() {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("create-test");
    let _ = std::fs::remove_dir_all(&dir);
    let sql = dir.join("sql");
    std::fs::create_dir_all(&sql).unwrap();
    for entry in std::fs::read_dir("sql").unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), sql.join(entry.file_name())).unwrap();
    }
    let dir_arg = sql.to_str().unwrap();

    let out = ok(
        "postgres://unused@127.0.0.1:1/none",
        &[
            "migrate",
            "create",
            "Add users email index",
            "--dir",
            dir_arg,
        ],
    );
    assert_eq!(
        out,
        format!(
            "{dir_arg}/V3__add_users_email_index.sql\n{dir_arg}/U3__add_users_email_index.sql\n"
        )
    );
    let header = std::fs::read_to_string(sql.join("V3__add_users_email_index.sql")).unwrap();
    assert!(header.starts_with("-- Applies V3: Add users email index\n"));

    // A new file the binary does not embed yet is no reason to stop a plain create: it numbers
    // from the files.
    let out = ok(
        "postgres://unused@127.0.0.1:1/none",
        &["migrate", "create", "seed", "--no-undo", "--dir", dir_arg],
    );
    assert_eq!(out, format!("{dir_arg}/V4__seed.sql\n"));

    // A team that branches a lot numbers by time; the set then goes on with timestamps.
    let out = ok(
        "postgres://unused@127.0.0.1:1/none",
        &[
            "migrate",
            "create",
            "stamped",
            "--timestamp",
            "--no-undo",
            "--dir",
            dir_arg,
        ],
    );
    let version = out
        .trim()
        .rsplit('/')
        .next()
        .and_then(|f| f.strip_prefix('V'))
        .and_then(|f| f.split_once("__"))
        .map(|(v, _)| v.to_string())
        .unwrap();
    assert!(version.len() == 14 && version.starts_with("20"), "{out}");
    let out = ok(
        "postgres://unused@127.0.0.1:1/none",
        &["migrate", "create", "after", "--no-undo", "--dir", dir_arg],
    );
    assert!(!out.contains("/V6__"), "{out}");
    std::fs::remove_file(out.trim()).unwrap();
    std::fs::remove_file(sql.join(format!("V{version}__stamped.sql"))).unwrap();

    // An embedded file edited on disk is: the binary is not the one built from these files.
    let v2 = sql.join("V2__move_tokens_to_swagger_specs.sql");
    let original = std::fs::read_to_string(&v2).unwrap();
    std::fs::write(&v2, format!("{original}\nSELECT 2;\n")).unwrap();
    let stale = app(
        "postgres://unused@127.0.0.1:1/none",
        &["migrate", "create", "more", "--dir", dir_arg],
    );
    assert_eq!(stale.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&stale.stderr)
            .contains("V2__move_tokens_to_swagger_specs was edited since this binary was built"),
        "{}",
        String::from_utf8_lossy(&stale.stderr)
    );
    std::fs::write(&v2, original).unwrap();

    // A U file with no V breaks the set: create refuses to add to it.
    std::fs::write(sql.join("U9__stray.sql"), "SELECT 1;").unwrap();
    let refused = app(
        "postgres://unused@127.0.0.1:1/none",
        &["migrate", "create", "more", "--dir", dir_arg],
    );
    assert_eq!(refused.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&refused.stderr)
            .contains("U9__stray.sql: undo file has no matching V file")
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn blocking_test_db_serves_plain_tests() {
    let db = pgbaked_testing::BlockingTestDb::new(app::MIGRATIONS).unwrap();
    let mut client = db.client().unwrap();
    let users: i64 = client
        .query_one("SELECT count(*) FROM users", &[])
        .unwrap()
        .get(0);
    assert_eq!(users, 0);
    let out = app(db.url(), &["migrate", "current"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "2\n");
}

#[tokio::test]
async fn check_compares_the_declared_schema_with_the_migrations() {
    let db = TestDb::new(app::MIGRATIONS).await.unwrap();
    // ./schema is this repository's declared schema, equal to the head of sql/.
    let in_sync = app(db.url(), &["migrate", "check"]);
    assert_eq!(in_sync.status.code(), Some(0), "{}", stderr(&in_sync));
    assert_eq!(stdout(&in_sync), "in sync at 2\n");

    // Someone edited the declared schema without writing a migration.
    let dir = std::env::temp_dir().join(format!("app-schema-test-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    for entry in std::fs::read_dir("schema").unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), dir.join(entry.file_name())).unwrap();
    }
    let specs = dir.join("02_swagger_specs.sql");
    let text = std::fs::read_to_string(&specs).unwrap().replace(
        "    jwt_token  TEXT,\n",
        "    jwt_token  TEXT,\n    archived   BOOLEAN NOT NULL DEFAULT FALSE,\n",
    );
    std::fs::write(&specs, text).unwrap();
    let schema = dir.to_str().unwrap();
    let differs = app(db.url(), &["migrate", "check", "--schema", schema]);
    assert_eq!(differs.status.code(), Some(6), "{}", stderr(&differs));
    assert!(
        stdout(&differs)
            .contains("+ column public.swagger_specs.archived: boolean NOT NULL DEFAULT false"),
        "{}",
        stdout(&differs)
    );
    let json = app(
        db.url(),
        &["migrate", "check", "--schema", schema, "--format", "json"],
    );
    let json: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(json["state"], "schema_differs");
    assert_eq!(json["schema_differences"][0]["kind"], "column");
    assert_eq!(
        json["schema_differences"][0]["name"],
        "public.swagger_specs.archived"
    );

    // A declared schema that does not load names its file and line.
    std::fs::write(
        dir.join("99_broken.sql"),
        "SELECT 1;\nCREATE TABLE x (id nosuchtype);\n",
    )
    .unwrap();
    let broken = app(db.url(), &["migrate", "check", "--schema", schema]);
    assert_eq!(broken.status.code(), Some(1));
    assert!(
        stderr(&broken).contains("99_broken.sql:2:") && stderr(&broken).contains("nosuchtype"),
        "{}",
        stderr(&broken)
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn drift_finds_what_was_changed_by_hand() {
    let db = TestDb::new(app::MIGRATIONS).await.unwrap();
    let clean = app(db.url(), &["migrate", "drift"]);
    assert_eq!(clean.status.code(), Some(0), "{}", stderr(&clean));
    let client = db.pool().get().await.unwrap();
    client
        .batch_execute(
            "ALTER TABLE users ADD COLUMN nickname text; \
             ALTER TABLE chat_sessions ALTER COLUMN title SET DEFAULT 'Untitled'; \
             DROP INDEX api_calls_user_id_created_at_idx;",
        )
        .await
        .unwrap();
    let drifted = app(db.url(), &["migrate", "drift"]);
    assert_eq!(drifted.status.code(), Some(7), "{}", stderr(&drifted));
    let text = stdout(&drifted);
    assert!(text.starts_with("drift: 3 difference(s)"), "{text}");
    assert!(
        text.contains("+ column public.users.nickname: text"),
        "{text}"
    );
    assert!(
        text.contains("~ column public.chat_sessions.title"),
        "{text}"
    );
    assert!(
        text.contains("- index public.api_calls_user_id_created_at_idx"),
        "{text}"
    );
    // The replay on a dev server of its own (here the same one, named with a password that
    // must never be printed).
    let dev = db.url().replacen("postgres@", "postgres:hunter2@", 1);
    let elsewhere = app(db.url(), &["migrate", "drift", "--dev-url", &dev]);
    assert_eq!(elsewhere.status.code(), Some(7), "{}", stderr(&elsewhere));
    assert!(!stdout(&elsewhere).contains("hunter2") && !stderr(&elsewhere).contains("hunter2"));
    let bad = app(db.url(), &["migrate", "drift", "--dev-url", "mysql://nope"]);
    assert_eq!(bad.status.code(), Some(2), "{}", stderr(&bad));
    // An unreachable dev server is named as such.
    let down = app(
        db.url(),
        &[
            "migrate",
            "drift",
            "--dev-url",
            "postgres://postgres@127.0.0.1:1/postgres",
        ],
    );
    assert_eq!(down.status.code(), Some(1));
    assert!(
        stderr(&down).contains(
            "creating a scratch database on postgres@127.0.0.1:1/postgres (see --dev-url)"
        ),
        "{}",
        stderr(&down)
    );
}

#[tokio::test]
async fn diff_and_drift_never_call_unmodelled_objects_equal() {
    let db = TestDb::new(app::MIGRATIONS).await.unwrap();
    let client = db.pool().get().await.unwrap();
    // A text search configuration, a publication, a rule and FORCE ROW LEVEL SECURITY, made
    // by hand: the first is a kind the planner does not model, the others it does.
    client
        .batch_execute(
            "CREATE CONVERSION app_conversion FOR 'LATIN1' TO 'UTF8' FROM iso8859_1_to_utf8; \
             CREATE PUBLICATION everything FOR ALL TABLES; \
             CREATE RULE keep_users AS ON DELETE TO users DO INSTEAD NOTHING; \
             ALTER TABLE users FORCE ROW LEVEL SECURITY;",
        )
        .await
        .unwrap();
    let drifted = app(db.url(), &["migrate", "drift"]);
    assert_eq!(drifted.status.code(), Some(7), "{}", stderr(&drifted));
    let text = stdout(&drifted);
    assert!(text.contains("CONVERSION public.app_conversion"), "{text}");
    assert!(text.contains("publication everything"), "{text}");
    assert!(text.contains("keep_users"), "{text}");
    assert!(text.contains("FORCE_RLS"), "{text}");
    let diff = app(
        db.url(),
        &["migrate", "diff", "--from", db.url(), "--to", "migrations"],
    );
    assert_eq!(diff.status.code(), Some(8), "{}", stderr(&diff));
    let script = stdout(&diff);
    assert!(
        script.contains("-- unsupported: this kind of object is not modelled: not modelled: CONVERSION public.app_conversion"),
        "{script}"
    );
    assert!(
        script.contains("DROP RULE IF EXISTS keep_users ON public.users;"),
        "{script}"
    );
    assert!(script.contains("DROP PUBLICATION everything;"), "{script}");
    assert!(
        script.contains("ALTER TABLE public.users NO FORCE ROW LEVEL SECURITY;"),
        "{script}"
    );
    assert!(
        stderr(&diff).contains("1 change(s) cannot be generated"),
        "{}",
        stderr(&diff)
    );
    client
        .batch_execute("DROP PUBLICATION everything")
        .await
        .unwrap();
}

#[tokio::test]
async fn diff_prints_the_sql_between_any_two_schemas() {
    let db = TestDb::new(app::MIGRATIONS).await.unwrap();
    let between = app(
        db.url(),
        &[
            "migrate",
            "diff",
            "--from",
            "migrations@1",
            "--to",
            "migrations",
        ],
    );
    assert_eq!(between.status.code(), Some(0), "{}", stderr(&between));
    let text = stdout(&between);
    assert_eq!(
        text,
        "-- from migrations@1 to migrations@head\n\
         SET search_path TO \"$user\", public;\n\
         -- hazard: deletes_data, breaks_clients: deletes the table and its data\n\
         DROP TABLE public.api_tokens;\n\
         ALTER TABLE public.swagger_specs ADD COLUMN jwt_token text;\n"
    );
    // The declared schema is the migrations' head.
    let same = app(
        db.url(),
        &["migrate", "diff", "--from", "migrations", "--to", "schema"],
    );
    assert_eq!(
        stdout(&same),
        "-- no differences from migrations@head to schema\n",
        "{}",
        stderr(&same)
    );
    // A database read in place; its password is never printed.
    let with_password = db.url().replacen("postgres@", "postgres:hunter2@", 1);
    let live = app(
        db.url(),
        &[
            "migrate",
            "diff",
            "--from",
            "migrations",
            "--to",
            &with_password,
            "--format",
            "json",
        ],
    );
    assert_eq!(live.status.code(), Some(0), "{}", stderr(&live));
    assert!(!stdout(&live).contains("hunter2") && !stderr(&live).contains("hunter2"));
    let json: serde_json::Value = serde_json::from_slice(&live.stdout).unwrap();
    assert_eq!(json["changes"], serde_json::json!([]));
    assert_eq!(json["to"], db.config().to_string());
    let bad = app(
        db.url(),
        &["migrate", "diff", "--from", "migrations", "--to", "nowhere"],
    );
    assert_eq!(bad.status.code(), Some(1));
    assert!(
        stderr(&bad).contains("`nowhere` is neither a database URL"),
        "{}",
        stderr(&bad)
    );
}

#[tokio::test]
async fn autogenerate_writes_verified_migrations_and_refuses_data_loss() {
    let db = TestDb::empty().await.unwrap();
    let root = std::env::temp_dir().join(format!("app-autogenerate-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    for sub in ["sql", "schema"] {
        std::fs::create_dir_all(root.join(sub)).unwrap();
        for entry in std::fs::read_dir(sub).unwrap() {
            let entry = entry.unwrap();
            std::fs::copy(entry.path(), root.join(sub).join(entry.file_name())).unwrap();
        }
    }
    let (sql, schema) = (root.join("sql"), root.join("schema"));
    let args = |message: &'static str, extra: &[&'static str]| {
        let mut args = vec![
            "migrate".to_string(),
            "create".into(),
            "--autogenerate".into(),
            message.into(),
            "--dir".into(),
            sql.display().to_string(),
            "--schema".into(),
            schema.display().to_string(),
        ];
        args.extend(extra.iter().map(|s| s.to_string()));
        args
    };
    let create = |message: &'static str, extra: &[&'static str]| {
        let args = args(message, extra);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        app(db.url(), &args)
    };

    // In sync: nothing to write.
    let nothing = create("nothing", &[]);
    assert_eq!(nothing.status.code(), Some(0), "{}", stderr(&nothing));
    assert!(
        stdout(&nothing).starts_with("no differences"),
        "{}",
        stdout(&nothing)
    );

    // A column and an index on an existing table: two versions, the index in a
    // no-transaction file of its own, each with its undo.
    let specs = schema.join("02_swagger_specs.sql");
    let text = std::fs::read_to_string(&specs).unwrap().replace(
        "    jwt_token  TEXT,\n",
        "    jwt_token  TEXT,\n    archived   BOOLEAN NOT NULL DEFAULT FALSE,\n",
    );
    std::fs::write(&specs, text).unwrap();
    let mut users = std::fs::OpenOptions::new()
        .append(true)
        .open(schema.join("01_users.sql"))
        .unwrap();
    writeln!(
        users,
        "CREATE INDEX users_created_at_idx ON users (created_at);"
    )
    .unwrap();
    let made = create("archive specs", &[]);
    assert_eq!(made.status.code(), Some(0), "{}", stderr(&made));
    // Its replays ran on scratch databases: nothing in the log reads as if the user's
    // database had changed, and the housekeeping's notices are not shown.
    assert!(
        !stderr(&made).contains("applied migration")
            && !stderr(&made).contains("reverted migration")
            && !stderr(&made).contains("NOTICE"),
        "{}",
        stderr(&made)
    );
    assert_eq!(
        stdout(&made),
        format!(
            "{0}/V3__archive_specs_1.sql\n{0}/U3__archive_specs_1.sql\n{0}/V4__archive_specs_2.sql\n{0}/U4__archive_specs_2.sql\n",
            sql.display()
        )
    );
    let v4 = std::fs::read_to_string(sql.join("V4__archive_specs_2.sql")).unwrap();
    assert!(v4.starts_with("-- no-transaction\n"), "{v4}");
    // Written as a person writes them: the migrations' own schema unnamed, so they run in a
    // tenant's schema as well.
    assert!(
        v4.contains("CREATE INDEX CONCURRENTLY users_created_at_idx ON users"),
        "{v4}"
    );
    let u3 = std::fs::read_to_string(sql.join("U3__archive_specs_1.sql")).unwrap();
    assert!(
        u3.contains("ALTER TABLE swagger_specs DROP COLUMN archived;"),
        "{u3}"
    );
    let v3 = std::fs::read_to_string(sql.join("V3__archive_specs_1.sql")).unwrap();
    assert!(
        !v3.contains("public.") && !u3.contains("public."),
        "{v3}{u3}"
    );
    // … and do: applied in a schema of their own after V1 and V2, they change that schema.
    {
        let client = db.pool().get().await.unwrap();
        let mut script = String::from("CREATE SCHEMA tenant_x; SET search_path TO tenant_x;\n");
        for file in ["V1__initial.sql", "V2__move_tokens_to_swagger_specs.sql"] {
            script.push_str(&std::fs::read_to_string(sql.join(file)).unwrap());
        }
        script.push_str(&v3);
        client.batch_execute(&script).await.unwrap();
        let archived: bool = client
            .query_one(
                "SELECT to_regclass('tenant_x.swagger_specs') IS NOT NULL \
                 AND EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = 'tenant_x.swagger_specs'::regclass AND attname = 'archived')",
                &[],
            )
            .await
            .unwrap()
            .get(0);
        assert!(archived);
        client
            .batch_execute("DROP SCHEMA tenant_x CASCADE; RESET search_path")
            .await
            .unwrap();
    }

    // The binary does not embed V3 and V4 yet: run again, it would plan from its own head and
    // write the same column a second time. It refuses until it is rebuilt.
    let stale = create("again", &[]);
    assert_eq!(stale.status.code(), Some(1));
    assert!(
        stderr(&stale).contains("is not the migration set this binary was built with")
            && stderr(&stale).contains("V3__archive_specs_1 is not in this binary")
            && stderr(&stale).contains("rebuild first"),
        "{}",
        stderr(&stale)
    );
    assert_eq!(std::fs::read_dir(&sql).unwrap().count(), 8);
    for name in [
        "V3__archive_specs_1",
        "U3__archive_specs_1",
        "V4__archive_specs_2",
        "U4__archive_specs_2",
    ] {
        std::fs::remove_file(sql.join(format!("{name}.sql"))).unwrap();
    }

    // Dropping a column is refused without --allow-data-loss, and nothing is written.
    std::fs::write(
        &specs,
        std::fs::read_to_string(&specs)
            .unwrap()
            .replace("    base_url   TEXT,\n", ""),
    )
    .unwrap();
    let before = std::fs::read_dir(&sql).unwrap().count();
    let refused = create("drop base url", &[]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(
        stderr(&refused).contains("hazards not accepted")
            && stderr(&refused).contains("--allow-hazards breaks_clients,deletes_data")
            && stderr(&refused).contains("DROP COLUMN base_url -- deletes_data, breaks_clients"),
        "{}",
        stderr(&refused)
    );
    assert_eq!(std::fs::read_dir(&sql).unwrap().count(), before);
    // Accepting one kind is not enough: the drop also breaks running clients.
    let partly = create("drop base url", &["--allow-hazards", "deletes_data"]);
    assert_eq!(partly.status.code(), Some(1), "{}", stderr(&partly));
    assert_eq!(std::fs::read_dir(&sql).unwrap().count(), before);
    let allowed = create("drop base url", &["--allow-data-loss"]);
    assert_eq!(allowed.status.code(), Some(0), "{}", stderr(&allowed));
    // The drop breaks the previous release: the file is a contract step, held back at boot
    // while that release's replicas are connected.
    let written = stdout(&allowed);
    let first = written.lines().next().unwrap();
    let text = std::fs::read_to_string(first).unwrap();
    assert!(pgbaked::grammar::is_contract(&text), "{text}");
    let _ = std::fs::remove_dir_all(&root);
}

#[test]
fn a_command_without_database_url_says_which_database_it_uses() {
    // `current` reads the default database (the seeds' default URL, localhost:5432/postgres),
    // which may not answer here: either way the note comes first.
    let out = common::output(
        Command::new(env!("CARGO_BIN_EXE_app"))
            .args(["migrate", "current", "--wait", "0"])
            .env_remove("DATABASE_URL")
            .env("RUST_LOG", "error"),
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.starts_with(
            "note: DATABASE_URL is not set: using the default, postgres@localhost:5432/postgres"
        ),
        "{err}"
    );
    assert!(!err.contains("postgres:postgres@"), "{err}");
    // Named, it says nothing of the kind.
    let named = common::app(
        "postgres://unused@127.0.0.1:1/none",
        &["migrate", "current"],
    );
    assert!(!String::from_utf8_lossy(&named.stderr).contains("DATABASE_URL is not set"));
}

#[test]
fn renumber_moves_a_branch_s_migration_with_its_undo_and_headers() {
    let root = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("renumber-test");
    let _ = std::fs::remove_dir_all(&root);
    let sql = root.join("sql");
    std::fs::create_dir_all(&sql).unwrap();
    for entry in std::fs::read_dir("sql").unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), sql.join(entry.file_name())).unwrap();
    }
    // Both branches added V3: the set the build refuses.
    for (name, column) in [("add_bio", "bio"), ("add_trace_id", "trace_id")] {
        std::fs::write(
            sql.join(format!("V3__{name}.sql")),
            format!("-- Applies V3: {name}\nALTER TABLE users ADD {column} text;\n"),
        )
        .unwrap();
        std::fs::write(
            sql.join(format!("U3__{name}.sql")),
            format!("-- Undoes V3: {name}\nALTER TABLE users DROP {column};\n"),
        )
        .unwrap();
    }
    let dir = sql.to_str().unwrap();
    let url = "postgres://unused@127.0.0.1:1/none";
    let out = app(
        url,
        &["migrate", "renumber", "V3__add_trace_id", "--dir", dir],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        format!("{dir}/V4__add_trace_id.sql\n{dir}/U4__add_trace_id.sql\n")
    );
    assert!(
        stderr(&out).contains("`migrate down 2` reverts it"),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        std::fs::read_to_string(sql.join("V4__add_trace_id.sql")).unwrap(),
        "-- Applies V4: add_trace_id\nALTER TABLE users ADD trace_id text;\n"
    );
    assert!(
        std::fs::read_to_string(sql.join("U4__add_trace_id.sql"))
            .unwrap()
            .starts_with("-- Undoes V4: add_trace_id\n")
    );
    assert!(
        !sql.join("V3__add_trace_id.sql").exists() && !sql.join("U3__add_trace_id.sql").exists()
    );
    // The set scans clean now: the build would take it.
    pgbaked::source::scan(&root, &sql).unwrap();

    // A name that is not there, or a version taken, changes nothing.
    let missing = app(url, &["migrate", "renumber", "V3__add_trace", "--dir", dir]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(
        stderr(&missing).contains("no migration V3__add_trace"),
        "{}",
        stderr(&missing)
    );
    let taken = app(
        url,
        &[
            "migrate",
            "renumber",
            "V4__add_trace_id",
            "--to",
            "3",
            "--dir",
            dir,
        ],
    );
    assert_eq!(taken.status.code(), Some(1));
    assert!(
        stderr(&taken).contains("V3 is taken by"),
        "{}",
        stderr(&taken)
    );
    assert!(sql.join("V4__add_trace_id.sql").exists());
    let _ = std::fs::remove_dir_all(&root);
}

/// What the tool leaves on a dev server is bounded and can be cleared: a template whose set
/// fails to build leaves nothing, templates beyond the most recent few go when a new one is
/// built, and `migrate clean` drops the rest, skipping what is in use, never the target.
#[tokio::test]
async fn leftovers_on_the_dev_server_are_bounded_and_cleared() {
    let cluster = tokio::task::spawn_blocking(|| {
        pgbaked_testing::PrivateCluster::start(&[], |_| Ok(())).unwrap()
    })
    .await
    .unwrap();
    let config: pgbaked::DatabaseConfig = cluster.url("postgres").parse().unwrap();
    let admin = pgbaked::pool(&config, 2).unwrap();
    let set = |n: i64, sql: &str| {
        vec![
            pgbaked::Migration::new(
                n,
                "one",
                pgbaked::Script::new(format!("V{n}__one.sql"), sql),
                None,
            )
            .unwrap(),
        ]
    };
    let databases = async |pattern: &str| -> Vec<String> {
        let client = admin.get().await.unwrap();
        client
            .query(
                "SELECT datname::text FROM pg_database WHERE datname LIKE $1 ORDER BY oid",
                &[&pattern],
            )
            .await
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect()
    };
    let broken = pgbaked::template(
        &admin,
        &config,
        &set(1, "SELEC 1;"),
        "refinery_schema_history",
    )
    .await;
    assert!(broken.is_err());
    assert!(
        databases("pgm%").await.is_empty(),
        "a failed build leaves nothing"
    );
    let mut built = Vec::new();
    for n in 1..=(pgbaked::KEPT_TEMPLATES as i64 + 2) {
        built.push(
            pgbaked::template(
                &admin,
                &config,
                &set(n, "SELECT 1;"),
                "refinery_schema_history",
            )
            .await
            .unwrap(),
        );
    }
    assert_eq!(
        databases("pgm\\_tpl\\_%").await,
        built[2..],
        "the most recent templates stay, the oldest go"
    );

    // What `clean` finds: the templates, a killed run's scratch database, a spare, a failed
    // test's database (one in use), and the service's own database, which stays.
    {
        let client = admin.get().await.unwrap();
        for name in [
            "pgm_scratch_1_2",
            "app_spare_x_1",
            "app_test_1_2_3_4",
            "service",
        ] {
            client
                .batch_execute(&format!("CREATE DATABASE {name}"))
                .await
                .unwrap();
        }
    }
    let (busy, connection) = pgbaked::tokio_postgres::connect(
        &cluster.url("app_test_1_2_3_4"),
        pgbaked::tokio_postgres::NoTls,
    )
    .await
    .unwrap();
    tokio::spawn(connection);
    let clean = |extra: &[&str]| {
        output(
            Command::new(env!("CARGO_BIN_EXE_app"))
                .args(["migrate", "clean", "--dev-url", &cluster.url("postgres")])
                .args(extra)
                .env("DATABASE_URL", cluster.url("service"))
                .env("RUST_LOG", "warn"),
        )
    };
    let dry = clean(&["--dry-run"]);
    assert_eq!(dry.status.code(), Some(0), "{}", stderr(&dry));
    assert!(
        stdout(&dry).contains("would drop pgm_scratch_1_2")
            && stdout(&dry).contains("would drop app_spare_x_1")
            && stdout(&dry).ends_with(&format!(
                "{} database(s) would drop on postgres@127.0.0.1:{}/postgres, 0 skipped\n",
                pgbaked::KEPT_TEMPLATES + 3,
                cluster.port()
            )),
        "{}",
        stdout(&dry)
    );
    assert_eq!(
        databases("pgm\\_tpl\\_%").await.len(),
        pgbaked::KEPT_TEMPLATES
    );
    let done = clean(&[]);
    assert_eq!(done.status.code(), Some(1), "{}", stdout(&done));
    assert!(
        stdout(&done).contains("skipped app_test_1_2_3_4:"),
        "{}",
        stdout(&done)
    );
    assert_eq!(databases("%\\_%").await, ["app_test_1_2_3_4"]);
    assert_eq!(databases("service").await, ["service"]);
    drop(busy);
}

#[tokio::test]
async fn a_schema_file_that_fails_is_named_by_file_line_and_column() {
    let db = TestDb::empty().await.unwrap();
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("schema-error-test");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    // The server gives no position for a missing relation: the line is found statement by
    // statement.
    std::fs::write(
        dir.join("10_audit.sql"),
        "CREATE TABLE audit (id int PRIMARY KEY);\n\n  CREATE TABLE entries (user_id int REFERENCES userz (id));\n",
    )
    .unwrap();
    let out = app(
        db.url(),
        &[
            "migrate",
            "diff",
            "--from",
            "migrations",
            "--to",
            dir.to_str().unwrap(),
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("10_audit.sql:3:3: relation \"userz\" does not exist"),
        "{}",
        stderr(&out)
    );
    let _ = std::fs::remove_dir_all(&dir);
}
