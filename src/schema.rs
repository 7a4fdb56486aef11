//! This service's own schema: the migrations `build.rs` embedded from `sql/`.

use crate::migrate::{EmbeddedMigration, Migration, Migrator, Options};

/// Every migration in `sql/`, validated and embedded at compile time, sorted by version.
pub static MIGRATIONS: &[EmbeddedMigration] = include!(concat!(env!("OUT_DIR"), "/migrations.rs"));

/// A migrator over [`MIGRATIONS`].
///
/// # Errors
///
/// Only if refinery rejects a name that `build.rs` accepted, which the tests rule out.
pub fn migrator(options: Options) -> Result<Migrator, crate::migrate::Error> {
    Ok(Migrator::new(
        Migration::from_embedded_set(MIGRATIONS)?,
        options,
    ))
}
