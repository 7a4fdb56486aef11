//! What the HTTP handlers share: the pool, the binary's migrator, and where the boot stands.
//! Its own module, so that the API and the server both depend on it and not on each other.

use std::sync::Arc;

use deadpool_postgres::Pool;
use pgbaked::Migrator;
use serde::Serialize;
use tokio::sync::watch;

/// Where the boot stands: the server answers its probes from the start, while the database is
/// waited for and migrated.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "phase", rename_all = "snake_case")]
pub enum Boot {
    /// Waiting for the database, or reading its history.
    Starting,
    /// Applying migrations: how many committed so far, and the last one.
    Migrating {
        /// Migrations committed by this boot.
        applied: usize,
        /// The version the last of them took the database to.
        current: Option<i64>,
    },
    /// Booted: the API serves.
    Ready,
}

/// What the handlers share.
#[derive(Clone)]
pub struct AppState {
    pool: Pool,
    migrator: Arc<Migrator>,
    boot: watch::Receiver<Boot>,
}

impl AppState {
    /// State over a pool and the binary's migrator, booted already.
    pub fn new(pool: Pool, migrator: Migrator) -> AppState {
        AppState::booting(pool, migrator, Boot::Ready).0
    }

    /// State that starts at `boot`, and the sender that moves it on.
    pub fn booting(pool: Pool, migrator: Migrator, boot: Boot) -> (AppState, watch::Sender<Boot>) {
        let (sender, receiver) = watch::channel(boot);
        let state = AppState {
            pool,
            migrator: Arc::new(migrator),
            boot: receiver,
        };
        (state, sender)
    }

    /// The pool.
    pub fn pool(&self) -> &Pool {
        &self.pool
    }

    /// The binary's migrator.
    pub fn migrator(&self) -> &Migrator {
        &self.migrator
    }

    /// Where the boot stands now.
    pub fn boot(&self) -> Boot {
        self.boot.borrow().clone()
    }

    /// Waits until the boot is over; `false` when it ended without getting there.
    pub async fn booted(&self) -> bool {
        let mut boot = self.boot.clone();
        boot.wait_for(|b| *b == Boot::Ready).await.is_ok()
    }
}
