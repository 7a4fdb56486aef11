//! refinery's history table, `refinery_schema_history`: the same columns and the same
//! encodings, so a database migrated by plain refinery is recognised and vice versa.

use tokio_postgres::Client;
use tokio_postgres::error::SqlState;
use tokio_postgres::types::Type;

use super::error::Error;
use super::plan::AppliedRow;

/// The default table name, refinery's.
pub const DEFAULT_TABLE: &str = "refinery_schema_history";

/// `applied_on` as refinery writes it (RFC 3339, UTC), computed by the server so that the
/// online run and the offline script record the same thing.
const APPLIED_ON: &str =
    r#"to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')"#;

/// The history table's SQL, for one table name.
#[derive(Clone, Debug)]
pub struct HistoryTable {
    name: String,
    quoted: String,
}

impl HistoryTable {
    /// A history table called `name`, which may be schema-qualified (`ops.history`).
    pub fn new(name: &str) -> HistoryTable {
        let quoted = name
            .split('.')
            .map(quote_identifier)
            .collect::<Vec<_>>()
            .join(".");
        HistoryTable {
            name: name.to_string(),
            quoted,
        }
    }

    /// The name as given.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// `CREATE TABLE IF NOT EXISTS`, with refinery's columns (int8 versions).
    pub fn create_sql(&self) -> String {
        format!(
            "CREATE TABLE IF NOT EXISTS {}(\n    version int8 PRIMARY KEY,\n    name VARCHAR(255),\n    applied_on VARCHAR(255),\n    checksum VARCHAR(255))",
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

    /// Reads every row, in version order; an absent table reads as empty.
    ///
    /// # Errors
    ///
    /// The server's error, or [`Error::CorruptHistory`] for a row with a null column.
    pub async fn read(&self, client: &Client) -> Result<Vec<AppliedRow>, Error> {
        Ok(self.read_if_exists(client).await?.unwrap_or_default())
    }

    /// Reads every row, in version order, or `None` when the table does not exist.
    ///
    /// One round trip: the query is sent unprepared, and a missing table is recognised by its
    /// SQLSTATE rather than checked beforehand.
    ///
    /// # Errors
    ///
    /// The server's error, or [`Error::CorruptHistory`] for a row with a null column.
    pub async fn read_if_exists(&self, client: &Client) -> Result<Option<Vec<AppliedRow>>, Error> {
        // version::int8 so that plain refinery's int4 column reads the same way.
        let sql = format!(
            "SELECT version::int8, name, applied_on, checksum FROM {} ORDER BY version",
            self.quoted
        );
        let rows = match client.query_typed(&sql, &[]).await {
            Ok(rows) => rows,
            Err(err) if err.code() == Some(&SqlState::UNDEFINED_TABLE) => return Ok(None),
            Err(err) => return Err(Error::db("reading the history table")(err)),
        };
        rows.iter()
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
            .collect::<Result<Vec<_>, _>>()
            .map(Some)
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

/// Quotes an identifier the way PostgreSQL's `quote_ident` does, always.
pub fn quote_identifier(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Quotes a string literal; standard_conforming_strings is on, so only `'` needs doubling.
pub fn quote_literal(value: &str) -> String {
    format!("'{}'", value.replace('\'', "''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_values_are_quoted() {
        let table = HistoryTable::new("ops.my\"history");
        assert!(table.create_sql().contains("\"ops\".\"my\"\"history\"("));
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
