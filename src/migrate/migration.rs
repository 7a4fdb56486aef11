//! One migration: its version, name, SQL, optional undo, and refinery's checksum.

use super::error::Error;
use super::source::is_no_transaction;

/// A migration as `build.rs` embeds it: static text, validated at compile time.
#[derive(Clone, Copy, Debug)]
pub struct EmbeddedMigration {
    /// The version, from `V{version}__…`.
    pub version: i64,
    /// The description, from `…__{description}.sql`.
    pub description: &'static str,
    /// The `V` file, relative to the project root.
    pub path: &'static str,
    /// The `V` file's content.
    pub sql: &'static str,
    /// The `U` file, relative to the project root, if there is one.
    pub undo_path: Option<&'static str>,
    /// The `U` file's content, if there is one.
    pub undo_sql: Option<&'static str>,
}

/// A SQL script of a migration, either the `V` or the `U` file.
#[derive(Clone, Debug)]
pub struct Script {
    /// The file, relative to the project root, for error messages.
    pub path: String,
    /// The SQL text.
    pub sql: String,
    /// Whether the first line is `-- no-transaction`.
    pub no_transaction: bool,
}

impl Script {
    /// Wraps a file's text, reading its `-- no-transaction` marker.
    pub fn new(path: impl Into<String>, sql: impl Into<String>) -> Script {
        let sql = sql.into();
        Script {
            path: path.into(),
            no_transaction: is_no_transaction(&sql),
            sql,
        }
    }
}

/// A migration known to the binary.
#[derive(Clone, Debug)]
pub struct Migration {
    /// refinery's view of it: name, version and the checksum stored in the history table.
    inner: refinery::Migration,
    apply: Script,
    undo: Option<Script>,
}

impl Migration {
    /// Builds a migration from its version, description and scripts.
    ///
    /// # Errors
    ///
    /// Returns [`Error::InvalidMigration`] when refinery rejects the name.
    pub fn new(
        version: i64,
        description: &str,
        apply: Script,
        undo: Option<Script>,
    ) -> Result<Migration, Error> {
        let name = format!("V{version}__{description}");
        // refinery computes the checksum (SipHasher13 over name, version and SQL), so a database
        // migrated by plain refinery and one migrated by us recognise each other's rows.
        let inner = refinery::Migration::unapplied(&name, &apply.sql).map_err(|err| {
            Error::InvalidMigration {
                name: name.clone(),
                reason: err.to_string(),
            }
        })?;
        Ok(Migration { inner, apply, undo })
    }

    /// Converts what `build.rs` embedded.
    ///
    /// # Errors
    ///
    /// Returns [`Error::InvalidMigration`] when refinery rejects the name.
    pub fn from_embedded(embedded: &EmbeddedMigration) -> Result<Migration, Error> {
        let undo = match (embedded.undo_path, embedded.undo_sql) {
            (Some(path), Some(sql)) => Some(Script::new(path, sql)),
            _ => None,
        };
        Migration::new(
            embedded.version,
            embedded.description,
            Script::new(embedded.path, embedded.sql),
            undo,
        )
    }

    /// Converts a whole embedded set, sorted by version.
    ///
    /// # Errors
    ///
    /// Returns the first migration refinery rejects.
    pub fn from_embedded_set(set: &[EmbeddedMigration]) -> Result<Vec<Migration>, Error> {
        let mut migrations = set
            .iter()
            .map(Migration::from_embedded)
            .collect::<Result<Vec<_>, _>>()?;
        migrations.sort_by_key(Migration::version);
        Ok(migrations)
    }

    /// The version.
    pub fn version(&self) -> i64 {
        self.inner.version()
    }

    /// The description, as stored in the history table's `name` column.
    pub fn name(&self) -> &str {
        self.inner.name()
    }

    /// The full name, `V{version}__{name}`.
    pub fn full_name(&self) -> String {
        format!("V{}__{}", self.version(), self.name())
    }

    /// refinery's checksum of the name, version and SQL.
    pub fn checksum(&self) -> u64 {
        self.inner.checksum()
    }

    /// The `V` script.
    pub fn apply(&self) -> &Script {
        &self.apply
    }

    /// The `U` script, if the migration can be undone.
    pub fn undo(&self) -> Option<&Script> {
        self.undo.as_ref()
    }
}
