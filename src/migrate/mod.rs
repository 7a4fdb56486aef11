//! The migration engine: embedded SQL files, refinery's history table, a lock that is never
//! leaked, undo, and offline scripts. It depends on nothing else in this crate, so it can be
//! lifted into another service unchanged.

mod error;
mod history;
#[cfg(test)]
mod lint;
mod lock;
mod migration;
mod migrator;
mod plan;
mod recovery;
mod rev;
mod script;
pub mod source;

pub use error::{Error, SqlFailure, error_chain, locate, pool_error_text};
pub use history::{
    DEFAULT_TABLE, History, HistoryTable, Unfinished, quote_identifier, quote_literal,
};
pub use lock::{CancelTls, LockedConnection, fnv1a, lock_key};
pub use migration::{EmbeddedMigration, Migration, Script, VersionWidth, refinery_checksum};
pub use migrator::{Direction, Migrator, Options, Report, Step};
pub use plan::{AppliedRow, Entry, State, Status};
pub use rev::{Rev, RevError};
pub use script::ScriptDirection;
