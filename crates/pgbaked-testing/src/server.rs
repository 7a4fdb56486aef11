//! Which PostgreSQL tests use: `TEST_DATABASE_URL`, `DATABASE_URL`, the local server, or else
//! a throwaway cluster started from the installed binaries and shared by every test process.

use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use super::cluster::{find_bindir, give_to_postgres, pg_command, run};
use pgbaked::DatabaseConfig;

/// Set to `1` to use the throwaway cluster even where a server answers (CI runs this path).
pub const FORCE_CLUSTER_ENV: &str = "APP_TEST_CLUSTER";
/// The throwaway cluster's port.
pub const CLUSTER_PORT: u16 = 54329;
/// The local server tried after the environment's URLs.
const LOCAL_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// The server tests run against.
#[derive(Clone)]
pub struct TestServer {
    url: String,
    config: DatabaseConfig,
}

impl std::fmt::Debug for TestServer {
    /// The config's Display: the URL may hold a password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TestServer({})", self.config)
    }
}

impl TestServer {
    /// A server at `url`, without checking that it answers.
    ///
    /// # Errors
    ///
    /// An unparsable URL.
    pub fn at(url: &str) -> anyhow::Result<TestServer> {
        Ok(TestServer {
            url: url.to_string(),
            config: url.parse()?,
        })
    }

    /// Finds a server that answers, starting the throwaway cluster when none does (or when
    /// `APP_TEST_CLUSTER=1`).
    ///
    /// # Errors
    ///
    /// No server answers and no cluster can be started.
    pub fn discover() -> anyhow::Result<TestServer> {
        let forced = std::env::var(FORCE_CLUSTER_ENV).is_ok_and(|v| v == "1" || v == "true");
        if !forced {
            let candidates = [
                std::env::var("TEST_DATABASE_URL").ok(),
                std::env::var("DATABASE_URL").ok(),
                Some(LOCAL_URL.to_string()),
            ];
            for url in candidates.into_iter().flatten() {
                let Ok(server) = TestServer::at(&url) else {
                    continue;
                };
                if server.answers() {
                    return Ok(server);
                }
            }
        }
        start_cluster()
    }

    fn answers(&self) -> bool {
        let mut config = postgres::Config::from(self.config.pg().clone());
        config.connect_timeout(Duration::from_secs(2));
        match self.config.tls().connector() {
            Ok(tls) => config.connect(tls).is_ok(),
            Err(_) => false,
        }
    }

    /// The URL with `dbname` as its database.
    pub fn url_for(&self, dbname: &str) -> String {
        url_with_dbname(&self.url, dbname)
    }

    /// The configuration with `dbname` as its database.
    pub fn config_for(&self, dbname: &str) -> DatabaseConfig {
        self.config.with_dbname(dbname)
    }

    /// The configuration of the maintenance database.
    pub fn config(&self) -> &DatabaseConfig {
        &self.config
    }

    /// A synchronous connection to the maintenance database. Call it off any Tokio runtime.
    ///
    /// # Errors
    ///
    /// The server does not answer.
    pub fn connect_blocking(&self) -> anyhow::Result<postgres::Client> {
        let config = self.config.clone().with_application_name("app testing");
        let tls = config.tls().connector()?;
        postgres::Config::from(config.pg().clone())
            .connect(tls)
            .map_err(|e| anyhow::anyhow!(pgbaked::error_chain(&e)))
            .with_context(|| format!("connecting to the test server {}", self.config))
    }
}

/// Replaces the database of a `postgres://` URL, keeping user, password, host and query.
pub fn url_with_dbname(url: &str, dbname: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("postgres", url));
    let (authority_and_path, query) = match rest.split_once('?') {
        Some((a, q)) => (a, Some(q)),
        None => (rest, None),
    };
    let authority = authority_and_path
        .split_once('/')
        .map_or(authority_and_path, |(a, _)| a);
    match query {
        Some(q) => format!("{scheme}://{authority}/{dbname}?{q}"),
        None => format!("{scheme}://{authority}/{dbname}"),
    }
}

/// Starts (or joins) the throwaway cluster: a temp dir on tmpfs when there is one, settings for
/// tests (no fsync), and a watchdog that stops it once no test has been connected for a while.
fn start_cluster() -> anyhow::Result<TestServer> {
    let url = format!("postgres://postgres@127.0.0.1:{CLUSTER_PORT}/postgres");
    let server = TestServer::at(&url)?;
    let base = if Path::new("/dev/shm").is_dir() {
        PathBuf::from("/dev/shm")
    } else {
        std::env::temp_dir()
    };
    let dir = base.join(format!("app-test-cluster-{CLUSTER_PORT}"));
    fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    // One process starts the cluster; the others wait on this lock and then find it running.
    let lock = File::create(base.join(format!("app-test-cluster-{CLUSTER_PORT}.lock")))?;
    lock.lock()?;
    if server.answers() {
        // Running already: make sure something will stop it once the tests are done.
        if !watchdog_alive(&dir)
            && let Some(bindir) = find_bindir()
        {
            spawn_watchdog(&bindir, &dir.join("data"), &dir)?;
        }
        return Ok(server);
    }
    let Some(bindir) = find_bindir() else {
        bail!(
            "no PostgreSQL answers (tried TEST_DATABASE_URL, DATABASE_URL, {LOCAL_URL}) and no \
             initdb/pg_ctl were found on PATH or in /usr/lib/postgresql/*/bin; install \
             PostgreSQL (Debian: apt-get install postgresql) or set TEST_DATABASE_URL"
        );
    };
    let data = dir.join("data");
    give_to_postgres(&dir)?;
    if !data.join("PG_VERSION").is_file() {
        let _ = fs::remove_dir_all(&data);
        let mut initdb = pg_command(&bindir.join("initdb"));
        initdb
            .arg("-D")
            .arg(&data)
            .args(["-U", "postgres", "-A", "trust", "--no-sync"]);
        run(initdb, "initdb")?;
    }
    let options = format!(
        "-p {CLUSTER_PORT} -k {} -c listen_addresses=127.0.0.1 -c fsync=off \
         -c synchronous_commit=off -c full_page_writes=off -c max_connections=300",
        dir.display()
    );
    let mut pg_ctl = pg_command(&bindir.join("pg_ctl"));
    pg_ctl
        .arg("-D")
        .arg(&data)
        .arg("-l")
        .arg(dir.join("log"))
        .args(["-w", "-o", &options, "start"]);
    run(pg_ctl, "pg_ctl start")?;
    spawn_watchdog(&bindir, &data, &dir)?;
    let started = Instant::now();
    while !server.answers() {
        if started.elapsed() > Duration::from_secs(30) {
            bail!("the throwaway cluster in {} did not answer", dir.display());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(server)
}

/// Whether the watchdog recorded in the cluster directory is still running.
fn watchdog_alive(dir: &Path) -> bool {
    fs::read_to_string(dir.join("watchdog.pid"))
        .ok()
        .and_then(|pid| pid.trim().parse::<u32>().ok())
        .is_some_and(|pid| Path::new(&format!("/proc/{pid}")).exists())
}

/// A detached shell loop that stops the cluster and removes its files after a minute with no
/// client connected, so test runs share one cluster and the last one leaves nothing running.
fn spawn_watchdog(bindir: &Path, data: &Path, dir: &Path) -> anyhow::Result<()> {
    let script = format!(
        r#"echo $$ > "{dir}/watchdog.pid"
idle=0
while sleep 10; do
  n=$("{psql}" -X -At -h 127.0.0.1 -p {port} -U postgres -d postgres -c "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()" 2>/dev/null) || exit 0
  if [ "$n" = 0 ]; then idle=$((idle+1)); else idle=0; fi
  if [ "$idle" -ge 6 ]; then "{pg_ctl}" -D "{data}" -m fast stop >/dev/null 2>&1; rm -rf "{dir}"; exit 0; fi
done"#,
        psql = bindir.join("psql").display(),
        pg_ctl = bindir.join("pg_ctl").display(),
        port = CLUSTER_PORT,
        data = data.display(),
        dir = dir.display(),
    );
    let mut command = pg_command(Path::new("/bin/sh"));
    command
        .args(["-c", &script])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    std::os::unix::process::CommandExt::process_group(&mut command, 0);
    command.spawn().context("starting the cluster's watchdog")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::url_with_dbname;

    #[test]
    fn urls_get_another_database() {
        assert_eq!(
            url_with_dbname("postgres://u:p@h:5/db?sslmode=disable", "t1"),
            "postgres://u:p@h:5/t1?sslmode=disable"
        );
        assert_eq!(url_with_dbname("postgres://u@h", "t1"), "postgres://u@h/t1");
    }
}
