//! The `app` binary: parse the command line, install logging, run, map errors to exit codes.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = app::Cli::parse();
    init_tracing();
    let format = cli.global.format;
    // `app migrate ...` works on one connection: a single-threaded runtime starts faster and
    // touches less memory. Serving uses every core.
    let mut builder = if cli.command.is_some() {
        tokio::runtime::Builder::new_current_thread()
    } else {
        tokio::runtime::Builder::new_multi_thread()
    };
    let runtime = match builder.enable_all().build() {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("error: starting the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(app::run(cli)) {
        Ok(code) => code,
        Err(err) => {
            report(&err, format);
            if err
                .downcast_ref::<pg_migrate::InvalidDatabaseUrl>()
                .is_some()
            {
                // Like clap's own usage errors.
                ExitCode::from(2)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}

/// Logs go to stderr, filtered by `RUST_LOG` (default `info`), as JSON when `LOG_FORMAT=json`.
fn init_tracing() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if std::env::var("LOG_FORMAT").is_ok_and(|v| v.eq_ignore_ascii_case("json")) {
        builder.json().init();
    } else {
        builder
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .init();
    }
}

fn report(err: &anyhow::Error, format: app::Format) {
    eprintln!("error: {err:#}");
    if format == app::Format::Json {
        let failure = err
            .chain()
            .find_map(|e| e.downcast_ref::<pg_migrate::Error>())
            .and_then(|e| match e {
                pg_migrate::Error::MigrationFailed { migration, failure } => {
                    Some(serde_json::json!({ "migration": migration, "failure": failure }))
                }
                _ => None,
            });
        let committed = err.downcast_ref::<app::Committed>().map(|c| &c.0);
        // A reader that has gone cannot be told anything more; the exit code still says it.
        use std::io::Write as _;
        let _ = writeln!(
            std::io::stdout().lock(),
            "{}",
            serde_json::json!({
                "error": format!("{err:#}"),
                "migration_failure": failure,
                "committed": committed,
            })
        );
    }
}
