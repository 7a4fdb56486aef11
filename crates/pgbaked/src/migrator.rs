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
    /// `lock_timeout` inside each migration's transaction, so that a migration queued behind
    /// a long transaction fails instead of stalling every query queued behind it. `None`
    /// sends nothing, leaving the role's or database's own setting in force.
    pub lock_timeout: Option<Duration>,
    /// `lock_timeout` around a `-- no-transaction` script. `None` (the default) sends nothing:
    /// `CREATE INDEX CONCURRENTLY` waits, through the lock manager, for every transaction
    /// older than itself, so a default bound would fail it on any busy database. Only a bound
    /// the user chose belongs here.
    pub no_transaction_lock_timeout: Option<Duration>,
    /// `statement_timeout` inside each migration, `-- no-transaction` ones included. `None`
    /// sends nothing.
    pub statement_timeout: Option<Duration>,
    /// How many times a migration whose transaction hit `lock_timeout` is run again, after a
    /// backoff (1 s, 2 s, 4 s, … with jitter): nothing of it had committed, and live traffic
    /// that held the lock has usually moved on. 0: fail at the first timeout.
    pub lock_retries: u32,
    /// How cancel requests reach the server (TLS when the server requires it).
    pub cancel_tls: CancelTls,
    /// Hold back `-- contract` migrations while a replica of an older release of this
    /// service is connected: the service's name, whose replicas name their connections
    /// `NAME head=VERSION (…)` ([`release_application_name`]). `None`: apply them.
    pub contract_guard: Option<String>,
    /// Log each step at debug rather than info: a run on a scratch database (a replay, a
    /// template, autogenerate's check) changes nothing of the user's, and its lines would
    /// read as if it did.
    pub quiet: bool,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            table: DEFAULT_TABLE.to_string(),
            lock_wait: Duration::from_secs(60),
            grouped: false,
            strict: false,
            // Short, so the queries queued behind a waiting ALTER wait no longer than this;
            // retried (`lock_retries`) rather than failed at once.
            lock_timeout: Some(Duration::from_secs(3)),
            no_transaction_lock_timeout: None,
            statement_timeout: None,
            lock_retries: 5,
            cancel_tls: CancelTls::default(),
            contract_guard: None,
            quiet: false,
        }
    }
}

/// What a step did.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
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
    /// The mark of an unfinished `-- no-transaction` script was cleared by `repair`.
    Cleared,
}

impl Action {
    /// The word the CLI prints.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Applied => "applied",
            Action::Reverted => "reverted",
            Action::Stamped => "stamped",
            Action::Unstamped => "unstamped",
            Action::Repaired => "repaired",
            Action::Cleared => "cleared",
        }
    }
}

/// One finished step of a run.
#[derive(Clone, Debug, Serialize)]
pub struct Step {
    /// What happened; `direction` in JSON, as before there were other actions than the two.
    #[serde(rename = "direction")]
    pub action: Action,
    /// The version.
    pub version: i64,
    /// The description.
    pub name: String,
    /// How long the step took, commit included.
    pub elapsed_ms: u64,
    /// For a repair: the checksum recorded before.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub old_checksum: Option<String>,
    /// For a repair: the checksum recorded now.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub new_checksum: Option<String>,
    /// How many times the migration was run again after a lock timeout rolled it back.
    #[serde(skip_serializing_if = "is_zero")]
    pub retries: u32,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
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
    /// Pending versions held back: a `-- contract` migration, and those after it, while a
    /// replica of an older release is connected (see [`Options::contract_guard`]).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub held: Vec<i64>,
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
        let recorded = if status
            .entries
            .iter()
            .any(|e| matches!(e.state, State::Unknown | State::Mismatched))
        {
            recorded_migrations(self.table.recorded_undos(client).await?)
        } else {
            Vec::new()
        };
        let plan = status.plan_down_with(rev, &recorded)?;
        if !plan.is_empty() {
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

    /// Adds and removes rows in one transaction, so that a failure leaves the history as it
    /// was; marks of unfinished scripts for those versions are cleared with them.
    async fn stamp_locked(&self, client: &Client, rev: &Rev) -> Result<Report, Error> {
        let history = self.read_or_create(client).await?;
        let status = Status::of(&self.migrations, &history);
        let target = status.resolve(rev)?.map_or(0, Migration::version);
        let mut report = Report {
            from: status.current(),
            unknown: status.versions(State::Unknown),
            ..Report::default()
        };
        let mut changes = Vec::new();
        for entry in &status.entries {
            match (entry.state, entry.migration) {
                (State::Pending, Some(m)) if entry.version <= target => {
                    changes.push((Action::Stamped, entry, Some(m)));
                }
                (state, _) if state.is_applied() && entry.version > target => {
                    changes.push((Action::Unstamped, entry, None));
                }
                _ => {}
            }
        }
        if let Some(&(_, entry, _)) = changes.iter().find(|(d, _, m)| {
            *d == Action::Stamped && m.is_some_and(|m| i32::try_from(m.version()).is_err())
        }) && status.width == VersionWidth::Int4
        {
            return Err(Error::VersionTooLarge {
                migration: format!("V{}__{}", entry.version, entry.name),
                table: self.table.name().to_string(),
            });
        }
        let marked: Vec<i64> = self
            .table
            .unfinished(client)
            .await?
            .into_iter()
            .map(|u| u.version)
            .collect();
        if !changes.is_empty() {
            self.table.create_undo(client).await?;
        }
        let started = Instant::now();
        let writes = changes.iter().map(|(action, entry, m)| async move {
            match (action, m) {
                (Action::Stamped, Some(m)) => self.table.record(client, m, status.width).await,
                _ => self.table.unrecord(client, entry.version).await,
            }
        });
        let clears = changes
            .iter()
            .filter(|(_, entry, _)| marked.contains(&entry.version))
            .map(|(_, entry, _)| self.table.clear_unfinished(client, entry.version));
        let (begun, written, cleared, committed) = join4(
            client.batch_execute("BEGIN"),
            join_all(writes),
            join_all(clears),
            client.batch_execute("COMMIT"),
        )
        .await;
        begun.map_err(Error::db("starting the stamp's transaction"))?;
        written
            .into_iter()
            .chain(cleared)
            .collect::<Result<Vec<()>, _>>()
            .map_err(Error::db("recording stamped versions"))?;
        committed.map_err(Error::db("committing the stamp"))?;
        let elapsed = elapsed_ms(started);
        for (action, entry, _) in changes {
            report.steps.push(Step {
                action,
                version: entry.version,
                name: entry.name.clone(),
                elapsed_ms: elapsed,
                old_checksum: None,
                new_checksum: None,
                retries: 0,
            });
        }
        report.to = (target > 0).then_some(target);
        Ok(report)
    }

    /// Re-records edited checksums and clears the marks of unfinished `-- no-transaction`
    /// scripts (so that the next run runs them again), all in one transaction.
    async fn repair_locked(&self, client: &Client) -> Result<Report, Error> {
        let history = self.table.read(client).await?;
        let status = Status::of(&self.migrations, &history);
        // A row of another migration is no checksum to re-record: renaming it would make the
        // database claim a migration it never ran.
        status.verify_names()?;
        let mut report = Report {
            from: status.current(),
            to: status.current(),
            unknown: status.versions(State::Unknown),
            ..Report::default()
        };
        let unfinished = self.table.unfinished(client).await?;
        let divergent: Vec<(&Migration, String)> = status
            .in_state(State::Divergent)
            .filter_map(|e| Some((e.migration?, e.row.as_ref()?.checksum.clone())))
            .collect();
        let started = Instant::now();
        let (begun, written, cleared, committed) = join4(
            client.batch_execute("BEGIN"),
            join_all(
                divergent
                    .iter()
                    .map(|(m, _)| self.table.rerecord(client, m, status.width)),
            ),
            join_all(
                unfinished
                    .iter()
                    .map(|u| self.table.clear_unfinished(client, u.version)),
            ),
            client.batch_execute("COMMIT"),
        )
        .await;
        begun.map_err(Error::db("starting the repair's transaction"))?;
        written
            .into_iter()
            .chain(cleared)
            .collect::<Result<Vec<()>, _>>()
            .map_err(Error::db("re-recording checksums"))?;
        committed.map_err(Error::db("committing the repair"))?;
        let elapsed = elapsed_ms(started);
        for (m, old) in divergent {
            let new = m.checksum_for(status.width);
            tracing::info!(version = m.version(), old = %old, new, "re-recorded checksum");
            report.steps.push(Step {
                action: Action::Repaired,
                version: m.version(),
                name: m.name().to_string(),
                elapsed_ms: elapsed,
                old_checksum: Some(old),
                new_checksum: Some(new.to_string()),
                retries: 0,
            });
        }
        for u in unfinished {
            tracing::info!(
                version = u.version,
                direction = %u.direction,
                started_on = %u.started_on,
                "cleared the mark of an unfinished -- no-transaction script; the next run runs it again"
            );
            report.steps.push(Step {
                action: Action::Cleared,
                version: u.version,
                name: self
                    .migrations
                    .iter()
                    .find(|m| m.version() == u.version)
                    .map_or_else(String::new, |m| m.name().to_string()),
                elapsed_ms: elapsed,
                old_checksum: None,
                new_checksum: None,
                retries: 0,
            });
        }
        Ok(report)
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

    /// Applies or reverts one migration and records it.
    async fn run_one(
        &self,
        client: &Client,
        m: &Migration,
        direction: Direction,
        width: VersionWidth,
        marks: &[Unfinished],
    ) -> Result<Step, Error> {
        let script = match direction {
            Direction::Up => m.apply(),
            Direction::Down => m.undo().ok_or_else(|| Error::Irreversible {
                migration: m.full_name(),
                version: m.version(),
                name: m.name().to_string(),
            })?,
        };
        let record = || async {
            match direction {
                Direction::Up => self.table.record(client, m, width).await,
                Direction::Down => self.table.unrecord(client, m.version()).await,
            }
        };
        let started = Instant::now();
        let mut retries = 0;
        if script.no_transaction {
            let mark = marks.iter().find(|u| u.version == m.version());
            self.run_outside_transaction(client, m, script, direction, mark, record())
                .await?;
        } else {
            // A lock timeout rolled the whole transaction back: run it again after a pause,
            // never a part of it twice.
            let mut pauses = lock_retry_pauses();
            loop {
                match self.run_in_transaction(client, m, script, record()).await {
                    Err(err) if retries < self.options.lock_retries && is_lock_timeout(&err) => {
                        retries += 1;
                        let pause = pauses.next().unwrap_or(Duration::from_secs(30));
                        tracing::warn!(
                            version = m.version(),
                            name = %m.name(),
                            retry = retries,
                            of = self.options.lock_retries,
                            retry_in_ms = pause.as_millis() as u64,
                            "lock timeout: the migration rolled back and runs again after a pause"
                        );
                        tokio::time::sleep(pause).await;
                    }
                    result => break result?,
                }
            }
        }
        let action = match direction {
            Direction::Up => Action::Applied,
            Direction::Down => Action::Reverted,
        };
        let step = Step {
            action,
            version: m.version(),
            name: m.name().to_string(),
            elapsed_ms: elapsed_ms(started),
            old_checksum: None,
            new_checksum: None,
            retries,
        };
        if self.options.quiet {
            tracing::debug!(version = step.version, name = %step.name, elapsed_ms = step.elapsed_ms, "{} migration", action.as_str());
        } else {
            tracing::info!(version = step.version, name = %step.name, elapsed_ms = step.elapsed_ms, "{} migration", action.as_str());
        }
        Ok(step)
    }

    /// The migration, its history row and the commit travel in one flight: one round trip,
    /// and a failure anywhere rolls all of it back. Each statement is its own message, so the
    /// first error names the statement that failed even when the server gives no position.
    async fn run_in_transaction(
        &self,
        client: &Client,
        m: &Migration,
        script: &Script,
        record: impl Future<Output = Result<(), tokio_postgres::Error>>,
    ) -> Result<(), Error> {
        let begin = match self.set_timeouts(true) {
            Some(set) => format!("BEGIN; {set}"),
            None => "BEGIN".to_string(),
        };
        let pieces = script.pieces();
        let (begun, ran, recorded, committed) = join4(
            client.batch_execute(&begin),
            join_all(pieces.iter().map(|(_, sql)| client.batch_execute(sql))),
            record,
            client.batch_execute("COMMIT"),
        )
        .await;
        begun.map_err(Error::db("starting the migration's transaction"))?;
        check_pieces(m, script, &pieces, ran)?;
        recorded.map_err(Error::db("recording the migration in the history table"))?;
        committed.map_err(|err| Error::MigrationFailed {
            migration: m.full_name(),
            failure: Box::new(SqlFailure::new(&script.path, "", &err)),
        })
    }

    /// Runs a `-- no-transaction` script on its own, as PostgreSQL requires for
    /// `CREATE INDEX CONCURRENTLY`, then `record`s it.
    ///
    /// A mark is committed first, so that a run that dies inside the script is recognised by
    /// the next: the leftovers of a concurrent index build are dropped and the script runs
    /// again (or, when it had finished, it is only recorded); anything else is reported with
    /// what to do, never retried blindly.
    async fn run_outside_transaction(
        &self,
        client: &Client,
        m: &Migration,
        script: &Script,
        direction: Direction,
        mark: Option<&Unfinished>,
        record: impl Future<Output = Result<(), tokio_postgres::Error>>,
    ) -> Result<(), Error> {
        let concurrent = recovery::classify(&script.sql);
        let verb = if direction == Direction::Up {
            "apply"
        } else {
            "revert"
        };
        let mut finished = false;
        if let Some(mark) = mark.filter(|u| u.direction == verb) {
            let Some(statement) = &concurrent else {
                return Err(Error::Unfinished {
                    migration: m.full_name(),
                    version: m.version(),
                    path: script.path.clone(),
                    direction: mark.direction.clone(),
                    started_on: mark.started_on.clone(),
                    pid: mark.pid,
                });
            };
            match recovery::recover(client, statement)
                .await
                .map_err(Error::db("inspecting what an interrupted run left"))?
            {
                Outcome::Finished => {
                    tracing::warn!(
                        version = m.version(),
                        started_on = %mark.started_on,
                        "an earlier run finished this -- no-transaction script but stopped before recording it; recording it now"
                    );
                    finished = true;
                }
                Outcome::Retry(dropped) => tracing::warn!(
                    version = m.version(),
                    started_on = %mark.started_on,
                    ?dropped,
                    "an earlier run stopped inside this -- no-transaction script; dropped its INVALID leftovers and running it again"
                ),
            }
        }
        let timeouts = self.set_timeouts(false);
        if let Some(set) = &timeouts {
            client
                .batch_execute(set)
                .await
                .map_err(Error::db("setting the migration's timeouts"))?;
        }
        self.table
            .mark_unfinished(client, m.version(), verb)
            .await
            .map_err(Error::db("marking the -- no-transaction script as started"))?;
        let ran = if finished {
            Ok(())
        } else {
            client.batch_execute(&script.sql).await
        };
        if timeouts.is_some() {
            client
                .batch_execute("RESET lock_timeout; RESET statement_timeout")
                .await
                .map_err(Error::db("resetting the migration's timeouts"))?;
        }
        if let Err(err) = ran {
            // A failed statement that is not a concurrent index operation left nothing behind;
            // a concurrent one may have left an INVALID index, which the next run repairs.
            if concurrent.is_none() {
                self.table
                    .clear_unfinished(client, m.version())
                    .await
                    .map_err(Error::db("clearing the mark of a failed script"))?;
            }
            return Err(Error::MigrationFailed {
                migration: m.full_name(),
                failure: Box::new(SqlFailure::in_script(script, 0, &err)),
            });
        }
        let (begun, recorded, cleared, committed) = join4(
            client.batch_execute("BEGIN"),
            record,
            self.table.clear_unfinished(client, m.version()),
            client.batch_execute("COMMIT"),
        )
        .await;
        begun
            .and(recorded)
            .and(cleared)
            .and(committed)
            .map_err(Error::db("recording the migration in the history table"))
    }

    async fn apply_grouped(
        &self,
        client: &Client,
        plan: &[&Migration],
        width: VersionWidth,
        report: &mut Report,
        on_step: &mut (dyn FnMut(&Step) + Send),
    ) -> Result<(), Error> {
        if let Some(m) = plan.iter().find(|m| m.apply().no_transaction) {
            return Err(Error::GroupedNoTransaction {
                migration: m.full_name(),
            });
        }
        let started = Instant::now();
        let begin = match self.set_timeouts(true) {
            Some(set) => format!("BEGIN; {set}"),
            None => "BEGIN".to_string(),
        };
        client
            .batch_execute(&begin)
            .await
            .map_err(Error::db("starting the grouped transaction"))?;
        let mut steps = Vec::with_capacity(plan.len());
        for m in plan {
            let step_started = Instant::now();
            let script = m.apply();
            let pieces = script.pieces();
            let (ran, recorded) = join(
                join_all(pieces.iter().map(|(_, sql)| client.batch_execute(sql))),
                self.table.record(client, m, width),
            )
            .await;
            let checked = check_pieces(m, script, &pieces, ran)
                .and_then(|()| recorded.map_err(Error::db("recording an applied migration")));
            if let Err(err) = checked {
                let _ = client.batch_execute("ROLLBACK").await;
                return Err(err);
            }
            steps.push(Step {
                action: Action::Applied,
                version: m.version(),
                name: m.name().to_string(),
                elapsed_ms: elapsed_ms(step_started),
                old_checksum: None,
                new_checksum: None,
                retries: 0,
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
fn recorded_migrations(records: Vec<super::history::RecordedUndo>) -> Vec<Migration> {
    records
        .into_iter()
        .filter_map(|r| {
            let undo = r
                .undo
                .map(|sql| Script::new(format!("U{}__{}.sql (recorded)", r.version, r.name), sql));
            Migration::new(
                r.version,
                &r.name,
                Script::new(format!("V{}__{}.sql (recorded)", r.version, r.name), ""),
                undo,
            )
            .ok()
        })
        .collect()
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
