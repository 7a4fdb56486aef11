//! Scratch databases on the target's server: a replay of the migrations, or a declared schema
//! loaded from SQL files, built to be read by [`crate::Catalog`] and dropped afterwards.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use deadpool_postgres::Pool;

use super::catalog::Catalog;
use super::config::DatabaseConfig;
use super::error::{Error, SqlFailure};
use super::history::quote_identifier;
use super::migration::Migration;
use super::migrator::{Migrator, Options};
use super::rev::Rev;

/// A database of its own, created on the server `admin` is connected to.
pub struct Scratch {
    name: String,
    pool: Pool,
}

impl Scratch {
    /// Creates an empty database beside the one `config` names.
    ///
    /// # Errors
    ///
    /// The server's error (creating a database needs the `CREATEDB` privilege).
    pub async fn create(admin: &Pool, config: &DatabaseConfig) -> Result<Scratch, Error> {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let name = format!(
            "pgm_scratch_{}_{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let client = admin.get().await.map_err(Error::Pool)?;
        client
            .batch_execute(&format!("CREATE DATABASE {}", quote_identifier(&name)))
            .await
            .map_err(Error::db("creating a scratch database"))?;
        let pool =
            super::pool::pool(&config.with_dbname(&name), 2).map_err(|err| Error::Scratch {
                reason: err.to_string(),
            })?;
        Ok(Scratch { name, pool })
    }

    /// The database's pool.
    pub fn pool(&self) -> &Pool {
        &self.pool
    }

    /// Applies `migrations` up to `rev`, as a replay of what the history records.
    ///
    /// # Errors
    ///
    /// A failing migration.
    pub async fn replay(&self, migrations: &[Migration], rev: &Rev) -> Result<(), Error> {
        use tracing::Instrument;
        let migrator = Migrator::new(migrations.to_vec(), Options::default());
        // The migrator's own log lines, marked as the scratch database's.
        let span = tracing::info_span!("scratch", database = %self.name);
        migrator
            .up(&self.pool, rev, &mut |_| {})
            .instrument(span)
            .await
            .map(drop)
    }

    /// Runs every `*.sql` file under `dir`, in path order (subdirectories included): a declared
    /// schema, made of ordinary `CREATE` statements.
    ///
    /// # Errors
    ///
    /// A file that cannot be read, or a failing statement, named at its file and line.
    pub async fn load(&self, dir: &Path) -> Result<(), Error> {
        let client = self.pool.get().await.map_err(Error::Pool)?;
        for path in sql_files(dir)? {
            let sql = std::fs::read_to_string(&path).map_err(|err| Error::Scratch {
                reason: format!("reading {}: {err}", path.display()),
            })?;
            let sql = sql.strip_prefix('\u{feff}').unwrap_or(&sql);
            client
                .batch_execute(sql)
                .await
                .map_err(|err| Error::SchemaFailed {
                    failure: SqlFailure::new(&path.display().to_string(), sql, &err),
                })?;
        }
        Ok(())
    }

    /// Reads the database's catalog, leaving the history table `table` out.
    ///
    /// # Errors
    ///
    /// The server's error.
    pub async fn catalog(&self, table: &str) -> Result<Catalog, Error> {
        let client = self.pool.get().await.map_err(Error::Pool)?;
        Catalog::read(&client, &history_tables(table)).await
    }

    /// Drops the database.
    ///
    /// # Errors
    ///
    /// The server's error; a scratch database left behind is named `pgm_scratch_*`.
    pub async fn drop(self, admin: &Pool) -> Result<(), Error> {
        self.pool.close();
        let client = admin.get().await.map_err(Error::Pool)?;
        client
            .batch_execute(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                quote_identifier(&self.name)
            ))
            .await
            .map_err(Error::db("dropping a scratch database"))
    }
}

/// The renames declared (`-- renamed from: old`) in the `*.sql` files under `path`.
///
/// # Errors
///
/// A file that cannot be read.
pub fn declared_renames_in(path: &Path) -> Result<Vec<crate::ddl::Rename>, Error> {
    let mut renames = Vec::new();
    for file in sql_files(path)? {
        let sql = std::fs::read_to_string(&file).map_err(|err| Error::Scratch {
            reason: format!("reading {}: {err}", file.display()),
        })?;
        renames.extend(crate::ddl::declared_renames(&sql));
    }
    Ok(renames)
}

/// The history table and its table of unfinished marks, unqualified, as the catalog names them.
pub fn history_tables(table: &str) -> Vec<String> {
    let name = table.rsplit('.').next().unwrap_or(table);
    vec![name.to_string(), format!("{name}_unfinished")]
}

fn sql_files(dir: &Path) -> Result<Vec<PathBuf>, Error> {
    let mut files = Vec::new();
    for entry in walkdir::WalkDir::new(dir).sort_by_file_name() {
        let entry = entry.map_err(|err| Error::Scratch {
            reason: format!("reading {}: {err}", dir.display()),
        })?;
        let name = entry.file_name().to_string_lossy();
        if entry.file_type().is_file() && name.ends_with(".sql") && !name.starts_with('.') {
            files.push(entry.into_path());
        }
    }
    Ok(files)
}
