//! The schema diff: two schemas read from PostgreSQL's catalog, compared, and the SQL that
//! turns one into the other.
//!
//! - [`Catalog`] reads every object in one snapshot (`catalog`, with the queries for what hangs
//!   on relations and for every kind not modelled in `coverage`), and the server's dependency
//!   records (`pg_depend`) beside them.
//! - [`Catalog::plan`] writes the statements (`planner`, with a module per object family:
//!   `column`, `table`, `types`, `view`, `routine`, `privilege`, `attached`, `standalone`; what the server's
//!   dependencies pin in `graph`; renames in `rename`), each a [`Change`] with its typed
//!   [`HazardKind`]s (`change`).
//! - Names come from the catalog quoted by the server, and are taken apart in `name`; the
//!   names the plan makes up are quoted by the crate's one quoting module.

mod attached;
mod catalog;
mod change;
mod column;
mod constraint;
mod coverage;
mod deparse;
mod graph;
mod kind;
mod lint;
mod name;
mod plan;
mod privilege;
mod queries;
mod rename;
mod routine;
mod settings;
mod standalone;
mod table;
mod types;
mod view;

pub use catalog::{Catalog, Difference, Kind};
pub use change::{Change, HazardKind, cut_into_files, file_text, render_changes, unqualified};
pub use rename::{Rename, declared_renames, invert_renames};
