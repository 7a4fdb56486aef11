//! The development cluster: `cargo run -- --migrate` on a machine with PostgreSQL's binaries
//! but no server, and no `DATABASE_URL`, starts (or reuses) a cluster under `target/` instead
//! of failing. Compiled into debug builds only: a release build, or a set `DATABASE_URL`,
//! never talks to anything but what it was told.

use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::{Context, bail};

/// The development cluster's port, beside the harness's 54329 (`APP_DEV_CLUSTER_PORT`
/// overrides it).
const PORT: u16 = 54330;

/// Forces the development cluster even when something answers at the default address (for
/// tests); `APP_DEV_CLUSTER_DIR` moves it out of `target/`.
const FORCE_ENV: &str = "APP_DEV_CLUSTER";

fn port() -> u16 {
    std::env::var("APP_DEV_CLUSTER_PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(PORT)
}

/// The URL of a development cluster to use instead of `url`, when `url` is the built-in default
/// (no `DATABASE_URL`, no `--database-url`) and nothing answers at its address; `None` to use
/// `url` as it is.
///
/// # Errors
///
/// No PostgreSQL binaries, or initdb or pg_ctl failing: the message says how to proceed.
pub fn replace_default(url: &pgbaked_cli::DatabaseUrl) -> anyhow::Result<Option<String>> {
    if !forced() && (!url.is_default() || answers(5432)) {
        return Ok(None);
    }
    started().map(Some)
}

/// The development cluster as the last resort for scratch databases (`migrate drift`, `diff`,
/// `check`, `create --autogenerate`), once no dev server is named and nothing answers at
/// localhost:5432 (or always, with `APP_DEV_CLUSTER=1`): see
/// `pgbaked_cli::Service::dev_server`.
///
/// # Errors
///
/// As [`replace_default`].
pub fn scratch_server(local_answers: bool) -> anyhow::Result<Option<String>> {
    if local_answers && !forced() {
        return Ok(None);
    }
    started().map(Some)
}

fn forced() -> bool {
    std::env::var(FORCE_ENV).is_ok_and(|v| v == "1" || v == "true")
}

/// Starts (or joins) the development cluster and returns its URL.
fn started() -> anyhow::Result<String> {
    let dir = match std::env::var_os("APP_DEV_CLUSTER_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("target/dev-cluster"),
    };
    start(&dir).with_context(|| {
        format!(
            "nothing answers at localhost:5432 and DATABASE_URL is unset; starting a development \
             cluster in {} failed (install PostgreSQL, or set DATABASE_URL)",
            dir.display()
        )
    })?;
    let url = format!("postgres://postgres@127.0.0.1:{}/postgres", port());
    tracing::info!(
        url = %url,
        data = %dir.join("data").display(),
        "no database at localhost:5432 and DATABASE_URL unset: using the development cluster (stop it with pg_ctl -D <data> stop)"
    );
    Ok(url)
}

fn answers(port: u16) -> bool {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    TcpStream::connect_timeout(&addr, Duration::from_millis(300)).is_ok()
}

/// Initialises the cluster on first use and starts it unless it already runs.
fn start(dir: &Path) -> anyhow::Result<()> {
    let port = port();
    if answers(port) {
        return Ok(());
    }
    let bindir = bindir().context("no initdb/pg_ctl on PATH or in /usr/lib/postgresql/*/bin")?;
    let data = dir.join("data");
    std::fs::create_dir_all(dir)?;
    give_to_postgres(dir)?;
    if !data.join("PG_VERSION").is_file() {
        let mut initdb = pg_command(&bindir.join("initdb"));
        initdb
            .arg("-D")
            .arg(&data)
            .args(["-U", "postgres", "-A", "trust", "--no-sync"]);
        run(initdb, "initdb")?;
    }
    let mut pg_ctl = pg_command(&bindir.join("pg_ctl"));
    pg_ctl
        .arg("-D")
        .arg(&data)
        .arg("-l")
        .arg(dir.join("log"))
        .args(["-w", "-o"])
        .arg(format!(
            "-p {port} -k {} -c listen_addresses=127.0.0.1",
            dir.display()
        ))
        .arg("start");
    run(pg_ctl, "pg_ctl start")
}

/// PostgreSQL's server binaries: `PATH`, then Debian's `/usr/lib/postgresql/*/bin`.
fn bindir() -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let mut debian: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path().join("bin"))
        .collect();
    debian.sort();
    std::env::split_paths(&path)
        .chain(debian.into_iter().rev())
        .find(|dir| dir.join("initdb").is_file() && dir.join("pg_ctl").is_file())
}

fn is_root() -> bool {
    std::fs::metadata("/proc/self")
        .map(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0)
        .unwrap_or(false)
}

/// initdb and pg_ctl refuse to run as root; as root they run as `postgres`.
fn pg_command(bin: &Path) -> Command {
    if is_root() {
        let mut command = Command::new("runuser");
        command.args(["-u", "postgres", "--"]).arg(bin);
        command
    } else {
        Command::new(bin)
    }
}

fn give_to_postgres(path: &Path) -> anyhow::Result<()> {
    if is_root() {
        run(
            {
                let mut chown = Command::new("chown");
                chown.args(["-R", "postgres"]).arg(path);
                chown
            },
            "chown",
        )?;
    }
    Ok(())
}

fn run(mut command: Command, what: &str) -> anyhow::Result<()> {
    let out = command
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("running {what}"))?;
    if !out.status.success() {
        bail!(
            "{what} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(())
}
