//! A private PostgreSQL cluster for tests that must stop, restart or reconfigure a server
//! (fault injection, TLS): its own temp dir and port, never the shared server.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, bail};

/// Where PostgreSQL's server binaries are: `PATH`, then `/usr/lib/postgresql/*/bin`, newest
/// first.
pub fn find_bindir() -> Option<PathBuf> {
    let on_path = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>());
    let mut debian: Vec<PathBuf> = fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path().join("bin"))
        .collect();
    debian.sort_by_key(|p| {
        std::cmp::Reverse(
            p.parent()
                .and_then(|v| v.file_name())
                .and_then(|v| v.to_str())
                .and_then(|v| v.parse::<u32>().ok())
                .unwrap_or(0),
        )
    });
    on_path
        .chain(debian)
        .find(|dir| dir.join("initdb").is_file() && dir.join("pg_ctl").is_file())
        // /usr/local/bin may hold symlinks to initdb and pg_ctl only: the real directory also
        // has psql, which the throwaway cluster's watchdog needs.
        .map(|dir| {
            fs::canonicalize(dir.join("initdb"))
                .ok()
                .and_then(|real| real.parent().map(Path::to_path_buf))
                .unwrap_or(dir)
        })
}

pub(crate) fn is_root() -> bool {
    fs::metadata("/proc/self")
        .map(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0)
        .unwrap_or(false)
}

/// `initdb` and `pg_ctl` refuse to run as root, so as root they run as `postgres`.
pub fn pg_command(bin: &Path) -> Command {
    if is_root() {
        let mut command = Command::new("runuser");
        command.args(["-u", "postgres", "--"]).arg(bin);
        command
    } else {
        Command::new(bin)
    }
}

/// Gives `path` to the `postgres` user when running as root, so the server can read it.
pub(crate) fn give_to_postgres(path: &Path) -> anyhow::Result<()> {
    if !is_root() {
        return Ok(());
    }
    let id = |flag: &str| -> anyhow::Result<Option<u32>> {
        let out = Command::new("id").args([flag, "postgres"]).output()?;
        Ok(String::from_utf8_lossy(&out.stdout).trim().parse().ok())
    };
    std::os::unix::fs::chown(path, id("-u")?, id("-g")?)
        .with_context(|| format!("giving {} to the postgres user", path.display()))
}

/// Runs `command`, failing with its output when it fails.
pub(crate) fn run(mut command: Command, what: &str) -> anyhow::Result<()> {
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

/// A cluster of a test's own, stopped and deleted when dropped.
pub struct PrivateCluster {
    dir: tempfile::TempDir,
    bindir: PathBuf,
    port: u16,
}

impl PrivateCluster {
    /// Initialises and starts a cluster with test settings plus `settings` (postgresql.conf
    /// lines). `prepare` runs on the data directory before the first start, to add files such
    /// as certificates.
    ///
    /// # Errors
    ///
    /// No PostgreSQL binaries, or initdb or pg_ctl failing.
    pub fn start(
        settings: &[&str],
        prepare: impl FnOnce(&Path) -> anyhow::Result<()>,
    ) -> anyhow::Result<PrivateCluster> {
        let bindir = find_bindir().context("no initdb/pg_ctl found; install PostgreSQL")?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        // Removed when the cluster is dropped, after the server is stopped.
        let dir = tempfile::Builder::new()
            .prefix("app-private-cluster-")
            .tempdir()?;
        give_to_postgres(dir.path())?;
        let cluster = PrivateCluster { dir, bindir, port };
        let mut initdb = pg_command(&cluster.bindir.join("initdb"));
        initdb.arg("-D").arg(cluster.data_dir()).args([
            "-U",
            "postgres",
            "-A",
            "trust",
            "--no-sync",
        ]);
        run(initdb, "initdb")?;
        let mut conf = format!(
            "\nport = {port}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '{}'\n\
             fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n",
            cluster.dir.path().display()
        );
        for line in settings {
            conf.push_str(line);
            conf.push('\n');
        }
        let conf_path = cluster.data_dir().join("postgresql.conf");
        let mut existing = fs::read_to_string(&conf_path)?;
        existing.push_str(&conf);
        fs::write(&conf_path, existing)?;
        prepare(&cluster.data_dir())?;
        cluster.pg_ctl(&["start"])?;
        Ok(cluster)
    }

    /// The data directory.
    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// The port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// A URL for `dbname` on this cluster.
    pub fn url(&self, dbname: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{dbname}", self.port)
    }

    /// Runs `pg_ctl <args>` on this cluster, waiting for it to finish.
    ///
    /// # Errors
    ///
    /// pg_ctl failing.
    pub fn pg_ctl(&self, args: &[&str]) -> anyhow::Result<()> {
        let mut command = pg_command(&self.bindir.join("pg_ctl"));
        command
            .arg("-D")
            .arg(self.data_dir())
            .arg("-l")
            .arg(self.dir.path().join("log"))
            .arg("-w")
            .args(args);
        run(command, "pg_ctl")
    }

    /// Restarts the server, disconnecting every client (`-m fast`).
    ///
    /// # Errors
    ///
    /// pg_ctl failing.
    pub fn restart(&self) -> anyhow::Result<()> {
        self.pg_ctl(&["-m", "fast", "restart"])
    }
}

impl Drop for PrivateCluster {
    fn drop(&mut self) {
        let _ = self.pg_ctl(&["-m", "immediate", "stop"]);
    }
}
