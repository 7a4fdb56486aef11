//! Fleets: `up`, `down`, `current`, `check` and `history` over many databases, or many
//! schemas of one database, at once (`--targets FILE|-`, `--targets-query SQL`).
//!
//! Each target keeps its own history table and its own lock, so a rerun after a failure, a
//! crash or a kill resumes where each target stood, and nothing is applied twice. At most
//! `--parallel` targets are in flight, each on one connection, and a gate per server holds
//! every connection's permit until its socket is closed: never more than `--parallel`
//! migrating connections to one server, plus the `--targets-query` one, closed before.

use std::collections::HashMap;
use std::future::Future;
use std::io::{IsTerminal, Read};
use std::path::Path;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use futures_util::stream::{FuturesUnordered, StreamExt};
use pgbaked::{DatabaseConfig, Migration, Migrator, Options, Rev, State, Step};
use serde_json::json;
use tokio::sync::{Semaphore, watch};
use tracing::Instrument;

use crate::Service;
use crate::args::{FleetArgs, Format, MigrateCommand, OnError, Settings};

mod report;
mod targets;

use report::*;
pub use report::{LogWriter, log_writer};
use targets::read_targets;

/// One line of `--targets`, or one row of `--targets-query`.
struct Target {
    /// Where it was given (`line 7`), which names it when its URL cannot be parsed.
    origin: String,
    /// The URL parsed, or why it cannot be used: not a URL, or a duplicate.
    config: Result<DatabaseConfig, String>,
}

impl Target {
    /// Its URL without the password, or where it was given.
    fn name(&self) -> String {
        match &self.config {
            Ok(config) => config.to_string(),
            Err(_) => self.origin.clone(),
        }
    }
}

/// What became of one target.
#[derive(Debug, Default)]
struct Outcome {
    /// `migrated`, `reverted`, `up_to_date`; `in_sync`, `pending`, `edited`, `unknown`; or
    /// `failed`, `unreachable`, `not_started`.
    state: &'static str,
    from: Option<i64>,
    to: Option<i64>,
    /// Pending migrations (status commands).
    pending: Option<usize>,
    /// Every version either side knows, with its state (status commands; `history` shows it).
    versions: Vec<(i64, &'static str)>,
    /// Committed steps, also those a failed run committed before failing.
    steps: Vec<Step>,
    error: Option<String>,
    elapsed: Duration,
}

impl Outcome {
    fn failed(state: &'static str, error: String) -> Outcome {
        Outcome {
            state,
            error: Some(error),
            ..Outcome::default()
        }
    }

    /// Whether the run itself failed on this target (which `--on-error` and `--canary` act on).
    fn is_failure(&self) -> bool {
        matches!(self.state, "failed" | "unreachable")
    }
}

/// What the fleet runs on each target.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Work {
    Up,
    Down,
    /// `current`, `check`, `history`: read the history, change nothing.
    Status,
}

/// Everything a target's run shares with the others.
struct Fleet {
    migrations: Vec<Migration>,
    options: Options,
    role: String,
    parallel: usize,
    /// One gate per server (host and port): see the module's comment.
    gates: Mutex<HashMap<String, Arc<Semaphore>>>,
    /// Turns true on SIGINT/SIGTERM: in-flight migrations roll back and release their locks.
    stop: watch::Receiver<bool>,
}

impl Fleet {
    fn gate(&self, config: &DatabaseConfig) -> Arc<Semaphore> {
        let server = format!(
            "{:?}:{:?}",
            config.pg().get_hosts(),
            config.pg().get_ports()
        );
        let mut gates = self.gates.lock().unwrap_or_else(|e| e.into_inner());
        gates
            .entry(server)
            .or_insert_with(|| Arc::new(Semaphore::new(self.parallel)))
            .clone()
    }

    /// The target's own migrator: its history table (and so its lock key) in its schema, and
    /// its own TLS for cancel requests.
    fn migrator(&self, config: &DatabaseConfig) -> Migrator {
        let cancel_tls = (config.tls().mode != pgbaked::SslMode::Disable)
            .then(|| config.tls().connector().ok())
            .flatten();
        Migrator::new(
            self.migrations.clone(),
            Options {
                table: config.history_table(&self.options.table),
                cancel_tls: pgbaked::CancelTls(cancel_tls),
                // Each target's steps are in its result line (and the progress display): one
                // log line per step per target would drown both.
                quiet: true,
                ..self.options.clone()
            },
        )
    }

    async fn stopped(&self) {
        let mut stop = self.stop.clone();
        if stop.wait_for(|stopped| *stopped).await.is_err() {
            std::future::pending::<()>().await;
        }
    }

    /// Runs `work` on one target.
    async fn run(&self, config: DatabaseConfig, work: Work, rev: &Rev) -> Outcome {
        let started = Instant::now();
        let mut outcome = self.run_timed(config, work, rev).await;
        outcome.elapsed = started.elapsed();
        outcome
    }

    async fn run_timed(&self, config: DatabaseConfig, work: Work, rev: &Rev) -> Outcome {
        let migrator = self.migrator(&config);
        let config = config.with_application_name(&self.role);
        let pool = match pgbaked::gated_pool(&config, 1, self.gate(&config)) {
            Ok(pool) => pool,
            Err(err) => return Outcome::failed("failed", err.to_string()),
        };
        // Connect first, so an unreachable server is told apart from a failing migration.
        let client = match pool.get().await {
            Ok(client) => client,
            Err(err) => {
                let state = if pgbaked::is_permanent(&err) {
                    "failed" // a wrong password, a missing database
                } else {
                    "unreachable"
                };
                return Outcome::failed(state, pgbaked::pool_error_text(&err));
            }
        };
        // A pooler in between (PgBouncer) may drop the startup options that pin search_path:
        // then the migrations would land in another schema than the tenant's history.
        if let Some(schema) = config.schema() {
            let pinned = client
                .query_one("SELECT current_setting('search_path')", &[])
                .await
                .map(|row| row.get::<_, String>(0));
            match pinned {
                Ok(path) if path.trim_matches('"') == schema => {}
                Ok(path) => {
                    return Outcome::failed(
                        "failed",
                        format!(
                            "search_path is `{path}`, not the target's schema `{schema}`: \
                             something between (a pooler?) dropped the connection's options; \
                             connect to the server directly"
                        ),
                    );
                }
                Err(err) => return Outcome::failed("failed", pgbaked::error_chain(&err)),
            }
        }
        let outcome = match work {
            Work::Status => status(&migrator, &client).await,
            Work::Up | Work::Down => {
                // Where it stood before, for the report even when the run fails.
                let before = match migrator.history(&client).await {
                    Ok(history) => migrator.status(&history).current(),
                    Err(_) => None,
                };
                drop(client); // back to the pool, where the migrator takes it
                let mut steps = Vec::new();
                let mut on_step = |step: &Step| steps.push(step.clone());
                let result = if work == Work::Up {
                    migrator
                        .up_until(&pool, rev, &mut on_step, self.stopped())
                        .await
                } else {
                    migrator
                        .down_until(&pool, rev, &mut on_step, self.stopped())
                        .await
                };
                match result {
                    Ok(report) => Outcome {
                        state: match (report.steps.is_empty(), work) {
                            (true, _) => "up_to_date",
                            (false, Work::Up) => "migrated",
                            (false, _) => "reverted",
                        },
                        from: report.from,
                        to: report.to,
                        steps: report.steps,
                        ..Outcome::default()
                    },
                    Err(err) => Outcome {
                        from: before,
                        steps,
                        ..Outcome::failed("failed", format!("{:#}", anyhow::Error::new(err)))
                    },
                }
            }
        };
        pool.close();
        outcome
    }
}

/// A target's history against the binary's migrations.
async fn status(migrator: &Migrator, client: &pgbaked::tokio_postgres::Client) -> Outcome {
    let history = match migrator.history(client).await {
        Ok(history) => history,
        Err(err) => return Outcome::failed("failed", format!("{:#}", anyhow::Error::new(err))),
    };
    let status = migrator.status(&history);
    let pending = status.versions(State::Pending).len();
    let state = if !status.versions(State::Mismatched).is_empty() {
        "mismatched"
    } else if !status.versions(State::Divergent).is_empty() {
        "edited"
    } else if !status.versions(State::Unknown).is_empty() {
        "unknown"
    } else if pending > 0 {
        "pending"
    } else {
        "in_sync"
    };
    Outcome {
        state,
        from: status.current(),
        to: status.current(),
        pending: Some(pending),
        versions: status
            .entries
            .iter()
            .map(|e| (e.version, e.state.as_str()))
            .collect(),
        ..Outcome::default()
    }
}

/// Runs `command` over its `--targets`.
pub(crate) async fn run(
    service: &Service,
    settings: &Settings,
    command: &MigrateCommand,
    args: FleetArgs,
    migrator: Migrator,
) -> anyhow::Result<ExitCode> {
    // A relative step is resolved on each target: a rerun after a partial failure would move
    // the targets that had succeeded once more.
    let absolute = |text: &str| -> anyhow::Result<Rev> {
        match crate::args::parse_rev(text)? {
            Rev::Relative(_) => bail!(
                "`{text}` is relative to each target's version, so a rerun would move every \
                 target again: with --targets, give head, base or a version"
            ),
            rev => Ok(rev),
        }
    };
    let (work, rev, verb) = match command {
        MigrateCommand::Up { sql: true, .. } | MigrateCommand::Down { sql: true, .. } => {
            bail!("--sql prints one script and connects nowhere: it takes no --targets")
        }
        MigrateCommand::Check {
            schema: Some(_), ..
        } => bail!(
            "--schema compares the declared schema with the migrations, which is one check \
             for the whole fleet: run `check --schema` without --targets"
        ),
        MigrateCommand::History { verbose: true, .. } => {
            bail!("--verbose lists one database's history: run it without --targets")
        }
        MigrateCommand::Up { rev, grouped, .. } => {
            let (rev, migrator) = (absolute(rev)?, crate::args::grouped_if(migrator, *grouped));
            return over_fleet(service, settings, &args, migrator, Work::Up, rev, "up").await;
        }
        MigrateCommand::Down { rev, .. } => (Work::Down, absolute(rev)?, "down"),
        MigrateCommand::Current { .. } => (Work::Status, Rev::Head, "current"),
        MigrateCommand::History { .. } => (Work::Status, Rev::Head, "history"),
        MigrateCommand::Check { .. } => (Work::Status, Rev::Head, "check"),
        _ => bail!("--targets is taken by up, down, current, check and history"),
    };
    over_fleet(service, settings, &args, migrator, work, rev, verb).await
}

async fn over_fleet(
    service: &Service,
    settings: &Settings,
    args: &FleetArgs,
    migrator: Migrator,
    work: Work,
    rev: Rev,
    verb: &'static str,
) -> anyhow::Result<ExitCode> {
    let targets = read_targets(args, settings, &service.role("migrate")).await?;
    let (stop_tx, stop) = watch::channel(false);
    if work != Work::Status {
        tokio::spawn(async move {
            crate::signal::interrupt().await;
            let _ = stop_tx.send(true);
            // Keep the sender: a dropped one would read as a stop.
            std::future::pending::<()>().await;
        });
    }
    let fleet = Fleet {
        migrations: migrator.migrations().to_vec(),
        // The bare table: each target puts it in its own schema, never DATABASE_URL's.
        options: Options {
            table: crate::scratch::scratch_table(&migrator),
            ..migrator.options().clone()
        },
        role: service.role("migrate"),
        parallel: usize::from(args.parallel),
        gates: Mutex::new(HashMap::new()),
        stop: stop.clone(),
    };
    let format = settings.format;
    let names: Vec<String> = targets.iter().map(Target::name).collect();
    let width = names.iter().map(String::len).max().unwrap_or(0);
    let progress = Progress::new(targets.len());
    // With --on-error stop, a bad line stops the run before any target changes, not half way.
    let refused = args.on_error == OnError::Stop
        && work != Work::Status
        && targets.iter().any(|t| t.config.is_err());
    let outcomes = if refused {
        let outcomes: Vec<Outcome> = targets
            .iter()
            .map(|t| match &t.config {
                Err(reason) => Outcome::failed("failed", reason.clone()),
                Ok(_) => Outcome {
                    state: "not_started",
                    ..Outcome::default()
                },
            })
            .collect();
        if format == Format::Text {
            for (name, o) in names.iter().zip(&outcomes).filter(|(_, o)| o.is_failure()) {
                out!("{name:<width$}  {}", describe(o));
            }
        }
        outcomes
    } else {
        run_all(
            &targets,
            args,
            &progress,
            stop,
            work == Work::Status,
            |i, target| {
                let fleet = &fleet;
                let rev = &rev;
                let config = target.config.clone();
                let name = &names[i];
                let progress = &progress;
                // The engine's log lines name the target they are about.
                let span = tracing::info_span!("target", target = %name);
                async move {
                    let outcome = match config {
                        Ok(config) => fleet.run(config, work, rev).instrument(span).await,
                        Err(reason) => Outcome::failed("failed", reason),
                    };
                    if format == Format::Text && work != Work::Status {
                        progress.println(&format!("{name:<width$}  {}", describe(&outcome)));
                    }
                    outcome
                }
            },
        )
        .await
    };
    progress.finish();
    let ok = match work {
        Work::Status if verb == "check" => outcomes.iter().all(|o| o.state == "in_sync"),
        _ => outcomes
            .iter()
            .all(|o| !o.is_failure() && o.state != "not_started"),
    };
    match format {
        Format::Json => out!(
            "{}",
            json!({
                "command": verb,
                "targets": names.iter().zip(&targets).zip(&outcomes).map(|((name, target), o)| json!({
                    "target": name,
                    "origin": target.origin,
                    "state": o.state,
                    "from": o.from,
                    "to": o.to,
                    "pending": o.pending,
                    "versions": (verb == "history").then(|| o.versions.iter()
                        .map(|(v, state)| json!({ "version": v, "state": state }))
                        .collect::<Vec<_>>()),
                    "steps": o.steps,
                    "error": o.error,
                    "elapsed_ms": o.elapsed.as_millis() as u64,
                })).collect::<Vec<_>>(),
                "summary": counts(&outcomes).into_iter().collect::<serde_json::Map<_, _>>(),
                "ok": ok,
            })
        ),
        Format::Text => {
            if verb == "history" {
                print_histories(&names, &outcomes, width);
            } else if work == Work::Status {
                print_table(&names, &outcomes, width);
            }
            out!("{}", summary(&names, &outcomes, work));
        }
    }
    let any = |state: &str| outcomes.iter().any(|o| o.state == state);
    Ok(if ok {
        ExitCode::SUCCESS
    } else if verb == "check" && !outcomes.iter().any(Outcome::is_failure) {
        // Every target read: the single database's codes, the gravest first.
        ExitCode::from(if any("edited") {
            crate::output::EXIT_DIVERGENT
        } else if any("unknown") {
            crate::output::EXIT_UNKNOWN
        } else {
            crate::output::EXIT_PENDING
        })
    } else {
        ExitCode::FAILURE
    })
}

/// Starts targets in order, at most `--parallel` at once, canaries first, until the end or a
/// stop (`--on-error stop` after a failure, a failed canary, a signal); the targets never
/// started are `not_started`.
async fn run_all<'a, F, Fut>(
    targets: &'a [Target],
    args: &FleetArgs,
    progress: &Progress,
    mut stop: watch::Receiver<bool>,
    read_only: bool,
    start: F,
) -> Vec<Outcome>
where
    F: Fn(usize, &'a Target) -> Fut,
    Fut: Future<Output = Outcome>,
{
    let total = targets.len();
    let canary = if read_only { 0 } else { args.canary.min(total) };
    let parallel = usize::from(args.parallel);
    let mut outcomes: Vec<Option<Outcome>> = (0..total).map(|_| None).collect();
    let mut in_flight = FuturesUnordered::new();
    let mut started: HashMap<usize, Instant> = HashMap::new();
    let (mut next, mut stopping, mut failures) = (0, false, 0);
    let mut tick = tokio::time::interval(Duration::from_millis(200));
    loop {
        while !stopping && next < total && in_flight.len() < parallel {
            // The rest wait for every canary to have finished.
            if next >= canary && outcomes[..canary].iter().any(Option::is_none) {
                break;
            }
            let i = next;
            next += 1;
            started.insert(i, Instant::now());
            let run = start(i, &targets[i]);
            in_flight.push(async move { (i, run.await) });
        }
        if in_flight.is_empty() {
            break;
        }
        tokio::select! {
            Some((i, outcome)) = in_flight.next() => {
                started.remove(&i);
                if outcome.is_failure() {
                    failures += 1;
                    // A status read changes nothing: every target is read whatever failed.
                    if !read_only && (args.on_error == OnError::Stop || i < canary) {
                        stopping = true;
                    }
                }
                outcomes[i] = Some(outcome);
                progress.advance(failures);
            }
            _ = tick.tick() => {
                let slowest = started.iter().min_by_key(|(_, at)| **at);
                progress.slowest(slowest.map(|(&i, at)| (targets[i].name(), at.elapsed())), failures);
            }
            Ok(()) = stop.changed() => stopping = true,
        }
    }
    outcomes
        .into_iter()
        .map(|o| {
            o.unwrap_or_else(|| Outcome {
                state: "not_started",
                ..Outcome::default()
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_summary_names_a_failure_by_its_first_line() {
        let failed = Outcome::failed(
            "failed",
            "migration V1__initial failed: sql/V1__initial.sql:5:1: relation \"users\" already exists\n  | CREATE TABLE users (\n  | ^".into(),
        );
        let migrated = Outcome {
            state: "migrated",
            ..Outcome::default()
        };
        let text = summary(
            &["a".to_string(), "b".to_string()],
            &[migrated, failed],
            Work::Up,
        );
        assert_eq!(
            text,
            "2 targets: 1 migrated, 1 failed (b: migration V1__initial failed: sql/V1__initial.sql:5:1: relation \"users\" already exists)"
        );
    }
}
