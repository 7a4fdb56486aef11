//! Migration status: what the database holds against what the binary embeds, and which
//! migrations a command must run to reach a revision. Pure logic, no I/O.

use serde::Serialize;

use super::error::Error;
use super::history::History;
use super::migration::{Migration, VersionWidth};
use super::rev::{Rev, RevError};

/// A row of the history table.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AppliedRow {
    /// The version.
    pub version: i64,
    /// The description.
    pub name: String,
    /// When it was applied, as refinery stores it (RFC 3339).
    pub applied_on: String,
    /// The checksum recorded when it was applied.
    pub checksum: String,
}

/// How a version stands between the binary and the database.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    /// Applied, and the file is unchanged.
    Applied,
    /// Embedded but not applied.
    Pending,
    /// Applied, but the file changed since.
    Divergent,
    /// Applied, but not embedded in this binary.
    Unknown,
    /// The database holds another migration under this version (its recorded name is not the
    /// file's): two branches' migrations were renumbered after one was applied here.
    Mismatched,
}

impl State {
    /// The word the CLI prints.
    pub fn as_str(self) -> &'static str {
        match self {
            State::Applied => "applied",
            State::Pending => "pending",
            State::Divergent => "divergent",
            State::Unknown => "unknown",
            State::Mismatched => "mismatched",
        }
    }

    /// Whether the database holds this version.
    pub fn is_applied(self) -> bool {
        self != State::Pending
    }
}

/// One version, with what the binary and the database know of it.
#[derive(Clone, Debug)]
pub struct Entry<'a> {
    /// The version.
    pub version: i64,
    /// The description, from the binary if it knows the version.
    pub name: String,
    /// The standing.
    pub state: State,
    /// The history row, when applied.
    pub row: Option<AppliedRow>,
    /// The embedded migration, when the binary knows the version.
    pub migration: Option<&'a Migration>,
}

/// The binary's migrations matched against the history table.
#[derive(Clone, Debug)]
pub struct Status<'a> {
    /// Every version either side knows, ascending.
    pub entries: Vec<Entry<'a>>,
    /// How the history table hashes versions.
    pub width: VersionWidth,
}

impl<'a> Status<'a> {
    /// Matches `migrations` against what the history table holds.
    pub fn of(migrations: &'a [Migration], history: &History) -> Status<'a> {
        Status::with_width(migrations, &history.rows, history.width)
    }

    /// Matches `migrations` against the rows of an int8 history table.
    pub fn new(migrations: &'a [Migration], rows: &[AppliedRow]) -> Status<'a> {
        Status::with_width(migrations, rows, VersionWidth::Int8)
    }

    /// Matches `migrations` against the rows of a history table of `width`.
    pub fn with_width(
        migrations: &'a [Migration],
        rows: &[AppliedRow],
        width: VersionWidth,
    ) -> Status<'a> {
        let mut entries: Vec<Entry<'a>> = migrations
            .iter()
            .map(|m| {
                let row = rows.iter().find(|r| r.version == m.version()).cloned();
                let state = match &row {
                    None => State::Pending,
                    Some(row) if row.name != m.name() => State::Mismatched,
                    Some(row) if m.matches_checksum(&row.checksum, width) => State::Applied,
                    Some(_) => State::Divergent,
                };
                Entry {
                    version: m.version(),
                    name: m.name().to_string(),
                    state,
                    row,
                    migration: Some(m),
                }
            })
            .collect();
        for row in rows {
            if !migrations.iter().any(|m| m.version() == row.version) {
                entries.push(Entry {
                    version: row.version,
                    name: row.name.clone(),
                    state: State::Unknown,
                    row: Some(row.clone()),
                    migration: None,
                });
            }
        }
        entries.sort_by_key(|e| e.version);
        Status { entries, width }
    }

    /// The newest applied version, or `None` at base.
    pub fn current(&self) -> Option<i64> {
        self.entries
            .iter()
            .filter(|e| e.state.is_applied())
            .map(|e| e.version)
            .max()
    }

    /// The newest version the binary knows.
    pub fn head(&self) -> Option<i64> {
        self.entries
            .iter()
            .filter(|e| e.migration.is_some())
            .map(|e| e.version)
            .max()
    }

    /// The entries in one state.
    pub fn in_state(&self, state: State) -> impl Iterator<Item = &Entry<'a>> {
        self.entries.iter().filter(move |e| e.state == state)
    }

    /// The versions in one state.
    pub fn versions(&self, state: State) -> Vec<i64> {
        self.in_state(state).map(|e| e.version).collect()
    }

    /// Fails on the first applied migration whose file changed since.
    ///
    /// # Errors
    ///
    /// [`Error::Divergent`], naming the file and both checksums.
    pub fn verify_checksums(&self) -> Result<(), Error> {
        match self.in_state(State::Divergent).next() {
            None => Ok(()),
            Some(entry) => {
                let (Some(migration), Some(row)) = (entry.migration, &entry.row) else {
                    return Ok(());
                };
                Err(Error::Divergent {
                    migration: migration.full_name(),
                    path: migration.apply().path.clone(),
                    applied: row.checksum.clone(),
                    current: migration.checksum_for(self.width),
                })
            }
        }
    }

    /// Fails on the first version the database holds as another migration than the binary's
    /// (a renumbered branch), naming both and where the binary has the recorded one.
    ///
    /// # Errors
    ///
    /// [`Error::Mismatched`].
    pub fn verify_names(&self) -> Result<(), Error> {
        let Some(entry) = self.in_state(State::Mismatched).next() else {
            return Ok(());
        };
        let recorded = entry.row.as_ref().map_or("", |r| r.name.as_str());
        Err(Error::Mismatched {
            version: entry.version,
            recorded: recorded.to_string(),
            file: entry.name.clone(),
            elsewhere: self
                .entries
                .iter()
                .find(|e| e.migration.is_some_and(|m| m.name() == recorded))
                .map(|e| e.version),
            below: self
                .entries
                .iter()
                .filter(|e| e.version < entry.version && e.state.is_applied())
                .map(|e| e.version)
                .max(),
        })
    }

    /// The migrations `up` must apply to reach `rev`, in order.
    ///
    /// # Errors
    ///
    /// A [`RevError`] when `rev` cannot be reached upwards, and [`Error::OutOfOrder`] when a
    /// migration to apply is older than the newest applied one.
    pub fn plan_up(&self, rev: &Rev) -> Result<Vec<&'a Migration>, Error> {
        let current = self.current().unwrap_or(0);
        let pending: Vec<&Entry<'a>> = self.in_state(State::Pending).collect();
        let selected: Vec<&Entry<'a>> = match rev {
            Rev::Head => pending,
            Rev::Base if current == 0 => Vec::new(),
            Rev::Base => {
                return Err(RevError::UpgradeBelowCurrent {
                    target: "base".into(),
                    current,
                }
                .into());
            }
            Rev::Relative(n) if *n < 0 => {
                return Err(RevError::WrongDirection(rev.to_string()).into());
            }
            Rev::Relative(n) => {
                let n = usize::try_from(*n).unwrap_or(usize::MAX);
                if n > pending.len() {
                    return Err(RevError::BeyondHead {
                        asked: n as i64,
                        available: pending.len(),
                    }
                    .into());
                }
                pending.into_iter().take(n).collect()
            }
            Rev::Version(_) | Rev::Name(..) => {
                let target = self.find(rev)?;
                if target.version < current && target.state == State::Pending {
                    return Err(self.out_of_order(target, current));
                }
                if target.version < current {
                    return Err(RevError::UpgradeBelowCurrent {
                        target: rev.to_string(),
                        current,
                    }
                    .into());
                }
                pending
                    .into_iter()
                    .filter(|e| e.version <= target.version)
                    .collect()
            }
        };
        if let Some(old) = selected.iter().find(|e| e.version < current) {
            return Err(self.out_of_order(old, current));
        }
        Ok(selected.into_iter().filter_map(|e| e.migration).collect())
    }

    /// The migrations `down` must revert to reach `rev`, newest first.
    ///
    /// # Errors
    ///
    /// A [`RevError`] when `rev` cannot be reached downwards, and [`Error::Irreversible`] when a
    /// migration on the way has no undo file; nothing is planned in either case.
    pub fn plan_down(&self, rev: &Rev) -> Result<Vec<&'a Migration>, Error> {
        self.plan_down_with(rev, &[])
    }

    /// [`Status::plan_down`], reverting a version the binary does not know, or holds as
    /// another migration, with the undo in `recorded` (built from the undo record kept
    /// beside the history, [`crate::RecordedUndo`]).
    ///
    /// # Errors
    ///
    /// As for [`Status::plan_down`]; a version with no recorded undo is irreversible.
    pub fn plan_down_with<'b>(
        &self,
        rev: &Rev,
        recorded: &'b [Migration],
    ) -> Result<Vec<&'b Migration>, Error>
    where
        'a: 'b,
    {
        let applied: Vec<&Entry<'a>> = self
            .entries
            .iter()
            .rev()
            .filter(|e| e.state.is_applied())
            .collect();
        let current = self.current();
        let target = match rev {
            Rev::Base => 0,
            Rev::Relative(n) if *n > 0 => {
                return Err(RevError::WrongDirection(rev.to_string()).into());
            }
            Rev::Relative(n) => {
                let k = usize::try_from(n.unsigned_abs()).unwrap_or(usize::MAX);
                if k > applied.len() {
                    return Err(RevError::BeyondBase {
                        asked: n.abs(),
                        available: applied.len(),
                    }
                    .into());
                }
                applied.get(k).map_or(0, |e| e.version)
            }
            Rev::Head | Rev::Version(_) | Rev::Name(..) => {
                let entry = match rev {
                    Rev::Head => match self.head() {
                        Some(head) => self.entries.iter().find(|e| e.version == head),
                        None => None,
                    }
                    .ok_or(RevError::NoSuchVersion(0))?,
                    _ => self.find(rev)?,
                };
                if current.is_none_or(|c| entry.version > c) {
                    return Err(RevError::DowngradeAboveCurrent {
                        target: rev.to_string(),
                        current: current.map_or("base".into(), |c| c.to_string()),
                    }
                    .into());
                }
                if !entry.state.is_applied() {
                    return Err(RevError::NotApplied(entry.version).into());
                }
                entry.version
            }
        };
        let mut steps = Vec::new();
        for entry in applied.into_iter().filter(|e| e.version > target) {
            // The binary's own undo for its own migration; the recorded one for what it does
            // not know, or knows as another migration.
            let own = entry.migration.filter(|_| entry.state != State::Mismatched);
            let from_record = || {
                recorded.iter().find(|m| {
                    m.version() == entry.version
                        && entry.row.as_ref().is_some_and(|r| r.name == m.name())
                })
            };
            match own.or_else(from_record) {
                Some(m) if m.undo().is_some() => steps.push(m),
                _ => {
                    let name = match (&entry.row, entry.state) {
                        (Some(row), State::Mismatched | State::Unknown) => row.name.clone(),
                        _ => entry.name.clone(),
                    };
                    if own.is_none() {
                        return Err(Error::NoRecordedUndo {
                            migration: format!("V{}__{name}", entry.version),
                        });
                    }
                    return Err(Error::Irreversible {
                        migration: format!("V{}__{name}", entry.version),
                        version: entry.version,
                        name,
                    });
                }
            }
        }
        Ok(steps)
    }

    /// The embedded migration `rev` names, for `show` and `stamp`.
    ///
    /// # Errors
    ///
    /// A [`RevError`] when `rev` names nothing embedded.
    pub fn resolve(&self, rev: &Rev) -> Result<Option<&'a Migration>, Error> {
        let current = self.current().unwrap_or(0);
        let known: Vec<&Entry<'a>> = self
            .entries
            .iter()
            .filter(|e| e.migration.is_some())
            .collect();
        let entry = match rev {
            Rev::Base => return Ok(None),
            Rev::Head => known.last().copied(),
            Rev::Relative(n) if *n > 0 => {
                let above: Vec<_> = known.iter().filter(|e| e.version > current).collect();
                let k = usize::try_from(*n).unwrap_or(usize::MAX);
                match above.get(k - 1) {
                    Some(e) => Some(**e),
                    None => {
                        return Err(RevError::BeyondHead {
                            asked: *n,
                            available: above.len(),
                        }
                        .into());
                    }
                }
            }
            Rev::Relative(n) => {
                let below: Vec<_> = known
                    .iter()
                    .rev()
                    .filter(|e| e.version <= current)
                    .collect();
                let k = usize::try_from(n.unsigned_abs()).unwrap_or(usize::MAX);
                if k == below.len() {
                    return Ok(None);
                }
                match below.get(k) {
                    Some(e) => Some(**e),
                    None => {
                        return Err(RevError::BeyondBase {
                            asked: n.abs(),
                            available: below.len(),
                        }
                        .into());
                    }
                }
            }
            Rev::Version(_) | Rev::Name(..) => Some(self.find(rev)?),
        };
        Ok(entry.and_then(|e| e.migration))
    }

    fn find(&self, rev: &Rev) -> Result<&Entry<'a>, RevError> {
        let (version, name) = match rev {
            Rev::Version(v) => (*v, None),
            Rev::Name(v, name) => (*v, Some(name)),
            _ => return Err(RevError::Syntax(rev.to_string())),
        };
        let entry = self
            .entries
            .iter()
            .find(|e| e.version == version && e.migration.is_some())
            .ok_or(RevError::NoSuchVersion(version))?;
        match name {
            Some(name) if *name != entry.name => Err(RevError::NameMismatch {
                version,
                name: name.clone(),
                actual: entry.name.clone(),
            }),
            _ => Ok(entry),
        }
    }

    fn out_of_order(&self, entry: &Entry<'a>, current: i64) -> Error {
        Error::OutOfOrder {
            migration: format!("V{}__{}", entry.version, entry.name),
            current,
        }
    }
}

#[cfg(test)]
mod tests;
