//! A minimal service with its own schema: `minimal-service migrate …` manages it,
//! `minimal-service --migrate` applies it at boot.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

static MIGRATIONS: &[pgbaked::EmbeddedMigration] = pgbaked::include_migrations!();

#[derive(Parser)]
struct Cli {
    /// Apply pending migrations before starting.
    #[arg(long)]
    migrate: bool,
    #[command(flatten)]
    db: pgbaked_cli::Settings,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Manage the schema: up, down, current, history, show, create, check, stamp, repair.
    #[command(subcommand)]
    Migrate(pgbaked_cli::MigrateCommand),
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_writer(pgbaked_cli::log_writer)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let service = pgbaked_cli::Service::new("minimal-service", MIGRATIONS)
        .source_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/sql"));
    let result = match cli.command {
        Some(Command::Migrate(command)) => service.run(&cli.db, command).await,
        None => service
            .boot(&cli.db, cli.migrate)
            .await
            .map(|(_pool, _migrator)| {
                // A real service serves here, with the pool.
                ExitCode::SUCCESS
            }),
    };
    result.unwrap_or_else(|err| pgbaked_cli::report_error(&err, cli.db.format))
}
