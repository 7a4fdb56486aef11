//! Running the commands: connecting, the migrator's options, and each `migrate` command.

use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, bail};

use pgbaked::deadpool_postgres::Pool;
use pgbaked::{Direction, Migrator, Options, Scratch};

use crate::Service;
use crate::args::{MigrateCommand, Settings, grouped_if, parse_rev};
use crate::output::*;
use crate::scratch::{
    Source, clean, declared_differences, drift, schema_dir, scratch_table, with_scratch,
};
use crate::signal::interrupt;

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
    // A contract step that deleted data is reverted only when asked.
    let migrator = match command {
        MigrateCommand::Down {
            allow_data_loss: true,
            ..
        } => migrator.with_options(|o| o.allow_data_loss = true),
        _ => migrator,
    };
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
            create_autogenerated(
                service,
                global,
                &migrator,
                (&message, dir.as_deref(), schema.as_deref()),
                (allow_data_loss, allow_hazards, timestamp),
            )
            .await
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
        } => up(service, global, migrator, &rev, grouped, contract).await,
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
        MigrateCommand::Diff { from, to } => diff(global, &migrator, &from, &to).await,
        MigrateCommand::Current { .. }
        | MigrateCommand::History { .. }
        | MigrateCommand::Show { .. }
        | MigrateCommand::Check { .. } => status_command(service, global, &migrator, command).await,
    }
}

/// `create --autogenerate`: the plan from the migrations' head to the declared schema,
/// written as migration files, refused where a hazard is not accepted.
async fn create_autogenerated(
    service: &Service,
    global: &Settings,
    migrator: &Migrator,
    (message, dir, schema): (&str, Option<&Path>, Option<&Path>),
    (allow_data_loss, allow_hazards, timestamp): (bool, Vec<pgbaked::diff::HazardKind>, bool),
) -> anyhow::Result<ExitCode> {
    let format = global.format;
    let declared = schema_dir(schema, service).ok_or_else(|| {
        anyhow::anyhow!(
            "--autogenerate needs the declared schema: no ./schema, and none where the binary was built (use --schema DIR)"
        )
    })?;
    crate::create::refuse_stale(
        &crate::create::migrations_dir(dir, service.source_dir.as_deref()),
        migrator.migrations(),
        false,
    )?;
    let plan = crate::autogenerate::plan(global, migrator, &declared).await?;
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
        message,
        &accepted,
        timestamp,
        dir,
        service.source_dir.as_deref(),
        format,
    )
}

/// `up`: to `rev`, a contract held back while an older release's replicas are connected
/// unless `contract`.
async fn up(
    service: &Service,
    global: &Settings,
    migrator: Migrator,
    rev: &str,
    grouped: bool,
    contract: bool,
) -> anyhow::Result<ExitCode> {
    let format = global.format;
    let rev = parse_rev(rev)?;
    warn_if_maintenance_database(global);
    let migrator = grouped_if(migrator, grouped);
    // By hand as at boot, a contract waits for the older release's replicas unless
    // `--contract` says to go ahead.
    let migrator =
        migrator.with_options(|o| o.contract_guard = (!contract).then(|| service.name.clone()));
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

/// `diff`: the plan from one schema to another, exit 8 when part of it cannot be generated.
async fn diff(
    global: &Settings,
    migrator: &Migrator,
    from: &str,
    to: &str,
) -> anyhow::Result<ExitCode> {
    let format = global.format;
    let (from, to) = (Source::parse(from)?, Source::parse(to)?);
    let table = scratch_table(migrator);
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
                from.catalog(from_scratch, migrator, &table, global.with_privileges),
                to.catalog(to_scratch, migrator, &table, global.with_privileges),
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

/// `current`, `history`, `show` and `check`: what the database's history holds, against the
/// migrations (and, for `check`, the declared schema against them).
async fn status_command(
    service: &Service,
    global: &Settings,
    migrator: &Migrator,
    command: MigrateCommand,
) -> anyhow::Result<ExitCode> {
    let format = global.format;
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
                    declared_differences(global, migrator, dir).await?,
                )),
                None => None,
            };
            Ok(check(&status, differences, format))
        }
        _ => unreachable!("run_migrate passes only these commands"),
    }
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
