//! The HTTP service: readiness follows the schema, and `app --migrate` boots, serves and drains.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use app::testing::TestDb;

/// A plain HTTP/1.1 GET, so the tests need no HTTP client crate.
fn get(addr: SocketAddr, path: &str) -> std::io::Result<(u16, serde_json::Value)> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n"
    )?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    let status = response
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = response.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    let json = serde_json::from_str(body).unwrap_or(serde_json::Value::String(body.to_string()));
    Ok((status, json))
}

async fn serve(db: &TestDb) -> (SocketAddr, tokio::sync::oneshot::Sender<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let state = app::AppState::new(db.pool().clone(), db.migrator().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(app::serve(listener, state, async {
        let _ = stopped.await;
    }));
    (addr, stop)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_answers_200_only_when_nothing_is_pending() {
    let db = TestDb::at(1).await.unwrap();
    let (addr, _stop) = serve(&db).await;

    let (status, body) = tokio::task::spawn_blocking(move || get(addr, "/healthz"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!((status, body), (200, serde_json::json!("ok")));

    let (status, body) = tokio::task::spawn_blocking(move || get(addr, "/readyz"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["ready"], false);

    let (status, schema) = tokio::task::spawn_blocking(move || get(addr, "/schema"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(status, 200);
    assert_eq!(
        schema,
        serde_json::json!({ "head": 2, "current": 1, "pending": [2], "divergent": [], "unknown": [] })
    );

    db.migrator()
        .unwrap()
        .up(db.pool(), &app::migrate::Rev::Head, &mut |_| {})
        .await
        .unwrap();
    let (status, body) = tokio::task::spawn_blocking(move || get(addr, "/readyz"))
        .await
        .unwrap()
        .unwrap();
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
    let mut child = Command::new(env!("CARGO_BIN_EXE_app"))
        .args(["--listen", &addr.to_string()])
        .env("DATABASE_URL", db.url())
        .env("APP_MIGRATE", "true")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    let ready = loop {
        if let Ok((200, body)) = get(addr, "/readyz") {
            break body;
        }
        assert!(child.try_wait().unwrap().is_none(), "app exited early");
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
    let out = child.wait_with_output().unwrap();
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
