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
        // `error: …` on stderr (and JSON on stdout with --format json); 2 for a bad URL.
        Err(err) => pgbaked_cli::report_error(&err, format),
    }
}

/// Logs go to stderr (around a fleet's progress bar), filtered by `RUST_LOG` (default `info`),
/// as JSON when `LOG_FORMAT=json`.
fn init_tracing() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(pgbaked_cli::log_writer);
    if std::env::var("LOG_FORMAT").is_ok_and(|v| v.eq_ignore_ascii_case("json")) {
        builder.json().init();
    } else {
        builder
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .init();
    }
}
