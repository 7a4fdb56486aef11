//! This service's own schema: the migrations `build.rs` embedded from `sql/`.

use pgbaked::{EmbeddedMigration, Migration, Migrator, Options};

/// Every migration in `sql/`, validated and embedded at compile time, sorted by version.
pub static MIGRATIONS: &[EmbeddedMigration] = pgbaked::include_migrations!();

/// A migrator over [`MIGRATIONS`].
///
/// # Errors
///
/// Only if the engine rejects a name that `build.rs` accepted, which the tests rule out.
pub fn migrator(options: Options) -> Result<Migrator, pgbaked::Error> {
    Ok(Migrator::new(
        Migration::from_embedded_set(MIGRATIONS)?,
        options,
    ))
}
