//! The migration lock: a session-level PostgreSQL advisory lock, held on the connection that
//! runs the migrations, and never leaked.

use std::time::{Duration, Instant};

use deadpool_postgres::{Object, Pool};
use tokio_postgres::types::Type;

use super::error::Error;

/// The lock key for a history table: FNV-1a of its name, so every binary that uses the same
/// table contends for the same lock, whatever its version.
pub fn lock_key(table: &str) -> i64 {
    i64::from_ne_bytes(fnv1a(table.as_bytes()).to_ne_bytes())
}

/// 64-bit FNV-1a: stable across Rust releases and platforms, unlike `DefaultHasher`.
pub fn fnv1a(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in bytes {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash
}

/// How to reach the server for a cancel request: it opens a connection of its own, which must
/// speak TLS when the server requires it.
#[derive(Clone, Default)]
pub struct CancelTls(pub Option<tokio_postgres_rustls::MakeRustlsConnect>);

impl std::fmt::Debug for CancelTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() {
            "CancelTls(rustls)"
        } else {
            "CancelTls(none)"
        })
    }
}

impl CancelTls {
    /// Asks the server to cancel whatever `client` is running.
    ///
    /// # Errors
    ///
    /// The cancel connection's error.
    pub async fn cancel(
        &self,
        token: tokio_postgres::CancelToken,
    ) -> Result<(), tokio_postgres::Error> {
        match &self.0 {
            Some(tls) => token.cancel_query(tls.clone()).await,
            None => token.cancel_query(tokio_postgres::NoTls).await,
        }
    }
}

/// A pooled connection that holds (or may hold) the migration lock.
///
/// The guard exists from the moment the connection leaves the pool, before the first
/// `pg_try_advisory_lock`. Dropping it without [`LockedConnection::release`] (on a panic, an
/// error, or when the future is cancelled, even with a lock request in flight) cancels the
/// running statement, detaches the connection from the pool and closes it; the server frees a
/// session's advisory locks when the session ends. The lock can therefore never go back to the
/// pool still held, which deadpool's recycling would not catch.
pub struct LockedConnection {
    conn: Option<Object>,
    key: i64,
    /// False only when the server said the lock is not ours, so the connection may go back.
    maybe_held: bool,
    cancel: CancelTls,
}

impl LockedConnection {
    /// Takes a connection from `pool` and waits for the lock, for at most `timeout`.
    ///
    /// It polls `pg_try_advisory_lock` rather than blocking in `pg_advisory_lock`: a blocked
    /// statement keeps a snapshot open, and `CREATE INDEX CONCURRENTLY` run by the holder would
    /// wait for that snapshot while the waiter waits for the lock, a deadlock.
    ///
    /// # Errors
    ///
    /// [`Error::Pool`] when no connection can be had, and [`Error::LockTimeout`], naming the
    /// holder, when the lock stays taken.
    pub async fn acquire(
        pool: &Pool,
        table: &str,
        timeout: Duration,
        cancel: CancelTls,
    ) -> Result<Self, Error> {
        let conn = pool.get().await.map_err(Error::Pool)?;
        let mut guard = LockedConnection {
            conn: Some(conn),
            key: lock_key(table),
            maybe_held: true,
            cancel,
        };
        let key = guard.key;
        let started = Instant::now();
        let mut delay = Duration::from_millis(10);
        let mut announced = false;
        // If this process dies mid-migration, the server notices the closed socket only when it
        // next writes, which a long statement may not do for hours, keeping the lock held.
        // PostgreSQL 14+ can poll the socket instead; older servers reject the setting, which
        // is harmless. It travels in the same flight as the first try, so it costs no round trip.
        let client = guard.client();
        let (_, first) = futures_util::future::join(
            client.batch_execute("SET client_connection_check_interval = 1000"),
            client.query_typed_one("SELECT pg_try_advisory_lock($1)", &[(&key, Type::INT8)]),
        )
        .await;
        let mut attempt = Some(first);
        loop {
            let result = match attempt.take() {
                Some(result) => result,
                None => {
                    guard
                        .client()
                        .query_typed_one("SELECT pg_try_advisory_lock($1)", &[(&key, Type::INT8)])
                        .await
                }
            };
            let row = result.map_err(Error::db("taking the migration lock"))?;
            if row.get::<_, bool>(0) {
                tracing::debug!(
                    key,
                    waited_ms = started.elapsed().as_millis() as u64,
                    "took the migration lock"
                );
                return Ok(guard);
            }
            guard.maybe_held = false;
            let waited = started.elapsed();
            if waited >= timeout {
                let holder = holder(guard.client(), key).await;
                return Err(Error::LockTimeout { waited, holder });
            }
            if !announced {
                announced = true;
                let holder = holder(guard.client(), key).await;
                tracing::info!(
                    holder = holder.as_deref().unwrap_or("unknown"),
                    timeout_ms = timeout.as_millis() as u64,
                    "waiting for the migration lock"
                );
            }
            tokio::time::sleep(delay.min(timeout.saturating_sub(waited))).await;
            delay = (delay * 2).min(Duration::from_millis(200));
            guard.maybe_held = true;
        }
    }

    /// The connection that holds the lock.
    pub fn client(&self) -> &tokio_postgres::Client {
        // The option is only emptied by `release` and `drop`, which consume or end `self`.
        self.conn
            .as_ref()
            .map(|c| &***c)
            .unwrap_or_else(|| unreachable!())
    }

    /// Asks the server to cancel the statement this connection is running.
    pub async fn cancel_running(&self) {
        if let Err(err) = self.cancel.cancel(self.client().cancel_token()).await {
            tracing::warn!(error = %err, "could not cancel the running statement; waiting for it");
        }
    }

    /// Releases the lock. After a successful run the connection goes back to the pool; after a
    /// failed one (`clean` false) any transaction left open is rolled back and the connection
    /// is closed, so no session state of a broken run is ever reused.
    ///
    /// # Errors
    ///
    /// The server's error; the connection is then closed, which frees the lock anyway.
    pub async fn release(mut self, clean: bool) -> Result<(), Error> {
        let Some(conn) = self.conn.take() else {
            return Ok(());
        };
        let unlock = "SELECT pg_advisory_unlock($1)";
        let result = if clean {
            conn.query_typed_one(unlock, &[(&self.key, Type::INT8)])
                .await
        } else {
            // A transaction may be open, aborted, or not there at all; ROLLBACK outside one
            // makes the server warn "there is no transaction in progress", which is noise. The
            // connection is closed afterwards, so silencing warnings for the session is free.
            // All three travel in one flight; the SET fails harmlessly in an aborted one.
            let (_, _, unlocked) = futures_util::future::join3(
                conn.batch_execute("SET client_min_messages = error"),
                conn.batch_execute("ROLLBACK"),
                conn.query_typed_one(unlock, &[(&self.key, Type::INT8)]),
            )
            .await;
            unlocked
        };
        let released = match result {
            Ok(row) => {
                if !row.get::<_, bool>(0) {
                    tracing::warn!(key = self.key, "the migration lock was not held at release");
                }
                Ok(())
            }
            Err(err) => Err(Error::db("releasing the migration lock")(err)),
        };
        if !clean || released.is_err() {
            drop(Object::take(conn));
        }
        released
    }
}

impl Drop for LockedConnection {
    fn drop(&mut self) {
        let Some(conn) = self.conn.take() else {
            return;
        };
        if !self.maybe_held {
            return; // the server said the lock is not ours: the connection can go back
        }
        tracing::warn!(
            key = self.key,
            "closing the connection to free the migration lock"
        );
        // A statement may still be running (the run was cancelled or panicked): cancel it, or
        // the session, and the lock, would live until it finishes. Then detach the client
        // from the pool and drop it, which closes the connection.
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let token = conn.cancel_token();
            let cancel = self.cancel.clone();
            runtime.spawn(async move {
                let _ = cancel.cancel(token).await;
            });
        }
        drop(Object::take(conn));
    }
}

/// Who holds the lock, from `pg_locks` and `pg_stat_activity`, for messages.
async fn holder(conn: &tokio_postgres::Client, key: i64) -> Option<String> {
    let bits = u64::from_ne_bytes(key.to_ne_bytes());
    let (high, low) = ((bits >> 32) as i64, (bits & 0xffff_ffff) as i64);
    let row = conn
        .query_typed_opt(
            "SELECT l.pid, coalesce(a.application_name, ''), coalesce(a.client_addr::text, 'local'), \
                    to_char(a.backend_start AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), \
                    coalesce(a.state, '') \
             FROM pg_locks l LEFT JOIN pg_stat_activity a ON a.pid = l.pid \
             WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1 \
               AND l.classid::int8 = $1 AND l.objid::int8 = $2 \
               AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()) \
             LIMIT 1",
            &[(&high, Type::INT8), (&low, Type::INT8)],
        )
        .await
        .ok()??;
    let pid: i32 = row.get(0);
    let app: String = row.get(1);
    let addr: String = row.get(2);
    let since: Option<String> = row.get(3);
    let state: String = row.get(4);
    Some(format!(
        "pid {pid} ({}from {addr}, connected since {}, {state})",
        if app.is_empty() {
            String::new()
        } else {
            format!("{app}, ")
        },
        since.unwrap_or_else(|| "?".into())
    ))
}

#[cfg(test)]
mod tests {
    use super::lock_key;

    #[test]
    fn lock_key_is_stable() {
        // The key must never change between releases: old and new binaries share the lock.
        assert_eq!(
            lock_key(""),
            i64::from_ne_bytes(0xcbf2_9ce4_8422_2325u64.to_ne_bytes())
        );
        // Pinned: every released binary contends for this key on the default table.
        const KEY: i64 = -3_992_872_747_881_726_974;
        assert_eq!(lock_key("refinery_schema_history"), KEY);
        assert_ne!(lock_key("a"), lock_key("b"));
    }
}
