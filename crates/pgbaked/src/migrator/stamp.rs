//! `stamp` and `repair` under the lock: history rows written or fixed without running a
//! migration.

use super::*;

impl Migrator {
    /// Adds and removes rows in one transaction, so that a failure leaves the history as it
    /// was; marks of unfinished scripts for those versions are cleared with them.
    pub(super) async fn stamp_locked(&self, client: &Client, rev: &Rev) -> Result<Report, Error> {
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
    pub(super) async fn repair_locked(&self, client: &Client) -> Result<Report, Error> {
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
}
