//! Test databases: every test gets a database of its own with the embedded migrations applied,
//! in milliseconds. It is dropped when the test passes and kept (its name printed) when it fails.
//!
//! ```no_run
//! # async fn example() -> anyhow::Result<()> {
//! let db = app::testing::TestDb::new().await?;
//! let client = db.pool().get().await?;
//! client.execute("INSERT INTO users (username, email) VALUES ('ann', 'ann@example.com')", &[]).await?;
//! # Ok(())
//! # }
//! ```
//!
//! The server is `TEST_DATABASE_URL`, else `DATABASE_URL`, else 127.0.0.1:5432; when none
//! answers (or `APP_TEST_CLUSTER=1`), a throwaway cluster is started from the installed
//! PostgreSQL binaries and shared by every test process.

mod admin;
mod server;

use deadpool_postgres::Pool;

use crate::config::DatabaseConfig;
use crate::migrate::{Migrator, Options};

pub use admin::{SPARE_PREFIX, TEMPLATE_PREFIX, TEST_DB_PREFIX, migration_set_hash};
pub use server::{CLUSTER_PORT, FORCE_CLUSTER_ENV, TestServer, find_bindir, url_with_dbname};

/// A database of a test's own.
pub struct TestDb {
    name: String,
    url: String,
    config: DatabaseConfig,
    pool: Pool,
}

impl TestDb {
    /// A new database with every embedded migration applied.
    ///
    /// # Errors
    ///
    /// No server can be reached or started, or the template cannot be built.
    pub async fn new() -> anyhow::Result<TestDb> {
        TestDb::acquire(None, true).await
    }

    /// A new database migrated up to `version` only, for testing one migration itself.
    ///
    /// # Errors
    ///
    /// As for [`TestDb::new`].
    pub async fn at(version: i64) -> anyhow::Result<TestDb> {
        TestDb::acquire(Some(version), true).await
    }

    /// A new, empty database: no migrations, no history table.
    ///
    /// # Errors
    ///
    /// As for [`TestDb::new`].
    pub async fn empty() -> anyhow::Result<TestDb> {
        TestDb::acquire(None, false).await
    }

    async fn acquire(upto: Option<i64>, migrate: bool) -> anyhow::Result<TestDb> {
        // The admin works with the synchronous client, so it runs off this runtime's threads.
        tokio::task::spawn_blocking(move || TestDb::acquire_blocking(upto, migrate)).await?
    }

    fn acquire_blocking(upto: Option<i64>, migrate: bool) -> anyhow::Result<TestDb> {
        let admin = admin::admin()?;
        let name = admin.acquire(upto, migrate)?;
        let config = admin.server().config_for(&name);
        let pool = crate::db::pool(&config, 8)?;
        Ok(TestDb {
            url: admin.server().url_for(&name),
            name,
            config,
            pool,
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

    /// A migrator over the embedded migrations, as the binary builds it.
    ///
    /// # Errors
    ///
    /// Never in practice: the embedded set was validated at build time.
    pub fn migrator(&self) -> anyhow::Result<Migrator> {
        Ok(Migrator::new(admin::embedded(None)?, Options::default()))
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        self.pool.close();
        if std::thread::panicking() {
            eprintln!(
                "test failed: its database is kept for inspection: psql {}",
                self.url
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
    /// A new database with every embedded migration applied. Call it outside any runtime.
    ///
    /// # Errors
    ///
    /// As for [`TestDb::new`].
    pub fn new() -> anyhow::Result<BlockingTestDb> {
        Ok(BlockingTestDb {
            db: Some(TestDb::acquire_blocking(None, true)?),
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
        Ok(postgres::Config::from(db.config.pg().clone()).connect(postgres::NoTls)?)
    }
}
