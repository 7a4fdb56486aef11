//! The engine's errors.

use std::fmt;
use std::time::Duration;

use super::rev::RevError;

/// Everything the engine can fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No connection could be taken from the pool.
    #[error("cannot connect to the database")]
    Pool(#[source] deadpool_postgres::PoolError),
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
        /// Where and why.
        failure: SqlFailure,
    },
    /// An applied migration's file was edited after it was applied.
    #[error(
        "migration {migration} ({path}) was applied with checksum {applied} but the file now hashes to {current}; \
         restore the file, or run `app migrate repair` after review"
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
        "interrupted: the migration in progress was rolled back (or had already committed) and the lock released"
    )]
    Interrupted,
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
            if let Some(tokio_postgres::error::ErrorPosition::Original(position)) = db.position() {
                if let Some((line, column, text)) = locate(sql, *position as usize) {
                    failure.line = Some(line);
                    failure.column = Some(column);
                    failure.line_text = Some(text.to_string());
                }
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
    let (line, column) = super::source::line_col(sql, byte);
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
        if let Some(detail) = &self.detail {
            write!(f, "\n  detail: {detail}")?;
        }
        if let Some(hint) = &self.hint {
            write!(f, "\n  hint: {hint}")?;
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
    use super::locate;

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
