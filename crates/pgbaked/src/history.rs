//! refinery's history table, `refinery_schema_history`: the same columns and the same
//! encodings, so a database migrated by plain refinery is recognised and vice versa.

use tokio_postgres::Client;
use tokio_postgres::error::SqlState;
use tokio_postgres::types::Type;

use super::error::Error;
use super::migration::{Migration, VersionWidth};
use super::status::AppliedRow;

/// The default table name, refinery's.
pub const DEFAULT_TABLE: &str = "refinery_schema_history";

/// `applied_on` as refinery writes it (RFC 3339, UTC), computed by the server so that the
/// online run and the offline script record the same thing.
const APPLIED_ON: &str =
    r#"to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')"#;

/// What a history table holds, and how its versions are hashed.
#[derive(Clone, Debug, Default)]
pub struct History {
    /// Every row, in version order.
    pub rows: Vec<AppliedRow>,
    /// The `version` column's type; `Int8` for a table that does not exist yet.
    pub width: VersionWidth,
}

/// A `-- no-transaction` script that was started but never recorded: the process stopped (or
/// the statement failed) between the two.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unfinished {
    /// The migration's version.
    pub version: i64,
    /// `apply` or `revert`.
    pub direction: String,
    /// When it started, as the server said.
    pub started_on: String,
    /// The server process that ran it.
    pub pid: i32,
}

/// The history table's SQL, for one table name.
#[derive(Clone, Debug)]
pub struct HistoryTable {
    name: String,
    quoted: String,
    /// The table where `-- no-transaction` scripts record that they started: plain refinery
    /// reads every row of the history table as applied, so the mark cannot live there.
    unfinished: String,
    /// The table beside the history that keeps each applied migration's name and undo SQL as
    /// they were when it was applied, so that a version this binary does not know (a newer
    /// binary's, or a branch's renumbered away) can still be reverted. Apart from the history
    /// so that plain refinery reads its own table unchanged.
    undo: String,
}

/// What was recorded beside the history when a migration was applied.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordedUndo {
    /// The version it was applied as.
    pub version: i64,
    /// Its description then.
    pub name: String,
    /// Its undo SQL then, `None` when it had no undo file.
    pub undo: Option<String>,
    /// The statements by which it deleted data, when it was a `-- contract` step that did
    /// ([`Migration::dropped_data`]), one per line: reverting it brings the schema back, not
    /// the data.
    pub dropped: Option<String>,
}

impl HistoryTable {
    /// A history table called `name`, which may be schema-qualified (`ops.history`).
    pub fn new(name: &str) -> HistoryTable {
        HistoryTable {
            name: name.to_string(),
            quoted: quote_path(name),
            unfinished: quote_path(&format!("{name}_unfinished")),
            undo: quote_path(&format!("{name}_undo")),
        }
    }

    /// `CREATE TABLE` of the undo record when it is missing (checked first rather than `IF NOT
    /// EXISTS`, whose notice would be logged each run; the migration lock rules out a race),
    /// and its `dropped` column added to one made before it was kept.
    pub fn create_undo_sql(&self) -> String {
        format!(
            "DO $create$ BEGIN IF to_regclass({name}) IS NULL THEN CREATE TABLE {table}(\n    \
             version int8 PRIMARY KEY,\n    name text NOT NULL,\n    undo text,\n    \
             recorded_on timestamptz NOT NULL DEFAULT clock_timestamp(),\n    dropped text); \
             ELSIF NOT EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = to_regclass({name}) \
             AND attname = 'dropped' AND NOT attisdropped) THEN \
             ALTER TABLE {table} ADD COLUMN dropped text; END IF; END $create$",
            name = quote_literal(&self.undo),
            table = self.undo
        )
    }

    /// Creates the undo record's table when it is missing; run once before a run writes.
    ///
    /// # Errors
    ///
    /// The server's error.
    pub(crate) async fn create_undo(&self, client: &Client) -> Result<(), Error> {
        client
            .batch_execute(&self.create_undo_sql())
            .await
            .map_err(Error::db("creating the undo record's table"))
    }

    /// The upsert of one undo record: version, name, undo SQL, what it deleted.
    fn record_undo_sql(&self) -> String {
        format!(
            "INSERT INTO {} (version, name, undo, dropped) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (version) DO UPDATE SET name = excluded.name, undo = excluded.undo, \
             dropped = excluded.dropped, recorded_on = clock_timestamp()",
            self.undo
        )
    }

    /// The upsert of one undo record with literal values, for offline scripts.
    pub fn record_undo_literal_sql(&self, m: &Migration) -> String {
        format!(
            "INSERT INTO {} (version, name, undo, dropped) VALUES ({}, {}, {}, {}) \
             ON CONFLICT (version) DO UPDATE SET name = excluded.name, undo = excluded.undo, \
             dropped = excluded.dropped, recorded_on = clock_timestamp()",
            self.undo,
            m.version(),
            quote_literal(m.name()),
            m.undo()
                .map_or_else(|| "NULL".to_string(), |u| quote_literal(&u.sql)),
            dropped(m).map_or_else(|| "NULL".to_string(), |d| quote_literal(&d))
        )
    }

    /// The delete of one undo record with a literal version, for offline scripts.
    pub fn delete_undo_literal_sql(&self, version: i64) -> String {
        format!("DELETE FROM {} WHERE version = {version}", self.undo)
    }

    /// Every undo record, by version; none when the table does not exist (a database migrated
    /// before it was kept, or by plain refinery).
    ///
    /// # Errors
    ///
    /// The server's error.
    pub async fn recorded_undos(&self, client: &Client) -> Result<Vec<RecordedUndo>, Error> {
        let sql = format!(
            "SELECT version, name, undo, dropped FROM {} ORDER BY version",
            self.undo
        );
        let rows = match client.query_typed(&sql, &[]).await {
            Ok(rows) => rows,
            Err(err) if err.code() == Some(&SqlState::UNDEFINED_TABLE) => return Ok(Vec::new()),
            Err(err) => return Err(Error::db("reading the undo record")(err)),
        };
        Ok(rows
            .iter()
            .map(|row| RecordedUndo {
                version: row.get(0),
                name: row.get(1),
                undo: row.get(2),
                dropped: row.get(3),
            })
            .collect())
    }

    /// The name as given.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The name quoted for SQL.
    pub fn quoted(&self) -> &str {
        &self.quoted
    }

    /// `CREATE TABLE IF NOT EXISTS`, with refinery's columns (int8 versions).
    ///
    /// A schema-qualified table's schema is created first when it is missing: a
    /// schema-per-tenant target (`?schema=tenant_7`) starts out without one. Checked before,
    /// not `CREATE SCHEMA IF NOT EXISTS`, which wants CREATE on the database even when the
    /// schema exists, a privilege migration roles often lack.
    pub fn create_sql(&self) -> String {
        let schema = match self.name.rsplit_once('.') {
            Some((schema, _)) => {
                let quoted = quote_path(schema);
                format!(
                    "DO $schema$ BEGIN IF to_regnamespace({}) IS NULL THEN CREATE SCHEMA {quoted}; END IF; END $schema$;\n",
                    quote_literal(&quoted)
                )
            }
            None => String::new(),
        };
        format!(
            "{schema}CREATE TABLE IF NOT EXISTS {}(\n    version int8 PRIMARY KEY,\n    name VARCHAR(255),\n    applied_on VARCHAR(255),\n    checksum VARCHAR(255))",
            self.quoted
        )
    }

    /// The parameterised insert of one row: version, name, checksum.
    pub fn insert_sql(&self) -> String {
        format!(
            "INSERT INTO {} (version, name, applied_on, checksum) VALUES ($1, $2, {APPLIED_ON}, $3)",
            self.quoted
        )
    }

    /// The insert with literal values, for offline scripts.
    pub fn insert_literal_sql(&self, version: i64, name: &str, checksum: u64) -> String {
        format!(
            "INSERT INTO {} (version, name, applied_on, checksum) VALUES ({version}, {}, {APPLIED_ON}, '{checksum}')",
            self.quoted,
            quote_literal(name)
        )
    }

    /// The parameterised delete of one row: version.
    pub fn delete_sql(&self) -> String {
        format!("DELETE FROM {} WHERE version = $1", self.quoted)
    }

    /// The delete with a literal version, for offline scripts.
    pub fn delete_literal_sql(&self, version: i64) -> String {
        format!("DELETE FROM {} WHERE version = {version}", self.quoted)
    }

    /// The parameterised update of a row's checksum and name: version, name, checksum.
    pub fn update_checksum_sql(&self) -> String {
        format!(
            "UPDATE {} SET name = $2, checksum = $3 WHERE version = $1",
            self.quoted
        )
    }

    /// Creates the table if it is missing.
    ///
    /// # Errors
    ///
    /// The server's error.
    pub async fn create(&self, client: &Client) -> Result<(), Error> {
        client
            .batch_execute(&self.create_sql())
            .await
            .map_err(Error::db("creating the history table"))
    }

    /// Reads every row, in version order, and the version column's type; an absent table
    /// reads as empty.
    ///
    /// # Errors
    ///
    /// The server's error, or [`Error::CorruptHistory`] for a row with a null column.
    pub async fn read(&self, client: &Client) -> Result<History, Error> {
        Ok(self.read_if_exists(client).await?.unwrap_or_default())
    }

    /// Reads every row, in version order, and the version column's type, or `None` when the
    /// table does not exist.
    ///
    /// One round trip: both queries are sent unprepared in one flight, and a missing table is
    /// recognised by its SQLSTATE rather than checked beforehand.
    ///
    /// # Errors
    ///
    /// The server's error, or [`Error::CorruptHistory`] for a row with a null column.
    pub async fn read_if_exists(&self, client: &Client) -> Result<Option<History>, Error> {
        // version::int8 so that plain refinery's int4 column reads the same way.
        let sql = format!(
            "SELECT version::int8, name, applied_on, checksum FROM {} ORDER BY version",
            self.quoted
        );
        let (rows, width) = futures_util::future::join(
            client.query_typed(&sql, &[]),
            client.query_typed_opt(
                "SELECT atttypid = 'int4'::regtype FROM pg_attribute \
                 WHERE attrelid = to_regclass($1) AND attname = 'version'",
                &[(&self.quoted, Type::TEXT)],
            ),
        )
        .await;
        let rows = match rows {
            Ok(rows) => rows,
            Err(err) if err.code() == Some(&SqlState::UNDEFINED_TABLE) => return Ok(None),
            Err(err) => return Err(Error::db("reading the history table")(err)),
        };
        let width = match width.map_err(Error::db("reading the history table's columns"))? {
            Some(row) if row.get::<_, bool>(0) => VersionWidth::Int4,
            _ => VersionWidth::Int8,
        };
        let rows = rows
            .iter()
            .map(|row| {
                let version: i64 = row.get(0);
                let text = |i: usize, column: &str| {
                    row.get::<_, Option<String>>(i)
                        .ok_or_else(|| Error::CorruptHistory {
                            version,
                            reason: format!("{column} is null"),
                        })
                };
                Ok(AppliedRow {
                    version,
                    name: text(1, "name")?,
                    applied_on: text(2, "applied_on")?,
                    checksum: text(3, "checksum")?,
                })
            })
            .collect::<Result<Vec<_>, Error>>()?;
        Ok(Some(History { rows, width }))
    }

    /// Records `m` as applied, with the checksum for a table of `width`.
    pub(crate) async fn record(
        &self,
        client: &Client,
        m: &Migration,
        width: VersionWidth,
    ) -> Result<(), tokio_postgres::Error> {
        // Both sent on the first poll, so both travel inside the caller's transaction, ahead
        // of its COMMIT.
        let undo = m.undo().map(|u| u.sql.as_str());
        let dropped = dropped(m);
        let (history, recorded) = futures_util::future::join(
            self.insert(
                client,
                &self.insert_sql(),
                m.version(),
                m.name(),
                m.checksum_for(width),
            ),
            client.execute_typed(
                &self.record_undo_sql(),
                &[
                    (&m.version(), Type::INT8),
                    (&m.name(), Type::TEXT),
                    (&undo, Type::TEXT),
                    (&dropped, Type::TEXT),
                ],
            ),
        )
        .await;
        history.and(recorded.map(drop))
    }

    /// Removes the row of `version`.
    pub(crate) async fn unrecord(
        &self,
        client: &Client,
        version: i64,
    ) -> Result<(), tokio_postgres::Error> {
        let undo = format!("DELETE FROM {} WHERE version = $1", self.undo);
        let (history, recorded) = futures_util::future::join(
            client.execute_typed(&self.delete_sql(), &[(&version, Type::INT8)]),
            client.execute_typed(&undo, &[(&version, Type::INT8)]),
        )
        .await;
        history.and(recorded).map(drop)
    }

    /// Re-records the name and checksum of `m`, after its file was edited.
    pub(crate) async fn rerecord(
        &self,
        client: &Client,
        m: &Migration,
        width: VersionWidth,
    ) -> Result<(), tokio_postgres::Error> {
        let checksum = m.checksum_for(width).to_string();
        let name = m.name();
        client
            .execute_typed(
                &self.update_checksum_sql(),
                &[
                    (&m.version(), Type::INT8),
                    (&name, Type::VARCHAR),
                    (&checksum, Type::VARCHAR),
                ],
            )
            .await
            .map(drop)
    }

    /// Marks a `-- no-transaction` script of `version` as started, creating the table of such
    /// marks when needed. It commits on its own, before the script runs, so that a run that
    /// dies mid-script leaves the mark behind.
    pub(crate) async fn mark_unfinished(
        &self,
        client: &Client,
        version: i64,
        direction: &str,
    ) -> Result<(), tokio_postgres::Error> {
        // Checked first rather than `IF NOT EXISTS`, whose "already exists, skipping" notice
        // would be logged for every such script; the migration lock rules out a race.
        let create = format!(
            "DO $create$ BEGIN IF to_regclass({}) IS NULL THEN CREATE TABLE {}(\n    \
             version int8 PRIMARY KEY,\n    direction text NOT NULL,\n    \
             started_on timestamptz NOT NULL DEFAULT clock_timestamp(),\n    \
             pid int4 NOT NULL DEFAULT pg_backend_pid()); END IF; END $create$",
            quote_literal(&self.unfinished),
            self.unfinished
        );
        let insert = format!(
            "INSERT INTO {} (version, direction) VALUES ($1, $2) ON CONFLICT (version) DO UPDATE \
             SET direction = excluded.direction, started_on = clock_timestamp(), pid = pg_backend_pid()",
            self.unfinished
        );
        let (created, inserted) = futures_util::future::join(
            client.batch_execute(&create),
            client.execute_typed(&insert, &[(&version, Type::INT8), (&direction, Type::TEXT)]),
        )
        .await;
        created?;
        inserted.map(drop)
    }

    /// Clears the mark of `version`; sent in the transaction that records the script's outcome.
    pub(crate) async fn clear_unfinished(
        &self,
        client: &Client,
        version: i64,
    ) -> Result<(), tokio_postgres::Error> {
        let sql = format!("DELETE FROM {} WHERE version = $1", self.unfinished);
        match client.execute_typed(&sql, &[(&version, Type::INT8)]).await {
            Err(err) if err.code() == Some(&SqlState::UNDEFINED_TABLE) => Ok(()),
            other => other.map(drop),
        }
    }

    /// The `-- no-transaction` scripts that started and never recorded their outcome.
    ///
    /// # Errors
    ///
    /// The server's error.
    pub async fn unfinished(&self, client: &Client) -> Result<Vec<Unfinished>, Error> {
        let sql = format!(
            "SELECT version, direction, to_char(started_on AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), pid \
             FROM {} ORDER BY version",
            self.unfinished
        );
        let rows = match client.query_typed(&sql, &[]).await {
            Ok(rows) => rows,
            Err(err) if err.code() == Some(&SqlState::UNDEFINED_TABLE) => return Ok(Vec::new()),
            Err(err) => return Err(Error::db("reading unfinished migrations")(err)),
        };
        Ok(rows
            .iter()
            .map(|row| Unfinished {
                version: row.get(0),
                direction: row.get(1),
                started_on: row.get(2),
                pid: row.get(3),
            })
            .collect())
    }

    /// Typed parameters for [`HistoryTable::insert_sql`], sent unprepared in the same flight as
    /// the migration itself.
    pub(crate) async fn insert(
        &self,
        client: &Client,
        sql: &str,
        version: i64,
        name: &str,
        checksum: u64,
    ) -> Result<(), tokio_postgres::Error> {
        let checksum = checksum.to_string();
        client
            .execute_typed(
                sql,
                &[
                    (&version, Type::INT8),
                    (&name, Type::VARCHAR),
                    (&checksum, Type::VARCHAR),
                ],
            )
            .await
            .map(drop)
    }
}

pub use super::quote::{quote_identifier, quote_literal};

/// Quotes each part of a dotted name: `ops.my"history` → `"ops"."my""history"`.
fn quote_path(name: &str) -> String {
    name.split('.')
        .map(quote_identifier)
        .collect::<Vec<_>>()
        .join(".")
}

/// What a contract step deleted, as its undo record keeps it: its statements, one per line.
fn dropped(m: &Migration) -> Option<String> {
    let statements = m.dropped_data();
    (!statements.is_empty()).then(|| statements.join("\n"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_values_are_quoted() {
        let table = HistoryTable::new("ops.my\"history");
        assert!(table.create_sql().contains("\"ops\".\"my\"\"history\"("));
        assert!(table.create_sql().starts_with(
            "DO $schema$ BEGIN IF to_regnamespace('\"ops\"') IS NULL THEN CREATE SCHEMA \"ops\";"
        ));
        assert_eq!(
            table.delete_literal_sql(3),
            "DELETE FROM \"ops\".\"my\"\"history\" WHERE version = 3"
        );
        assert!(
            HistoryTable::new(DEFAULT_TABLE)
                .insert_literal_sql(2, "it's", 7)
                .contains("VALUES (2, 'it''s', to_char(")
        );
    }
}
