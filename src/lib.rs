//! `app`: a service binary that carries its own PostgreSQL schema.
//!
//! The SQL files in `sql/` are checked and embedded at compile time by `build.rs` through
//! `pgbaked-build`. The same binary applies them at boot (`app --migrate`), manages them by
//! hand (`app migrate …`), and gives every test a freshly migrated database
//! (`pgbaked_testing::TestDb`). The engine is the `pgbaked` crate, used here as any other service
//! would use it.
#![warn(missing_docs)]

mod api;
mod cli;
#[cfg(debug_assertions)]
mod dev_cluster;
mod schema;
mod server;
mod state;

pub use cli::{Cli, Command, Format, Settings, run, service};
pub use schema::{MIGRATIONS, migrator};
pub use server::{app, serve};
pub use state::AppState;
