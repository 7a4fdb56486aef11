//! Running the commands: connecting, the migrator's options, and each `migrate` command.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, bail};
use std::path::{Path, PathBuf};

use pgbaked::deadpool_postgres::Pool;
use pgbaked::diff::Difference;
use pgbaked::{Direction, Migrator, Options, Rev, Scratch};

use crate::Service;
use crate::args::{MigrateCommand, Settings};
use crate::output::*;

/// The migrator's options from the command line's settings.
pub(crate) fn options(global: &Settings) -> Options {
    // PostgreSQL takes timeouts in milliseconds as a 32-bit integer (about 24.8 days).
    let limit = Duration::from_millis(i32::MAX as u64);
    let off_if_zero = |d: Duration| (!d.is_zero()).then_some(d.min(limit));
    // A cancel request opens a connection of its own, with the same TLS as the pool's.
    let cancel_tls = global
        .database_url
        .parse()
        .ok()
        .filter(|c| c.tls().mode != pgbaked::SslMode::Disable)
        .and_then(|c| c.tls().connector().ok());
    Options {
        lock_wait: global.lock_timeout,
        strict: global.strict,
        lock_timeout: global
            .migration_lock_timeout
            .map_or(Options::default().lock_timeout, off_if_zero),
        no_transaction_lock_timeout: global.migration_lock_timeout.and_then(off_if_zero),
        statement_timeout: off_if_zero(global.migration_statement_timeout),
        lock_retries: global.migration_lock_retries,
        cancel_tls: pgbaked::CancelTls(cancel_tls),
        ..Options::default()
    }
}

/// Warns before a command writes through the default URL into the server's `postgres`
/// maintenance database: a migration set applied there by mistake is easy to miss and awkward
/// to take back.
pub(crate) fn warn_if_maintenance_database(settings: &Settings) {
    let environment = std::env::var_os("DATABASE_URL");
    if let Some(warning) = maintenance_warning(&settings.database_url, environment.as_deref()) {
        eprintln!("{warning}");
    }
}

/// The warning for a write through `url` when `DATABASE_URL` holds `environment`: only the
/// built-in default, taken because nothing named another, into a database named `postgres`.
fn maintenance_warning(
    url: &crate::args::DatabaseUrl,
    environment: Option<&std::ffi::OsStr>,
) -> Option<&'static str> {
    let maintenance = url
        .parse()
        .ok()
        .is_some_and(|c| c.pg().get_dbname() == Some("postgres"));
    (url.is_default_given(environment) && maintenance).then_some(
        "warning: writing to the server's `postgres` maintenance database, because DATABASE_URL is not set; \
         set DATABASE_URL (or --database-url) to the service's own database",
    )
}

/// A pool for `settings`' database, its connections named `role` (`application_name`), after
/// waiting for the server as `--wait` says.
///
/// # Errors
///
/// A bad URL or TLS setting, or the connection error once the wait is over.
pub async fn connect(
    settings: &Settings,
    role: &str,
) -> anyhow::Result<pgbaked::deadpool_postgres::Pool> {
    let (pool, config) = lazy_pool(settings, role)?;
    wait(settings, &pool, &config).await?;
    Ok(pool)
}

/// A pool for `settings`' database that has not connected yet (it connects on first use).
///
/// # Errors
///
/// A bad URL or TLS setting.
pub(crate) fn lazy_pool(
    settings: &Settings,
    role: &str,
) -> anyhow::Result<(Pool, pgbaked::DatabaseConfig)> {
    let config = settings.database_url.parse()?.with_application_name(role);
    // The seeds' default stays, but never silently: a command run without DATABASE_URL in its
    // environment says where it went.
    if settings.database_url.is_default() {
        eprintln!("note: DATABASE_URL is not set: using the default, {config}");
    }
    let pool = pgbaked::pool(&config, 4)?;
    Ok((pool, config))
}

/// Waits for `pool`'s server as `--wait` says.
pub(crate) async fn wait(
    settings: &Settings,
    pool: &Pool,
    config: &pgbaked::DatabaseConfig,
) -> anyhow::Result<()> {
    pgbaked::wait_for(pool, config, settings.wait)
        .await
        .map_err(|err| anyhow::anyhow!("{}", pgbaked::pool_error_text(&err)))
        .with_context(|| format!("connecting to {config}"))?;
    Ok(())
}

pub(crate) async fn run_migrate(
    service: &Service,
    global: &Settings,
    command: MigrateCommand,
    migrator: Migrator,
) -> anyhow::Result<ExitCode> {
    let format = global.format;
    // `?schema=NAME`: the offline script pins search_path as online runs do.
    let schema = global
        .database_url
        .parse()
        .ok()
        .and_then(|c| c.schema().map(str::to_string));
    if let Some(fleet) = command.fleet().filter(|f| f.given()) {
        return crate::fleet::run(service, global, &command, fleet, migrator).await;
    }
    match command {
        MigrateCommand::Up {
            rev,
            sql: true,
            from,
            ..
        } => {
            let from = parse_rev(from.as_deref().unwrap_or("base"))?;
            print_script(
                &migrator,
                schema.as_deref(),
                Direction::Up,
                &from,
                &parse_rev(&rev)?,
            )
        }
        MigrateCommand::Down {
            rev,
            sql: true,
            from,
            ..
        } => {
            let from = parse_rev(from.as_deref().unwrap_or("head"))?;
            print_script(
                &migrator,
                schema.as_deref(),
                Direction::Down,
                &from,
                &parse_rev(&rev)?,
            )
        }
        MigrateCommand::Create {
            message,
            dir,
            autogenerate: true,
            schema,
            allow_data_loss,
            allow_hazards,
            timestamp,
            ..
        } => {
            let declared = schema_dir(schema.as_deref(), service).ok_or_else(|| {
                anyhow::anyhow!(
                    "--autogenerate needs the declared schema: no ./schema, and none where the binary was built (use --schema DIR)"
                )
            })?;
            crate::create::refuse_stale(
                &crate::create::migrations_dir(dir.as_deref(), service.source_dir.as_deref()),
                migrator.migrations(),
                false,
            )?;
            let plan = crate::autogenerate::plan(global, &migrator, &declared).await?;
            let mut accepted = allow_hazards;
            if allow_data_loss {
                accepted.extend([
                    pgbaked::diff::HazardKind::DeletesData,
                    pgbaked::diff::HazardKind::BreaksClients,
                    pgbaked::diff::HazardKind::MayFail,
                ]);
            }
            crate::autogenerate::write(
                plan,
                &message,
                &accepted,
                timestamp,
                dir.as_deref(),
                service.source_dir.as_deref(),
                format,
            )
        }
        MigrateCommand::Create {
            message,
            no_undo,
            timestamp,
            dir,
            ..
        } => crate::create::create(
            &message,
            no_undo,
            timestamp,
            dir.as_deref(),
            service.source_dir.as_deref(),
            migrator.migrations(),
            format,
        ),
        MigrateCommand::Clean { dry_run } => clean(global, dry_run, format).await,
        MigrateCommand::Renumber { migration, to, dir } => crate::renumber::renumber(
            &migration,
            to,
            dir.as_deref(),
            service.source_dir.as_deref(),
            format,
        ),
        MigrateCommand::Up {
            rev,
            grouped,
            contract,
            ..
        } => {
            let rev = parse_rev(&rev)?;
            warn_if_maintenance_database(global);
            let migrator = grouped_if(migrator, grouped);
            // By hand as at boot, a contract waits for the older release's replicas unless
            // `--contract` says to go ahead.
            let migrator = migrator
                .with_options(|o| o.contract_guard = (!contract).then(|| service.name.clone()));
            let pool = connect(global, &service.role("migrate")).await?;
            let mut done = Vec::new();
            let mut print = step_printer(format, &mut done);
            let result = migrator
                .up_until(&pool, &rev, &mut print, interrupt())
                .await;
            drop(print);
            let report = with_committed(result, done)?;
            finish_report(&report, format);
            if !report.held.is_empty() && format == crate::args::Format::Text {
                eprintln!(
                    "held back: {} (a contract migration and what follows it), while replicas of an \
                     older release are connected; run again once they are gone, or with --contract",
                    report
                        .held
                        .iter()
                        .map(|v| format!("V{v}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        MigrateCommand::Down { rev, .. } => {
            let rev = parse_rev(&rev)?;
            warn_if_maintenance_database(global);
            let pool = connect(global, &service.role("migrate")).await?;
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
            warn_if_maintenance_database(global);
            let pool = connect(global, &service.role("migrate")).await?;
            let report = migrator.stamp(&pool, &rev).await?;
            print_report(&report, format);
            Ok(ExitCode::SUCCESS)
        }
        MigrateCommand::Repair => {
            warn_if_maintenance_database(global);
            let pool = connect(global, &service.role("migrate")).await?;
            let report = migrator.repair(&pool).await?;
            print_report(&report, format);
            Ok(ExitCode::SUCCESS)
        }
        MigrateCommand::Drift => {
            let pool = connect(global, &service.role("migrate")).await?;
            let differences = drift(global, &pool, &migrator).await?;
            Ok(print_differences(
                &differences,
                "drift",
                ("the replay of its history", "the database"),
                "the database holds what its history builds",
                EXIT_DRIFT,
                format,
            ))
        }
        MigrateCommand::Diff { from, to } => {
            let (from, to) = (Source::parse(&from)?, Source::parse(&to)?);
            let table = scratch_table(&migrator);
            // Scratch databases only for the sides that must be built.
            let needed = [&from, &to].iter().filter(|s| s.needs_scratch()).count();
            let (from_catalog, to_catalog) =
                with_scratch(global, true, needed, async |scratch: &[Scratch]| {
                    let mut scratch = scratch.iter();
                    let mut next = |source: &Source| {
                        if source.needs_scratch() {
                            scratch.next()
                        } else {
                            None
                        }
                    };
                    let (from_scratch, to_scratch) = (next(&from), next(&to));
                    // Both sides at once: each is its own connection (and server process).
                    tokio::try_join!(
                        from.catalog(from_scratch, &migrator, &table, global.with_privileges),
                        to.catalog(to_scratch, &migrator, &table, global.with_privileges),
                    )
                })
                .await?;
            // Renames declared in the target's files (`-- renamed from: old`).
            let renames = match &to {
                Source::Files(path) => pgbaked::declared_renames_in(path)?,
                _ => Vec::new(),
            };
            let plan = from_catalog.plan_with_renames(&to_catalog, &renames);
            print_plan(
                &plan,
                &from_catalog.diff(&to_catalog),
                (&from.to_string(), &to.to_string()),
                format,
            );
            // Never a plan that looks complete when it is not: a script piped into psql would
            // leave the difference behind without a word.
            let unsupported: Vec<&str> = plan
                .iter()
                .filter(|c| c.is_unsupported())
                .map(|c| c.sql.as_str())
                .collect();
            if unsupported.is_empty() {
                Ok(ExitCode::SUCCESS)
            } else {
                eprintln!(
                    "error: {} change(s) cannot be generated and must be written by hand:\n  {}",
                    unsupported.len(),
                    unsupported.join("\n  ")
                );
                Ok(ExitCode::from(crate::EXIT_UNSUPPORTED))
            }
        }
        MigrateCommand::Current { .. }
        | MigrateCommand::History { .. }
        | MigrateCommand::Show { .. }
        | MigrateCommand::Check { .. } => {
            if matches!(command, MigrateCommand::Check { .. }) {
                crate::create::refuse_stale(
                    &crate::create::migrations_dir(None, service.source_dir.as_deref()),
                    migrator.migrations(),
                    false,
                )?;
            }
            let pool = connect(global, &service.role("migrate")).await?;
            let client = pool.get().await.context("connecting to the database")?;
            let rows = migrator.history(&client).await?;
            let status = migrator.status(&rows);
            match command {
                MigrateCommand::Current { .. } => print_current(&status, format),
                MigrateCommand::History { verbose, .. } => print_history(&status, verbose, format),
                MigrateCommand::Show { rev } => {
                    let Some(m) = status.resolve(&parse_rev(&rev)?)? else {
                        bail!("`{rev}` is base, which is no migration");
                    };
                    print_show(&status, m, format)
                }
                MigrateCommand::Check { schema, .. } => {
                    let declared = schema_dir(schema.as_deref(), service);
                    let differences = match &declared {
                        Some(dir) => Some((
                            dir.as_path(),
                            declared_differences(global, &migrator, dir).await?,
                        )),
                        None => None,
                    };
                    Ok(check(&status, differences, format))
                }
                _ => unreachable!("the outer match lists the commands"),
            }
        }
    }
}

/// A schema to compare: a database, SQL files, or the migrations replayed.
enum Source {
    /// A live database, read where it is (nothing is written to it); boxed, its settings
    /// being large beside the other sides.
    Database(Box<pgbaked::DatabaseConfig>),
    /// A directory or file of SQL, loaded into a scratch database.
    Files(PathBuf),
    /// The embedded migrations replayed to a revision in a scratch database.
    Migrations(Rev),
}

impl Source {
    fn parse(text: &str) -> anyhow::Result<Source> {
        if text.contains("://") {
            return Ok(Source::Database(Box::new(text.parse()?)));
        }
        if text == "migrations" {
            return Ok(Source::Migrations(Rev::Head));
        }
        if let Some(rev) = text.strip_prefix("migrations@") {
            return Ok(Source::Migrations(parse_rev(rev)?));
        }
        let path = PathBuf::from(text);
        if !path.exists() {
            bail!(
                "`{text}` is neither a database URL, `migrations`, `migrations@REV`, nor an existing file or directory"
            );
        }
        Ok(Source::Files(path))
    }

    /// Whether it is built in a scratch database rather than read in place.
    fn needs_scratch(&self) -> bool {
        !matches!(self, Source::Database(_))
    }

    /// Its catalog; `scratch` is the database to build it in when it must be built.
    async fn catalog(
        &self,
        scratch: Option<&Scratch>,
        migrator: &Migrator,
        table: &str,
        privileges: bool,
    ) -> Result<pgbaked::diff::Catalog, pgbaked::Error> {
        let scratch = || {
            scratch.ok_or_else(|| pgbaked::Error::Scratch {
                reason: "no scratch database for this side".into(),
            })
        };
        match self {
            Source::Database(config) => {
                let pool = pgbaked::pool(config, 1).map_err(|err| pgbaked::Error::Scratch {
                    reason: err.to_string(),
                })?;
                let client = pool.get().await.map_err(pgbaked::Error::Pool)?;
                pgbaked::diff::Catalog::read_with(
                    &client,
                    &pgbaked::history_tables(table),
                    privileges,
                )
                .await
            }
            Source::Files(path) => {
                scratch()?.load(path).await?;
                scratch()?.catalog(table).await
            }
            Source::Migrations(rev) => {
                scratch()?.replay(migrator.migrations(), rev, table).await?;
                scratch()?.catalog(table).await
            }
        }
    }
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            // The config's Display: never the password.
            Source::Database(config) => write!(f, "{config}"),
            Source::Files(path) => write!(f, "{}", path.display()),
            Source::Migrations(rev) => write!(f, "migrations@{rev}"),
        }
    }
}

/// `migrator`, running every migration in one transaction when `grouped` (`up --grouped`).
pub(crate) fn grouped_if(migrator: Migrator, grouped: bool) -> Migrator {
    if !grouped {
        return migrator;
    }
    migrator.with_options(|o| o.grouped = true)
}

/// The history table as scratch databases and catalogs name it: bare. A `?schema=` target
/// keeps its history in its schema, which a scratch database does not have, and catalogs
/// leave history tables out by their bare name.
pub(crate) fn scratch_table(migrator: &Migrator) -> String {
    let table = &migrator.options().table;
    table
        .rsplit_once('.')
        .map_or_else(|| table.clone(), |(_, bare)| bare.to_string())
}

/// The declared schema: `--schema`, else `./schema`, else the one the binary was built from.
fn schema_dir(explicit: Option<&Path>, service: &Service) -> Option<PathBuf> {
    if let Some(dir) = explicit {
        return Some(dir.to_path_buf());
    }
    let local = Path::new("schema");
    if local.is_dir() {
        return Some(local.to_path_buf());
    }
    service.schema_dir.clone().filter(|dir| dir.is_dir())
}

/// The local server, tried after the environment's URLs, as the test harness does.
const LOCAL_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// Where scratch databases go: `--dev-url` (`APP_DEV_DATABASE_URL`), else `TEST_DATABASE_URL`,
/// else the target's own server unless `beside_target` is false (`drift` reads production and
/// never builds there), else the local server if it answers. The test harness's order, so a
/// replay is cloned from the template its tests already built.
async fn scratch_server(
    settings: &Settings,
    beside_target: bool,
) -> anyhow::Result<(pgbaked::DatabaseConfig, Pool)> {
    let named = match &settings.dev_url {
        Some(url) => Some(url.parse()?),
        None => match std::env::var("TEST_DATABASE_URL") {
            Ok(url) => Some(url.parse::<pgbaked::DatabaseConfig>()?),
            Err(_) => None,
        },
    };
    let given = match named {
        Some(config) => Some(config),
        None if beside_target => Some(settings.database_url.parse()?),
        None => None,
    };
    if let Some(config) = given {
        let pool = pgbaked::pool(&config, 2)?;
        return Ok((config, pool));
    }
    // The local server is a guess: used when it answers, unless the service's own server
    // takes precedence (its choice: `app` forces its development cluster in its tests).
    let local: pgbaked::DatabaseConfig = LOCAL_URL.parse()?;
    let local_pool = pgbaked::pool(&local, 2)?;
    let answers = matches!(
        tokio::time::timeout(std::time::Duration::from_secs(2), local_pool.get()).await,
        Ok(Ok(_))
    );
    if let Some(start) = settings.dev_server {
        let started = tokio::task::spawn_blocking(move || start(answers))
            .await
            .context("starting the development cluster")??;
        if let Some(url) = started {
            let config: pgbaked::DatabaseConfig = url.parse()?;
            let pool = pgbaked::pool(&config, 2)?;
            return Ok((config, pool));
        }
    }
    if answers {
        return Ok((local, local_pool));
    }
    bail!(
        "no dev server for scratch databases: `drift` never builds its replay on the database it \
         inspects, and nothing answers at {LOCAL_URL}; set --dev-url (APP_DEV_DATABASE_URL) or \
         TEST_DATABASE_URL"
    )
}

/// Names `count` scratch databases on the dev server (see [`scratch_server`]), runs `work` on
/// them, and drops them whatever happened. A replay in one is a clone of the server's cached
/// template of that migration set.
pub(crate) async fn with_scratch<T>(
    settings: &Settings,
    beside_target: bool,
    count: usize,
    work: impl AsyncFnOnce(&[Scratch]) -> Result<T, pgbaked::Error>,
) -> anyhow::Result<T> {
    if count == 0 {
        return Ok(work(&[]).await?);
    }
    let (config, _) = scratch_server(settings, beside_target).await?;
    // The scratch work's own notices (`… does not exist, skipping`) are not shown.
    let config = config.without_notices();
    let pool = pgbaked::pool(&config, 2)?;
    let mut scratches = Vec::with_capacity(count);
    for _ in 0..count {
        match Scratch::create(&pool, &config).await {
            Ok(scratch) => scratches.push(scratch.with_privileges(settings.with_privileges)),
            // Name the server, which may be the dev server rather than the target.
            Err(err) => {
                return Err(anyhow::Error::new(err).context(format!(
                    "creating a scratch database on {config} (see --dev-url)"
                )));
            }
        }
    }
    let outcome = work(&scratches).await;
    for scratch in scratches {
        if let Err(err) = scratch.drop().await {
            tracing::warn!(error = %err, "dropping a scratch database");
        }
    }
    pool.close();
    Ok(outcome?)
}

/// The name patterns (`LIKE`) of what the tool and its test harness leave on a dev server:
/// templates, scratch databases of killed runs, the harness's spare clones and the databases
/// failed tests keep for inspection.
const LEFTOVERS: [&str; 4] = [
    "pgm\\_tpl\\_%",
    "pgm\\_scratch\\_%",
    "app\\_spare\\_%",
    "app\\_test\\_%",
];

/// `migrate clean`: drops the leftovers on the dev server, skipping (and naming) any in use.
async fn clean(
    settings: &Settings,
    dry_run: bool,
    format: crate::args::Format,
) -> anyhow::Result<ExitCode> {
    let (config, _) = scratch_server(settings, true).await?;
    let config = config.without_notices();
    let pool = pgbaked::pool(&config, 1)?;
    let client = pool.get().await.context("connecting to the dev server")?;
    // The database this connection is on is never a candidate.
    let rows = client
        .query(
            "SELECT datname::text, datistemplate FROM pg_database \
             WHERE datname LIKE ANY ($1) AND datname <> current_database() ORDER BY datname",
            &[&LEFTOVERS.to_vec()],
        )
        .await
        .context("listing the dev server's databases")?;
    let (mut dropped, mut skipped) = (Vec::new(), Vec::new());
    for row in rows {
        let (name, template): (String, bool) = (row.get(0), row.get(1));
        if dry_run {
            dropped.push(name);
            continue;
        }
        let result = if template {
            pgbaked::drop_template(&client, &name)
                .await
                .map_err(|e| e.to_string())
        } else {
            client
                .batch_execute(&format!(
                    "DROP DATABASE {}",
                    pgbaked::__private::quote_identifier(&name)
                ))
                .await
                .map_err(|e| pgbaked::error_chain(&e))
        };
        match result {
            Ok(()) => dropped.push(name),
            Err(reason) => skipped.push((name, reason)),
        }
    }
    match format {
        crate::args::Format::Json => out!(
            "{}",
            serde_json::json!({
                "server": config.to_string(),
                "dry_run": dry_run,
                "dropped": dropped,
                "skipped": skipped.iter().map(|(n, r)| serde_json::json!({"database": n, "reason": r})).collect::<Vec<_>>(),
            })
        ),
        crate::args::Format::Text => {
            let verb = if dry_run { "would drop" } else { "dropped" };
            for name in &dropped {
                out!("{verb} {name}");
            }
            for (name, reason) in &skipped {
                out!("skipped {name}: {reason}");
            }
            out!(
                "{} database(s) {verb} on {config}, {} skipped",
                dropped.len(),
                skipped.len()
            );
        }
    }
    Ok(if skipped.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// What differs from the migrations' head to the declared schema in `dir`.
async fn declared_differences(
    settings: &Settings,
    migrator: &Migrator,
    dir: &Path,
) -> anyhow::Result<Vec<Difference>> {
    let table = scratch_table(migrator);
    with_scratch(settings, true, 2, async |scratch: &[Scratch]| {
        scratch[0]
            .replay(migrator.migrations(), &Rev::Head, &table)
            .await?;
        scratch[1].load(dir).await?;
        let head = scratch[0].catalog(&table).await?;
        let declared = scratch[1].catalog(&table).await?;
        Ok(head.diff(&declared))
    })
    .await
    .with_context(|| format!("comparing {} with the migrations", dir.display()))
}

/// What differs from a replay of the database's applied versions to the database itself.
async fn drift(
    settings: &Settings,
    pool: &Pool,
    migrator: &Migrator,
) -> anyhow::Result<Vec<Difference>> {
    let client = pool.get().await.context("connecting to the database")?;
    let history = migrator.history(&client).await?;
    let status = migrator.status(&history);
    status.verify_checksums()?;
    status.verify_names()?;
    let unknown = status.versions(pgbaked::State::Unknown);
    if !unknown.is_empty() {
        return Err(pgbaked::Error::Unknown { versions: unknown }.into());
    }
    let applied: Vec<_> = status
        .entries
        .iter()
        .filter(|e| e.state.is_applied())
        .filter_map(|e| e.migration.cloned())
        .collect();
    let table = scratch_table(migrator);
    let live = pgbaked::diff::Catalog::read_with(
        &client,
        &pgbaked::history_tables(&table),
        settings.with_privileges,
    )
    .await?;
    drop(client);
    with_scratch(settings, false, 1, async |scratch: &[Scratch]| {
        scratch[0].replay(&applied, &Rev::Head, &table).await?;
        Ok(scratch[0].catalog(&table).await?.diff(&live))
    })
    .await
    .context("replaying the applied migrations")
}

/// Resolves on SIGTERM or SIGINT during a migration: the engine rolls the migration in progress back and
/// releases the lock, then the command fails.
///
/// A second signal while the cancel is pending ends the process at once: the server rolls back
/// the migration in progress and frees the lock when the connection closes.
pub async fn interrupt() {
    let name = crate::signal::termination().await;
    tracing::warn!("{name} received, stopping the migration run (again to exit at once)");
    tokio::spawn(async {
        let name = crate::signal::termination().await;
        eprintln!("error: {name} received again: exiting without waiting for the rollback");
        std::process::exit(1);
    });
}

pub(crate) fn parse_rev(text: &str) -> anyhow::Result<Rev> {
    Ok(text.parse::<Rev>()?)
}

#[cfg(test)]
mod tests {
    use super::maintenance_warning;
    use crate::args::DatabaseUrl;

    #[test]
    fn only_the_default_url_taken_by_fallback_warns_of_the_maintenance_database() {
        let default: DatabaseUrl = pgbaked::DEFAULT_DATABASE_URL.parse().unwrap();
        let warning = maintenance_warning(&default, None).expect("the fallback warns");
        assert!(
            warning.contains("`postgres` maintenance database"),
            "{warning}"
        );
        assert!(warning.contains("DATABASE_URL is not set"), "{warning}");
        // DATABASE_URL set, even to the same text: the user chose it.
        let chosen = std::ffi::OsStr::new(pgbaked::DEFAULT_DATABASE_URL);
        assert_eq!(maintenance_warning(&default, Some(chosen)), None);
        // Another URL given with --database-url: no fallback.
        let named: DatabaseUrl = "postgres://app@db:5432/postgres".parse().unwrap();
        assert_eq!(maintenance_warning(&named, None), None);
        let service: DatabaseUrl = "postgres://app@db:5432/app".parse().unwrap();
        assert_eq!(maintenance_warning(&service, None), None);
    }
}
