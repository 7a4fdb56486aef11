//! What the HTTP handlers share: the pool and the binary's migrator. Its own module, so that the
//! API and the server both depend on it and not on each other.

use std::sync::Arc;

use deadpool_postgres::Pool;
use pg_migrate::Migrator;

/// What the handlers share.
#[derive(Clone)]
pub struct AppState {
    pool: Pool,
    migrator: Arc<Migrator>,
}

impl AppState {
    /// State over a pool and the binary's migrator.
    pub fn new(pool: Pool, migrator: Migrator) -> AppState {
        AppState {
            pool,
            migrator: Arc::new(migrator),
        }
    }

    /// The pool.
    pub fn pool(&self) -> &Pool {
        &self.pool
    }

    /// The binary's migrator.
    pub fn migrator(&self) -> &Migrator {
        &self.migrator
    }
}
