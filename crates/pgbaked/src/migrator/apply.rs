//! One migration applied or reverted and recorded: in its own transaction, outside one
//! (`-- no-transaction`, with recovery of what a killed run left), or all in one
//! (`--grouped`); lock timeouts retried with backoff.

use super::*;

impl Migrator {
    /// Applies or reverts one migration and records it.
    pub(super) async fn run_one(
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

    pub(super) async fn apply_grouped(
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
