//! Production behaviour through the real binary: signals mid-migration, timeouts, failure
//! reports, strict mode, JSON logs, many replicas failing together, and waiting for a server.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use pgbaked_testing::{PrivateCluster, TestDb};

const APP: &str = env!("CARGO_BIN_EXE_app");

mod common;
use common::{LIMIT, Spawned, advisory_locks, app, bounded, output, stderr, stdout, versions};

/// A database at V1 whose V2 will fail: V2 reads api_tokens, which is dropped here.
async fn db_where_v2_fails() -> TestDb {
    let db = TestDb::at(app::MIGRATIONS, 1).await.unwrap();
    let client = db.pool().get().await.unwrap();
    client.batch_execute("DROP TABLE api_tokens").await.unwrap();
    db
}

/// Waits until a backend of `application_name LIKE pattern` waits on a lock; returns its pid.
async fn wait_for_blocked(db: &TestDb, pattern: &str) -> i32 {
    let client = db.pool().get().await.unwrap();
    let started = Instant::now();
    loop {
        let row = client
            .query_opt(
                "SELECT pid FROM pg_stat_activity WHERE application_name LIKE $1 \
                 AND wait_event_type = 'Lock' LIMIT 1",
                &[&pattern],
            )
            .await
            .unwrap();
        if let Some(row) = row {
            return row.get(0);
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the migration never blocked"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn sigterm_during_a_migration_rolls_it_back_releases_the_lock_and_exits_1() {
    let db = TestDb::at(app::MIGRATIONS, 1).await.unwrap();
    let mut blocker = db.pool().get().await.unwrap();
    let tx = blocker.transaction().await.unwrap();
    tx.batch_execute("LOCK TABLE swagger_specs IN ACCESS EXCLUSIVE MODE")
        .await
        .unwrap();

    // Killed if the test fails before it exits: nothing else would stop it.
    let child = Spawned::spawn(
        Command::new(APP)
            .args(["migrate", "up", "--migration-lock-timeout", "0"])
            .env("DATABASE_URL", db.url())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped()),
    );
    // V2's ALTER TABLE waits behind the lock; the connection names the process.
    let pattern = format!("app migrate (% pid {})", child.id());
    wait_for_blocked(&db, &pattern).await;

    let started = Instant::now();
    assert!(
        Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .unwrap()
            .success()
    );
    // Blocked with no lock timeout behind `tx`: only the SIGTERM handling can end it.
    let out = child.wait_within(LIMIT);
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("SIGTERM received, stopping the migration run"));
    // Where it stopped, read after the cancel: V1 committed, V2 rolled back.
    assert!(
        stderr(&out).contains(
            "error: interrupted: the database is at V1 (what committed before stays; the migration in progress was rolled back)"
        ),
        "{}",
        stderr(&out)
    );
    tx.rollback().await.unwrap();
    assert_eq!(versions(&db).await, [1], "V2 was rolled back, V1 kept");
    assert_eq!(advisory_locks(&db).await, 0, "the lock was released");
    let client = db.pool().get().await.unwrap();
    let column: bool = client
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM information_schema.columns \
             WHERE table_name = 'swagger_specs' AND column_name = 'jwt_token')",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert!(!column, "nothing of V2 is left");
}

#[tokio::test]
async fn migration_lock_timeout_fails_a_blocked_migration_at_its_line() {
    let db = TestDb::at(app::MIGRATIONS, 1).await.unwrap();
    let mut blocker = db.pool().get().await.unwrap();
    let tx = blocker.transaction().await.unwrap();
    tx.batch_execute("LOCK TABLE swagger_specs IN ACCESS SHARE MODE")
        .await
        .unwrap();
    let started = Instant::now();
    // Without retries, the first timeout fails it (with them, the test below).
    let out = app(
        db.url(),
        &[
            "migrate",
            "up",
            "--migration-lock-timeout",
            "300ms",
            "--migration-lock-retries",
            "0",
        ],
    );
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(out.status.code(), Some(1));
    let text = stderr(&out);
    // The server gives no position for a lock timeout: the report points at the statement
    // that waited, by its first token, from the statement offsets the build recorded.
    assert!(
        text.contains("migration V2__move_tokens_to_swagger_specs failed: sql/V2__move_tokens_to_swagger_specs.sql:5:1: canceling statement due to lock timeout (SQLSTATE 55P03)"),
        "{text}"
    );
    assert!(text.contains("  | ALTER TABLE swagger_specs"), "{text}");
    tx.rollback().await.unwrap();
    assert_eq!(versions(&db).await, [1]);
    assert_eq!(advisory_locks(&db).await, 0);
}

#[tokio::test]
async fn statement_timeout_bounds_each_migration() {
    use pgbaked::{Migration, Migrator, Options, Rev, Script};
    let db = TestDb::empty().await.unwrap();
    let slow = Migration::new(
        1,
        "slow",
        Script::new("sql/V1__slow.sql", "SELECT 1;\nSELECT pg_sleep(5);\n"),
        None,
    )
    .unwrap();
    let migrator = Migrator::new(
        vec![slow],
        Options {
            statement_timeout: Some(Duration::from_millis(200)),
            ..Options::default()
        },
    );
    let started = Instant::now();
    let err = bounded(
        "the slow migration",
        migrator.up(db.pool(), &Rev::Head, &mut |_| {}),
    )
    .await
    .unwrap_err()
    .to_string();
    assert!(started.elapsed() < Duration::from_secs(3));
    assert!(
        err.starts_with("migration V1__slow failed: sql/V1__slow.sql: canceling statement due to statement timeout (SQLSTATE 57014)"),
        "{err}"
    );
}

#[tokio::test]
async fn failed_migration_is_reported_with_position_in_text_and_json() {
    let db = db_where_v2_fails().await;
    let out = app(db.url(), &["migrate", "up", "--format", "json"]);
    assert_eq!(out.status.code(), Some(1));
    let text = stderr(&out);
    assert!(
        text.contains("error: migration V2__move_tokens_to_swagger_specs failed: sql/V2__move_tokens_to_swagger_specs.sql:9:6: relation \"api_tokens\" does not exist (SQLSTATE 42P01)"),
        "{text}"
    );
    assert!(
        text.contains("  | FROM api_tokens AS t\n  |      ^"),
        "{text}"
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let failure = &json["migration_failure"]["failure"];
    assert_eq!(failure["file"], "sql/V2__move_tokens_to_swagger_specs.sql");
    assert_eq!(
        (failure["line"].as_i64(), failure["column"].as_i64()),
        (Some(9), Some(6))
    );
    assert_eq!(failure["code"], "42P01");
    assert_eq!(failure["line_text"], "FROM api_tokens AS t");
}

#[tokio::test]
async fn replicas_booting_together_on_a_failing_migration_all_fail_fast_with_one_error() {
    let db = db_where_v2_fails().await;
    let started = Instant::now();
    // A replica that wrongly succeeded would serve forever: every wait has one deadline, and
    // the children still running when the test fails are killed.
    let children: Vec<_> = (0..32)
        .map(|_| {
            Spawned::spawn(
                Command::new(APP)
                    .args(["--migrate", "--listen", "127.0.0.1:0"])
                    .env("DATABASE_URL", db.url())
                    .env("APP_LOCK_TIMEOUT", "60s")
                    .stdin(Stdio::null())
                    .stdout(Stdio::null())
                    .stderr(Stdio::piped()),
            )
        })
        .collect();
    let deadline = started + LIMIT;
    let mut errors = Vec::new();
    for child in children {
        let out = child.wait_until(deadline);
        assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
        let line = stderr(&out)
            .lines()
            .find(|l| l.starts_with("error: "))
            .unwrap_or_default()
            .to_string();
        errors.push(line);
    }
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "a leaked lock would hang them"
    );
    errors.dedup();
    assert_eq!(errors.len(), 1, "{errors:#?}");
    assert!(errors[0].starts_with(
        "error: applying migrations at boot: migration V2__move_tokens_to_swagger_specs failed: "
    ));
    assert_eq!(versions(&db).await, [1]);
    assert_eq!(advisory_locks(&db).await, 0);
}

#[tokio::test]
async fn unknown_versions_warn_and_strict_refuses_to_boot() {
    let db = TestDb::new(app::MIGRATIONS).await.unwrap();
    let client = db.pool().get().await.unwrap();
    client
        .batch_execute("INSERT INTO refinery_schema_history VALUES (3, 'from_a_newer_binary', '2026-11-22T00:00:00Z', '1')")
        .await
        .unwrap();
    let lenient = app(db.url(), &["migrate", "up"]);
    assert!(lenient.status.success());
    assert!(stderr(&lenient).contains("the database has versions this binary does not know"));
    // Were strict ignored, it would boot and serve forever.
    let strict = output(
        Command::new(APP)
            .args(["--migrate", "--listen", "127.0.0.1:0"])
            .env("DATABASE_URL", db.url())
            .env("APP_STRICT", "true"),
    );
    assert_eq!(strict.status.code(), Some(1));
    assert!(
        stderr(&strict).contains("the database has versions this binary does not know: V3"),
        "{}",
        stderr(&strict)
    );
}

#[tokio::test]
async fn log_format_json_makes_every_log_line_json() {
    let db = TestDb::empty().await.unwrap();
    let out = output(
        Command::new(APP)
            .args(["migrate", "up"])
            .env("DATABASE_URL", db.url())
            .env("LOG_FORMAT", "json"),
    );
    assert!(out.status.success());
    let lines: Vec<serde_json::Value> = stderr(&out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|_| panic!("not JSON: {l}")))
        .collect();
    let applied: Vec<&serde_json::Value> = lines
        .iter()
        .filter(|l| l["fields"]["message"] == "applied migration")
        .collect();
    assert_eq!(applied.len(), 2);
    assert_eq!(applied[0]["fields"]["version"], 1);
    assert!(applied[0]["fields"]["elapsed_ms"].is_u64());
}

#[test]
fn wait_retries_until_the_server_comes_up() {
    let cluster = PrivateCluster::start(&[], |_| Ok(())).unwrap();
    cluster.pg_ctl(&["-m", "fast", "stop"]).unwrap();
    let child = Spawned::spawn(
        Command::new(APP)
            .args(["--wait", "30s", "migrate", "current"])
            .env("DATABASE_URL", cluster.url("postgres"))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped()),
    );
    std::thread::sleep(Duration::from_millis(1500));
    cluster.pg_ctl(&["start"]).unwrap();
    let out = child.wait_within(LIMIT);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "base\n");
    assert!(
        stderr(&out).contains("database not reachable yet"),
        "{}",
        stderr(&out)
    );

    // Without --wait, one attempt.
    cluster.pg_ctl(&["-m", "fast", "stop"]).unwrap();
    let once = app(&cluster.url("postgres"), &["migrate", "current"]);
    assert_eq!(once.status.code(), Some(1));
    assert!(
        stderr(&once).contains("error: connecting to postgres@127.0.0.1:"),
        "{}",
        stderr(&once)
    );
}

#[tokio::test]
async fn a_failed_run_reports_what_it_committed_before_failing() {
    let db = TestDb::empty().await.unwrap();
    let client = db.pool().get().await.unwrap();
    // V1 only creates; V2 starts with ALTER TABLE, which this event trigger refuses.
    client
        .batch_execute(
            "CREATE FUNCTION refuse_alter() RETURNS event_trigger LANGUAGE plpgsql AS \
             $$ BEGIN RAISE EXCEPTION 'ALTER TABLE is refused here'; END $$; \
             CREATE EVENT TRIGGER refuse_alter ON ddl_command_start \
             WHEN TAG IN ('ALTER TABLE') EXECUTE FUNCTION refuse_alter();",
        )
        .await
        .unwrap();
    let out = app(db.url(), &["migrate", "up", "--format", "json"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("error: 1 migration applied (V1__initial), committed before the failure: migration V2__move_tokens_to_swagger_specs failed: "),
        "{}",
        stderr(&out)
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["committed"][0]["version"], 1);
    assert_eq!(json["committed"][0]["direction"], "applied");
    assert_eq!(
        json["migration_failure"]["failure"]["message"],
        "ALTER TABLE is refused here"
    );
    assert_eq!(versions(&db).await, [1]);
}

#[tokio::test]
async fn an_undo_blocked_by_a_dependent_view_names_its_line() {
    let db = TestDb::new(app::MIGRATIONS).await.unwrap();
    let client = db.pool().get().await.unwrap();
    // The real case: U2 drops swagger_specs.jwt_token, which a view now reads; the server's
    // 2BP01 error has no position.
    client
        .batch_execute("CREATE VIEW tokens AS SELECT jwt_token FROM swagger_specs")
        .await
        .unwrap();
    let out = app(db.url(), &["migrate", "down", "base"]);
    assert_eq!(out.status.code(), Some(1));
    let text = stderr(&out);
    assert!(
        text.contains("sql/U2__move_tokens_to_swagger_specs.sql:20:1: cannot drop column jwt_token of table swagger_specs because other objects depend on it (SQLSTATE 2BP01)"),
        "{text}"
    );
    assert!(
        text.contains("  detail: view tokens depends on column jwt_token of table swagger_specs"),
        "{text}"
    );
    assert!(
        text.contains("  | ALTER TABLE swagger_specs DROP COLUMN jwt_token;"),
        "{text}"
    );
    assert_eq!(versions(&db).await, [1, 2]);
}

#[test]
fn a_second_signal_exits_at_once_while_the_cancel_is_pending() {
    // A private cluster: the test freezes one of its backends.
    let cluster = PrivateCluster::start(&[], |_| Ok(())).unwrap();
    let url = cluster.url("postgres");
    let at_v1 = app(&url, &["migrate", "up", "1"]);
    assert!(at_v1.status.success(), "{}", stderr(&at_v1));
    let mut blocker = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    let mut tx = blocker.transaction().unwrap();
    tx.batch_execute("LOCK TABLE swagger_specs IN ACCESS EXCLUSIVE MODE")
        .unwrap();

    let child = Spawned::spawn(
        Command::new(APP)
            .args(["migrate", "up", "--migration-lock-timeout", "0"])
            .env("DATABASE_URL", &url)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped()),
    );
    let mut watcher = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    let pattern = format!("app migrate (% pid {})", child.id());
    let deadline = Instant::now() + Duration::from_secs(20);
    let backend: i32 = loop {
        let row = watcher
            .query_opt(
                "SELECT pid FROM pg_stat_activity WHERE application_name LIKE $1 \
                 AND wait_event_type = 'Lock'",
                &[&pattern],
            )
            .unwrap();
        if let Some(row) = row {
            break row.get(0);
        }
        assert!(Instant::now() < deadline, "the migration never blocked");
        std::thread::sleep(Duration::from_millis(20));
    };
    let signal = |sig: &str, pid: String| {
        assert!(
            Command::new("kill")
                .args([sig, &pid])
                .status()
                .unwrap()
                .success()
        );
    };
    // A frozen backend cannot act on the cancel request: the first SIGTERM waits for it.
    signal("-STOP", backend.to_string());
    let mut child = child;
    signal("-TERM", child.id().to_string());
    std::thread::sleep(Duration::from_millis(500));
    let still_running = child.try_wait().is_none();
    signal("-TERM", child.id().to_string());
    let started = Instant::now();
    let out = child.wait_within(LIMIT);
    signal("-CONT", backend.to_string());
    assert!(
        still_running,
        "the first signal did not wait for the rollback"
    );
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("received again"), "{}", stderr(&out));
    tx.rollback().unwrap();
    // The closed connection rolled V2 back and freed the lock.
    let deadline = Instant::now() + Duration::from_secs(20);
    while watcher
        .query_one(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'",
            &[],
        )
        .unwrap()
        .get::<_, i64>(0)
        > 0
    {
        assert!(Instant::now() < deadline, "the lock was never freed");
        std::thread::sleep(Duration::from_millis(20));
    }
    let current = app(&url, &["migrate", "current"]);
    assert_eq!(stdout(&current), "1\n");
}

#[test]
fn a_debug_build_without_a_database_starts_a_development_cluster_and_reuses_it() {
    // What `cargo run -- --migrate` does on a machine with PostgreSQL's binaries and no server:
    // forced here (a server answers at 5432), in a directory and on a port of the test's own.
    let dir = std::env::temp_dir().join(format!("app-dev-cluster-test-{}", std::process::id()));
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
        .to_string();
    let run = |args: &[&str]| {
        output(
            Command::new(APP)
                .args(args)
                .env_remove("DATABASE_URL")
                .env("APP_DEV_CLUSTER", "1")
                .env("APP_DEV_CLUSTER_DIR", &dir)
                .env("APP_DEV_CLUSTER_PORT", &port)
                .env("RUST_LOG", "info"),
        )
    };
    let up = run(&["migrate", "up"]);
    let stop = || {
        let bindir = pgbaked_testing::find_bindir().unwrap();
        let _ = pgbaked_testing::pg_command(&bindir.join("pg_ctl"))
            .arg("-D")
            .arg(dir.join("data"))
            .args(["-m", "immediate", "stop"])
            .output();
        let _ = std::fs::remove_dir_all(&dir);
    };
    let again = run(&["migrate", "current"]);
    // No dev server named and the local one passed over: drift replays on the cluster too.
    let drift = output(
        Command::new(APP)
            .args(["migrate", "drift"])
            .env_remove("DATABASE_URL")
            .env_remove("TEST_DATABASE_URL")
            .env_remove("APP_DEV_DATABASE_URL")
            .env("APP_DEV_CLUSTER", "1")
            .env("APP_DEV_CLUSTER_DIR", &dir)
            .env("APP_DEV_CLUSTER_PORT", &port),
    );
    // Its replay was built there, not on the local server: the cluster holds the template.
    let templates = output(Command::new("psql").args([
        "-X",
        "-At",
        "-d",
        &format!("postgres://postgres@127.0.0.1:{port}/postgres"),
        "-c",
        "SELECT count(*) FROM pg_database WHERE datname LIKE 'pgm_tpl_%'",
    ]));
    stop();
    assert!(up.status.success(), "{}", stderr(&up));
    assert!(
        stderr(&up).contains(&format!(
            "using the development cluster (stop it with pg_ctl -D <data> stop) url=postgres://postgres@127.0.0.1:{port}/postgres"
        )),
        "{}",
        stderr(&up)
    );
    // The second run reuses it: the schema the first applied is there.
    assert!(again.status.success(), "{}", stderr(&again));
    assert_eq!(stdout(&again), "2\n");
    assert!(drift.status.success(), "{}", stderr(&drift));
    assert_eq!(stdout(&templates).trim(), "1", "{}", stderr(&templates));
    assert!(
        stdout(&drift).contains("the database holds what its history builds"),
        "{}",
        stdout(&drift)
    );
}

/// Live traffic holding a lock: the migration gives way at its lock timeout, rolls back, and
/// runs again after a pause until the lock is free; it commits once, and its line says how
/// many runs it took. Without retries it fails at the first timeout, and nothing of it stays.
#[tokio::test]
async fn a_lock_timeout_rolls_the_migration_back_and_runs_it_again() {
    let db = TestDb::at(app::MIGRATIONS, 1).await.unwrap();
    let mut blocker = db.pool().get().await.unwrap();
    let tx = blocker.transaction().await.unwrap();
    tx.batch_execute("LOCK TABLE swagger_specs IN ACCESS SHARE MODE")
        .await
        .unwrap();
    let once = app(
        db.url(),
        &[
            "migrate",
            "up",
            "--migration-lock-timeout",
            "100ms",
            "--migration-lock-retries",
            "0",
        ],
    );
    assert_eq!(once.status.code(), Some(1), "{}", stderr(&once));
    assert!(stderr(&once).contains("lock timeout"), "{}", stderr(&once));
    assert_eq!(versions(&db).await, [1]);

    let child = Spawned::spawn(
        Command::new(APP)
            .args([
                "migrate",
                "up",
                "--migration-lock-timeout",
                "100ms",
                "--migration-lock-retries",
                "8",
            ])
            .env("DATABASE_URL", db.url())
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped()),
    );
    // Long enough for a timeout and a retry or two.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    tx.rollback().await.unwrap();
    let out = child.wait_within(LIMIT);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("lock timeout: the migration rolled back and runs again"),
        "{}",
        stderr(&out)
    );
    assert!(
        stdout(&out).contains("after a lock timeout")
            || stdout(&out).contains("after lock timeouts"),
        "{}",
        stdout(&out)
    );
    assert_eq!(versions(&db).await, [1, 2]);
}
