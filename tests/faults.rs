//! Fault injection on a private cluster: the migrator killed with SIGKILL at random moments,
//! and the server restarted mid-run. After each fault, every recorded migration is fully
//! applied, none is half applied, and a rerun completes.
//!
//! The migrator runs in a child process: this test binary re-executes itself with
//! `FAULT_CHILD_URL` set, which makes `child_migrator` run the migrations instead of returning.

use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use app::migrate::{Migration, Migrator, Options, Rev, Script};
use app::testing::PrivateCluster;

const MIGRATIONS: i64 = 24;

/// Each migration creates a table, fills it, and takes a little while, so a kill lands inside
/// one as often as between two.
fn migrations() -> Vec<Migration> {
    (1..=MIGRATIONS)
        .map(|v| {
            let sql = format!(
                "CREATE TABLE t{v} (id int PRIMARY KEY);\n\
                 INSERT INTO t{v} SELECT generate_series(1, 10);\n\
                 SELECT pg_sleep(0.02);\n\
                 CREATE INDEX t{v}_id ON t{v} (id);\n"
            );
            Migration::new(
                v,
                &format!("t{v}"),
                Script::new(format!("sql/V{v}__t{v}.sql"), sql),
                None,
            )
            .unwrap()
        })
        .collect()
}

/// The child: migrates `FAULT_CHILD_URL` and exits 0, or prints the error and exits 1.
#[test]
fn child_migrator() {
    let Ok(url) = std::env::var("FAULT_CHILD_URL") else {
        return;
    };
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let result = runtime.block_on(async {
        let config: app::DatabaseConfig = url.parse()?;
        let pool = app::pool(&config.with_application_name("fault child"), 2)?;
        let migrator = Migrator::new(
            migrations(),
            Options {
                lock_wait: Duration::from_secs(60),
                ..Options::default()
            },
        );
        migrator.up(&pool, &Rev::Head, &mut |_| {}).await?;
        anyhow::Ok(())
    });
    match result {
        Ok(()) => std::process::exit(0),
        Err(err) => {
            eprintln!("error: {}", app::error_chain(err.as_ref()));
            std::process::exit(1);
        }
    }
}

fn spawn_child(url: &str) -> Child {
    Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "child_migrator",
            "--nocapture",
            "--test-threads",
            "1",
        ])
        .env("FAULT_CHILD_URL", url)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn run_child(url: &str) -> Output {
    spawn_child(url).wait_with_output().unwrap()
}

/// Every recorded migration is whole (table, ten rows, index); no unrecorded one left a trace.
fn assert_consistent(url: &str) -> usize {
    let mut client = postgres::Client::connect(url, postgres::NoTls).unwrap();
    let recorded: Vec<i64> = match client.query(
        "SELECT version FROM refinery_schema_history ORDER BY version",
        &[],
    ) {
        Ok(rows) => rows.iter().map(|r| r.get(0)).collect(),
        Err(_) => Vec::new(),
    };
    for v in 1..=MIGRATIONS {
        let table = format!("t{v}");
        let exists: bool = client
            .query_one("SELECT to_regclass($1) IS NOT NULL", &[&table])
            .unwrap()
            .get(0);
        if recorded.contains(&v) {
            assert!(exists, "V{v} is recorded but its table is missing");
            let rows: i64 = client
                .query_one(&format!("SELECT count(*) FROM t{v}"), &[])
                .unwrap()
                .get(0);
            assert_eq!(rows, 10, "V{v} is recorded but half applied");
            let index: bool = client
                .query_one("SELECT to_regclass($1) IS NOT NULL", &[&format!("t{v}_id")])
                .unwrap()
                .get(0);
            assert!(index, "V{v} is recorded but its index is missing");
        } else {
            assert!(!exists, "V{v} is not recorded but left its table behind");
        }
    }
    // Recorded versions are a prefix: nothing was skipped.
    assert_eq!(recorded, (1..=recorded.len() as i64).collect::<Vec<_>>());
    recorded.len()
}

/// A small deterministic generator, so a failing trial can be replayed.
fn next_random(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

#[test]
fn sigkill_at_random_moments_never_leaves_a_half_applied_migration() {
    let cluster = PrivateCluster::start(&[], |_| Ok(())).unwrap();
    let mut admin = postgres::Client::connect(&cluster.url("postgres"), postgres::NoTls).unwrap();
    let mut seed = 0x5eed_1234_u64;
    let mut progress = Vec::new();
    for trial in 0..12 {
        // A fresh database per trial, so every kill lands somewhere in a full run.
        admin
            .batch_execute(&format!("CREATE DATABASE trial{trial}"))
            .unwrap();
        let url = cluster.url(&format!("trial{trial}"));
        let mut child = spawn_child(&url);
        let delay = 20 + next_random(&mut seed) % 700;
        std::thread::sleep(Duration::from_millis(delay));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        progress.push(assert_consistent(&url));
        // The killed process's lock is freed with its session; a rerun completes.
        let out = run_child(&url);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(assert_consistent(&url), MIGRATIONS as usize);
    }
    eprintln!("recorded when killed: {progress:?}");
    // The kills landed at different points of the run, not all before it started.
    let inside = progress
        .iter()
        .filter(|&&p| p > 0 && p < MIGRATIONS as usize)
        .count();
    assert!(inside >= 6, "{progress:?}");
}

#[test]
fn server_restart_mid_run_is_a_clear_error_and_a_rerun_converges() {
    let cluster = PrivateCluster::start(&[], |_| Ok(())).unwrap();
    let url = cluster.url("postgres");
    let child = spawn_child(&url);
    std::thread::sleep(Duration::from_millis(200));
    cluster.restart().unwrap();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    if out.status.success() {
        // The run finished before the restart; nothing to check but consistency.
        assert_eq!(assert_consistent(&url), MIGRATIONS as usize);
        return;
    }
    assert!(
        stderr.contains("terminating connection due to administrator command")
            || stderr.contains("connection closed")
            || stderr.contains("error communicating with the server"),
        "{stderr}"
    );
    let partial = assert_consistent(&url);
    eprintln!("recorded when the server restarted: {partial}; the child said: {stderr}");
    assert!(partial < MIGRATIONS as usize);
    let rerun = run_child(&url);
    assert!(
        rerun.status.success(),
        "{}",
        String::from_utf8_lossy(&rerun.stderr)
    );
    assert_eq!(assert_consistent(&url), MIGRATIONS as usize);
}
