//! Helpers shared by the integration tests: a minimal HTTP client, an in-process server, and
//! bounded waits (child processes and futures) so that a test stuck on a lock fails instead of
//! hanging.
#![allow(dead_code)]

use std::future::Future;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, ChildStdin, Command, ExitStatus, Output, Stdio};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use pgbaked_testing::TestDb;

/// The longest a test waits for anything that could hang on a lock (a migration lock, a blocked
/// statement, a child process that never exits) before it fails instead. Generous: above the
/// binary's own 60 s lock wait, so that the binary's error is what a slow run reports.
pub const LIMIT: Duration = Duration::from_secs(120);

/// Awaits `fut`, panicking with `what` if it takes longer than `limit`: a test that would hang
/// on a lock fails instead.
pub async fn within<F: Future>(limit: Duration, what: &str, fut: F) -> F::Output {
    match tokio::time::timeout(limit, fut).await {
        Ok(out) => out,
        Err(_) => panic!("timed out after {limit:?}: {what}"),
    }
}

/// [`within`] the default [`LIMIT`].
pub async fn bounded<F: Future>(what: &str, fut: F) -> F::Output {
    within(LIMIT, what, fut).await
}

/// A child process whose waits are bounded. It is killed (SIGKILL, by its pid) when it outlives
/// its wait or when dropped unwaited, so a failing test leaves nothing running. Its stdout and
/// stderr, when piped, are drained by threads from the start, so a child writing much cannot
/// block on a full pipe while the test polls it.
pub struct Spawned {
    child: Child,
    what: String,
    stdout: Option<JoinHandle<Vec<u8>>>,
    stderr: Option<JoinHandle<Vec<u8>>>,
    reaped: bool,
}

fn drain(pipe: Option<impl Read + Send + 'static>) -> Option<JoinHandle<Vec<u8>>> {
    pipe.map(|mut pipe| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            let _ = pipe.read_to_end(&mut bytes);
            bytes
        })
    })
}

fn joined(handle: Option<JoinHandle<Vec<u8>>>) -> Vec<u8> {
    handle
        .map(|h| h.join().unwrap_or_default())
        .unwrap_or_default()
}

impl Spawned {
    /// Spawns `command` as it is configured (pipes included).
    pub fn spawn(command: &mut Command) -> Spawned {
        let what = std::iter::once(command.get_program())
            .chain(command.get_args())
            .map(|a| a.to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join(" ");
        let mut child = command
            .spawn()
            .unwrap_or_else(|e| panic!("spawning {what}: {e}"));
        Spawned {
            stdout: drain(child.stdout.take()),
            stderr: drain(child.stderr.take()),
            child,
            what,
            reaped: false,
        }
    }

    /// The process id.
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// The child's stdin, when it was piped.
    pub fn stdin(&mut self) -> ChildStdin {
        self.child.stdin.take().expect("stdin was piped")
    }

    /// Whether it has exited, without waiting.
    pub fn try_wait(&mut self) -> Option<ExitStatus> {
        let status = self.child.try_wait().expect("polling a child process");
        self.reaped |= status.is_some();
        status
    }

    /// SIGKILL, then reap it.
    pub fn kill(&mut self) {
        if !self.reaped {
            let _ = self.child.kill();
            let _ = self.child.wait();
            self.reaped = true;
        }
    }

    /// Waits for it to exit, at most `limit`; past that, kills it and panics with what it wrote.
    #[track_caller]
    pub fn wait_within(self, limit: Duration) -> Output {
        self.wait_until(Instant::now() + limit)
    }

    /// Waits for it to exit, until `deadline` at most (one deadline for many children); past
    /// that, kills it and panics with what it wrote.
    #[track_caller]
    pub fn wait_until(mut self, deadline: Instant) -> Output {
        loop {
            if let Some(status) = self.try_wait() {
                return Output {
                    status,
                    stdout: joined(self.stdout.take()),
                    stderr: joined(self.stderr.take()),
                };
            }
            if Instant::now() >= deadline {
                let pid = self.id();
                self.kill();
                let stderr = joined(self.stderr.take());
                panic!(
                    "`{}` (pid {pid}) was still running at its deadline (hung on a lock?); \
                     killed it. Its stderr:\n{}",
                    self.what,
                    String::from_utf8_lossy(&stderr)
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Spawned {
    fn drop(&mut self) {
        self.kill();
    }
}

/// `command.output()`, bounded by [`LIMIT`]: stdout and stderr captured, stdin closed.
#[track_caller]
pub fn output(command: &mut Command) -> Output {
    command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    Spawned::spawn(command).wait_within(LIMIT)
}

/// Runs the real binary against `url`, with logs at info level; fails the test if it is still
/// running after [`LIMIT`].
#[track_caller]
pub fn app(url: &str, args: &[&str]) -> Output {
    // Scratch databases (diff, check, drift) on the test server, as a developer's
    // TEST_DATABASE_URL would put them: `drift` never builds on the server it inspects.
    let dev = std::env::var("TEST_DATABASE_URL")
        .unwrap_or_else(|_| pgbaked_testing::url_with_dbname(url, "postgres"));
    output(
        Command::new(env!("CARGO_BIN_EXE_app"))
            .args(args)
            .env("DATABASE_URL", url)
            .env("TEST_DATABASE_URL", dev)
            .env_remove("APP_MIGRATE")
            .env("RUST_LOG", "info"),
    )
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
    bounded("reading the history table", versions_now(db)).await
}

async fn versions_now(db: &TestDb) -> Vec<i64> {
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
    bounded("counting advisory locks", async {
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
    })
    .await
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

/// The app's router over `db`, with the whole embedded set as the binary serves it (whatever
/// the database was migrated to), for calling in-process.
pub fn router(db: &TestDb) -> axum::Router {
    let migrator = app::migrator(pgbaked::Options::default()).unwrap();
    app::app(app::AppState::new(db.pool().clone(), migrator))
}

/// One request through the router in-process (`tower::ServiceExt::oneshot`, no socket), with
/// `body` as is and an optional Content-Type; the status and the body as text.
pub async fn raw_call(
    router: &axum::Router,
    method: &str,
    path: &str,
    content_type: Option<&str>,
    body: &str,
) -> (u16, String) {
    use tower::ServiceExt;
    let mut request = axum::http::Request::builder().method(method).uri(path);
    if let Some(content_type) = content_type {
        request = request.header("content-type", content_type);
    }
    let request = request
        .body(axum::body::Body::from(body.to_string()))
        .unwrap();
    let response = bounded(path, router.clone().oneshot(request))
        .await
        .unwrap();
    let status = response.status().as_u16();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    (status, String::from_utf8_lossy(&bytes).into_owned())
}

/// A JSON request through the router in-process; the status and the body as JSON (a string
/// when it is not JSON).
pub async fn call(
    router: &axum::Router,
    method: &str,
    path: &str,
    body: Option<serde_json::Value>,
) -> (u16, serde_json::Value) {
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    let (status, text) = raw_call(router, method, path, Some("application/json"), &body).await;
    let json = serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text));
    (status, json)
}

/// Runs `script` with psql (postgresql-client), failing the test if psql is still running after
/// [`LIMIT`] (a statement blocked on a lock).
pub fn psql(url: &str, script: &str) -> Output {
    let mut child = Spawned::spawn(
        Command::new("psql")
            .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", url, "-f", "-"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped()),
    );
    // Written from a thread, so a psql blocked before reading it all cannot block the test.
    let mut stdin = child.stdin();
    let script = script.to_string();
    let writer = std::thread::spawn(move || stdin.write_all(script.as_bytes()));
    let out = child.wait_within(LIMIT);
    // A write error means psql stopped reading early: its status and stderr say why.
    let _ = writer.join();
    out
}
