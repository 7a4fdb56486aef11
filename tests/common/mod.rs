//! Helpers shared by the integration tests: a minimal HTTP client and an in-process server.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use std::process::{Command, Output};

use app::testing::TestDb;

/// Runs the real binary against `url`, with logs at info level.
pub fn app(url: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_app"))
        .args(args)
        .env("DATABASE_URL", url)
        .env_remove("APP_MIGRATE")
        .env("RUST_LOG", "info")
        .output()
        .expect("running app")
}

/// A process's stdout as text.
pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A process's stderr as text.
pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The versions in the history table, or none when it does not exist.
pub async fn versions(db: &TestDb) -> Vec<i64> {
    let client = db.pool().get().await.unwrap();
    let exists: bool = client
        .query_one(
            "SELECT to_regclass('refinery_schema_history') IS NOT NULL",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    if !exists {
        return Vec::new();
    }
    client
        .query(
            "SELECT version FROM refinery_schema_history ORDER BY version",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect()
}

/// How many advisory locks are held in the test's database.
pub async fn advisory_locks(db: &TestDb) -> i64 {
    let client = db.pool().get().await.unwrap();
    client
        .query_one(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' \
             AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
            &[],
        )
        .await
        .unwrap()
        .get(0)
}

/// One HTTP/1.1 request, so the tests need no HTTP client crate. Blocking: call it from
/// `spawn_blocking` inside a runtime.
pub fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    body: Option<&serde_json::Value>,
) -> std::io::Result<(u16, serde_json::Value)> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let body = body.map(ToString::to_string).unwrap_or_default();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
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

/// `request` from async code.
pub async fn call(
    addr: SocketAddr,
    method: &'static str,
    path: &str,
    body: Option<serde_json::Value>,
) -> (u16, serde_json::Value) {
    let path = path.to_string();
    tokio::task::spawn_blocking(move || request(addr, method, &path, body.as_ref()))
        .await
        .unwrap()
        .unwrap()
}

/// Serves the app over `db` on an ephemeral port until the returned sender is dropped.
pub async fn serve(db: &TestDb) -> (SocketAddr, tokio::sync::oneshot::Sender<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let state = app::AppState::new(db.pool().clone(), db.migrator().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(app::serve(listener, state, async {
        let _ = stopped.await;
    }));
    (addr, stop)
}
