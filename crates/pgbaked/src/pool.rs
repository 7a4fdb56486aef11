//! The connection pool, and waiting for the database at boot.

use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Pool, PoolError, RecyclingMethod};
use tokio_postgres::error::SqlState;

use crate::config::DatabaseConfig;
use crate::error::pool_error_text;
use crate::tls::TlsError;

/// A pool that cannot be set up.
#[derive(Debug, thiserror::Error)]
pub enum PoolSetupError {
    /// The TLS settings cannot be turned into a client configuration.
    #[error(transparent)]
    Tls(#[from] TlsError),
    /// deadpool refused the configuration.
    #[error("building the connection pool: {0}")]
    Build(#[from] deadpool_postgres::BuildError),
}

/// Builds a pool; nothing connects until a connection is asked for.
///
/// # Errors
///
/// A TLS setting that cannot be used, or deadpool's build error (only when no runtime is
/// configured, which is a bug).
pub fn pool(config: &DatabaseConfig, max_size: usize) -> Result<Pool, PoolSetupError> {
    let manager = Manager::from_config(
        config.pg().clone(),
        config.tls().connector()?,
        ManagerConfig {
            // The migration lock is released explicitly; `Fast` does not need to clean up.
            recycling_method: RecyclingMethod::Fast,
        },
    );
    Ok(Pool::builder(manager)
        .max_size(max_size)
        .runtime(deadpool_postgres::Runtime::Tokio1)
        .build()?)
}

/// A pool whose connections each hold a permit of `gate` from before they connect until
/// their socket is closed, so that the connections to one server never outnumber the gate's
/// permits, however quickly targets finish and start (`migrate up --targets` shares one gate
/// per server among its targets).
///
/// # Errors
///
/// As [`pool`].
pub fn gated_pool(
    config: &DatabaseConfig,
    max_size: usize,
    gate: std::sync::Arc<tokio::sync::Semaphore>,
) -> Result<Pool, PoolSetupError> {
    let manager = Manager::from_connect(
        config.pg().clone(),
        Gated {
            tls: config.tls().connector()?,
            gate,
        },
        ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        },
    );
    Ok(Pool::builder(manager)
        .max_size(max_size)
        .runtime(deadpool_postgres::Runtime::Tokio1)
        .build()?)
}

/// Connects as deadpool's own `ConfigConnectImpl` does, with a permit held by the connection
/// task: dropping the client aborts that task, which closes the socket and frees the permit.
struct Gated {
    tls: tokio_postgres_rustls::MakeRustlsConnect,
    gate: std::sync::Arc<tokio::sync::Semaphore>,
}

impl deadpool_postgres::Connect for Gated {
    fn connect(
        &self,
        pg_config: &tokio_postgres::Config,
    ) -> futures_util::future::BoxFuture<
        '_,
        Result<(tokio_postgres::Client, tokio::task::JoinHandle<()>), tokio_postgres::Error>,
    > {
        let (tls, gate, pg_config) = (self.tls.clone(), self.gate.clone(), pg_config.clone());
        Box::pin(async move {
            // The gate is never closed, so acquiring only waits.
            let permit = gate.acquire_owned().await.ok();
            let (client, connection) = pg_config.connect(tls).await?;
            let task = tokio::spawn(async move {
                let _permit = permit;
                if let Err(err) = connection.await {
                    tracing::debug!(error = %err, "connection closed");
                }
            });
            Ok((client, task))
        })
    }
}

/// Whether retrying cannot help: bad credentials or a database that does not exist.
pub fn is_permanent(err: &PoolError) -> bool {
    let PoolError::Backend(err) = err else {
        return false;
    };
    matches!(
        err.code(),
        Some(code) if *code == SqlState::INVALID_PASSWORD
            || *code == SqlState::INVALID_AUTHORIZATION_SPECIFICATION
            || *code == SqlState::INVALID_CATALOG_NAME
    )
}

/// Waits until a connection can be had, retrying with exponential backoff (100 ms doubling to
/// 5 s) and jitter, so replicas that boot together do not retry in lockstep, for at most
/// `wait`. A zero `wait` tries once.
///
/// # Errors
///
/// The last connection error, at once for errors that retrying cannot fix.
pub async fn wait_for(
    pool: &Pool,
    config: &DatabaseConfig,
    wait: Duration,
) -> Result<(), PoolError> {
    use backon::{BackoffBuilder, ExponentialBuilder};
    if wait.is_zero() {
        return pool.get().await.map(drop);
    }
    // Tried until the wait is over, the last sleep cut to end exactly at it: a backoff that
    // only counted its own delays gave up before the time asked for (2.5 s of a 3 s wait).
    let deadline = std::time::Instant::now() + wait;
    let mut delays = ExponentialBuilder::default()
        .with_min_delay(Duration::from_millis(100))
        .with_max_delay(Duration::from_secs(5))
        .with_jitter()
        .without_max_times()
        .build();
    let mut attempt = 1u32;
    loop {
        let err = match pool.get().await {
            Ok(_) => return Ok(()),
            Err(err) if is_permanent(&err) => return Err(err),
            Err(err) => err,
        };
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        if left.is_zero() {
            return Err(err);
        }
        let sleep = delays.next().unwrap_or(Duration::from_secs(5)).min(left);
        tracing::warn!(
            database = %config,
            attempt,
            retry_in_ms = sleep.as_millis() as u64,
            error = %pool_error_text(&err),
            "database not reachable yet"
        );
        tokio::time::sleep(sleep).await;
        attempt += 1;
    }
}
