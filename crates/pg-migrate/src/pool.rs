//! The connection pool, and waiting for the database at boot.

use std::hash::{BuildHasher, Hasher};
use std::time::{Duration, Instant};

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

/// Waits until a connection can be had, retrying with exponential backoff and jitter for at
/// most `wait`. A zero `wait` tries once.
///
/// # Errors
///
/// The last connection error, at once for errors that retrying cannot fix.
pub async fn wait_for(
    pool: &Pool,
    config: &DatabaseConfig,
    wait: Duration,
) -> Result<(), PoolError> {
    let started = Instant::now();
    let mut delay = Duration::from_millis(100);
    let mut attempt = 1u32;
    loop {
        match pool.get().await {
            Ok(_) => return Ok(()),
            Err(err) if is_permanent(&err) => return Err(err),
            Err(err) => {
                let left = wait.saturating_sub(started.elapsed());
                if left.is_zero() {
                    return Err(err);
                }
                let sleep = jitter(delay).min(left);
                tracing::warn!(
                    database = %config,
                    attempt,
                    retry_in_ms = sleep.as_millis() as u64,
                    error = %pool_error_text(&err),
                    "database not reachable yet"
                );
                tokio::time::sleep(sleep).await;
                delay = (delay * 2).min(Duration::from_secs(5));
                attempt += 1;
            }
        }
    }
}

/// Between half and all of `delay`, so replicas that boot together do not retry in lockstep.
fn jitter(delay: Duration) -> Duration {
    let random = std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish();
    delay / 2 + delay.mul_f64((random % 1000) as f64 / 2000.0)
}
