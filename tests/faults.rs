//! Fault injection on a private cluster: the migrator killed with SIGKILL at random moments,
//! and the server restarted mid-run. After each fault, every recorded migration is fully
//! applied, none is half applied, and a rerun completes.
//!
//! The migrator runs in a child process: this test binary re-executes itself with
//! `FAULT_CHILD_URL` set, which makes `child_migrator` run the migrations instead of returning.

use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use pgbaked::{Migration, Migrator, Options, Rev, Script};
use pgbaked_testing::PrivateCluster;

mod common;
use common::{LIMIT, Spawned};

const MIGRATIONS: i64 = 24;

/// The migration that passes through the gate: it takes a shared advisory lock on
/// [`GATE_KEY`] after creating and filling its table, so a test holding that lock exclusively
/// holds the run in flight inside this migration, with the ones before it committed. Nobody
/// holds it in the SIGKILL test, where it costs nothing.
const GATE_VERSION: i64 = 12;
const GATE_KEY: i64 = 0x6661_756c_7467;

/// Each migration creates a table, fills it, and takes a little while, so a kill lands inside
/// one as often as between two.
fn migrations() -> Vec<Migration> {
    (1..=MIGRATIONS)
        .map(|v| {
            let gate = if v == GATE_VERSION {
                format!("SELECT pg_advisory_xact_lock_shared({GATE_KEY}); -- fault gate\n")
            } else {
                String::new()
            };
            let sql = format!(
                "CREATE TABLE t{v} (id int PRIMARY KEY);\n\
                 INSERT INTO t{v} SELECT generate_series(1, 10);\n\
                 {gate}\
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
        let config: pgbaked::DatabaseConfig = url.parse()?;
        let pool = pgbaked::pool(&config.with_application_name("fault child"), 2)?;
        let migrator = Migrator::new(
            migrations(),
            Options {
                lock_wait: Duration::from_secs(60),
                // The gate is held for as long as the test needs: no `lock_timeout` ends the
                // wait first (the test's own deadline bounds it).
                lock_timeout: None,
                ..Options::default()
            },
        );
        migrator.up(&pool, &Rev::Head, &mut |_| {}).await?;
        anyhow::Ok(())
    });
    match result {
        Ok(()) => std::process::exit(0),
        Err(err) => {
            eprintln!("error: {}", pgbaked::error_chain(err.as_ref()));
            std::process::exit(1);
        }
    }
}

/// The child, killed if the test fails while it runs.
fn spawn_child(url: &str) -> Spawned {
    Spawned::spawn(
        Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "child_migrator",
                "--nocapture",
                "--test-threads",
                "1",
            ])
            .env("FAULT_CHILD_URL", url)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped()),
    )
}

/// A full run of the child, failing the test if it has not exited after [`LIMIT`].
fn run_child(url: &str) -> Output {
    spawn_child(url).wait_within(LIMIT)
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
        child.kill(); // SIGKILL
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
    // Close the gate: the child's run stops inside V12, with V1..V11 committed.
    let mut gate = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    gate.execute("SELECT pg_advisory_lock($1)", &[&GATE_KEY])
        .unwrap();
    let mut child = spawn_child(&url);
    // Wait until the child is provably mid-run: its backend waits on the gate, inside V12.
    let pattern = format!("fault child (% pid {})", child.id());
    let started = Instant::now();
    loop {
        let at_gate: bool = gate
            .query_one(
                "SELECT EXISTS (SELECT 1 FROM pg_stat_activity \
                 WHERE application_name LIKE $1 AND wait_event_type = 'Lock' \
                 AND query LIKE '%-- fault gate%')",
                &[&pattern],
            )
            .unwrap()
            .get(0);
        if at_gate {
            break;
        }
        if let Some(status) = child.try_wait() {
            let out = child.wait_within(LIMIT);
            panic!(
                "the child exited ({status}) before reaching the gate in V{GATE_VERSION}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        assert!(
            started.elapsed() < LIMIT,
            "the child never reached the gate in V{GATE_VERSION}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    // The restart ends every session, the gate's included.
    cluster.restart().unwrap();
    drop(gate);
    let out = child.wait_within(LIMIT);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success(),
        "the run completed although the server restarted while V{GATE_VERSION} was in flight: \
         the fault was not injected. The child said: {stderr}"
    );
    assert!(
        stderr.contains("terminating connection due to administrator command")
            || stderr.contains("connection closed")
            || stderr.contains("error communicating with the server"),
        "{stderr}"
    );
    let partial = assert_consistent(&url);
    eprintln!("recorded when the server restarted: {partial}; the child said: {stderr}");
    assert_eq!(
        partial,
        GATE_VERSION as usize - 1,
        "the migrations before the gate are committed, the one in flight rolled back"
    );
    let rerun = run_child(&url);
    assert!(
        rerun.status.success(),
        "{}",
        String::from_utf8_lossy(&rerun.stderr)
    );
    assert_eq!(assert_consistent(&url), MIGRATIONS as usize);
}
