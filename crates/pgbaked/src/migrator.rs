//! The migrator: runs plans under the lock, one migration and its history row per transaction.

use std::time::{Duration, Instant};

use deadpool_postgres::Pool;
use futures_util::future::{join, join_all, join4};
use serde::Serialize;
use tokio_postgres::Client;

use super::direction::Direction;
use super::error::{Error, SqlFailure};
use super::history::{DEFAULT_TABLE, History, HistoryTable, Unfinished};
use super::lock::{CancelTls, LockedConnection};
use super::migration::{Migration, Script, VersionWidth};
use super::recovery::{self, Outcome};
use super::rev::Rev;
use super::status::{State, Status};

mod apply;
mod report;
mod stamp;

pub use report::*;

/// Runs the embedded migrations against a database.
#[derive(Clone, Debug)]
pub struct Migrator {
    migrations: Vec<Migration>,
    options: Options,
    table: HistoryTable,
}

impl Migrator {
    /// A migrator for `migrations` (sorted by version).
    pub fn new(mut migrations: Vec<Migration>, options: Options) -> Migrator {
        migrations.sort_by_key(Migration::version);
        let table = HistoryTable::new(&options.table);
        Migrator {
            migrations,
            options,
            table,
        }
    }

    /// The same migrations under options changed by `change` (grouped, a contract guard),
    /// without copying them.
    pub fn with_options(self, change: impl FnOnce(&mut Options)) -> Migrator {
        let mut options = self.options;
        change(&mut options);
        Migrator::new(self.migrations, options)
    }

    /// The migrations, sorted by version.
    pub fn migrations(&self) -> &[Migration] {
        &self.migrations
    }

    /// The options.
    pub fn options(&self) -> &Options {
        &self.options
    }

    /// The history table.
    pub fn table(&self) -> &HistoryTable {
        &self.table
    }

    /// Reads the history table; an absent table reads as empty. Takes no lock.
    ///
    /// # Errors
    ///
    /// The server's error.
    pub async fn history(&self, client: &Client) -> Result<History, Error> {
        self.table.read(client).await
    }

    /// Matches the migrations against `history` from [`Migrator::history`].
    pub fn status<'a>(&'a self, history: &History) -> Status<'a> {
        Status::of(&self.migrations, history)
    }

    /// Applies pending migrations up to `rev`, calling `on_step` as each one commits.
    ///
    /// # Errors
    ///
    /// Anything from taking the lock to a failing migration; the steps that finished before a
    /// failure are committed and recorded, and were passed to `on_step`.
    pub async fn up(
        &self,
        pool: &Pool,
        rev: &Rev,
        on_step: &mut (dyn FnMut(&Step) + Send),
    ) -> Result<Report, Error> {
        self.up_until(pool, rev, on_step, std::future::pending())
            .await
    }

    /// [`Migrator::up`], stopped cleanly when `stop` resolves (a signal): the running statement
    /// is cancelled, so the migration in progress rolls back (or has already committed with its
    /// history row), and the lock is released.
    ///
    /// # Errors
    ///
    /// As for [`Migrator::up`], and [`Error::Interrupted`] when `stop` resolved first.
    pub async fn up_until(
        &self,
        pool: &Pool,
        rev: &Rev,
        on_step: &mut (dyn FnMut(&Step) + Send),
        stop: impl Future<Output = ()>,
    ) -> Result<Report, Error> {
        self.run_until(pool, Direction::Up, rev, on_step, stop)
            .await
    }

    /// Reverts applied migrations down to `rev`, newest first.
    ///
    /// # Errors
    ///
    /// As for [`Migrator::up`]; a migration without an undo file on the way fails the command
    /// before anything runs.
    pub async fn down(
        &self,
        pool: &Pool,
        rev: &Rev,
        on_step: &mut (dyn FnMut(&Step) + Send),
    ) -> Result<Report, Error> {
        self.down_until(pool, rev, on_step, std::future::pending())
            .await
    }

    /// [`Migrator::down`], stopped cleanly when `stop` resolves, as [`Migrator::up_until`] is.
    ///
    /// # Errors
    ///
    /// As for [`Migrator::down`], and [`Error::Interrupted`] when `stop` resolved first.
    pub async fn down_until(
        &self,
        pool: &Pool,
        rev: &Rev,
        on_step: &mut (dyn FnMut(&Step) + Send),
        stop: impl Future<Output = ()>,
    ) -> Result<Report, Error> {
        self.run_until(pool, Direction::Down, rev, on_step, stop)
            .await
    }

    /// Takes the lock, applies or reverts under it unless `stop` resolves first, and releases
    /// it.
    async fn run_until(
        &self,
        pool: &Pool,
        way: Direction,
        rev: &Rev,
        on_step: &mut (dyn FnMut(&Step) + Send),
        stop: impl Future<Output = ()>,
    ) -> Result<Report, Error> {
        let mut stop = std::pin::pin!(stop);
        let lock = tokio::select! {
            lock = self.lock(pool) => lock?,
            () = &mut stop => return Err(Error::Interrupted { at: None }),
        };
        let work = async {
            if way == Direction::Up {
                self.up_locked(lock.client(), rev, on_step).await
            } else {
                self.down_locked(lock.client(), rev, on_step).await
            }
        };
        let mut result = interruptible(&lock, work, stop).await;
        if let Err(Error::Interrupted { at }) = &mut result {
            // Say where the database stands: the cancelled migration rolled back, or had
            // committed just before the cancel arrived.
            let client = lock.client();
            let _ = futures_util::future::join(
                client.batch_execute("SET client_min_messages = error"),
                client.batch_execute("ROLLBACK"),
            )
            .await;
            if let Ok(history) = self.table.read(client).await {
                *at = Some(
                    Status::of(&self.migrations, &history)
                        .current()
                        .map_or_else(|| "base".to_string(), |v| format!("V{v}")),
                );
            }
        }
        finish(lock, result).await
    }

    /// Makes the history table say the database is at `rev` without running any SQL: rows are
    /// added for embedded versions up to `rev` and removed above it.
    ///
    /// # Errors
    ///
    /// A revision that names nothing, or the server's error.
    pub async fn stamp(&self, pool: &Pool, rev: &Rev) -> Result<Report, Error> {
        let lock = self.lock(pool).await?;
        let result = self.stamp_locked(lock.client(), rev).await;
        finish(lock, result).await
    }

    /// Re-records the checksum of every applied migration whose file changed since.
    ///
    /// # Errors
    ///
    /// The server's error.
    pub async fn repair(&self, pool: &Pool) -> Result<Report, Error> {
        let lock = self.lock(pool).await?;
        let result = self.repair_locked(lock.client()).await;
        finish(lock, result).await
    }

    async fn lock(&self, pool: &Pool) -> Result<LockedConnection, Error> {
        LockedConnection::acquire(
            pool,
            self.table.name(),
            self.options.lock_wait,
            self.options.cancel_tls.clone(),
        )
        .await
    }

    /// Reads the history table, creating it when it is missing.
    async fn read_or_create(&self, client: &Client) -> Result<History, Error> {
        match self.table.read_if_exists(client).await? {
            Some(history) => Ok(history),
            None => {
                self.table.create(client).await?;
                Ok(History::default())
            }
        }
    }

    /// Reads history and checks it: divergent files fail, unknown versions warn (or fail).
    /// Going down, a version held as another migration is no error: it is reverted with its
    /// recorded undo.
    async fn verified_status(
        &self,
        client: &Client,
        way: Direction,
    ) -> Result<(Status<'_>, Report), Error> {
        let history = self.read_or_create(client).await?;
        let status = Status::of(&self.migrations, &history);
        status.verify_checksums()?;
        if way == Direction::Up {
            status.verify_names()?;
        }
        let unknown = status.versions(State::Unknown);
        if !unknown.is_empty() {
            if self.options.strict {
                return Err(Error::Unknown { versions: unknown });
            }
            tracing::warn!(
                ?unknown,
                "the database has versions this binary does not know; it was migrated by a newer binary"
            );
        }
        let report = Report {
            from: status.current(),
            to: status.current(),
            unknown,
            steps: Vec::new(),
            held: Vec::new(),
        };
        Ok((status, report))
    }

    async fn up_locked(
        &self,
        client: &Client,
        rev: &Rev,
        on_step: &mut (dyn FnMut(&Step) + Send),
    ) -> Result<Report, Error> {
        let (status, mut report) = self.verified_status(client, Direction::Up).await?;
        let plan = status.plan_up(rev)?;
        if plan.is_empty() {
            if !self.options.quiet {
                tracing::info!(current = ?report.from, "nothing to apply");
            }
            return Ok(report);
        }
        self.check_width(&plan, status.width)?;
        // A contract migration waits for the older release's replicas, and so does what comes
        // after it: the order of a set is never changed.
        let mut plan = plan;
        for (i, migration) in plan.iter().enumerate() {
            if migration.is_contract()
                && let Some(older) = self.older_replicas(client, migration.version()).await?
            {
                report.held = plan[i..].iter().map(|m| m.version()).collect();
                tracing::warn!(
                    held = ?report.held,
                    replicas = %older,
                    "holding back {} (contract) and what follows it: replicas of an older release \
                     are connected; it is applied once they are gone (`migrate up --contract` applies it now)",
                    migration.full_name()
                );
                plan.truncate(i);
                break;
            }
        }
        if plan.is_empty() {
            return Ok(report);
        }
        self.table.create_undo(client).await?;
        if self.options.grouped {
            self.apply_grouped(client, &plan, status.width, &mut report, on_step)
                .await?;
        } else {
            let marks = self
                .unfinished_marks(client, &plan, Migration::apply)
                .await?;
            for migration in plan {
                let step = self
                    .run_one(client, migration, Direction::Up, status.width, &marks)
                    .await?;
                report.to = Some(step.version);
                on_step(&step);
                report.steps.push(step);
            }
        }
        Ok(report)
    }

    async fn down_locked(
        &self,
        client: &Client,
        rev: &Rev,
        on_step: &mut (dyn FnMut(&Step) + Send),
    ) -> Result<Report, Error> {
        let (status, mut report) = self.verified_status(client, Direction::Down).await?;
        // What the binary does not know (or knows as another migration) is reverted with the
        // undo recorded when it was applied, read only when there is such a version.
        let foreign = status
            .entries
            .iter()
            .any(|e| matches!(e.state, State::Unknown | State::Mismatched));
        let recorded = if foreign {
            // (Made or brought up to date first: a record kept before `dropped` lacks it.)
            self.table.create_undo(client).await?;
            recorded_migrations(self.table.recorded_undos(client).await?)
        } else {
            Vec::new()
        };
        let plan = status.plan_down_with(rev, &recorded)?;
        if !self.options.allow_data_loss {
            refuse_dropped_data(&plan)?;
        }
        if !plan.is_empty() && !foreign {
            self.table.create_undo(client).await?;
        }
        let marks = self
            .unfinished_marks(client, &plan, |m: &Migration| {
                m.undo().unwrap_or_else(|| m.apply())
            })
            .await?;
        for migration in plan {
            let step = self
                .run_one(client, migration, Direction::Down, status.width, &marks)
                .await?;
            on_step(&step);
            report.steps.push(step);
            report.to = status
                .entries
                .iter()
                .filter(|e| e.state.is_applied() && e.version < migration.version())
                .map(|e| e.version)
                .max();
        }
        Ok(report)
    }

    /// The connections of replicas of this service whose release knows migrations only below
    /// `version` (`NAME head=N (…)`, N < version), as a list for the log; `None` when there
    /// are none, or when contracts are not guarded.
    async fn older_replicas(&self, client: &Client, version: i64) -> Result<Option<String>, Error> {
        let Some(service) = &self.options.contract_guard else {
            return Ok(None);
        };
        let rows = client
            .query_typed(
                "SELECT application_name, (substring(application_name FROM ' head=([0-9]+)'))::int8 \
                 FROM pg_stat_activity \
                 WHERE datname = current_database() AND pid <> pg_backend_pid() \
                   AND starts_with(application_name, $1)",
                &[(&format!("{service} head="), tokio_postgres::types::Type::TEXT)],
            )
            .await
            .map_err(Error::db("looking for replicas of an older release"))?;
        let older: Vec<String> = rows
            .iter()
            .filter(|row| {
                row.get::<_, Option<i64>>(1)
                    .is_some_and(|head| head < version)
            })
            .map(|row| row.get::<_, String>(0))
            .collect();
        Ok((!older.is_empty()).then(|| older.join(", ")))
    }

    /// The marks of unfinished `-- no-transaction` scripts, read only when the plan has such a
    /// script, so that an ordinary run pays nothing for them.
    async fn unfinished_marks(
        &self,
        client: &Client,
        plan: &[&Migration],
        script: impl Fn(&Migration) -> &Script,
    ) -> Result<Vec<Unfinished>, Error> {
        if plan.iter().any(|m| script(m).no_transaction) {
            self.table.unfinished(client).await
        } else {
            Ok(Vec::new())
        }
    }

    /// A history table created by plain refinery holds int4 versions.
    fn check_width(&self, plan: &[&Migration], width: VersionWidth) -> Result<(), Error> {
        match plan.iter().find(|m| i32::try_from(m.version()).is_err()) {
            Some(m) if width == VersionWidth::Int4 => Err(Error::VersionTooLarge {
                migration: m.full_name(),
                table: self.table.name().to_string(),
            }),
            _ => Ok(()),
        }
    }

    fn set_timeouts(&self, in_transaction: bool) -> Option<String> {
        timeouts_sql(&self.options, in_transaction)
    }

    /// The offline script (`--sql`) that takes a database from `from` to `to`, for
    /// `psql -v ON_ERROR_STOP=1`: history rows, lock, timeouts and a guard included.
    ///
    /// # Errors
    ///
    /// A revision that cannot be reached, or a downgrade past a migration without undo.
    pub fn script(&self, direction: Direction, from: &Rev, to: &Rev) -> Result<String, Error> {
        super::script::render(
            &self.migrations,
            &self.table,
            &self.options,
            direction,
            from,
            to,
        )
    }
}

/// The `application_name` role of a replica of `service` whose binary's newest migration is
/// `head`: what [`Options::contract_guard`] looks for in `pg_stat_activity`.
pub fn release_application_name(service: &str, head: Option<i64>) -> String {
    format!("{service} head={}", head.unwrap_or(0))
}

/// Whether a migration failed on `lock_timeout` (SQLSTATE 55P03, lock_not_available).
fn is_lock_timeout(err: &Error) -> bool {
    matches!(err, Error::MigrationFailed { failure, .. } if failure.code.as_deref() == Some("55P03"))
}

/// The pauses between runs of a migration that hit its lock timeout: 1 s, doubling up to
/// 30 s, with jitter so that replicas booting together do not retry in step.
fn lock_retry_pauses() -> impl Iterator<Item = Duration> {
    use backon::BackoffBuilder;
    backon::ExponentialBuilder::default()
        .with_min_delay(Duration::from_secs(1))
        .with_max_delay(Duration::from_secs(30))
        .with_jitter()
        .without_max_times()
        .build()
}

/// The undo records as migrations that only revert: named as recorded, with the recorded undo
/// (`None` where there was no undo file).
///
/// Its apply script is never run: it holds what the record says the migration deleted, as a
/// contract step's statements, so that [`Migration::dropped_data`] reads it as it would read
/// the file.
fn recorded_migrations(records: Vec<super::history::RecordedUndo>) -> Vec<Migration> {
    records
        .into_iter()
        .filter_map(|r| {
            let undo = r
                .undo
                .map(|sql| Script::new(format!("U{}__{}.sql (recorded)", r.version, r.name), sql));
            let apply = r.dropped.map_or_else(String::new, |dropped| {
                let statements: Vec<String> = dropped.lines().map(|l| format!("{l};")).collect();
                format!(
                    "{}\n{}\n",
                    super::grammar::CONTRACT_MARKER,
                    statements.join("\n")
                )
            });
            Migration::new(
                r.version,
                &r.name,
                Script::new(format!("V{}__{}.sql (recorded)", r.version, r.name), apply),
                undo,
            )
            .ok()
        })
        .collect()
}

/// Refuses a downgrade that passes a `-- contract` step which deleted data: its undo would
/// bring back the column or table empty, and the previous release would read it so.
pub(crate) fn refuse_dropped_data(plan: &[&Migration]) -> Result<(), Error> {
    for m in plan {
        let dropped = m.dropped_data();
        if !dropped.is_empty() {
            return Err(Error::ContractDropped {
                migration: m.full_name(),
                statements: dropped.join("; "),
            });
        }
    }
    Ok(())
}

/// The per-migration timeouts, `SET LOCAL` at the start of a migration's transaction or
/// session-wide `SET` around a `-- no-transaction` script; `None` when there is nothing to set,
/// so that a role's or database's own settings stay in force.
pub(crate) fn timeouts_sql(options: &Options, in_transaction: bool) -> Option<String> {
    let lock_timeout = if in_transaction {
        options.lock_timeout
    } else {
        options.no_transaction_lock_timeout
    };
    let scope = if in_transaction { "SET LOCAL" } else { "SET" };
    let settings: Vec<String> = [
        ("lock_timeout", lock_timeout),
        ("statement_timeout", options.statement_timeout),
    ]
    .into_iter()
    .filter_map(|(name, value)| {
        let ms = value?.as_millis().clamp(1, i32::MAX as u128);
        Some(format!("{scope} {name} = '{ms}ms'"))
    })
    .collect();
    (!settings.is_empty()).then(|| settings.join("; "))
}

/// Runs `work` unless `stop` resolves first. Then the statement in flight is cancelled: its
/// transaction aborts and the COMMIT already sent behind it becomes a rollback, so the
/// migration in progress leaves nothing behind, and the connection is free for the unlock.
async fn interruptible<T>(
    lock: &LockedConnection,
    work: impl Future<Output = Result<T, Error>>,
    stop: impl Future<Output = ()>,
) -> Result<T, Error> {
    tokio::select! {
        result = work => result,
        () = stop => {
            tracing::warn!("interrupted: cancelling the migration in progress");
            lock.cancel_running().await;
            Err(Error::Interrupted { at: None })
        }
    }
}

/// Releases the lock whatever the outcome, and reports the run's error before the release's.
async fn finish<T>(lock: LockedConnection, result: Result<T, Error>) -> Result<T, Error> {
    let released = lock.release(result.is_ok()).await;
    match (result, released) {
        (Ok(value), Ok(())) => Ok(value),
        (Ok(_), Err(err)) => Err(err),
        (Err(err), Ok(())) => Err(err),
        (Err(err), Err(release)) => {
            // The run's error says what went wrong; the release's is logged, and the closed
            // connection freed the lock anyway.
            tracing::warn!(error = %release, "releasing the migration lock after a failure");
            Err(err)
        }
    }
}

/// The first error among a script's pieces. After a failed statement the server rejects the
/// rest of the transaction, so only the first error says what went wrong, and where.
fn check_pieces(
    m: &Migration,
    script: &Script,
    pieces: &[(usize, &str)],
    results: Vec<Result<(), tokio_postgres::Error>>,
) -> Result<(), Error> {
    for ((offset, _), result) in pieces.iter().zip(results) {
        if let Err(err) = result {
            return Err(Error::MigrationFailed {
                migration: m.full_name(),
                failure: Box::new(SqlFailure::in_script(script, *offset, &err)),
            });
        }
    }
    Ok(())
}

fn elapsed_ms(started: Instant) -> u64 {
    u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX)
}
