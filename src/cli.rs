//! The command line: `app` serves, `app --migrate` migrates then serves, and `app migrate …`
//! manages the schema by hand through `pgbaked-cli`, as any service would use it.

use std::net::SocketAddr;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
pub use pgbaked_cli::{Format, Settings};

const EXAMPLES: &str = "\
Examples:
  app --migrate                         apply pending migrations, then serve
  APP_MIGRATE=true app                  the same, for a container's environment
  app migrate up                        apply every pending migration
  app migrate down                      revert the newest migration
  app migrate history                   list applied and pending migrations
  app migrate up --sql > upgrade.sql    print the upgrade script without connecting
  app migrate create --autogenerate \"add bio\"   write the migration from schema/
  app migrate check                     CI: pending, edited, or schema/ out of step with sql/
  app migrate diff --from migrations --to schema   the SQL between two schemas
  app migrate drift                     was the database changed by hand?
  app migrate renumber V14__add_bio     settle two branches that both added V14";

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
    pub global: Settings,

    /// What to do; serving when absent.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Top-level commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Manage the schema: up, down, current, history, show, create (--autogenerate), check,
    /// diff, drift, stamp, repair, renumber, clean.
    #[command(subcommand)]
    Migrate(pgbaked_cli::MigrateCommand),
}

/// This service's schema for `pgbaked-cli`: `migrate create` writes into the `sql/` it was
/// built from when run elsewhere.
pub fn service() -> pgbaked_cli::Service {
    let service = pgbaked_cli::Service::new("app", crate::MIGRATIONS)
        .source_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/sql"))
        .schema_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/schema"));
    // Scratch databases' last resort, as for DATABASE_URL: debug builds only.
    #[cfg(debug_assertions)]
    let service = service.dev_server(crate::dev_cluster::scratch_server);
    service
}

/// Runs the parsed command line.
///
/// # Errors
///
/// Anything that should end the process with `pgbaked_cli::exit_code`.
pub async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    // A debug build with no database configured and none at the default address gets a
    // development cluster under target/ (see dev_cluster.rs); a release build never does.
    #[cfg(debug_assertions)]
    let cli = {
        let mut cli = cli;
        if let Some(url) = crate::dev_cluster::replace_default(&cli.global.database_url)? {
            cli.global.database_url = url.parse()?;
        }
        cli
    };
    let service = service();
    match cli.command {
        Some(Command::Migrate(command)) => service.run(&cli.global, command).await,
        None => serve(&service, &cli.global, cli.migrate, cli.listen).await,
    }
}

async fn serve(
    service: &pgbaked_cli::Service,
    settings: &Settings,
    migrate_first: bool,
    listen: SocketAddr,
) -> anyhow::Result<ExitCode> {
    use crate::state::{AppState, Boot};
    // Serving from the start, so an orchestrator's liveness probe (/healthz) passes while a
    // long migration runs; /readyz says how far it got, and the API waits for it.
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("listening on {listen}"))?;
    tracing::info!(address = %listener.local_addr()?, "serving");
    let (pool, migrator) = service.prepare(settings)?;
    let boot_migrator = migrator.clone();
    let (state, boot) = AppState::booting(pool.clone(), migrator, Boot::Starting);
    let server = crate::server::serve(listener, state, shutdown_signal());
    let mut server = std::pin::pin!(server);
    let mut applied = 0;
    let mut on_step = |step: &pgbaked::Step| {
        applied += 1;
        boot.send_replace(Boot::Migrating {
            applied,
            current: Some(step.version),
        });
    };
    if migrate_first {
        boot.send_replace(Boot::Migrating {
            applied: 0,
            current: None,
        });
    }
    let booting = service.boot_on(settings, &pool, &boot_migrator, migrate_first, &mut on_step);
    tokio::select! {
        // A signal during the boot: the migration rolled back (boot_on's error says so), or the
        // server drained before the boot ended.
        served = &mut server => {
            served?;
            return Ok(ExitCode::SUCCESS);
        }
        booted = booting => booted?,
    }
    boot.send_replace(Boot::Ready);
    server.await?;
    Ok(ExitCode::SUCCESS)
}

/// Resolves on SIGTERM or SIGINT, logging that the server drains.
async fn shutdown_signal() {
    let name = pgbaked_cli::termination().await;
    tracing::info!("{name} received, draining");
}
