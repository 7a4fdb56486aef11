//! Test databases: each test gets its own database, cloned from a template that holds every
//! embedded migration, and dropped when the test passes (kept, and named, when it fails).
//!
//! ```no_run
//! # async fn example() -> anyhow::Result<()> {
//! let db = app::testing::TestDb::new().await?;
//! let client = db.pool().get().await?;
//! client.execute("INSERT INTO users (username, email) VALUES ('a', 'a@x')", &[]).await?;
//! # Ok(())
//! # }
//! ```

use std::hash::Hasher;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::Context;
use deadpool_postgres::Pool;
use tokio::sync::OnceCell;

use crate::config::DatabaseConfig;
use crate::migrate::{Migration, Migrator, Options, Rev};

/// Prefix of every per-test database, so stale ones can be found and swept.
pub const TEST_DB_PREFIX: &str = "app_test_";
/// Prefix of template databases; the rest of the name is the migration set's hash.
pub const TEMPLATE_PREFIX: &str = "app_tpl_";
/// Per-test databases older than this are swept as left behind by dead processes.
const STALE_AFTER: Duration = Duration::from_secs(6 * 3600);

/// The server tests run against: `TEST_DATABASE_URL`, else `DATABASE_URL`, else the local
/// server on 127.0.0.1:5432.
#[derive(Clone, Debug)]
pub struct TestServer {
    url: String,
    config: DatabaseConfig,
}

impl TestServer {
    /// Finds the server from the environment.
    ///
    /// # Errors
    ///
    /// An unparsable URL.
    pub fn from_env() -> anyhow::Result<TestServer> {
        let url = std::env::var("TEST_DATABASE_URL")
            .or_else(|_| std::env::var("DATABASE_URL"))
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
        let config: DatabaseConfig = url.parse()?;
        Ok(TestServer { url, config })
    }

    /// The server's URL with `dbname` as its database.
    pub fn url_for(&self, dbname: &str) -> String {
        url_with_dbname(&self.url, dbname)
    }

    /// The server's configuration with `dbname` as its database.
    pub fn config_for(&self, dbname: &str) -> DatabaseConfig {
        self.config.with_dbname(dbname)
    }

    /// A connection to the server's maintenance database.
    async fn admin(&self) -> anyhow::Result<tokio_postgres::Client> {
        let config = self.config.clone().with_application_name("app testing");
        let (client, connection) = config
            .pg()
            .connect(tokio_postgres::NoTls)
            .await
            .map_err(|e| anyhow::anyhow!(crate::db::error_chain(&e)))
            .with_context(|| format!("connecting to the test server {}", self.config))?;
        tokio::spawn(async move {
            let _ = connection.await;
        });
        Ok(client)
    }
}

/// Replaces the path of a `postgres://` URL, keeping user, password, host and query.
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

/// A hash of the embedded migration set (versions, names, checksums and undo scripts): a
/// changed set gets a new template.
pub fn migration_set_hash(migrations: &[Migration]) -> String {
    // FNV-1a: stable across Rust releases, unlike DefaultHasher.
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut feed = |bytes: &[u8]| {
        for byte in bytes {
            hash ^= u64::from(*byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
    };
    for m in migrations {
        feed(&m.version().to_le_bytes());
        feed(m.name().as_bytes());
        feed(&m.checksum().to_le_bytes());
        feed(m.undo().map_or(&b"-"[..], |u| u.sql.as_bytes()));
    }
    format!("{hash:016x}")
}

/// Tests migrate through the engine like the binary does, with a short lock wait.
fn test_migrator(upto: Option<i64>) -> anyhow::Result<Migrator> {
    let migrations: Vec<Migration> = Migration::from_embedded_set(crate::schema::MIGRATIONS)?
        .into_iter()
        .filter(|m| upto.is_none_or(|v| m.version() <= v))
        .collect();
    Ok(Migrator::new(migrations, Options::default()))
}

static SERVER: OnceCell<TestServer> = OnceCell::const_new();

async fn server() -> anyhow::Result<&'static TestServer> {
    SERVER
        .get_or_try_init(|| async {
            let server = TestServer::from_env()?;
            sweep(&server).await;
            Ok(server)
        })
        .await
}

/// Drops per-test databases left by processes long gone, and templates of other migration sets
/// that nobody is using. Failures are ignored: sweeping is housekeeping.
async fn sweep(server: &TestServer) {
    let Ok(admin) = server.admin().await else {
        return;
    };
    let now = unix_seconds();
    let Ok(rows) = admin
        .query(
            "SELECT datname FROM pg_database WHERE datname LIKE 'app\\_test\\_%'",
            &[],
        )
        .await
    else {
        return;
    };
    for row in rows {
        let name: String = row.get(0);
        // app_test_{created}_{pid}_{n}
        let created = name
            .strip_prefix(TEST_DB_PREFIX)
            .and_then(|rest| rest.split('_').next())
            .and_then(|s| s.parse::<u64>().ok());
        if created.is_some_and(|c| now.saturating_sub(c) > STALE_AFTER.as_secs()) {
            let _ = admin
                .batch_execute(&format!(
                    "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                    crate::migrate::quote_identifier(&name)
                ))
                .await;
        }
    }
}

fn unix_seconds() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Creates (once per migration set, under an advisory lock shared by every test process) the
/// template database holding the migrations up to `upto`, and returns its name.
async fn template(server: &TestServer, upto: Option<i64>) -> anyhow::Result<String> {
    let migrator = test_migrator(upto)?;
    let name = format!(
        "{TEMPLATE_PREFIX}{}",
        migration_set_hash(migrator.migrations())
    );
    let admin = server.admin().await?;
    if template_exists(&admin, &name).await? {
        return Ok(name);
    }
    // Session lock on the maintenance database: one process builds, the others wait for it.
    let key = crate::migrate::lock_key(&name);
    admin
        .execute("SELECT pg_advisory_lock($1)", &[&key])
        .await?;
    let result = async {
        if template_exists(&admin, &name).await? {
            return Ok(());
        }
        let building = format!("{name}_building");
        let quoted = crate::migrate::quote_identifier(&building);
        admin
            .batch_execute(&format!("DROP DATABASE IF EXISTS {quoted} WITH (FORCE)"))
            .await?;
        admin
            .batch_execute(&format!("CREATE DATABASE {quoted}"))
            .await?;
        {
            let pool = crate::db::pool(&server.config_for(&building), 1)?;
            migrator
                .up(&pool, &Rev::Head, &mut |_| {})
                .await
                .context("migrating the template database")?;
            pool.close();
        }
        // Renamed only when complete, so a crash mid-build never leaves a half-made template.
        admin
            .batch_execute(&format!(
                "ALTER DATABASE {quoted} RENAME TO {}; ALTER DATABASE {} WITH IS_TEMPLATE true",
                crate::migrate::quote_identifier(&name),
                crate::migrate::quote_identifier(&name)
            ))
            .await?;
        anyhow::Ok(())
    }
    .await;
    let _ = admin
        .execute("SELECT pg_advisory_unlock($1)", &[&key])
        .await;
    result?;
    Ok(name)
}

async fn template_exists(admin: &tokio_postgres::Client, name: &str) -> anyhow::Result<bool> {
    Ok(admin
        .query_opt(
            "SELECT 1 FROM pg_database WHERE datname = $1 AND datistemplate",
            &[&name],
        )
        .await?
        .is_some())
}

static NEXT: AtomicU64 = AtomicU64::new(0);

fn unique_name() -> String {
    let random = std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish();
    format!(
        "{TEST_DB_PREFIX}{}_{}_{}_{:04x}",
        unix_seconds(),
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed),
        random & 0xffff
    )
}

use std::hash::BuildHasher;

/// A database of a test's own, dropped when the test passes and kept when it fails.
pub struct TestDb {
    name: String,
    url: String,
    config: DatabaseConfig,
    pool: Pool,
    admin: TestServer,
}

impl TestDb {
    /// A new database with every embedded migration applied.
    ///
    /// # Errors
    ///
    /// The server cannot be reached, or the template cannot be built.
    pub async fn new() -> anyhow::Result<TestDb> {
        TestDb::create(Some(None)).await
    }

    /// A new database migrated up to `version` only, for testing one migration itself.
    ///
    /// # Errors
    ///
    /// As for [`TestDb::new`].
    pub async fn at(version: i64) -> anyhow::Result<TestDb> {
        TestDb::create(Some(Some(version))).await
    }

    /// A new, empty database: no migrations, no history table.
    ///
    /// # Errors
    ///
    /// The server cannot be reached.
    pub async fn empty() -> anyhow::Result<TestDb> {
        TestDb::create(None).await
    }

    async fn create(template_upto: Option<Option<i64>>) -> anyhow::Result<TestDb> {
        let server = server().await?;
        let template = match template_upto {
            Some(upto) => Some(template(server, upto).await?),
            None => None,
        };
        let name = unique_name();
        let admin = server.admin().await?;
        let sql = match &template {
            Some(t) => format!(
                "CREATE DATABASE {} TEMPLATE {}",
                crate::migrate::quote_identifier(&name),
                crate::migrate::quote_identifier(t)
            ),
            None => format!(
                "CREATE DATABASE {}",
                crate::migrate::quote_identifier(&name)
            ),
        };
        admin
            .batch_execute(&sql)
            .await
            .with_context(|| format!("creating test database {name}"))?;
        let config = server.config_for(&name);
        let pool = crate::db::pool(&config, 8)?;
        Ok(TestDb {
            url: server.url_for(&name),
            name,
            config,
            pool,
            admin: server.clone(),
        })
    }

    /// The database's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// A URL for the database, for `DATABASE_URL` of a child process.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The database's configuration.
    pub fn config(&self) -> &DatabaseConfig {
        &self.config
    }

    /// A pool of connections to the database.
    pub fn pool(&self) -> &Pool {
        &self.pool
    }

    /// A migrator over the embedded migrations.
    ///
    /// # Errors
    ///
    /// Never in practice: the embedded set was validated at build time.
    pub fn migrator(&self) -> anyhow::Result<Migrator> {
        test_migrator(None)
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        self.pool.close();
        if std::thread::panicking() {
            eprintln!(
                "test failed: keeping its database for inspection: psql {}",
                self.config
            );
            return;
        }
        // A Tokio context must not block on async I/O, so the drop runs on a thread of its own
        // with the synchronous client.
        let mut config = postgres::Config::new();
        let pg = self.admin.config.pg();
        if let Some(user) = pg.get_user() {
            config.user(user);
        }
        if let Some(password) = pg.get_password() {
            config.password(password);
        }
        for host in pg.get_hosts() {
            match host {
                tokio_postgres::config::Host::Tcp(h) => config.host(h),
                #[cfg(unix)]
                tokio_postgres::config::Host::Unix(p) => config.host_path(p),
            };
        }
        for port in pg.get_ports() {
            config.port(*port);
        }
        config.dbname(self.admin.config.dbname().unwrap_or("postgres"));
        let sql = format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            crate::migrate::quote_identifier(&self.name)
        );
        let name = self.name.clone();
        let dropped = std::thread::spawn(move || {
            let mut client = config.connect(postgres::NoTls)?;
            client.batch_execute(&sql)
        })
        .join();
        if !matches!(dropped, Ok(Ok(()))) {
            eprintln!("warning: could not drop test database {name}; it will be swept later");
        }
    }
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
