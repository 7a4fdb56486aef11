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
