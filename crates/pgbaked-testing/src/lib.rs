//! Test databases for services that use `pgbaked`: every test gets a database of its own
//! with the service's migrations applied, in milliseconds. It is dropped when the test passes
//! and kept (its name printed) when it fails. A dev-dependency: a production binary never
//! compiles initdb handling or the synchronous client.
//!
//! ```no_run
//! # static MIGRATIONS: &[pgbaked::EmbeddedMigration] = &[];
//! # async fn example() -> anyhow::Result<()> {
//! let db = pgbaked_testing::TestDb::new(MIGRATIONS).await?;
//! let client = db.pool().get().await?;
//! client.execute("INSERT INTO users (username, email) VALUES ('ann', 'ann@example.com')", &[]).await?;
//! # Ok(())
//! # }
//! ```
//!
//! The server is `TEST_DATABASE_URL`, else `DATABASE_URL`, else 127.0.0.1:5432; when none
//! answers (or `APP_TEST_CLUSTER=1`), a throwaway cluster is started from the installed
//! PostgreSQL binaries and shared by every test process.

#![warn(missing_docs)]

mod admin;
mod cluster;
mod server;

use pgbaked::deadpool_postgres::Pool;
use pgbaked::{DatabaseConfig, EmbeddedMigration, Migration, Migrator, Options};

pub use admin::{SPARE_PREFIX, TEMPLATE_PREFIX, TEST_DB_PREFIX, migration_set_hash};
pub use cluster::{PrivateCluster, find_bindir, pg_command};
pub use server::{CLUSTER_PORT, FORCE_CLUSTER_ENV, TestServer, url_with_dbname};

/// A database of a test's own.
pub struct TestDb {
    name: String,
    url: String,
    config: DatabaseConfig,
    pool: Pool,
    /// The migrations applied to it, for [`TestDb::migrator`].
    migrations: Vec<Migration>,
}

impl TestDb {
    /// A new database with every migration of `set` applied (what
    /// `pgbaked::include_migrations!()` embedded).
    ///
    /// # Errors
    ///
    /// No server can be reached or started, or the template cannot be built.
    pub async fn new(set: &'static [EmbeddedMigration]) -> anyhow::Result<TestDb> {
        TestDb::acquire(Some(admin::embedded(set, None)?), true).await
    }

    /// A new database with `migrations` applied instead of the embedded ones: for testing the
    /// engine, or a crate with a migration set of its own.
    ///
    /// # Errors
    ///
    /// As for [`TestDb::new`].
    pub async fn with_migrations(migrations: Vec<Migration>) -> anyhow::Result<TestDb> {
        TestDb::acquire(Some(migrations), true).await
    }

    /// Builds the template of `migrations` and prepares `spares` clones of it now, so that the
    /// next acquisitions are claims of ready databases. Optional: spares are otherwise prepared
    /// in the background after the first acquisition.
    ///
    /// # Errors
    ///
    /// As for [`TestDb::new`].
    pub async fn warm(migrations: Vec<Migration>, spares: usize) -> anyhow::Result<()> {
        tokio::task::spawn_blocking(move || admin::admin()?.warm(migrations, spares)).await?
    }

    /// A new database with `set` migrated up to `version` only, for testing one migration.
    ///
    /// # Errors
    ///
    /// As for [`TestDb::new`].
    pub async fn at(set: &'static [EmbeddedMigration], version: i64) -> anyhow::Result<TestDb> {
        TestDb::acquire(Some(admin::embedded(set, Some(version))?), false).await
    }

    /// Drops the template of `migrations` and its spare clones, for a set that will not be used
    /// again (a benchmark's). Sets that are used again are left to the next run's sweep.
    ///
    /// # Errors
    ///
    /// As for [`TestDb::new`].
    pub async fn discard(migrations: Vec<Migration>) -> anyhow::Result<()> {
        tokio::task::spawn_blocking(move || admin::admin()?.discard(migrations)).await?
    }

    /// A new database with `migrations` applied, cloned on demand rather than claimed from the
    /// spares: what an acquisition costs when no spare is ready. For benchmarks.
    ///
    /// # Errors
    ///
    /// As for [`TestDb::new`].
    pub async fn at_cold(migrations: Vec<Migration>) -> anyhow::Result<TestDb> {
        TestDb::acquire(Some(migrations), false).await
    }

    /// A new, empty database: no migrations, no history table.
    ///
    /// # Errors
    ///
    /// As for [`TestDb::new`].
    pub async fn empty() -> anyhow::Result<TestDb> {
        TestDb::acquire(None, false).await
    }

    async fn acquire(migrations: Option<Vec<Migration>>, spares: bool) -> anyhow::Result<TestDb> {
        // The admin works with the synchronous client, so it runs off this runtime's threads.
        tokio::task::spawn_blocking(move || TestDb::acquire_blocking(migrations, spares)).await?
    }

    fn acquire_blocking(
        migrations: Option<Vec<Migration>>,
        spares: bool,
    ) -> anyhow::Result<TestDb> {
        let admin = admin::admin()?;
        let applied = migrations.clone().unwrap_or_default();
        let name = admin.acquire(migrations, spares)?;
        let config = admin.server().config_for(&name);
        let pool = pgbaked::pool(&config, 8)?;
        Ok(TestDb {
            url: admin.server().url_for(&name),
            name,
            config,
            pool,
            migrations: applied,
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

    /// A migrator over the migrations this database was made with (none for
    /// [`TestDb::empty`]), with default options, its steps logged at debug.
    pub fn migrator(&self) -> Migrator {
        Migrator::new(
            self.migrations.clone(),
            Options {
                quiet: true,
                ..Options::default()
            },
        )
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        self.pool.close();
        if std::thread::panicking() {
            // The config's Display, not the URL: the URL may hold a password.
            eprintln!(
                "test failed: its database is kept for inspection: {} (psql -d {})",
                self.config, self.name
            );
            return;
        }
        // The admin thread drops it with its own connection; this thread only waits.
        let dropped = admin::admin().and_then(|admin| admin.drop_database(&self.name));
        if let Err(err) = dropped {
            eprintln!(
                "warning: could not drop test database {}: {err:#}; it will be swept later",
                self.name
            );
        }
    }
}

/// [`TestDb`] for plain `#[test]` functions, with a synchronous client.
pub struct BlockingTestDb {
    db: Option<TestDb>,
}

impl BlockingTestDb {
    /// A new database with every migration of `set` applied. Call it outside any runtime.
    ///
    /// # Errors
    ///
    /// As for [`TestDb::new`].
    pub fn new(set: &'static [EmbeddedMigration]) -> anyhow::Result<BlockingTestDb> {
        Ok(BlockingTestDb {
            db: Some(TestDb::acquire_blocking(
                Some(admin::embedded(set, None)?),
                true,
            )?),
        })
    }

    /// The database's name.
    pub fn name(&self) -> &str {
        self.db.as_ref().map_or("", |db| db.name())
    }

    /// A URL for the database.
    pub fn url(&self) -> &str {
        self.db.as_ref().map_or("", |db| db.url())
    }

    /// A synchronous connection to the database.
    ///
    /// # Errors
    ///
    /// The server's error.
    pub fn client(&self) -> anyhow::Result<postgres::Client> {
        let db = self
            .db
            .as_ref()
            .ok_or_else(|| anyhow::anyhow!("the database is gone"))?;
        let tls = db.config.tls().connector()?;
        Ok(postgres::Config::from(db.config.pg().clone()).connect(tls)?)
    }
}
