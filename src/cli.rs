//! The command line: `app` serves, `app --migrate` migrates then serves, `app migrate …` manages
//! the schema by hand. Results go to stdout, logs to stderr.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::{Args, Parser, Subcommand, ValueEnum};
use serde_json::json;

use pg_migrate::{
    self as migrate, Migration, Migrator, Options, Report, Rev, ScriptDirection, State, Status,
    Step,
};
use pg_migrate::{DEFAULT_DATABASE_URL, DatabaseConfig, parse_duration};

/// Writes a line of results to stdout. When the reader has gone (`app migrate history | head
/// -1`), the process ends quietly with success, as ripgrep does, instead of panicking.
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        if let Err(err) = writeln!(std::io::stdout().lock(), $($arg)*) {
            stdout_failed(&err);
        }
    }};
}

fn stdout_failed(err: &std::io::Error) -> ! {
    if err.kind() == std::io::ErrorKind::BrokenPipe {
        std::process::exit(0);
    }
    eprintln!("error: writing to stdout: {err}");
    std::process::exit(1);
}

const EXAMPLES: &str = "\
Examples:
  app --migrate                         apply pending migrations, then serve
  APP_MIGRATE=true app                  the same, for a container's environment
  app migrate up                        apply every pending migration
  app migrate down                      revert the newest migration
  app migrate history                   list applied and pending migrations
  app migrate up --sql > upgrade.sql    print the upgrade script without connecting";

/// A service binary that carries its own PostgreSQL schema.
///
/// The migrations in sql/ are embedded at build time. `app` serves HTTP; `app --migrate`
/// applies pending migrations first; `app migrate ...` manages the schema by hand.
#[derive(Debug, Parser)]
#[command(name = "app", version, after_long_help = EXAMPLES)]
pub struct Cli {
    /// Apply pending migrations before serving.
    #[arg(long, env = "APP_MIGRATE")]
    pub migrate: bool,

    /// The address to serve HTTP on.
    #[arg(long, env = "APP_LISTEN", default_value = "127.0.0.1:8000")]
    pub listen: SocketAddr,

    /// Options every command takes.
    #[command(flatten)]
    pub global: Global,

    /// What to do; serving when absent.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Options every command takes.
#[derive(Debug, Args)]
pub struct Global {
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
    /// transaction fails instead of stalling traffic [default: 10s] (0: the server's own).
    ///
    /// The default bounds transactional migrations only: a `-- no-transaction` one (CREATE
    /// INDEX CONCURRENTLY) waits for every older transaction by design, and is bounded only
    /// when this is given explicitly.
    #[arg(long, env = "APP_MIGRATION_LOCK_TIMEOUT", value_parser = parse_duration, global = true, value_name = "DURATION")]
    pub migration_lock_timeout: Option<Duration>,

    /// `statement_timeout` set inside each migration (0: the server's own).
    #[arg(long, env = "APP_MIGRATION_STATEMENT_TIMEOUT", default_value = "0", value_parser = parse_duration, global = true, value_name = "DURATION")]
    pub migration_statement_timeout: Duration,
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
    /// [`pg_migrate::InvalidDatabaseUrl`], which never repeats the URL.
    pub fn parse(&self) -> Result<DatabaseConfig, pg_migrate::InvalidDatabaseUrl> {
        self.0.parse()
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

/// Top-level commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Manage the schema: up, down, current, history, show, create, check, stamp, repair.
    #[command(subcommand)]
    Migrate(MigrateCommand),
}

/// `app migrate …`.
#[derive(Debug, Subcommand)]
pub enum MigrateCommand {
    /// Apply pending migrations up to REV (default: head).
    ///
    /// REV is head, base, +N, a version number or a name like V3__add_users. Each migration
    /// commits together with its history row.
    ///
    /// Examples:
    ///   app migrate up
    ///   app migrate up +1
    ///   app migrate up 2
    ///   app migrate up --sql > upgrade.sql
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
    },
    /// Revert applied migrations down to REV (default: -1), running their U files.
    ///
    /// REV is -N, base, a version number or a name. If a migration on the way has no undo
    /// file, nothing is changed.
    ///
    /// Examples:
    ///   app migrate down
    ///   app migrate down -2
    ///   app migrate down base
    ///   app migrate down base --sql --from head > teardown.sql
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
    },
    /// Print the applied version alone on a line ("base" if none).
    ///
    /// Example:
    ///   test "$(app migrate current)" = 2
    #[command(verbatim_doc_comment)]
    Current,
    /// List every migration: version, name, applied/pending, when.
    ///
    /// Examples:
    ///   app migrate history
    ///   app migrate history --verbose --format json
    #[command(verbatim_doc_comment)]
    History {
        /// Also show checksums and files.
        #[arg(long, short)]
        verbose: bool,
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
    /// Example:
    ///   app migrate create "add users email index"
    #[command(verbatim_doc_comment)]
    Create {
        /// What the migration does; becomes the file's description.
        message: String,
        /// Do not write an undo file.
        #[arg(long)]
        no_undo: bool,
        /// The migrations directory (default: ./sql, else the one this binary was built from).
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
    },
    /// Exit 0 when the database is in sync with the binary.
    ///
    /// Otherwise prints one line with the reason and exits 3 (pending migrations), 4 (an
    /// applied file was edited) or 5 (the database has versions this binary does not know).
    ///
    /// Example:
    ///   app migrate check || echo "schema out of sync"
    #[command(verbatim_doc_comment)]
    Check,
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
    /// Re-record the checksums of applied migrations whose files were edited, after review.
    ///
    /// Example:
    ///   app migrate repair
    #[command(verbatim_doc_comment)]
    Repair,
}

/// Exit code of `check` when migrations are pending.
pub const EXIT_PENDING: u8 = 3;
/// Exit code of `check` when an applied file was edited.
pub const EXIT_DIVERGENT: u8 = 4;
/// Exit code of `check` when the database has unknown versions.
pub const EXIT_UNKNOWN: u8 = 5;

/// Runs the parsed command line.
///
/// # Errors
///
/// Anything that should end the process with exit code 1.
pub async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    // A bad URL is a usage error, reported before anything else runs.
    cli.global.database_url.parse()?;
    let migrator = crate::schema::migrator(options(&cli.global))?;
    match cli.command {
        None => serve(&cli.global, cli.migrate, cli.listen, migrator).await,
        Some(Command::Migrate(command)) => run_migrate(&cli.global, command, migrator).await,
    }
}

fn options(global: &Global) -> Options {
    // PostgreSQL takes timeouts in milliseconds as a 32-bit integer (about 24.8 days).
    let limit = Duration::from_millis(i32::MAX as u64);
    let off_if_zero = |d: Duration| (!d.is_zero()).then_some(d.min(limit));
    // A cancel request opens a connection of its own, with the same TLS as the pool's.
    let cancel_tls = global
        .database_url
        .parse()
        .ok()
        .filter(|c| c.tls().mode != pg_migrate::SslMode::Disable)
        .and_then(|c| c.tls().connector().ok());
    Options {
        lock_wait: global.lock_timeout,
        strict: global.strict,
        lock_timeout: global
            .migration_lock_timeout
            .map_or(Options::default().lock_timeout, off_if_zero),
        no_transaction_lock_timeout: global.migration_lock_timeout.and_then(off_if_zero),
        statement_timeout: off_if_zero(global.migration_statement_timeout),
        cancel_tls: pg_migrate::CancelTls(cancel_tls),
        ..Options::default()
    }
}

async fn connect(global: &Global, role: &str) -> anyhow::Result<deadpool_postgres::Pool> {
    let config = global.database_url.parse()?.with_application_name(role);
    let pool = pg_migrate::pool(&config, 4)?;
    pg_migrate::wait_for(&pool, &config, global.wait)
        .await
        .map_err(|err| anyhow::anyhow!("{}", pg_migrate::pool_error_text(&err)))
        .with_context(|| format!("connecting to {config}"))?;
    Ok(pool)
}

async fn serve(
    global: &Global,
    migrate_first: bool,
    listen: SocketAddr,
    migrator: Migrator,
) -> anyhow::Result<ExitCode> {
    let pool = connect(global, "app").await?;
    if migrate_first {
        let mut quiet = |_: &Step| {};
        let report = migrator
            .up_until(&pool, &Rev::Head, &mut quiet, interrupt())
            .await
            .context("applying migrations at boot")?;
        tracing::info!(
            applied = report.steps.len(),
            current = ?report.to,
            "schema is up to date"
        );
    } else {
        let client = pool.get().await.context("connecting to the database")?;
        let rows = migrator.history(&client).await?;
        let status = migrator.status(&rows);
        let pending = status.versions(State::Pending);
        if !pending.is_empty() {
            tracing::warn!(
                ?pending,
                "migrations are pending; run `app migrate up` or boot with --migrate"
            );
        }
        let unknown = status.versions(State::Unknown);
        if !unknown.is_empty() {
            if global.strict {
                return Err(migrate::Error::Unknown { versions: unknown }.into());
            }
            tracing::warn!(
                ?unknown,
                "the database has versions this binary does not know"
            );
        }
    }
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("listening on {listen}"))?;
    tracing::info!(address = %listener.local_addr()?, "serving");
    let state = crate::server::AppState::new(pool, migrator);
    crate::server::serve(listener, state, crate::server::shutdown_signal()).await?;
    Ok(ExitCode::SUCCESS)
}

async fn run_migrate(
    global: &Global,
    command: MigrateCommand,
    migrator: Migrator,
) -> anyhow::Result<ExitCode> {
    let format = global.format;
    match command {
        MigrateCommand::Up {
            rev,
            sql: true,
            from,
            ..
        } => {
            let from = parse_rev(from.as_deref().unwrap_or("base"))?;
            print_script(&migrator, ScriptDirection::Up, &from, &parse_rev(&rev)?)
        }
        MigrateCommand::Down {
            rev,
            sql: true,
            from,
        } => {
            let from = parse_rev(from.as_deref().unwrap_or("head"))?;
            print_script(&migrator, ScriptDirection::Down, &from, &parse_rev(&rev)?)
        }
        MigrateCommand::Create {
            message,
            no_undo,
            dir,
        } => create(&message, no_undo, dir.as_deref(), format),
        MigrateCommand::Up { rev, grouped, .. } => {
            let rev = parse_rev(&rev)?;
            let migrator = if grouped {
                Migrator::new(
                    migrator.migrations().to_vec(),
                    Options {
                        grouped: true,
                        ..migrator.options().clone()
                    },
                )
            } else {
                migrator
            };
            let pool = connect(global, "app migrate").await?;
            let mut done = Vec::new();
            let mut print = step_printer(format, &mut done);
            let result = migrator
                .up_until(&pool, &rev, &mut print, interrupt())
                .await;
            drop(print);
            let report = with_committed(result, done)?;
            finish_report(&report, format);
            Ok(ExitCode::SUCCESS)
        }
        MigrateCommand::Down { rev, .. } => {
            let rev = parse_rev(&rev)?;
            let pool = connect(global, "app migrate").await?;
            let mut done = Vec::new();
            let mut print = step_printer(format, &mut done);
            let result = migrator
                .down_until(&pool, &rev, &mut print, interrupt())
                .await;
            drop(print);
            let report = with_committed(result, done)?;
            finish_report(&report, format);
            Ok(ExitCode::SUCCESS)
        }
        MigrateCommand::Stamp { rev } => {
            let rev = parse_rev(&rev)?;
            let pool = connect(global, "app migrate").await?;
            let report = migrator.stamp(&pool, &rev).await?;
            print_report(&report, format);
            Ok(ExitCode::SUCCESS)
        }
        MigrateCommand::Repair => {
            let pool = connect(global, "app migrate").await?;
            let report = migrator.repair(&pool).await?;
            print_report(&report, format);
            Ok(ExitCode::SUCCESS)
        }
        MigrateCommand::Current
        | MigrateCommand::History { .. }
        | MigrateCommand::Show { .. }
        | MigrateCommand::Check => {
            let pool = connect(global, "app migrate").await?;
            let client = pool.get().await.context("connecting to the database")?;
            let rows = migrator.history(&client).await?;
            let status = migrator.status(&rows);
            match command {
                MigrateCommand::Current => print_current(&status, format),
                MigrateCommand::History { verbose } => print_history(&status, verbose, format),
                MigrateCommand::Show { rev } => {
                    let Some(m) = status.resolve(&parse_rev(&rev)?)? else {
                        bail!("`{rev}` is base, which is no migration");
                    };
                    print_show(&status, m, format)
                }
                _ => Ok(check(&status, format)),
            }
        }
    }
}

/// SIGTERM or SIGINT during a migration: the engine rolls the migration in progress back and
/// releases the lock, then the command fails.
///
/// A second signal while the cancel is pending ends the process at once: the server rolls back
/// the migration in progress and frees the lock when the connection closes.
async fn interrupt() {
    let name = crate::server::termination().await;
    tracing::warn!("{name} received, stopping the migration run (again to exit at once)");
    tokio::spawn(async {
        let name = crate::server::termination().await;
        eprintln!("error: {name} received again: exiting without waiting for the rollback");
        std::process::exit(1);
    });
}

fn parse_rev(text: &str) -> anyhow::Result<Rev> {
    Ok(text.parse::<Rev>()?)
}

fn print_script(
    migrator: &Migrator,
    direction: ScriptDirection,
    from: &Rev,
    to: &Rev,
) -> anyhow::Result<ExitCode> {
    let script = migrator.script(direction, from, to)?;
    out!("{}", script.trim_end_matches('\n'));
    Ok(ExitCode::SUCCESS)
}

/// Prints each step as it commits, so a long run shows progress and a failed run shows what
/// did finish.
fn step_printer(format: Format, done: &mut Vec<Step>) -> impl FnMut(&Step) + Send + '_ {
    move |step: &Step| {
        done.push(step.clone());
        if format == Format::Text {
            use std::io::Write as _;
            // A closed stdout must not stop a run half way: the progress is lost, the run
            // goes on, and its outcome is the exit code.
            let _ = writeln!(
                std::io::stdout().lock(),
                "{:<9} {:<5} {}  ({} ms)",
                step.direction.as_str(),
                format!("V{}", step.version),
                step.name,
                step.elapsed_ms
            );
        }
    }
}

/// The steps a failed run committed before it failed: they stay applied and recorded, and the
/// error says so (and `--format json` lists them).
#[derive(Debug)]
pub struct Committed(pub Vec<Step>);

impl std::fmt::Display for Committed {
    /// One short clause however long the run: `142 migrations reverted (V212 … V71)`; the
    /// whole list is in `--format json`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (Some(first), Some(last)) = (self.0.first(), self.0.last()) else {
            return f.write_str("nothing committed before the failure");
        };
        let count = self.0.len();
        let noun = if count == 1 {
            "migration"
        } else {
            "migrations"
        };
        let verb = first.direction.as_str();
        let names = match count {
            1 => format!("V{}__{}", first.version, first.name),
            2 => format!("V{}, V{}", first.version, last.version),
            _ => format!("V{} … V{}", first.version, last.version),
        };
        write!(
            f,
            "{count} {noun} {verb} ({names}), committed before the failure"
        )
    }
}

fn with_committed(
    result: Result<Report, migrate::Error>,
    done: Vec<Step>,
) -> anyhow::Result<Report> {
    match result {
        Ok(report) => Ok(report),
        Err(err) if done.is_empty() => Err(err.into()),
        Err(err) => Err(anyhow::Error::new(err).context(Committed(done))),
    }
}

fn finish_report(report: &Report, format: Format) {
    match format {
        Format::Json => out!("{}", json!(report)),
        Format::Text if report.steps.is_empty() => {
            tracing::info!(current = ?report.to, "nothing to do");
        }
        Format::Text => {}
    }
}

/// Prints a stamp or repair report.
fn print_report(report: &Report, format: Format) {
    match format {
        Format::Json => out!("{}", json!(report)),
        Format::Text => {
            for step in &report.steps {
                let version = format!("V{}", step.version);
                match (&step.old_checksum, &step.new_checksum) {
                    (Some(old), Some(new)) => out!(
                        "{:<9} {version:<5} {}  checksum {old} -> {new}",
                        step.direction.as_str(),
                        step.name,
                    ),
                    _ => out!("{:<9} {version:<5} {}", step.direction.as_str(), step.name),
                }
            }
            if report.steps.is_empty() {
                tracing::info!("nothing to do");
            }
        }
    }
}

fn version_text(version: Option<i64>) -> String {
    version.map_or_else(|| "base".into(), |v| v.to_string())
}

fn print_current(status: &Status<'_>, format: Format) -> anyhow::Result<ExitCode> {
    match format {
        Format::Text => out!("{}", version_text(status.current())),
        Format::Json => out!(
            "{}",
            json!({ "current": status.current(), "head": status.head() })
        ),
    }
    Ok(ExitCode::SUCCESS)
}

fn print_history(status: &Status<'_>, verbose: bool, format: Format) -> anyhow::Result<ExitCode> {
    let entries: Vec<serde_json::Value> = status
        .entries
        .iter()
        .map(|e| {
            let mut value = json!({
                "version": e.version,
                "name": e.name,
                "state": e.state,
                "applied_on": e.row.as_ref().map(|r| &r.applied_on),
            });
            if verbose {
                value["checksum"] = json!(e.migration.map(|m| m.checksum().to_string()));
                value["applied_checksum"] = json!(e.row.as_ref().map(|r| &r.checksum));
                value["file"] = json!(e.migration.map(|m| &m.apply().path));
                value["undo_file"] = json!(e.migration.and_then(|m| m.undo()).map(|u| &u.path));
                value["transaction"] = json!(e.migration.map(|m| !m.apply().no_transaction));
            }
            value
        })
        .collect();
    if format == Format::Json {
        out!("{}", serde_json::Value::Array(entries));
        return Ok(ExitCode::SUCCESS);
    }
    let name_width = status
        .entries
        .iter()
        .map(|e| e.name.len())
        .max()
        .unwrap_or(0);
    let version_width = status
        .entries
        .iter()
        .map(|e| e.version.to_string().len() + 1)
        .max()
        .unwrap_or(0);
    for e in &status.entries {
        let mut line = format!(
            "{:<9} {:<version_width$}  {:<name_width$}  {}",
            e.state.as_str(),
            format!("V{}", e.version),
            e.name,
            e.row.as_ref().map_or("", |r| r.applied_on.as_str())
        );
        if verbose {
            let checksum = e
                .migration
                .map_or_else(|| "-".into(), |m| m.checksum().to_string());
            let file = e.migration.map_or("-", |m| m.apply().path.as_str());
            let undo = e
                .migration
                .and_then(|m| m.undo())
                .map_or("-", |u| u.path.as_str());
            line = format!(
                "{:<9} {:<version_width$}  {:<name_width$}  {:<27}  {checksum:<20}  {file}  {undo}",
                e.state.as_str(),
                format!("V{}", e.version),
                e.name,
                e.row.as_ref().map_or("", |r| r.applied_on.as_str()),
            );
        }
        out!("{}", line.trim_end());
    }
    Ok(ExitCode::SUCCESS)
}

fn print_show(status: &Status<'_>, m: &Migration, format: Format) -> anyhow::Result<ExitCode> {
    let entry = status.entries.iter().find(|e| e.version == m.version());
    let state = entry.map_or(State::Pending, |e| e.state);
    let applied_on = entry
        .and_then(|e| e.row.as_ref())
        .map(|r| r.applied_on.clone());
    if format == Format::Json {
        out!(
            "{}",
            json!({
                "version": m.version(),
                "name": m.name(),
                "state": state,
                "checksum": m.checksum().to_string(),
                "applied_on": applied_on,
                "file": m.apply().path,
                "transaction": !m.apply().no_transaction,
                "sql": m.apply().sql,
                "undo_file": m.undo().map(|u| &u.path),
                "undo_sql": m.undo().map(|u| &u.sql),
            })
        );
        return Ok(ExitCode::SUCCESS);
    }
    out!("version:     {}", m.version());
    out!("name:        {}", m.name());
    out!("state:       {}", state.as_str());
    out!("applied on:  {}", applied_on.as_deref().unwrap_or("-"));
    out!("checksum:    {}", m.checksum());
    out!(
        "transaction: {}",
        if m.apply().no_transaction {
            "no"
        } else {
            "yes"
        }
    );
    out!("file:        {}", m.apply().path);
    out!(
        "undo file:   {}",
        m.undo().map_or("- (irreversible)", |u| u.path.as_str())
    );
    out!("\n-- {}\n{}", m.apply().path, m.apply().sql.trim_end());
    if let Some(undo) = m.undo() {
        out!("\n-- {}\n{}", undo.path, undo.sql.trim_end());
    }
    Ok(ExitCode::SUCCESS)
}

fn check(status: &Status<'_>, format: Format) -> ExitCode {
    let divergent = status.versions(State::Divergent);
    let unknown = status.versions(State::Unknown);
    let pending = status.versions(State::Pending);
    let list = |v: &[i64]| {
        v.iter()
            .map(|v| format!("V{v}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let (code, state, reason) = if !divergent.is_empty() {
        (
            EXIT_DIVERGENT,
            "divergent",
            format!(
                "applied migrations were edited since: {} (see `app migrate repair`)",
                list(&divergent)
            ),
        )
    } else if !unknown.is_empty() {
        (
            EXIT_UNKNOWN,
            "unknown",
            format!(
                "the database has versions this binary does not know: {}",
                list(&unknown)
            ),
        )
    } else if !pending.is_empty() {
        (
            EXIT_PENDING,
            "pending",
            format!("migrations are pending: {}", list(&pending)),
        )
    } else {
        (
            0,
            "in_sync",
            format!("in sync at {}", version_text(status.current())),
        )
    };
    match format {
        Format::Json => out!(
            "{}",
            json!({
                "state": state,
                "reason": reason,
                "current": status.current(),
                "head": status.head(),
                "pending": pending,
                "divergent": divergent,
                "unknown": unknown,
            })
        ),
        Format::Text => out!("{reason}"),
    }
    ExitCode::from(code)
}

/// `app migrate create`: the next version (a timestamp if the set uses timestamps), refusing to
/// overwrite anything.
fn create(
    message: &str,
    no_undo: bool,
    dir: Option<&Path>,
    format: Format,
) -> anyhow::Result<ExitCode> {
    let slug = slugify(message);
    if slug.is_empty() {
        bail!("the message `{message}` has no letters or digits to name the file after");
    }
    let dir = match dir {
        Some(dir) => dir.to_path_buf(),
        None if Path::new("sql").is_dir() => PathBuf::from("sql"),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("sql"),
    };
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let root = dir.parent().unwrap_or(Path::new("."));
    let scan = pg_migrate::source::scan(root, &dir).map_err(|problems| {
        let lines: Vec<String> = problems.iter().map(ToString::to_string).collect();
        anyhow::anyhow!("{} has bad files:\n  {}", dir.display(), lines.join("\n  "))
    })?;
    let highest = scan.migrations.iter().map(|m| m.version).max().unwrap_or(0);
    let version = next_version(highest, time::OffsetDateTime::now_utc());
    let apply = dir.join(format!("V{version}__{slug}.sql"));
    let undo = dir.join(format!("U{version}__{slug}.sql"));
    let mut written = Vec::new();
    let header = |kind: &str| {
        format!(
            "-- {kind} V{version}: {message}\n-- Add `-- no-transaction` as the first line to run outside a transaction\n-- (for CREATE INDEX CONCURRENTLY); such a file holds exactly one statement.\n\n"
        )
    };
    write_new(&apply, &header("Applies"))?;
    written.push(apply);
    if !no_undo {
        write_new(&undo, &header("Undoes"))?;
        written.push(undo);
    }
    match format {
        Format::Json => out!(
            "{}",
            json!({ "version": version, "files": written.iter().map(|p| p.display().to_string()).collect::<Vec<_>>() })
        ),
        Format::Text => {
            for path in &written {
                out!("{}", path.display());
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn write_new(path: &Path, content: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .with_context(|| format!("refusing to overwrite {}", path.display()))?;
    file.write_all(content.as_bytes())
        .with_context(|| format!("writing {}", path.display()))
}

/// `highest + 1`, or the current UTC time as `YYYYMMDDHHMMSS` when the set already uses
/// timestamps (and never below `highest + 1`).
fn next_version(highest: i64, now: time::OffsetDateTime) -> i64 {
    // Versions of 12 digits or more (YYYYMMDDHHMM, YYYYMMDDHHMMSS) are timestamps.
    const TIMESTAMP_FLOOR: i64 = 100_000_000_000;
    let next = highest.saturating_add(1);
    if highest < TIMESTAMP_FLOOR {
        return next;
    }
    let stamp = i64::from(now.year()) * 10_000_000_000
        + i64::from(u8::from(now.month())) * 100_000_000
        + i64::from(now.day()) * 1_000_000
        + i64::from(now.hour()) * 10_000
        + i64::from(now.minute()) * 100
        + i64::from(now.second());
    stamp.max(next)
}

fn slugify(message: &str) -> String {
    let mut slug = String::new();
    for c in message.chars() {
        if c.is_ascii_alphanumeric() {
            slug.push(c.to_ascii_lowercase());
        } else if !slug.ends_with('_') && !slug.is_empty() {
            slug.push('_');
        }
    }
    slug.trim_end_matches('_').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_become_file_names() {
        assert_eq!(slugify("Add users email index"), "add_users_email_index");
        assert_eq!(
            slugify("  move tokens -> swagger_specs!  "),
            "move_tokens_swagger_specs"
        );
        assert_eq!(slugify("Добавить"), "");
    }

    #[test]
    fn next_version_follows_the_set() {
        let now = time::macros::datetime!(2026-11-22 09:30:00 UTC);
        assert_eq!(next_version(0, now), 1);
        assert_eq!(next_version(2, now), 3);
        assert_eq!(next_version(20260101000000, now), 20261122093000);
        assert_eq!(next_version(20991231000000, now), 20991231000001);
    }

    #[test]
    fn a_long_run_is_summarised_in_one_clause() {
        let step = |version: i64| Step {
            direction: migrate::Direction::Reverted,
            version,
            name: format!("m{version}"),
            elapsed_ms: 1,
            old_checksum: None,
            new_checksum: None,
        };
        let many = Committed((71..=212).rev().map(step).collect());
        assert_eq!(
            many.to_string(),
            "142 migrations reverted (V212 … V71), committed before the failure"
        );
        let one = Committed(vec![step(3)]);
        assert_eq!(
            one.to_string(),
            "1 migration reverted (V3__m3), committed before the failure"
        );
    }

    #[test]
    fn help_never_shows_the_database_url() {
        use clap::CommandFactory;
        let help = Cli::command().render_long_help().to_string();
        assert!(help.contains("postgres://postgres:***@localhost"));
        assert!(!help.contains("postgres:postgres@"));
    }
}
