//! Scratch databases on a dev server: a replay of the migrations, or a declared schema loaded
//! from SQL files, built to be read by [`crate::Catalog`] and dropped afterwards.
//!
//! A replay is a clone of a template database cached on the server per migration set, the one
//! the test harness clones for its tests, so comparing with a long history costs a
//! `CREATE DATABASE … TEMPLATE` instead of replaying every file.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use deadpool_postgres::Pool;
use tokio::sync::OnceCell;

use super::config::DatabaseConfig;
use super::diff::Catalog;
use super::error::{Error, SqlFailure};
use super::history::{DEFAULT_TABLE, quote_identifier};
use super::lock::{fnv1a, lock_key};
use super::migration::Migration;
use super::migrator::{Migrator, Options};
use super::rev::Rev;
use super::status::Status;

/// Prefix of the cached replays; the rest of the name is [`migration_set_hash`]. The test
/// harness builds and clones the same templates, so a diff after a test run starts warm.
pub const TEMPLATE_PREFIX: &str = "pgm_tpl_";

/// A database of its own on a dev server, made on first use: empty for [`Scratch::load`], or
/// a clone of the cached replay for [`Scratch::replay`].
pub struct Scratch {
    name: String,
    admin: Pool,
    config: DatabaseConfig,
    pool: OnceCell<Pool>,
    privileges: bool,
}

impl Scratch {
    /// Names a database beside the one `config` names, after checking that `admin` connects.
    /// The database itself is created on first use.
    ///
    /// # Errors
    ///
    /// The server does not answer.
    pub async fn create(admin: &Pool, config: &DatabaseConfig) -> Result<Scratch, Error> {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let name = format!(
            "pgm_scratch_{}_{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        drop(admin.get().await.map_err(Error::Pool)?);
        Ok(Scratch {
            name,
            admin: admin.clone(),
            config: config.clone(),
            pool: OnceCell::new(),
            privileges: false,
        })
    }

    /// Reads privileges too in [`Scratch::catalog`] (`--with-privileges`).
    pub fn with_privileges(mut self, privileges: bool) -> Scratch {
        self.privileges = privileges;
        self
    }

    /// The database's pool, creating it empty if nothing made it yet.
    ///
    /// # Errors
    ///
    /// The server's error (creating a database needs the `CREATEDB` privilege).
    pub async fn pool(&self) -> Result<&Pool, Error> {
        self.made(None).await
    }

    /// The pool of the database, made from `template` (or empty) when it does not exist yet.
    async fn made(&self, template: Option<&str>) -> Result<&Pool, Error> {
        self.pool
            .get_or_try_init(|| async {
                let client = self.admin.get().await.map_err(Error::Pool)?;
                let from = template.map_or(String::new(), |t| {
                    format!(" TEMPLATE {}", quote_identifier(t))
                });
                client
                    .batch_execute(&format!(
                        "CREATE DATABASE {}{from}",
                        quote_identifier(&self.name)
                    ))
                    .await
                    .map_err(Error::db("creating a scratch database"))?;
                super::pool::pool(&self.config.with_dbname(&self.name), 2).map_err(|err| {
                    Error::Scratch {
                        reason: err.to_string(),
                    }
                })
            })
            .await
    }

    /// Applies `migrations` up to `rev`, as a replay of what the history records, with the
    /// history in `table`.
    ///
    /// A fresh scratch database is a clone of the server's cached replay of that set (built
    /// once per set, see [`template`]), so a long history costs one `CREATE DATABASE`. One
    /// that already exists is migrated in place.
    ///
    /// # Errors
    ///
    /// A revision that is not in `migrations`, or a failing migration.
    pub async fn replay(
        &self,
        migrations: &[Migration],
        rev: &Rev,
        table: &str,
    ) -> Result<(), Error> {
        use tracing::Instrument;
        if self.pool.initialized() {
            let migrator = Migrator::new(migrations.to_vec(), options(table));
            // The migrator's own log lines, marked as the scratch database's.
            let span = tracing::info_span!("scratch", database = %self.name);
            return migrator
                .up(self.pool().await?, rev, &mut |_| {})
                .instrument(span)
                .await
                .map(drop);
        }
        let set: Vec<Migration> = Status::new(migrations, &[])
            .plan_up(rev)?
            .into_iter()
            .cloned()
            .collect();
        let template = template(&self.admin, &self.config, &set, table).await?;
        self.made(Some(&template)).await.map(drop)
    }

    /// Runs every `*.sql` file under `dir`, in path order (subdirectories included): a declared
    /// schema, made of ordinary `CREATE` statements.
    ///
    /// # Errors
    ///
    /// A file that cannot be read, or a failing statement, named at its file and line.
    pub async fn load(&self, dir: &Path) -> Result<(), Error> {
        let client = self.pool().await?.get().await.map_err(Error::Pool)?;
        for path in sql_files(dir)? {
            let sql = std::fs::read_to_string(&path).map_err(|err| Error::Scratch {
                reason: format!("reading {}: {err}", path.display()),
            })?;
            let sql = sql.strip_prefix('\u{feff}').unwrap_or(&sql);
            if let Err(err) = client.batch_execute(sql).await {
                let mut failure = SqlFailure::new(&path.display().to_string(), sql, &err);
                // No position from the server (a missing relation, a dependency): the file ran
                // as one implicit transaction and left nothing, so its statements are tried one
                // by one, rolled back, to name the line of the one that fails.
                if failure.line.is_none()
                    && let Some(line) = failing_line(&client, sql).await
                {
                    let text = sql.lines().nth(line - 1).unwrap_or_default();
                    failure.line = Some(line);
                    // The statement's first token, as a migration's report points at it.
                    failure.column =
                        Some(text.chars().take_while(|c| c.is_whitespace()).count() + 1);
                    failure.line_text = Some(text.to_string());
                }
                return Err(Error::SchemaFailed {
                    failure: Box::new(failure),
                });
            }
        }
        Ok(())
    }

    /// Reads the database's catalog, leaving the history table `table` out.
    ///
    /// # Errors
    ///
    /// The server's error.
    pub async fn catalog(&self, table: &str) -> Result<Catalog, Error> {
        let client = self.pool().await?.get().await.map_err(Error::Pool)?;
        Catalog::read_with(&client, &history_tables(table), self.privileges).await
    }

    /// Drops the database.
    ///
    /// # Errors
    ///
    /// The server's error; a scratch database left behind is named `pgm_scratch_*`.
    pub async fn drop(self) -> Result<(), Error> {
        let Some(pool) = self.pool.get() else {
            return Ok(());
        };
        pool.close();
        let client = self.admin.get().await.map_err(Error::Pool)?;
        client
            .batch_execute(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                quote_identifier(&self.name)
            ))
            .await
            .map_err(Error::db("dropping a scratch database"))
    }
}

/// The line of the first statement of `sql` that fails, each run in one transaction rolled
/// back; `None` for a file whose statements the splitter cannot be trusted with (a `BEGIN
/// ATOMIC` body holds `;`).
async fn failing_line(client: &tokio_postgres::Client, sql: &str) -> Option<usize> {
    if sql.to_ascii_uppercase().contains("BEGIN ATOMIC") {
        return None;
    }
    client.batch_execute("BEGIN").await.ok()?;
    let mut failing = None;
    for statement in crate::grammar::split_statements(sql) {
        if client.batch_execute(&statement.text).await.is_err() {
            failing = Some(statement.line);
            break;
        }
    }
    let _ = client.batch_execute("ROLLBACK").await;
    failing
}

fn options(table: &str) -> Options {
    Options {
        table: table.to_string(),
        quiet: true,
        // A scratch database's data is nobody's: reverting a contract step there (a generated
        // migration's check of its own undo) loses nothing.
        allow_data_loss: true,
        ..Options::default()
    }
}

/// A hash of a migration set (versions, names, checksums and undo scripts): a changed set gets
/// a new template.
pub fn migration_set_hash(migrations: &[Migration]) -> String {
    let mut bytes = Vec::new();
    for m in migrations {
        bytes.extend_from_slice(&m.version().to_le_bytes());
        bytes.extend_from_slice(m.name().as_bytes());
        bytes.extend_from_slice(&m.checksum().to_le_bytes());
        bytes.extend_from_slice(m.undo().map_or(&b"-"[..], |u| u.sql.as_bytes()));
    }
    format!("{:016x}", fnv1a(&bytes))
}

/// The name of the template holding `migrations` with its history in `table`.
pub fn template_name(migrations: &[Migration], table: &str) -> String {
    let hash = migration_set_hash(migrations);
    if table == DEFAULT_TABLE {
        format!("{TEMPLATE_PREFIX}{hash}")
    } else {
        // Another history table is another database; the name stays within 63 bytes.
        format!(
            "{TEMPLATE_PREFIX}{hash}_{:08x}",
            fnv1a(table.as_bytes()) as u32
        )
    }
}

/// Creates (once per migration set and history table, under an advisory lock that every
/// process on the server shares) the template database holding `migrations` applied, and
/// returns its name. `admin` is a pool on the server's maintenance database, `config` the
/// server's address (its database name is replaced).
///
/// The template is built under a temporary name and renamed only when complete, so a crash
/// mid-build never leaves a half-made template.
///
/// # Errors
///
/// The server's error (it needs `CREATEDB`), or a failing migration.
pub async fn template(
    admin: &Pool,
    config: &DatabaseConfig,
    migrations: &[Migration],
    table: &str,
) -> Result<String, Error> {
    let name = template_name(migrations, table);
    let client = admin.get().await.map_err(Error::Pool)?;
    let exists = async || -> Result<bool, Error> {
        Ok(client
            .query_opt(
                "SELECT 1 FROM pg_database WHERE datname = $1 AND datistemplate",
                &[&name],
            )
            .await
            .map_err(Error::db("looking for a template database"))?
            .is_some())
    };
    if exists().await? {
        return Ok(name);
    }
    let key = lock_key(&name);
    client
        .execute("SELECT pg_advisory_lock($1)", &[&key])
        .await
        .map_err(Error::db("locking the template database's build"))?;
    let built = async {
        if exists().await? {
            return Ok(());
        }
        let building = format!("{name}_building");
        let quoted = quote_identifier(&building);
        client
            .batch_execute(&format!("DROP DATABASE IF EXISTS {quoted} WITH (FORCE)"))
            .await
            .map_err(Error::db("dropping a half-built template database"))?;
        client
            .batch_execute(&format!("CREATE DATABASE {quoted}"))
            .await
            .map_err(Error::db("creating a template database"))?;
        let pool =
            super::pool::pool(&config.with_dbname(&building), 1).map_err(|err| Error::Scratch {
                reason: err.to_string(),
            })?;
        let span = tracing::info_span!("template", database = %name);
        let applied = tracing::Instrument::instrument(
            Migrator::new(migrations.to_vec(), options(table)).up(&pool, &Rev::Head, &mut |_| {}),
            span,
        )
        .await;
        pool.close();
        if let Err(err) = applied {
            // A set that fails to build leaves nothing behind (its error says why).
            let _ = client
                .batch_execute(&format!("DROP DATABASE IF EXISTS {quoted} WITH (FORCE)"))
                .await;
            return Err(err);
        }
        client
            .batch_execute(&format!(
                "ALTER DATABASE {quoted} RENAME TO {0}; ALTER DATABASE {0} WITH IS_TEMPLATE true",
                quote_identifier(&name)
            ))
            .await
            .map_err(Error::db("naming the template database"))?;
        prune_templates(&client, KEPT_TEMPLATES).await;
        Ok::<(), Error>(())
    }
    .await;
    let unlocked = client
        .execute("SELECT pg_advisory_unlock($1)", &[&key])
        .await;
    built?;
    unlocked.map_err(Error::db("unlocking the template database's build"))?;
    Ok(name)
}

/// How many template databases stay on a server: each new migration set (every `create`,
/// every edit while writing one) gets its own, and the oldest beyond these go when a new one
/// is built.
pub const KEPT_TEMPLATES: usize = 8;

/// Drops the template databases beyond the `keep` most recently created (by OID), skipping
/// any in use (a clone or a test connected to it). Housekeeping: failures are ignored.
async fn prune_templates(client: &tokio_postgres::Client, keep: usize) {
    let Ok(rows) = client
        .query(
            "SELECT datname::text FROM pg_database d \
             WHERE datistemplate AND datname LIKE 'pgm\\_tpl\\_%' \
               AND NOT EXISTS (SELECT 1 FROM pg_stat_activity a WHERE a.datid = d.oid) \
             ORDER BY oid DESC OFFSET $1",
            &[&(keep as i64)],
        )
        .await
    else {
        return;
    };
    for row in rows {
        let name: String = row.get(0);
        let _ = drop_template(client, &name).await;
    }
}

/// Drops a template database: it stops being a template first, and is one again if the drop
/// fails (someone connected in between), so that nothing is left half-dropped.
///
/// # Errors
///
/// The server's error for the drop.
pub async fn drop_template(client: &tokio_postgres::Client, name: &str) -> Result<(), Error> {
    let quoted = quote_identifier(name);
    client
        .batch_execute(&format!("ALTER DATABASE {quoted} WITH IS_TEMPLATE false"))
        .await
        .map_err(Error::db("unmarking a template database"))?;
    if let Err(err) = client
        .batch_execute(&format!("DROP DATABASE {quoted}"))
        .await
    {
        let _ = client
            .batch_execute(&format!("ALTER DATABASE {quoted} WITH IS_TEMPLATE true"))
            .await;
        return Err(Error::db("dropping a template database")(err));
    }
    Ok(())
}

/// The renames declared (`-- renamed from: old`) in the `*.sql` files under `path`.
///
/// # Errors
///
/// A file that cannot be read.
pub fn declared_renames_in(path: &Path) -> Result<Vec<crate::diff::Rename>, Error> {
    let mut renames = Vec::new();
    for file in sql_files(path)? {
        let sql = std::fs::read_to_string(&file).map_err(|err| Error::Scratch {
            reason: format!("reading {}: {err}", file.display()),
        })?;
        renames.extend(crate::diff::declared_renames(&sql));
    }
    Ok(renames)
}

/// The history table and its table of unfinished marks, unqualified, as the catalog names them.
pub fn history_tables(table: &str) -> Vec<String> {
    let name = table.rsplit('.').next().unwrap_or(table);
    vec![
        name.to_string(),
        format!("{name}_unfinished"),
        format!("{name}_undo"),
    ]
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
