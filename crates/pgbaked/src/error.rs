//! The engine's errors.

use std::fmt;
use std::time::Duration;

use super::migration::Script;
use super::rev::RevError;

/// Everything the engine can fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No connection could be taken from the pool.
    #[error("cannot connect to the database: {}", pool_error_text(.0))]
    Pool(deadpool_postgres::PoolError),
    /// A statement of the engine's own failed.
    #[error("{context}")]
    Database {
        /// What the engine was doing.
        context: &'static str,
        /// The driver's error.
        #[source]
        source: tokio_postgres::Error,
    },
    /// Another process held the migration lock for longer than the lock timeout.
    #[error("timed out after {waited:?} waiting for the migration lock{}", holder.as_ref().map(|h| format!(", held by {h}")).unwrap_or_default())]
    LockTimeout {
        /// How long this process waited.
        waited: Duration,
        /// Who holds the lock, when the server says.
        holder: Option<String>,
    },
    /// A migration's SQL failed. Migrations committed before it stay applied and recorded;
    /// with `--grouped`, the whole run was rolled back.
    #[error("migration {migration} failed: {failure}")]
    MigrationFailed {
        /// The full name, `V3__add_users`.
        migration: String,
        /// Where and why (boxed: the report is large, and every `Result` carries the enum).
        failure: Box<SqlFailure>,
    },
    /// An applied migration's file was edited after it was applied.
    #[error(
        "migration {migration} ({path}) was applied with checksum {applied} but the file now hashes to {current}"
    )]
    Divergent {
        /// The full name.
        migration: String,
        /// The file.
        path: String,
        /// The checksum in the history table.
        applied: String,
        /// The checksum of the embedded file.
        current: u64,
    },
    /// The database holds a version as another migration than the binary's: the recorded
    /// name is not the file's (two branches both added this version, and the files were
    /// renumbered after this database applied one of them).
    #[error(
        "V{version} in the database is {recorded}, but this binary's V{version} is {file}{}; \
         this is not an edited file: the migrations were renumbered after this database applied V{version}. \
         Revert it with the undo recorded when it was applied (`migrate down {}`), then `migrate up`",
        elsewhere.map_or_else(|| format!(" (and it has no {recorded})"), |v| format!(" (it has {recorded} as V{v})")),
        below.map_or_else(|| "base".to_string(), |v| v.to_string())
    )]
    Mismatched {
        /// The version.
        version: i64,
        /// The name the history records for it.
        recorded: String,
        /// The binary's name for it.
        file: String,
        /// The version the binary has the recorded migration under, if any.
        elsewhere: Option<i64>,
        /// The newest applied version below it, to revert to (`None`: base).
        below: Option<i64>,
    },
    /// A version to revert that this binary does not know (or knows as another migration) has
    /// no undo recorded beside the history.
    #[error(
        "migration {migration} is not this binary's and no undo was recorded for it when it was applied \
         (it was applied by plain refinery, by a release before undo records, or had no undo file); \
         revert it with the binary or branch that has it; nothing was changed"
    )]
    NoRecordedUndo {
        /// The full name, as recorded.
        migration: String,
    },
    /// A downgrade would revert a `-- contract` step that deleted data: its undo brings the
    /// schema back, not the data.
    #[error(
        "migration {migration} is a contract step that deleted data ({statements}); its undo would bring \
         that back empty, and the release before it would read it so; restore the data from a backup, \
         or revert anyway with `migrate down --allow-data-loss`; nothing was changed"
    )]
    ContractDropped {
        /// The full name of the contract step.
        migration: String,
        /// The statements by which it deleted data.
        statements: String,
    },
    /// The database holds versions this binary does not know, and `--strict` is on.
    #[error(
        "the database has versions this binary does not know: {}; it was migrated by a newer binary (refusing because of --strict)",
        list_versions(versions)
    )]
    Unknown {
        /// The unknown versions.
        versions: Vec<i64>,
    },
    /// A pending migration has a version below the newest applied one.
    #[error(
        "migration {migration} is pending but the database is already at version {current}; \
         give it a version above {current}"
    )]
    OutOfOrder {
        /// The pending migration's full name.
        migration: String,
        /// The newest applied version.
        current: i64,
    },
    /// A downgrade would pass a migration with no undo file.
    #[error(
        "migration {migration} has no undo file (U{version}__{name}.sql), so it cannot be reverted; nothing was changed"
    )]
    Irreversible {
        /// The full name.
        migration: String,
        /// The version.
        version: i64,
        /// The description.
        name: String,
    },
    /// `--grouped` was asked for a run that contains a `-- no-transaction` migration.
    #[error("migration {migration} is `-- no-transaction` and cannot run inside a --grouped run")]
    GroupedNoTransaction {
        /// The full name.
        migration: String,
    },
    /// A migration's name was rejected by refinery.
    #[error("invalid migration {name}: {reason}")]
    InvalidMigration {
        /// The name given.
        name: String,
        /// refinery's reason.
        reason: String,
    },
    /// A revision could not be parsed or resolved.
    #[error(transparent)]
    Rev(#[from] RevError),
    /// A signal stopped the run; what had committed stays, the migration in progress was
    /// rolled back, and the lock was released.
    #[error(
        "interrupted: {}, and the lock released",
        at.as_ref().map_or_else(
            || "the migration in progress was rolled back (or had already committed)".to_string(),
            |at| format!("the database is at {at} (what committed before stays; the migration in progress was rolled back)")
        )
    )]
    Interrupted {
        /// The version the history records after the stop (`V3`, `base`), read once the
        /// migration in progress was cancelled; `None` when it could not be read.
        at: Option<String>,
    },
    /// A `-- no-transaction` script was started by an earlier run that stopped before recording
    /// its outcome, and the catalog cannot tell whether it took effect.
    #[error(
        "migration {migration} ({path}) was started at {started_on} (server pid {pid}) to {direction} it, \
         but the run stopped before recording the outcome of this `-- no-transaction` script, \
         and the catalog cannot tell whether it took effect"
    )]
    Unfinished {
        /// The full name.
        migration: String,
        /// The version.
        version: i64,
        /// The script's file.
        path: String,
        /// `apply` or `revert`.
        direction: String,
        /// When the earlier run started it.
        started_on: String,
        /// The server process that ran it.
        pid: i32,
    },
    /// A plain-refinery history table (int4 versions) cannot hold this version.
    #[error(
        "migration {migration} has a version above 2147483647, which the history table's int4 \
         version column (created by plain refinery) cannot hold; widen it with \
         `ALTER TABLE {table} ALTER COLUMN version TYPE int8` (refinery then needs its int8-versions feature)"
    )]
    VersionTooLarge {
        /// The full name.
        migration: String,
        /// The history table.
        table: String,
    },
    /// A declared schema's file failed to load into a scratch database.
    #[error("loading the declared schema: {failure}")]
    SchemaFailed {
        /// Where and why (boxed, as for [`Error::MigrationFailed`]).
        failure: Box<SqlFailure>,
    },
    /// A scratch database could not be set up or filled.
    #[error("scratch database: {reason}")]
    Scratch {
        /// Why.
        reason: String,
    },
    /// The history table holds a row that cannot be read.
    #[error("the history table holds an unreadable row for version {version}: {reason}")]
    CorruptHistory {
        /// The row's version.
        version: i64,
        /// What is wrong with it.
        reason: String,
    },
}

fn list_versions(versions: &[i64]) -> String {
    versions
        .iter()
        .map(|v| format!("V{v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// deadpool wraps the driver's error in "Error occurred while creating a new object"; the
/// driver's own words, with their causes, are what a user needs.
pub fn pool_error_text(err: &deadpool_postgres::PoolError) -> String {
    match err {
        deadpool_postgres::PoolError::Backend(err) => error_chain(err),
        other => error_chain(other),
    }
}

/// An error and its sources on one line: tokio-postgres' own Display says only `db error`.
pub fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(inner) = source {
        let next = inner.to_string();
        if !text.contains(&next) {
            text.push_str(": ");
            text.push_str(&next);
        }
        source = inner.source();
    }
    text
}

impl Error {
    pub(crate) fn db(context: &'static str) -> impl FnOnce(tokio_postgres::Error) -> Error {
        move |source| Error::Database { context, source }
    }
}

/// Where and why a migration's SQL failed, from the server's error report.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct SqlFailure {
    /// The file that failed, relative to the project root.
    pub file: String,
    /// The 1-based line in that file, from the server's error position.
    pub line: Option<usize>,
    /// The 1-based column in that line.
    pub column: Option<usize>,
    /// The SQLSTATE code, such as `42601`.
    pub code: Option<String>,
    /// The server's message, or the driver's when the server sent none.
    pub message: String,
    /// The server's detail.
    pub detail: Option<String>,
    /// The server's hint.
    pub hint: Option<String>,
    /// The text of the offending line.
    pub line_text: Option<String>,
}

impl SqlFailure {
    /// Builds the report of `err`, raised by the piece of `script` that starts at byte
    /// `offset` (see [`Script::pieces`]). Without a server position, the line is the first
    /// token of the statement that failed.
    pub fn in_script(script: &Script, offset: usize, err: &tokio_postgres::Error) -> SqlFailure {
        let piece_end = script
            .pieces()
            .into_iter()
            .find(|(start, _)| *start == offset)
            .map_or(script.sql.len(), |(start, text)| start + text.len());
        let mut failure = SqlFailure::new(&script.path, &script.sql[offset..piece_end], err);
        if let (Some(line), Some(column)) = (failure.line, failure.column) {
            // The server counted within the piece; shift to the file.
            let (base_line, base_column) = super::grammar::line_col(&script.sql, offset);
            failure.line = Some(line + base_line - 1);
            failure.column = Some(if line == 1 {
                column + base_column - 1
            } else {
                column
            });
        } else if let Some(start) = script.statement_start(offset) {
            let (line, column) = super::grammar::line_col(&script.sql, start);
            failure.line = Some(line);
            failure.column = Some(column);
            failure.line_text = script
                .sql
                .lines()
                .nth(line - 1)
                .map(|t| t.trim_end_matches('\r').to_string());
        }
        failure
    }

    /// Builds the report of `err`, raised while running `sql` from `file`.
    pub fn new(file: &str, sql: &str, err: &tokio_postgres::Error) -> SqlFailure {
        let mut failure = SqlFailure {
            file: file.to_string(),
            line: None,
            column: None,
            code: None,
            message: err.to_string(),
            detail: None,
            hint: None,
            line_text: None,
        };
        if let Some(db) = err.as_db_error() {
            failure.code = Some(db.code().code().to_string());
            failure.message = db.message().to_string();
            failure.detail = db.detail().map(str::to_string);
            failure.hint = db.hint().map(str::to_string);
            if let Some(tokio_postgres::error::ErrorPosition::Original(position)) = db.position()
                && let Some((line, column, text)) = locate(sql, *position as usize)
            {
                failure.line = Some(line);
                failure.column = Some(column);
                failure.line_text = Some(text.to_string());
            }
        } else if let Some(source) = std::error::Error::source(err) {
            failure.message = format!("{err}: {source}");
        }
        failure
    }
}

/// Turns the server's error position (1-based, in characters) into line, column and that line.
pub fn locate(sql: &str, position: usize) -> Option<(usize, usize, &str)> {
    let index = position.checked_sub(1)?;
    let byte = sql
        .char_indices()
        .nth(index)
        .map(|(b, _)| b)
        .or_else(|| (index == sql.chars().count()).then_some(sql.len()))?;
    let (line, column) = super::grammar::line_col(sql, byte);
    let text = sql.lines().nth(line - 1).unwrap_or("");
    Some((line, column, text.trim_end_matches('\r')))
}

impl fmt::Display for SqlFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)?;
        if let (Some(line), Some(column)) = (self.line, self.column) {
            write!(f, ":{line}:{column}")?;
        }
        write!(f, ": {}", self.message)?;
        if let Some(code) = &self.code {
            write!(f, " (SQLSTATE {code})")?;
        }
        // A multi-line detail or hint keeps its later lines under the first.
        if let Some(detail) = &self.detail {
            write!(f, "\n  detail: {}", detail.replace('\n', "\n          "))?;
        }
        if let Some(hint) = &self.hint {
            write!(f, "\n  hint: {}", hint.replace('\n', "\n        "))?;
        }
        if let (Some(text), Some(column)) = (&self.line_text, self.column) {
            let pad: String = text
                .chars()
                .take(column.saturating_sub(1))
                .map(|c| if c == '\t' { '\t' } else { ' ' })
                .collect();
            write!(f, "\n  | {text}\n  | {pad}^")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::{SqlFailure, locate};

    #[test]
    fn every_line_of_a_detail_is_indented() {
        let failure = SqlFailure {
            file: "sql/U2__x.sql".into(),
            line: Some(3),
            column: Some(1),
            code: Some("2BP01".into()),
            message: "cannot drop table a because other objects depend on it".into(),
            detail: Some("view b depends on table a\nview c depends on view b".into()),
            hint: Some("Use DROP ... CASCADE to drop the dependent objects too.".into()),
            line_text: Some("DROP TABLE a;".into()),
        };
        assert_eq!(
            failure.to_string(),
            "sql/U2__x.sql:3:1: cannot drop table a because other objects depend on it (SQLSTATE 2BP01)\n  \
             detail: view b depends on table a\n          view c depends on view b\n  \
             hint: Use DROP ... CASCADE to drop the dependent objects too.\n  \
             | DROP TABLE a;\n  | ^"
        );
    }

    #[test]
    fn error_positions_map_to_line_and_column() {
        let sql = "-- header\nCREATE TABLE t (id int);\nSELEC 1;\n";
        assert_eq!(locate(sql, 1), Some((1, 1, "-- header")));
        assert_eq!(locate(sql, 36), Some((3, 1, "SELEC 1;")));
        assert_eq!(locate(sql, 38), Some((3, 3, "SELEC 1;")));
        assert_eq!(locate("é\nx", 3), Some((2, 1, "x")));
        assert_eq!(locate(sql, 0), None);
        assert_eq!(locate(sql, 1000), None);
    }
}
