//! The `migrate` subcommand of `pgbaked` for a service's own command line: `up`, `down`,
//! `current`, `history`, `show`, `create`, `check`, `stamp`, `repair`, offline `--sql`, JSON
//! output, and `--migrate` at boot, the workflow Alembic users know.
//!
//! ```no_run
//! use clap::{Parser, Subcommand};
//!
//! static MIGRATIONS: &[pgbaked::EmbeddedMigration] = &[];
//!
//! #[derive(Parser)]
//! struct Cli {
//!     #[command(flatten)]
//!     db: pgbaked_cli::Settings,
//!     #[command(subcommand)]
//!     command: Option<Command>,
//! }
//!
//! #[derive(Subcommand)]
//! enum Command {
//!     /// Manage the schema.
//!     #[command(subcommand)]
//!     Migrate(pgbaked_cli::MigrateCommand),
//! }
//!
//! #[tokio::main(flavor = "current_thread")]
//! async fn main() -> std::process::ExitCode {
//!     let cli = Cli::parse();
//!     let service = pgbaked_cli::Service::new("my-service", MIGRATIONS);
//!     let result = match cli.command {
//!         Some(Command::Migrate(command)) => service.run(&cli.db, command).await,
//!         None => Ok(std::process::ExitCode::SUCCESS), // serve here
//!     };
//!     result.unwrap_or_else(|err| pgbaked_cli::report_error(&err, cli.db.format))
//! }
//! ```
#![warn(missing_docs)]

// First: its `out!` macro serves the modules after it.
#[macro_use]
mod output;
mod args;
mod autogenerate;
mod command;
mod create;
mod fleet;
mod renumber;
mod scratch;
mod signal;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use pgbaked::deadpool_postgres::Pool;
use pgbaked::{EmbeddedMigration, Migration, Migrator, Options, Report, Rev, State, Step};

pub use args::{DatabaseUrl, Format, MigrateCommand, Settings};
pub use command::connect;
pub use fleet::{LogWriter, log_writer};
pub use output::{
    Committed, EXIT_DIVERGENT, EXIT_DRIFT, EXIT_PENDING, EXIT_SCHEMA, EXIT_UNKNOWN,
    EXIT_UNSUPPORTED,
};
pub use signal::interrupt;
pub use signal::termination;

/// A service's schema, as its binary embeds it.
#[derive(Clone, Debug)]
pub struct Service {
    name: String,
    migrations: &'static [EmbeddedMigration],
    source_dir: Option<PathBuf>,
    schema_dir: Option<PathBuf>,
    dev_server: Option<DevServer>,
}

/// The service's own server for scratch databases, asked when none is named: given whether
/// 127.0.0.1:5432 answers, it returns the URL to use instead (usually only when nothing
/// answers), or `None` to leave it at the local server. It runs on a blocking thread: it may
/// start a cluster.
pub type DevServer = fn(local_answers: bool) -> anyhow::Result<Option<String>>;

impl Service {
    /// The service called `name` (it names its connections: `name (host pid N)`), with the
    /// migrations `pgbaked::include_migrations!()` embedded.
    pub fn new(name: impl Into<String>, migrations: &'static [EmbeddedMigration]) -> Service {
        Service {
            name: name.into(),
            migrations,
            source_dir: None,
            schema_dir: None,
            dev_server: None,
        }
    }

    /// The declared schema `migrate check` compares with the migrations when neither
    /// `--schema` nor `./schema` exists, usually `concat!(env!("CARGO_MANIFEST_DIR"),
    /// "/schema")`.
    pub fn schema_dir(mut self, dir: impl Into<PathBuf>) -> Service {
        self.schema_dir = Some(dir.into());
        self
    }

    /// The last resort for scratch databases (`drift`, `diff`, `check` with a declared schema,
    /// `create --autogenerate`), after `--dev-url`, `TEST_DATABASE_URL`, the target's server and
    /// 127.0.0.1:5432: a throwaway or development cluster the service knows how to start.
    pub fn dev_server(mut self, start: DevServer) -> Service {
        self.dev_server = Some(start);
        self
    }

    /// Where `migrate create` writes when neither `--dir` nor `./sql` exists, usually
    /// `concat!(env!("CARGO_MANIFEST_DIR"), "/sql")`.
    pub fn source_dir(mut self, dir: impl Into<PathBuf>) -> Service {
        self.source_dir = Some(dir.into());
        self
    }

    /// `name` or `name migrate`: the `application_name` prefix of this service's connections.
    pub(crate) fn role(&self, what: &str) -> String {
        if what.is_empty() {
            self.name.clone()
        } else {
            format!("{} {what}", self.name)
        }
    }

    /// The migrator over this service's migrations, with `settings`' options.
    ///
    /// # Errors
    ///
    /// A bad `--database-url` (a usage error: see [`exit_code`]), or a migration name the
    /// engine rejects, which the build script rules out.
    pub fn migrator(&self, settings: &Settings) -> anyhow::Result<Migrator> {
        // A bad URL is a usage error, reported before anything else runs.
        let config = settings.database_url.parse()?;
        let options = command::options(settings);
        Ok(Migrator::new(
            Migration::from_embedded_set(self.migrations)?,
            Options {
                // `?schema=NAME`: the history table, and so the lock, in that schema.
                table: config.history_table(&options.table),
                ..options
            },
        ))
    }

    /// Runs one `migrate` command; results go to stdout, logs to stderr.
    ///
    /// # Errors
    ///
    /// Anything that should end the process with [`exit_code`].
    pub async fn run(
        &self,
        settings: &Settings,
        command: MigrateCommand,
    ) -> anyhow::Result<ExitCode> {
        let migrator = self.migrator(settings)?;
        let settings = Settings {
            dev_server: self.dev_server,
            ..settings.clone()
        };
        command::run_migrate(self, &settings, command, migrator).await
    }

    /// Connects and applies pending migrations before a service serves (`--migrate`); a signal
    /// stops the run cleanly. Without `migrate`, it only warns about pending migrations and
    /// unknown versions (and refuses unknown ones with `--strict`).
    ///
    /// # Errors
    ///
    /// A connection error, a failed migration, or unknown versions with `--strict`.
    pub async fn boot(
        &self,
        settings: &Settings,
        migrate: bool,
    ) -> anyhow::Result<(Pool, Migrator)> {
        let (pool, migrator) = self.prepare(settings)?;
        self.boot_on(settings, &pool, &migrator, migrate, &mut |_| {})
            .await?;
        Ok((pool, migrator))
    }

    /// The pool for the service's database, not connected yet, and its migrator: what a
    /// server needs to answer its probes while [`Service::boot_on`] waits for the database and
    /// migrates.
    ///
    /// # Errors
    ///
    /// A bad `--database-url` or TLS setting.
    pub fn prepare(&self, settings: &Settings) -> anyhow::Result<(Pool, Migrator)> {
        let migrator = self.migrator(settings)?;
        // Its connections name this release's head (`app head=14 (host pid N)`), and its
        // migrator holds back a `-- contract` migration while a replica of an older release
        // is connected: a rolling update's old replicas keep the schema they were built for.
        let head = migrator.migrations().last().map(Migration::version);
        let migrator = migrator.with_options(|o| o.contract_guard = Some(self.name.clone()));
        let role = pgbaked::release_application_name(&self.name, head);
        let (pool, _) = command::lazy_pool(settings, &role)?;
        Ok((pool, migrator))
    }

    /// [`Service::boot`] on a pool from [`Service::prepare`]: waits for the database as
    /// `--wait` says, then migrates (`migrate`), calling `on_step` as each migration commits,
    /// or only warns.
    ///
    /// # Errors
    ///
    /// As for [`Service::boot`].
    pub async fn boot_on(
        &self,
        settings: &Settings,
        pool: &Pool,
        migrator: &Migrator,
        migrate: bool,
        on_step: &mut (dyn FnMut(&Step) + Send),
    ) -> anyhow::Result<()> {
        if migrate {
            command::warn_if_maintenance_database(settings);
        }
        let config = settings.database_url.parse()?;
        command::wait(settings, pool, &config).await?;
        if migrate {
            let report: Report = migrator
                .up_until(pool, &Rev::Head, on_step, interrupt())
                .await
                .context("applying migrations at boot")?;
            if report.held.is_empty() {
                tracing::info!(
                    applied = report.steps.len(),
                    current = ?report.to,
                    "schema is up to date"
                );
            } else {
                tracing::info!(
                    applied = report.steps.len(),
                    current = ?report.to,
                    held = ?report.held,
                    "schema is up to date but for the contract held back"
                );
            }
        } else {
            let client = pool.get().await.context("connecting to the database")?;
            let history = migrator.history(&client).await?;
            let status = migrator.status(&history);
            let pending = status.versions(State::Pending);
            if !pending.is_empty() {
                tracing::warn!(
                    ?pending,
                    "migrations are pending; run `{} migrate up` or boot with --migrate",
                    self.name
                );
            }
            let unknown = status.versions(State::Unknown);
            if !unknown.is_empty() {
                if settings.strict {
                    return Err(pgbaked::Error::Unknown { versions: unknown }.into());
                }
                tracing::warn!(
                    ?unknown,
                    "the database has versions this binary does not know"
                );
            }
        }
        Ok(())
    }
}

/// Prints `err` as `error: …` on stderr (and, with `--format json`, as one JSON document on
/// stdout, with the failing migration's report and what committed before it), and gives the
/// exit code: 2 for a bad `--database-url` or revision (a usage error, as clap's own), else 1.
pub fn report_error(err: &anyhow::Error, format: Format) -> ExitCode {
    output::report_error(err, format);
    exit_code(err)
}

/// 2 for a usage error (a bad `--database-url`, a revision that does not parse: `up 0`), 1
/// for anything else.
pub fn exit_code(err: &anyhow::Error) -> ExitCode {
    let bad_revision = matches!(
        err.downcast_ref::<pgbaked::RevError>(),
        Some(pgbaked::RevError::Syntax(_) | pgbaked::RevError::ZeroStep(_))
    );
    if bad_revision || err.downcast_ref::<pgbaked::InvalidDatabaseUrl>().is_some() {
        ExitCode::from(2)
    } else {
        ExitCode::FAILURE
    }
}
