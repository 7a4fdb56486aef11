//! The migrator: runs plans under the lock, one migration and its history row per transaction.

use std::time::{Duration, Instant};

use deadpool_postgres::Pool;
use futures_util::future::{join, join4};
use serde::Serialize;
use tokio_postgres::Client;
use tokio_postgres::types::Type;

use super::error::{Error, SqlFailure};
use super::history::{DEFAULT_TABLE, HistoryTable};
use super::lock::{CancelTls, LockedConnection};
use super::migration::{Migration, Script};
use super::plan::{AppliedRow, State, Status};
use super::rev::Rev;

/// How the migrator runs.
#[derive(Clone, Debug)]
pub struct Options {
    /// The history table; refinery's by default.
    pub table: String,
    /// How long to wait for another process's migration lock.
    pub lock_wait: Duration,
    /// Run the whole plan in one transaction instead of one per migration.
    pub grouped: bool,
    /// Refuse to run when the database holds versions this binary does not know.
    pub strict: bool,
    /// `lock_timeout` inside each migration, so that a migration queued behind a long
    /// transaction fails instead of stalling every query queued behind it. `None` is off.
    pub lock_timeout: Option<Duration>,
    /// `statement_timeout` inside each migration. `None` is off.
    pub statement_timeout: Option<Duration>,
    /// How cancel requests reach the server (TLS when the server requires it).
    pub cancel_tls: CancelTls,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            table: DEFAULT_TABLE.to_string(),
            lock_wait: Duration::from_secs(60),
            grouped: false,
            strict: false,
            lock_timeout: Some(Duration::from_secs(10)),
            statement_timeout: None,
            cancel_tls: CancelTls::default(),
        }
    }
}

/// Which way a run goes.
#[derive(Clone, Copy)]
enum Way {
    Up,
    Down,
}

/// Which way a step went.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// The `V` file ran.
    Applied,
    /// The `U` file ran.
    Reverted,
    /// A history row was written by `stamp` without running SQL.
    Stamped,
    /// A history row was removed by `stamp` without running SQL.
    Unstamped,
    /// A history row's checksum was re-recorded.
    Repaired,
}

impl Direction {
    /// The word the CLI prints.
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Applied => "applied",
            Direction::Reverted => "reverted",
            Direction::Stamped => "stamped",
            Direction::Unstamped => "unstamped",
            Direction::Repaired => "repaired",
        }
    }
}

/// One finished step of a run.
#[derive(Clone, Debug, Serialize)]
pub struct Step {
    /// What happened.
    pub direction: Direction,
    /// The version.
    pub version: i64,
    /// The description.
    pub name: String,
    /// How long the step took, commit included.
    pub elapsed_ms: u64,
    /// For a repair: the checksum recorded before.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub old_checksum: Option<String>,
}

/// What a run did.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Report {
    /// Every finished step, in order.
    pub steps: Vec<Step>,
    /// The version before the run, or `None` at base.
    pub from: Option<i64>,
    /// The version after the run, or `None` at base.
    pub to: Option<i64>,
    /// Versions in the database that this binary does not know.
    pub unknown: Vec<i64>,
}

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
    pub async fn history(&self, client: &Client) -> Result<Vec<AppliedRow>, Error> {
        self.table.read(client).await
    }

    /// Matches the migrations against `rows` from [`Migrator::history`].
    pub fn status<'a>(&'a self, rows: &[AppliedRow]) -> Status<'a> {
        Status::new(&self.migrations, rows)
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
        self.run_until(pool, Way::Up, rev, on_step, stop).await
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
        self.run_until(pool, Way::Down, rev, on_step, stop).await
    }

    /// Takes the lock, runs `way` under it unless `stop` resolves first, and releases it.
    async fn run_until(
        &self,
        pool: &Pool,
        way: Way,
        rev: &Rev,
        on_step: &mut (dyn FnMut(&Step) + Send),
        stop: impl Future<Output = ()>,
    ) -> Result<Report, Error> {
        let mut stop = std::pin::pin!(stop);
        let lock = tokio::select! {
            lock = self.lock(pool) => lock?,
            () = &mut stop => return Err(Error::Interrupted),
        };
        let work = async {
            match way {
                Way::Up => self.up_locked(lock.client(), rev, on_step).await,
                Way::Down => self.down_locked(lock.client(), rev, on_step).await,
            }
        };
        let result = interruptible(&lock, work, stop).await;
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

    /// Reads history and checks it: divergent files fail, unknown versions warn (or fail).
    async fn verified_status(&self, client: &Client) -> Result<(Status<'_>, Report), Error> {
        let rows = match self.table.read_if_exists(client).await? {
            Some(rows) => rows,
            None => {
                self.table.create(client).await?;
                Vec::new()
            }
        };
        let status = Status::new(&self.migrations, &rows);
        status.verify_checksums()?;
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
        };
        Ok((status, report))
    }

    async fn up_locked(
        &self,
        client: &Client,
        rev: &Rev,
        on_step: &mut (dyn FnMut(&Step) + Send),
    ) -> Result<Report, Error> {
        let (status, mut report) = self.verified_status(client).await?;
        let plan = status.plan_up(rev)?;
        if plan.is_empty() {
            tracing::info!(current = ?report.from, "nothing to apply");
            return Ok(report);
        }
        if self.options.grouped {
            self.apply_grouped(client, &plan, &mut report, on_step)
                .await?;
        } else {
            for migration in plan {
                let step = self.apply_one(client, migration).await?;
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
        let (status, mut report) = self.verified_status(client).await?;
        let plan = status.plan_down(rev)?;
        for migration in plan {
            let step = self.revert_one(client, migration).await?;
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

    async fn stamp_locked(&self, client: &Client, rev: &Rev) -> Result<Report, Error> {
        let rows = match self.table.read_if_exists(client).await? {
            Some(rows) => rows,
            None => {
                self.table.create(client).await?;
                Vec::new()
            }
        };
        let status = Status::new(&self.migrations, &rows);
        let target = status.resolve(rev)?.map_or(0, Migration::version);
        let mut report = Report {
            from: status.current(),
            unknown: status.versions(State::Unknown),
            ..Report::default()
        };
        let insert = self.table.insert_sql();
        let delete = self.table.delete_sql();
        for entry in &status.entries {
            let started = Instant::now();
            let direction = match (entry.state, entry.migration) {
                (State::Pending, Some(m)) if entry.version <= target => {
                    self.table
                        .insert(client, &insert, m.version(), m.name(), m.checksum())
                        .await
                        .map_err(Error::db("recording a stamped version"))?;
                    Direction::Stamped
                }
                (state, _) if state.is_applied() && entry.version > target => {
                    client
                        .execute_typed(&delete, &[(&entry.version, Type::INT8)])
                        .await
                        .map_err(Error::db("removing a stamped version"))?;
                    Direction::Unstamped
                }
                _ => continue,
            };
            report.steps.push(Step {
                direction,
                version: entry.version,
                name: entry.name.clone(),
                elapsed_ms: elapsed_ms(started),
                old_checksum: None,
            });
        }
        report.to = (target > 0).then_some(target);
        Ok(report)
    }

    async fn repair_locked(&self, client: &Client) -> Result<Report, Error> {
        let rows = self.table.read(client).await?;
        let status = Status::new(&self.migrations, &rows);
        let mut report = Report {
            from: status.current(),
            to: status.current(),
            unknown: status.versions(State::Unknown),
            ..Report::default()
        };
        let update = self.table.update_checksum_sql();
        for entry in status.in_state(State::Divergent) {
            let (Some(m), Some(row)) = (entry.migration, &entry.row) else {
                continue;
            };
            let started = Instant::now();
            let checksum = m.checksum().to_string();
            let name = m.name();
            client
                .execute_typed(
                    &update,
                    &[
                        (&m.version(), Type::INT8),
                        (&name, Type::VARCHAR),
                        (&checksum, Type::VARCHAR),
                    ],
                )
                .await
                .map_err(Error::db("re-recording a checksum"))?;
            tracing::info!(version = m.version(), old = %row.checksum, new = %checksum, "re-recorded checksum");
            report.steps.push(Step {
                direction: Direction::Repaired,
                version: m.version(),
                name: m.name().to_string(),
                elapsed_ms: elapsed_ms(started),
                old_checksum: Some(row.checksum.clone()),
            });
        }
        Ok(report)
    }

    /// The per-migration timeouts: `SET LOCAL` at the start of a migration's transaction, or
    /// session-wide `SET` around a `-- no-transaction` script (reset after it).
    fn set_timeouts(&self, local: bool) -> String {
        let scope = if local { "SET LOCAL" } else { "SET" };
        let ms = |d: Option<Duration>| d.map_or(0, |d| d.as_millis().max(1));
        format!(
            "{scope} lock_timeout = '{}ms'; {scope} statement_timeout = '{}ms'",
            ms(self.options.lock_timeout),
            ms(self.options.statement_timeout)
        )
    }

    /// Applies one migration. In a transaction, the migration, its history row and the commit
    /// travel in one flight: one round trip, and a failure anywhere rolls all of it back.
    async fn apply_one(&self, client: &Client, m: &Migration) -> Result<Step, Error> {
        let script = m.apply();
        let insert = self.table.insert_sql();
        let started = Instant::now();
        if script.no_transaction {
            let record = self
                .table
                .insert(client, &insert, m.version(), m.name(), m.checksum());
            self.run_outside_transaction(client, m, script, record)
                .await?;
        } else {
            let begin = format!("BEGIN; {}", self.set_timeouts(true));
            let (begun, ran, recorded, committed) = join4(
                client.batch_execute(&begin),
                client.batch_execute(&script.sql),
                self.table
                    .insert(client, &insert, m.version(), m.name(), m.checksum()),
                client.batch_execute("COMMIT"),
            )
            .await;
            check_transaction(m, script, begun, ran, recorded, committed)?;
        }
        let step = Step {
            direction: Direction::Applied,
            version: m.version(),
            name: m.name().to_string(),
            elapsed_ms: elapsed_ms(started),
            old_checksum: None,
        };
        tracing::info!(version = step.version, name = %step.name, elapsed_ms = step.elapsed_ms, "applied migration");
        Ok(step)
    }

    async fn revert_one(&self, client: &Client, m: &Migration) -> Result<Step, Error> {
        let Some(script) = m.undo() else {
            return Err(Error::Irreversible {
                migration: m.full_name(),
                version: m.version(),
                name: m.name().to_string(),
            });
        };
        let delete = self.table.delete_sql();
        let version = m.version();
        let params: [(&(dyn tokio_postgres::types::ToSql + Sync), Type); 1] =
            [(&version, Type::INT8)];
        let remove = client.execute_typed(&delete, &params);
        let started = Instant::now();
        if script.no_transaction {
            let record = async { remove.await.map(drop) };
            self.run_outside_transaction(client, m, script, record)
                .await?;
        } else {
            let begin = format!("BEGIN; {}", self.set_timeouts(true));
            let (begun, ran, recorded, committed) = join4(
                client.batch_execute(&begin),
                client.batch_execute(&script.sql),
                async { remove.await.map(drop) },
                client.batch_execute("COMMIT"),
            )
            .await;
            check_transaction(m, script, begun, ran, recorded, committed)?;
        }
        let step = Step {
            direction: Direction::Reverted,
            version,
            name: m.name().to_string(),
            elapsed_ms: elapsed_ms(started),
            old_checksum: None,
        };
        tracing::info!(version, name = %step.name, elapsed_ms = step.elapsed_ms, "reverted migration");
        Ok(step)
    }

    /// Runs a `-- no-transaction` script on its own, as PostgreSQL requires for
    /// `CREATE INDEX CONCURRENTLY`, then `record`s it, then resets the timeouts. The timeouts are
    /// set for the session first, in a round trip of their own: if setting them failed, the
    /// script must not run.
    async fn run_outside_transaction(
        &self,
        client: &Client,
        m: &Migration,
        script: &Script,
        record: impl Future<Output = Result<(), tokio_postgres::Error>>,
    ) -> Result<(), Error> {
        client
            .batch_execute(&self.set_timeouts(false))
            .await
            .map_err(Error::db("setting the migration's timeouts"))?;
        let ran = client.batch_execute(&script.sql).await;
        let recorded = match &ran {
            Ok(()) => Some(record.await),
            Err(_) => None,
        };
        let reset = client
            .batch_execute("RESET lock_timeout; RESET statement_timeout")
            .await;
        ran.map_err(|err| Error::MigrationFailed {
            migration: m.full_name(),
            failure: SqlFailure::new(&script.path, &script.sql, &err),
        })?;
        if let Some(recorded) = recorded {
            recorded.map_err(Error::db("recording the migration in the history table"))?;
        }
        reset.map_err(Error::db("resetting the migration's timeouts"))
    }

    async fn apply_grouped(
        &self,
        client: &Client,
        plan: &[&Migration],
        report: &mut Report,
        on_step: &mut (dyn FnMut(&Step) + Send),
    ) -> Result<(), Error> {
        if let Some(m) = plan.iter().find(|m| m.apply().no_transaction) {
            return Err(Error::GroupedNoTransaction {
                migration: m.full_name(),
            });
        }
        let insert = self.table.insert_sql();
        let started = Instant::now();
        client
            .batch_execute(&format!("BEGIN; {}", self.set_timeouts(true)))
            .await
            .map_err(Error::db("starting the grouped transaction"))?;
        let mut steps = Vec::with_capacity(plan.len());
        for m in plan {
            let step_started = Instant::now();
            let (ran, recorded) = join(
                client.batch_execute(&m.apply().sql),
                self.table
                    .insert(client, &insert, m.version(), m.name(), m.checksum()),
            )
            .await;
            if let Err(err) = ran {
                let _ = client.batch_execute("ROLLBACK").await;
                return Err(Error::MigrationFailed {
                    migration: m.full_name(),
                    failure: SqlFailure::new(&m.apply().path, &m.apply().sql, &err),
                });
            }
            if let Err(err) = recorded {
                let _ = client.batch_execute("ROLLBACK").await;
                return Err(Error::db("recording an applied migration")(err));
            }
            steps.push(Step {
                direction: Direction::Applied,
                version: m.version(),
                name: m.name().to_string(),
                elapsed_ms: elapsed_ms(step_started),
                old_checksum: None,
            });
        }
        client
            .batch_execute("COMMIT")
            .await
            .map_err(Error::db("committing the grouped transaction"))?;
        tracing::info!(
            count = steps.len(),
            elapsed_ms = elapsed_ms(started),
            "applied migrations in one transaction"
        );
        for step in steps {
            report.to = Some(step.version);
            on_step(&step);
            report.steps.push(step);
        }
        Ok(())
    }
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
            Err(Error::Interrupted)
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

/// The first error of a pipelined transaction. After a failed statement the server rejects the
/// rest and turns COMMIT into a rollback, so only the first error says what went wrong.
fn check_transaction(
    m: &Migration,
    script: &Script,
    begun: Result<(), tokio_postgres::Error>,
    ran: Result<(), tokio_postgres::Error>,
    recorded: Result<(), tokio_postgres::Error>,
    committed: Result<(), tokio_postgres::Error>,
) -> Result<(), Error> {
    begun.map_err(Error::db("starting the migration's transaction"))?;
    ran.map_err(|err| Error::MigrationFailed {
        migration: m.full_name(),
        failure: SqlFailure::new(&script.path, &script.sql, &err),
    })?;
    recorded.map_err(Error::db("recording the migration in the history table"))?;
    committed.map_err(|err| Error::MigrationFailed {
        migration: m.full_name(),
        failure: SqlFailure::new(&script.path, "", &err),
    })
}

fn elapsed_ms(started: Instant) -> u64 {
    u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX)
}
