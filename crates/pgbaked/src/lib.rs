//! PostgreSQL migrations embedded in the binary at compile time.
//!
//! Migrations are plain SQL files, `V{n}__{desc}.sql` with an optional undo file
//! `U{n}__{desc}.sql`. A build script (see the `pgbaked-build` crate) checks and embeds them;
//! at run time a [`Migrator`] applies or reverts them under an advisory lock that is never
//! leaked, one migration and its history row per transaction, in refinery's
//! `refinery_schema_history` table, so that plain refinery and this crate read each other's
//! databases.
//!
//! ```no_run
//! # async fn example(migrations: &'static [pgbaked::EmbeddedMigration]) -> Result<(), Box<dyn std::error::Error>> {
//! use pgbaked::{DatabaseConfig, Migration, Migrator, Options, Rev};
//!
//! let config: DatabaseConfig = "postgres://app@localhost/app".parse()?;
//! let pool = pgbaked::pool(&config, 2)?;
//! let migrator = Migrator::new(Migration::from_embedded_set(migrations)?, Options::default());
//! let report = migrator.up(&pool, &Rev::Head, &mut |step| println!("{step:?}")).await?;
//! println!("at {:?}", report.to);
//! # Ok(()) }
//! ```
#![warn(missing_docs)]

mod embedded;
pub mod grammar;
pub mod source;

#[cfg(feature = "runtime")]
mod config;
#[cfg(feature = "runtime")]
pub mod diff;
#[cfg(feature = "runtime")]
mod direction;
#[cfg(feature = "runtime")]
mod error;
#[cfg(feature = "runtime")]
mod history;
#[cfg(feature = "runtime")]
mod lock;
#[cfg(feature = "runtime")]
mod migration;
#[cfg(feature = "runtime")]
mod migrator;
#[cfg(feature = "runtime")]
mod pool;
#[cfg(feature = "runtime")]
mod quote;
#[cfg(feature = "runtime")]
mod recovery;
#[cfg(feature = "runtime")]
mod rev;
#[cfg(feature = "runtime")]
mod scratch;
#[cfg(feature = "runtime")]
mod script;
#[cfg(feature = "runtime")]
mod status;
#[cfg(feature = "runtime")]
mod tls;

pub use embedded::EmbeddedMigration;

/// The driver and the pool this crate is built on, so that a service uses the same versions.
#[cfg(feature = "runtime")]
pub use {deadpool_postgres, tokio_postgres};

/// Not part of the API: what this crate's sibling crates (`pgbaked-testing`,
/// `pgbaked-cli`) share with it. It may change in any release.
#[cfg(feature = "runtime")]
#[doc(hidden)]
pub mod __private {
    pub use crate::history::{HistoryTable, quote_identifier, quote_literal};
    pub use crate::lock::{fnv1a, lock_key};
}

#[cfg(feature = "runtime")]
pub use {
    config::{DEFAULT_DATABASE_URL, DatabaseConfig, InvalidDatabaseUrl, parse_duration},
    direction::Direction,
    error::{Error, SqlFailure, error_chain, pool_error_text},
    history::{DEFAULT_TABLE, History, RecordedUndo, Unfinished},
    lock::CancelTls,
    migration::{Migration, Script, VersionWidth},
    migrator::{Action, Migrator, Options, Report, Step, release_application_name},
    pool::{PoolSetupError, gated_pool, is_permanent, pool, wait_for},
    rev::{Rev, RevError},
    scratch::{
        KEPT_TEMPLATES, Scratch, TEMPLATE_PREFIX, declared_renames_in, drop_template,
        history_tables, migration_set_hash, template, template_name,
    },
    status::{AppliedRow, Entry, State, Status},
    tls::{SslMode, TlsError, TlsSettings},
};

/// Includes what `pgbaked-build` generated: a `&'static [EmbeddedMigration]`.
///
/// ```ignore
/// pub static MIGRATIONS: &[pgbaked::EmbeddedMigration] = pgbaked::include_migrations!();
/// ```
#[macro_export]
macro_rules! include_migrations {
    () => {
        include!(concat!(env!("OUT_DIR"), "/migrations.rs"))
    };
}
