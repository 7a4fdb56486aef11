//! SIGTERM and SIGINT, for a migration run to stop cleanly and for a server to drain.

/// Resolves on SIGTERM or SIGINT with the signal's name. The handlers are installed on the
/// first poll, so a signal before that ends the process as usual.
pub async fn termination() -> &'static str {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => "SIGINT",
        () = terminate => "SIGTERM",
    }
}

/// Resolves on SIGTERM or SIGINT during a migration: the engine rolls the migration in progress back and
/// releases the lock, then the command fails.
///
/// A second signal while the cancel is pending ends the process at once: the server rolls back
/// the migration in progress and frees the lock when the connection closes.
pub async fn interrupt() {
    let name = termination().await;
    tracing::warn!("{name} received, stopping the migration run (again to exit at once)");
    tokio::spawn(async {
        let name = termination().await;
        eprintln!("error: {name} received again: exiting without waiting for the rollback");
        std::process::exit(1);
    });
}
