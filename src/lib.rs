//! `app`: a service binary that carries its own PostgreSQL schema.
//!
//! The SQL files in `sql/` are embedded at compile time by `build.rs`. The same binary applies
//! them at boot (`app --migrate`), manages them by hand (`app migrate …`), and gives every test
//! a freshly migrated database ([`testing::TestDb`]). The engine, [`migrate`], depends on
//! nothing else here.
#![warn(missing_docs)]

mod api;
mod cli;
mod config;
mod db;
pub mod migrate;
mod schema;
mod server;
pub mod testing;
mod tls;

pub use cli::{Cli, Committed, Format, run};
pub use config::{DEFAULT_DATABASE_URL, DatabaseConfig, InvalidDatabaseUrl, parse_duration};
pub use db::{error_chain, pool, wait_for};
pub use schema::{MIGRATIONS, migrator};
pub use server::{AppState, app, serve};
pub use tls::{SslMode, TlsError, TlsSettings};
