//! The HTTP service: readiness follows the schema, and `app --migrate` boots, serves and drains.

use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use pgbaked_testing::TestDb;

mod common;
use common::{LIMIT, Spawned, bounded, call, request, router};

fn get(addr: SocketAddr, path: &str) -> std::io::Result<(u16, serde_json::Value)> {
    request(addr, "GET", path, None)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_answers_200_only_when_nothing_is_pending() {
    let db = TestDb::at(app::MIGRATIONS, 1).await.unwrap();
    let app = router(&db);

    let (status, body) = call(&app, "GET", "/healthz", None).await;
    assert_eq!((status, body), (200, serde_json::json!("ok")));

    let (status, body) = call(&app, "GET", "/readyz", None).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["ready"], false);

    let (status, schema) = call(&app, "GET", "/schema", None).await;
    assert_eq!(status, 200);
    assert_eq!(
        schema,
        serde_json::json!({ "head": 2, "current": 1, "pending": [2], "held_contract": [], "divergent": [], "mismatched": [], "unknown": [] })
    );

    let migrator = app::migrator(pgbaked::Options::default()).unwrap();
    bounded(
        "migrating while the server runs",
        migrator.up(db.pool(), &pgbaked::Rev::Head, &mut |_| {}),
    )
    .await
    .unwrap();
    let (status, body) = call(&app, "GET", "/readyz", None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["schema"]["current"], 2);
}

#[tokio::test]
async fn boot_with_migrate_applies_the_schema_serves_and_drains_on_sigterm() {
    let db = TestDb::empty().await.unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    // A server never stops by itself: killed if the test fails before it exits.
    let mut child = Spawned::spawn(
        Command::new(env!("CARGO_BIN_EXE_app"))
            .args(["--listen", &addr.to_string()])
            .env("DATABASE_URL", db.url())
            .env("APP_MIGRATE", "true")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped()),
    );
    let started = Instant::now();
    let ready = loop {
        if let Ok((200, body)) = get(addr, "/readyz") {
            break body;
        }
        assert!(child.try_wait().is_none(), "app exited early");
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "never became ready"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(ready["schema"]["current"], 2);

    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    // A drain that never ends fails here instead of hanging.
    let out = child.wait_within(LIMIT);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("SIGTERM received, draining"), "{stderr}");
    assert!(stderr.contains("applied migration"), "{stderr}");
}

#[test]
fn dockerfile_cmd_is_accepted_by_the_binary() {
    let dockerfile =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/Dockerfile")).unwrap();
    let cmd = dockerfile
        .lines()
        .rev()
        .find_map(|l| l.strip_prefix("CMD "))
        .expect("the Dockerfile has a CMD");
    let args: Vec<String> = serde_json::from_str(cmd).expect("CMD is in exec form");
    assert_eq!(args, ["app", "--migrate"]);
    let cli = <app::Cli as clap::Parser>::try_parse_from(&args).unwrap();
    assert!(cli.migrate);
    assert!(cli.command.is_none());
}

/// A long migration at boot (here, one blocked behind a lock) does not fail the liveness
/// probe: /healthz answers from the start, /readyz answers 503 with how far the boot got,
/// the API waits, and all of it follows once the migration commits.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probes_answer_while_a_boot_migration_runs_and_the_api_waits_for_it() {
    let db = TestDb::at(app::MIGRATIONS, 1).await.unwrap();
    let mut blocker = db.pool().get().await.unwrap();
    let tx = blocker.transaction().await.unwrap();
    tx.batch_execute("LOCK TABLE swagger_specs IN ACCESS EXCLUSIVE MODE")
        .await
        .unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let mut child = Spawned::spawn(
        Command::new(env!("CARGO_BIN_EXE_app"))
            .args([
                "--migrate",
                "--listen",
                &addr.to_string(),
                "--migration-lock-timeout",
                "0",
            ])
            .env("DATABASE_URL", db.url())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped()),
    );
    let started = Instant::now();
    while get(addr, "/healthz").is_err() {
        assert!(child.try_wait().is_none(), "app exited early");
        assert!(started.elapsed() < Duration::from_secs(20), "never served");
        std::thread::sleep(Duration::from_millis(20));
    }
    // V2 waits behind the lock: alive, not ready, and saying so.
    let (status, body) = get(addr, "/healthz").unwrap();
    assert_eq!((status, body), (200, serde_json::json!("ok")));
    let (status, body) = get(addr, "/readyz").unwrap();
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["boot"]["phase"], "migrating", "{body}");
    // The API holds the request until the schema is there.
    let held = std::thread::spawn(move || get(addr, "/users"));
    std::thread::sleep(Duration::from_millis(500));
    assert!(!held.is_finished(), "the API answered before the migration");
    tx.rollback().await.unwrap();
    let (status, body) = held.join().unwrap().unwrap();
    assert_eq!(status, 200, "{body}");
    let (status, body) = get(addr, "/readyz").unwrap();
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["schema"]["current"], 2);
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let out = child.wait_within(LIMIT);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
