//! The command line's arguments: the settings every command takes and the `migrate`
//! subcommands, as clap derives them, for a service to embed in its own parser.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Subcommand, ValueEnum};
use pgbaked::{DEFAULT_DATABASE_URL, DatabaseConfig, parse_duration};

/// The options every `migrate` command takes, and that a service flattens into its own command
/// line (they are `global`, so they go before or after the subcommand).
#[derive(Clone, Debug, Args)]
pub struct Settings {
    // The brackets are clap's help convention, not an intra-doc link.
    #[allow(rustdoc::broken_intra_doc_links)]
    /// The database to use [default: postgres://postgres:***@localhost:5432/postgres].
    ///
    /// Its password is never printed: not in logs, errors or this help. `sslmode` is honoured.
    #[arg(
        long,
        env = "DATABASE_URL",
        global = true,
        hide_env_values = true,
        hide_default_value = true,
        default_value = DEFAULT_DATABASE_URL,
        value_name = "URL"
    )]
    pub database_url: DatabaseUrl,

    /// Output format of results on stdout.
    #[arg(long, value_enum, default_value_t = Format::Text, global = true)]
    pub format: Format,

    /// How long to wait for another process's migration lock (e.g. 60s, 2m).
    #[arg(long, env = "APP_LOCK_TIMEOUT", default_value = "60s", value_parser = parse_duration, global = true, value_name = "DURATION")]
    pub lock_timeout: Duration,

    /// Retry connecting, with backoff, for up to this long (0: try once).
    #[arg(long, env = "APP_WAIT", default_value = "0", value_parser = parse_duration, global = true, value_name = "DURATION")]
    pub wait: Duration,

    /// Refuse to run when the database has versions this binary does not know.
    #[arg(long, env = "APP_STRICT", global = true)]
    pub strict: bool,

    /// `lock_timeout` set inside each migration, so a migration stuck behind a long
    /// transaction gives way instead of stalling the queries queued behind it [default: 3s]
    /// (0: the server's own). A migration that hits it rolls back and runs again after a
    /// pause, up to --migration-lock-retries times.
    ///
    /// The default bounds transactional migrations only: a `-- no-transaction` one (CREATE
    /// INDEX CONCURRENTLY) waits for every older transaction by design, and is bounded only
    /// when this is given explicitly.
    #[arg(long, env = "APP_MIGRATION_LOCK_TIMEOUT", value_parser = parse_duration, global = true, value_name = "DURATION")]
    pub migration_lock_timeout: Option<Duration>,

    /// How many times a migration that hit its lock timeout runs again (1 s, 2 s, 4 s, …
    /// apart); nothing of it had committed (0: fail at once).
    #[arg(
        long,
        env = "APP_MIGRATION_LOCK_RETRIES",
        default_value_t = 5,
        global = true,
        value_name = "N"
    )]
    pub migration_lock_retries: u32,

    /// `statement_timeout` set inside each migration (0: the server's own).
    #[arg(long, env = "APP_MIGRATION_STATEMENT_TIMEOUT", default_value = "0", value_parser = parse_duration, global = true, value_name = "DURATION")]
    pub migration_statement_timeout: Duration,

    /// The server for scratch databases (`check` with a declared schema, `drift`, `diff`,
    /// `create --autogenerate`): default TEST_DATABASE_URL, else the target's own server
    /// (never for `drift`), else 127.0.0.1:5432 if it answers, else the service's development
    /// cluster (debug builds of `app`). Replays are cloned from a
    /// template cached there per migration set (`pgm_tpl_*`), the one tests clone.
    #[arg(
        long,
        env = "APP_DEV_DATABASE_URL",
        global = true,
        hide_env_values = true,
        value_name = "URL"
    )]
    pub dev_url: Option<DatabaseUrl>,

    /// Compare and generate privileges too (`check`, `drift`, `diff`, `create
    /// --autogenerate`): each role's grants on tables, views, sequences, schemas, functions and
    /// types, beyond the owner's. The roles must exist on the dev server.
    #[arg(long, env = "APP_WITH_PRIVILEGES", global = true)]
    pub with_privileges: bool,

    /// The service's last resort for scratch databases (see [`crate::Service::dev_server`]),
    /// set by [`crate::Service::run`].
    #[arg(skip)]
    pub(crate) dev_server: Option<crate::DevServer>,
}

/// `--database-url` as given. It is parsed after clap, because clap repeats an invalid value in
/// its error message, and that value may hold a password. Its `Debug` hides it too.
#[derive(Clone)]
pub struct DatabaseUrl(String);

impl std::str::FromStr for DatabaseUrl {
    type Err = std::convert::Infallible;

    fn from_str(url: &str) -> Result<DatabaseUrl, Self::Err> {
        Ok(DatabaseUrl(url.to_string()))
    }
}

impl std::fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DatabaseUrl(***)")
    }
}

impl DatabaseUrl {
    /// Parses the URL.
    ///
    /// # Errors
    ///
    /// [`pgbaked::InvalidDatabaseUrl`], which never repeats the URL.
    pub fn parse(&self) -> Result<DatabaseConfig, pgbaked::InvalidDatabaseUrl> {
        self.0.parse()
    }

    /// Whether this is the built-in default, neither `--database-url` nor `DATABASE_URL`
    /// having named another.
    pub fn is_default(&self) -> bool {
        self.is_default_given(std::env::var_os("DATABASE_URL").as_deref())
    }

    /// [`DatabaseUrl::is_default`], with `DATABASE_URL`'s value given.
    pub(crate) fn is_default_given(&self, environment: Option<&std::ffi::OsStr>) -> bool {
        self.0 == DEFAULT_DATABASE_URL && environment.is_none()
    }
}

/// Output format of results.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Aligned columns, one line per item.
    Text,
    /// One JSON document.
    Json,
}

/// What to do with the rest of a fleet after a target fails.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum OnError {
    /// Start no new target; the ones in flight finish.
    #[default]
    Stop,
    /// Go on with every other target.
    Continue,
}

/// `--targets`: the same command over many databases (or schemas) at once.
#[derive(Clone, Debug, Default, Args)]
#[command(next_help_heading = "Fleet")]
pub struct FleetArgs {
    /// Run against every target in FILE (`-`: standard input), one database URL per line;
    /// blank lines and `#` comments are skipped. `?schema=NAME` on a URL makes it a
    /// schema-per-tenant target: its history table and lock live in that schema and
    /// `search_path` is pinned to it.
    #[arg(long, value_name = "FILE", conflicts_with = "targets_query")]
    pub targets: Option<PathBuf>,

    /// Run against the URLs this query returns (first column) from DATABASE_URL.
    #[arg(long, value_name = "SQL")]
    pub targets_query: Option<String>,

    /// At most N targets in flight, and so at most N connections to any one server.
    #[arg(long, value_name = "N", default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..))]
    pub parallel: u16,

    /// After a target fails: start no other (`stop`; those in flight finish) or go on.
    #[arg(long, value_enum, value_name = "WHAT", default_value_t = OnError::Stop)]
    pub on_error: OnError,

    /// Run the first N targets first; the rest start only if all of them succeeded.
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub canary: usize,
}

impl FleetArgs {
    /// Whether the command runs over a fleet.
    pub fn given(&self) -> bool {
        self.targets.is_some() || self.targets_query.is_some()
    }
}

/// `--targets` for a command that only reads (`current`, `history`, `check`): every target is
/// read whatever fails, so `--on-error` and `--canary` are not offered.
#[derive(Clone, Debug, Default, Args)]
#[command(next_help_heading = "Fleet")]
pub struct FleetReadArgs {
    /// Read every target in FILE (`-`: standard input), one database URL per line; blank
    /// lines and `#` comments are skipped. `?schema=NAME` on a URL makes it a
    /// schema-per-tenant target.
    #[arg(long, value_name = "FILE", conflicts_with = "targets_query")]
    pub targets: Option<PathBuf>,

    /// Read the targets whose URLs this query returns (first column) from DATABASE_URL.
    #[arg(long, value_name = "SQL")]
    pub targets_query: Option<String>,

    /// At most N targets in flight, and so at most N connections to any one server.
    #[arg(long, value_name = "N", default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..))]
    pub parallel: u16,
}

impl From<&FleetReadArgs> for FleetArgs {
    fn from(read: &FleetReadArgs) -> FleetArgs {
        FleetArgs {
            targets: read.targets.clone(),
            targets_query: read.targets_query.clone(),
            parallel: read.parallel,
            ..FleetArgs::default()
        }
    }
}

/// `migrate …`: the Alembic-style workflow.
#[derive(Debug, Subcommand)]
pub enum MigrateCommand {
    /// Apply pending migrations up to REV (default: head).
    ///
    /// REV is head, base, +N, a version number or a name like V3__add_users. Each migration
    /// commits together with its history row. With --targets, every target is migrated, at
    /// most --parallel at a time, each under its own lock; a rerun resumes where each stood.
    ///
    /// Examples:
    ///   app migrate up
    ///   app migrate up +1
    ///   app migrate up 2
    ///   app migrate up --sql > upgrade.sql
    ///   app migrate up --targets tenants.txt --parallel 16 --canary 2
    ///   psql -Atc 'SELECT url FROM tenants' | app migrate up --targets - --on-error continue
    #[command(visible_alias = "upgrade", verbatim_doc_comment)]
    Up {
        /// Target revision.
        #[arg(default_value = "head", allow_hyphen_values = true)]
        rev: String,
        /// Print the SQL script instead of connecting.
        #[arg(long)]
        sql: bool,
        /// With --sql: the revision the database is at (default: base).
        #[arg(long, requires = "sql", allow_hyphen_values = true)]
        from: Option<String>,
        /// Run every migration in one transaction.
        #[arg(long)]
        grouped: bool,
        /// Apply `-- contract` migrations even while replicas of an older release are
        /// connected (by default they, and what follows them, are held back until those
        /// replicas are gone).
        #[arg(long)]
        contract: bool,
        /// Over many databases: --targets, --parallel, --on-error, --canary.
        #[command(flatten)]
        fleet: FleetArgs,
    },
    /// Revert applied migrations down to REV (default: -1), running their U files.
    ///
    /// REV is -N, base, a version number or a name. If a migration on the way has no undo
    /// file, or is a `-- contract` step that deleted data (unless --allow-data-loss), nothing
    /// is changed.
    ///
    /// Examples:
    ///   app migrate down
    ///   app migrate down -2
    ///   app migrate down base
    ///   app migrate down base --sql --from head > teardown.sql
    ///   app migrate down head --allow-data-loss
    #[command(visible_alias = "downgrade", verbatim_doc_comment)]
    Down {
        /// Target revision.
        #[arg(default_value = "-1", allow_hyphen_values = true)]
        rev: String,
        /// Print the SQL script instead of connecting.
        #[arg(long)]
        sql: bool,
        /// With --sql: the revision the database is at (default: head).
        #[arg(long, requires = "sql", allow_hyphen_values = true)]
        from: Option<String>,
        /// Revert `-- contract` steps that deleted data (a dropped column or table): their
        /// undo brings the schema back empty, which the previous release would read. Refused
        /// without this flag.
        #[arg(long)]
        allow_data_loss: bool,
        /// Over many databases: --targets, --parallel, --on-error, --canary.
        #[command(flatten)]
        fleet: FleetArgs,
    },
    /// Print the applied version alone on a line ("base" if none).
    ///
    /// Example:
    ///   test "$(app migrate current)" = 2
    ///   app migrate current --targets tenants.txt
    #[command(verbatim_doc_comment)]
    Current {
        /// Over many databases: --targets, --parallel (every target is read).
        #[command(flatten)]
        fleet: FleetReadArgs,
    },
    /// List every migration: version, name, applied/pending, when.
    ///
    /// Examples:
    ///   app migrate history
    ///   app migrate history --verbose --format json
    ///   app migrate history --targets tenants.txt
    #[command(verbatim_doc_comment)]
    History {
        /// Also show checksums and files.
        #[arg(long, short)]
        verbose: bool,
        /// Over many databases: --targets, --parallel (every target is read).
        #[command(flatten)]
        fleet: FleetReadArgs,
    },
    /// Show one migration: name, checksum, when applied, its SQL and undo SQL.
    ///
    /// Examples:
    ///   app migrate show 2
    ///   app migrate show head
    #[command(verbatim_doc_comment)]
    Show {
        /// The revision to show.
        #[arg(allow_hyphen_values = true)]
        rev: String,
    },
    /// Write sql/V{next}__{message}.sql and its undo file U{next}__{message}.sql.
    ///
    /// With --autogenerate, the files are written from the declared schema (schema/), each
    /// verified by replay; statements with hazards are refused unless accepted.
    ///
    /// Examples:
    ///   app migrate create "add users email index"
    ///   app migrate create --timestamp "add users email index"
    ///   app migrate create --autogenerate "archive specs"
    ///   app migrate create --autogenerate "drop legacy column" --allow-hazards deletes_data,breaks_clients
    #[command(verbatim_doc_comment)]
    Create {
        /// What the migration does; becomes the file's description.
        message: String,
        /// Do not write an undo file.
        #[arg(long)]
        no_undo: bool,
        /// Number by the current UTC time (V20261205093000__…) rather than the next integer,
        /// so that two branches rarely pick the same version; a set that holds a timestamp
        /// goes on with them without this flag.
        #[arg(long)]
        timestamp: bool,
        /// The migrations directory (default: ./sql, else the one this binary was built from).
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
        /// Write the SQL from the migrations' head to the declared schema (and its undo),
        /// verified by replay before anything is written. A new index on an existing table
        /// gets a `-- no-transaction` file of its own, so one run may write several versions.
        #[arg(long)]
        autogenerate: bool,
        /// With --autogenerate: the declared schema (default: ./schema, else the one this
        /// binary was built from).
        #[arg(long, value_name = "DIR", requires = "autogenerate")]
        schema: Option<PathBuf>,
        /// With --autogenerate: write statements that delete data (DROP TABLE, DROP COLUMN,
        /// a narrowing type change), which are refused otherwise: the hazard kinds
        /// deletes_data, breaks_clients and may_fail.
        #[arg(long, requires = "autogenerate")]
        allow_data_loss: bool,
        /// With --autogenerate: the hazard kinds to accept, comma-separated (deletes_data,
        /// rewrites_table, locks_for_scan, may_fail, breaks_clients, correctness). A statement carrying a
        /// kind not accepted is refused, and nothing is written. What cannot be generated
        /// (unsupported) is never written.
        #[arg(
            long,
            value_name = "KIND,...",
            value_delimiter = ',',
            requires = "autogenerate"
        )]
        allow_hazards: Vec<pgbaked::diff::HazardKind>,
    },
    /// Move a migration, its undo file and their headers to another version (default: the
    /// next free one): the merge of two branches that both added the same version.
    ///
    /// The build refuses two files of one version (`duplicate version 14`); run this with a
    /// binary built before the merge, or `cargo run` once the other branch's file is moved.
    /// A database that applied the moved migration under its old version is told so by `up`
    /// and brought back with `down`, which reverts it with the undo recorded when it was
    /// applied.
    ///
    /// Examples:
    ///   app migrate renumber V14__add_trace_id
    ///   app migrate renumber V14__add_trace_id --to 16
    #[command(verbatim_doc_comment)]
    Renumber {
        /// The migration to move, `V{version}__{description}` (its file name without `.sql`).
        migration: String,
        /// The version to move it to (default: the next free one).
        #[arg(long, value_name = "VERSION")]
        to: Option<i64>,
        /// The migrations directory (default: ./sql, else the one this binary was built from).
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
    },
    /// Exit 0 when the database is in sync with the binary, and the declared schema with the
    /// migrations.
    ///
    /// Otherwise prints the reason and exits 3 (pending migrations), 4 (an applied file was
    /// edited), 5 (the database has versions this binary does not know) or 6 (the declared
    /// schema in schema/ differs from what the migrations build: someone edited schema/
    /// without a migration, or wrote a migration without updating schema/). The declared
    /// schema is compared when its directory exists: both are built in scratch databases on
    /// the same server (CREATEDB needed) and their catalogs compared. That compares schema/
    /// with the migrations, not with the live database: a change made there by hand is what
    /// `migrate drift` finds.
    ///
    /// Examples:
    ///   app migrate check || echo "schema out of sync"
    ///   app migrate check --schema db/schema
    ///   app migrate check --targets-query "SELECT url FROM tenants"
    #[command(verbatim_doc_comment)]
    Check {
        /// The declared schema (default: ./schema, else the one this binary was built from).
        #[arg(long, value_name = "DIR")]
        schema: Option<PathBuf>,
        /// Over many databases: --targets, --parallel (every target is read).
        #[command(flatten)]
        fleet: FleetReadArgs,
    },
    /// Print the SQL that turns one schema into another; nothing is written to either.
    ///
    /// Each SRC is a database URL (read in place), a directory or file of SQL (loaded into a
    /// scratch database), `migrations` (the embedded set replayed to head) or
    /// `migrations@REV`. New indexes on existing tables are built CONCURRENTLY, foreign keys
    /// and checks added NOT VALID then validated; statements that delete data carry a
    /// `-- hazard: KIND, ...: why` comment (deletes_data, rewrites_table, locks_for_scan,
    /// may_fail, breaks_clients, correctness); what cannot be generated (an object of a kind not modelled,
    /// such as a cast or a publication) is a `-- unsupported:` comment, and the exit code is 8.
    /// `--format json` gives each statement with its hazard kinds, and the differences.
    ///
    /// Examples:
    ///   app migrate diff --from migrations --to schema
    ///   app migrate diff --from migrations@1 --to migrations --format json
    ///   app migrate diff --from "$STAGING_URL" --to migrations
    #[command(verbatim_doc_comment)]
    Diff {
        /// The schema to start from.
        #[arg(long, value_name = "SRC")]
        from: String,
        /// The schema to reach.
        #[arg(long, value_name = "SRC")]
        to: String,
    },
    /// Exit 0 when the database holds what its recorded history builds; 7, with the
    /// differences, when it was changed by hand.
    ///
    /// The applied versions are replayed in a scratch database on the dev server (--dev-url,
    /// else TEST_DATABASE_URL, else 127.0.0.1:5432 or the development cluster: never the
    /// server it inspects) and the two catalogs compared: every kind of object the diff reads,
    /// and each kind it does not model reported as such.
    ///
    /// Example:
    ///   app migrate drift --format json
    #[command(verbatim_doc_comment)]
    Drift,
    /// Record REV as applied without running any SQL, to baseline an existing database.
    ///
    /// Rows are added for every version up to REV and removed above it.
    ///
    /// Example:
    ///   app migrate stamp head
    #[command(verbatim_doc_comment)]
    Stamp {
        /// The revision to record.
        #[arg(allow_hyphen_values = true)]
        rev: String,
    },
    /// Drop what the tool keeps on the dev server: template databases (pgm_tpl_*), scratch
    /// databases a killed run left (pgm_scratch_*), and the test harness's spare clones
    /// (app_spare_*) and failed tests' databases (app_test_*). Never the target database.
    ///
    /// The server is the one scratch databases go to (--dev-url, TEST_DATABASE_URL, else the
    /// target's server). A database in use is skipped and named. Templates are rebuilt on
    /// next use.
    ///
    /// Examples:
    ///   app migrate clean --dry-run
    ///   app migrate clean --dev-url postgres://postgres@localhost:5432/postgres
    #[command(verbatim_doc_comment)]
    Clean {
        /// List what would be dropped, and drop nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Re-record the checksums of applied migrations whose files were edited, after review.
    ///
    /// Example:
    ///   app migrate repair
    #[command(verbatim_doc_comment)]
    Repair,
}

impl MigrateCommand {
    /// The `--targets` options of a command that takes them.
    pub fn fleet(&self) -> Option<FleetArgs> {
        match self {
            MigrateCommand::Up { fleet, .. } | MigrateCommand::Down { fleet, .. } => {
                Some(fleet.clone())
            }
            MigrateCommand::Current { fleet }
            | MigrateCommand::History { fleet, .. }
            | MigrateCommand::Check { fleet, .. } => Some(fleet.into()),
            _ => None,
        }
    }
}

/// A revision as the command line gives it.
pub(crate) fn parse_rev(text: &str) -> anyhow::Result<pgbaked::Rev> {
    Ok(text.parse::<pgbaked::Rev>()?)
}

/// `migrator`, running every migration in one transaction when `grouped` (`up --grouped`).
pub(crate) fn grouped_if(migrator: pgbaked::Migrator, grouped: bool) -> pgbaked::Migrator {
    if !grouped {
        return migrator;
    }
    migrator.with_options(|o| o.grouped = true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::{CommandFactory, Parser};

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        settings: Settings,
        #[command(subcommand)]
        command: MigrateCommand,
    }

    #[test]
    fn help_never_shows_the_database_url() {
        let help = Cli::command().render_long_help().to_string();
        assert!(help.contains("postgres://postgres:***@localhost"));
        assert!(!help.contains("postgres:postgres@"));
    }
}
