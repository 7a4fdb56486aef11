//! One migration: its version, name, SQL, optional undo, and refinery's checksum.

use std::hash::{Hash, Hasher};

use super::embedded::EmbeddedMigration;
use super::error::Error;
use super::grammar::is_no_transaction;

/// The type of the history table's `version` column, which decides how refinery hashes.
///
/// refinery hashes the version as its `SchemaVersion`: `i32` by default, `i64` with its
/// `int8-versions` feature. A table created by plain refinery has an `int4` column and `i32`
/// checksums; one created by this engine has `int8` and `i64` checksums.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum VersionWidth {
    /// `int4`: plain refinery with default features.
    Int4,
    /// `int8`: this engine, or refinery with `int8-versions`.
    #[default]
    Int8,
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
    /// Byte offsets in `sql` where each statement starts, ascending; empty when unknown, and
    /// then the script runs as one piece.
    pub statements: Vec<usize>,
    /// Whether the file started with a UTF-8 byte-order mark, which `sql` no longer holds.
    had_bom: bool,
}

impl Script {
    /// Wraps a file's text, reading its `-- no-transaction` marker. A byte-order mark is
    /// stripped: the server would read it as part of the first token.
    pub fn new(path: impl Into<String>, sql: impl Into<String>) -> Script {
        let sql = sql.into();
        let (sql, had_bom) = match sql.strip_prefix('\u{feff}') {
            Some(rest) => (rest.to_string(), true),
            None => (sql, false),
        };
        Script {
            path: path.into(),
            no_transaction: is_no_transaction(&sql),
            sql,
            statements: Vec::new(),
            had_bom,
        }
    }

    /// The same script, with the statement offsets the build computed.
    pub fn with_statements(mut self, statements: &[usize]) -> Script {
        let valid = statements.windows(2).all(|w| w[0] < w[1])
            && statements
                .iter()
                .all(|&at| at < self.sql.len() && self.sql.is_char_boundary(at));
        // Offsets that do not fit the text (a stale build) are dropped, never trusted.
        self.statements = if valid {
            statements.to_vec()
        } else {
            Vec::new()
        };
        self
    }

    /// The pieces to send, one statement each (leading comments go with the first), with
    /// the byte offset each starts at. A script whose statements are unknown is one piece.
    pub fn pieces(&self) -> Vec<(usize, &str)> {
        if self.statements.len() < 2 {
            return vec![(0, self.sql.as_str())];
        }
        let mut bounds: Vec<usize> = self.statements.clone();
        bounds[0] = 0;
        bounds.push(self.sql.len());
        bounds
            .windows(2)
            .map(|w| (w[0], &self.sql[w[0]..w[1]]))
            .collect()
    }

    /// Where the statement of the piece that starts at `offset` begins: its first token.
    /// `None` when the statements are unknown and the script may hold several.
    pub fn statement_start(&self, offset: usize) -> Option<usize> {
        match self.statements.first() {
            Some(&first) if offset == 0 => Some(first),
            Some(_) => Some(offset),
            // A `-- no-transaction` script holds exactly one statement (the build checks it).
            None => (self.no_transaction && offset == 0).then(|| first_token(&self.sql)),
        }
    }

    /// The text as it was in the file, byte-order mark included: what older binaries and plain
    /// refinery hashed.
    fn original_text(&self) -> std::borrow::Cow<'_, str> {
        if self.had_bom {
            format!("\u{feff}{}", self.sql).into()
        } else {
            self.sql.as_str().into()
        }
    }
}

/// The byte offset of the first token of `sql`, past whitespace and comments.
fn first_token(sql: &str) -> usize {
    let mut rest = sql;
    loop {
        let trimmed = rest.trim_start();
        if let Some(comment) = trimmed.strip_prefix("--") {
            rest = comment.find('\n').map_or("", |i| &comment[i..]);
        } else if let Some(comment) = trimmed.strip_prefix("/*") {
            rest = comment.find("*/").map_or("", |i| &comment[i + 2..]);
        } else {
            return sql.len() - trimmed.len();
        }
    }
}

/// The text a checksum is taken of: no byte-order mark and `\n` line endings, so that a
/// checkout with CRLF endings (git's `autocrlf` on Windows) is the same migration.
fn normalised(sql: &str) -> std::borrow::Cow<'_, str> {
    if sql.contains('\r') {
        sql.replace("\r\n", "\n").into()
    } else {
        sql.into()
    }
}

/// refinery's checksum: SipHasher13 over the name, the version as refinery's `SchemaVersion`
/// and the SQL, each through `Hash` (refinery-core's `Migration::unapplied`).
pub fn refinery_checksum(name: &str, version: i64, width: VersionWidth, sql: &str) -> u64 {
    let mut hasher = siphasher::sip::SipHasher13::new();
    name.hash(&mut hasher);
    match width {
        // An int4 table cannot hold a version above i32::MAX, so the truncation never
        // happens for a row that exists.
        VersionWidth::Int4 => (version as i32).hash(&mut hasher),
        VersionWidth::Int8 => version.hash(&mut hasher),
    }
    sql.hash(&mut hasher);
    hasher.finish()
}

/// A migration known to the binary.
#[derive(Clone, Debug)]
pub struct Migration {
    version: i64,
    /// The description, as refinery stores it in the history table's `name` column.
    name: String,
    /// refinery's checksum of the normalised text, as an int8 history table records it.
    checksum: u64,
    apply: Script,
    undo: Option<Script>,
}

impl Migration {
    /// Builds a migration from its version, description and scripts.
    ///
    /// # Errors
    ///
    /// Returns [`Error::InvalidMigration`] when the version or description breaks the file-name
    /// grammar.
    pub fn new(
        version: i64,
        description: &str,
        apply: Script,
        undo: Option<Script>,
    ) -> Result<Migration, Error> {
        let name = format!("V{version}__{description}");
        // The build's own grammar, not refinery's `Migration::unapplied`: that compiles a regex
        // on first use, which was more than half of a no-op boot's instructions.
        super::grammar::parse_file_name(&format!("{name}.sql")).map_err(|err| {
            Error::InvalidMigration {
                name: name.clone(),
                reason: err.to_string(),
            }
        })?;
        // refinery's checksum (SipHasher13 over name, version and SQL; the unit tests pin it to
        // refinery's own), so a database migrated by plain refinery and one migrated by us
        // recognise each other's rows. It is taken of the normalised text, so that line
        // endings do not change it.
        let checksum = refinery_checksum(
            description,
            version,
            VersionWidth::Int8,
            &normalised(&apply.sql),
        );
        Ok(Migration {
            version,
            name: description.to_string(),
            checksum,
            apply,
            undo,
        })
    }

    /// Converts what `build.rs` embedded.
    ///
    /// # Errors
    ///
    /// Returns [`Error::InvalidMigration`] when the name breaks the grammar.
    pub fn from_embedded(embedded: &EmbeddedMigration) -> Result<Migration, Error> {
        let undo = match (embedded.undo_path, embedded.undo_sql) {
            (Some(path), Some(sql)) => {
                Some(Script::new(path, sql).with_statements(embedded.undo_statements))
            }
            _ => None,
        };
        Migration::new(
            embedded.version,
            embedded.description,
            Script::new(embedded.path, embedded.sql).with_statements(embedded.statements),
            undo,
        )
    }

    /// Converts a whole embedded set, sorted by version.
    ///
    /// # Errors
    ///
    /// Returns the first migration whose name breaks the grammar.
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
        self.version
    }

    /// The description, as stored in the history table's `name` column.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether the migration is marked `-- contract`: it breaks the previous release (a drop,
    /// a rename), so a run that guards contracts holds it back while a replica of an older
    /// release is connected.
    pub fn is_contract(&self) -> bool {
        super::grammar::is_contract(&self.apply.sql)
    }

    /// The statements of a `-- contract` migration that delete data (a dropped column or
    /// table): its undo brings the schema back, not the data, which the previous release then
    /// reads as empty. Empty for a migration that is not a contract step.
    pub fn dropped_data(&self) -> Vec<String> {
        if self.is_contract() {
            super::grammar::data_dropping_statements(&self.apply.sql)
        } else {
            Vec::new()
        }
    }

    /// The full name, `V{version}__{name}`.
    pub fn full_name(&self) -> String {
        format!("V{}__{}", self.version(), self.name())
    }

    /// refinery's checksum of the name, version and SQL, as an int8 history table records it.
    pub fn checksum(&self) -> u64 {
        self.checksum
    }

    /// The checksum to record in a history table whose version column is `width`.
    pub fn checksum_for(&self, width: VersionWidth) -> u64 {
        match width {
            VersionWidth::Int8 => self.checksum(),
            VersionWidth::Int4 => refinery_checksum(
                self.name(),
                self.version(),
                width,
                &normalised(&self.apply.sql),
            ),
        }
    }

    /// Whether `recorded` is this migration's checksum: of the normalised text (what this
    /// engine records) or of the file's text as it stands (what plain refinery and older
    /// binaries recorded, byte-order mark and CRLF included).
    pub fn matches_checksum(&self, recorded: &str, width: VersionWidth) -> bool {
        let Ok(recorded) = recorded.parse::<u64>() else {
            return false;
        };
        if recorded == self.checksum_for(width) {
            return true;
        }
        let original = self.apply.original_text();
        original != normalised(&self.apply.sql)
            && recorded == refinery_checksum(self.name(), self.version(), width, &original)
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

#[cfg(test)]
mod tests {
    use super::*;

    fn migration(sql: &str) -> Migration {
        Migration::new(3, "x", Script::new("sql/V3__x.sql", sql), None).unwrap()
    }

    #[test]
    fn int8_checksum_is_refinerys_own() {
        let sql = "CREATE TABLE t (id int);\n";
        let m = migration(sql);
        assert_eq!(
            refinery_checksum("x", 3, VersionWidth::Int8, sql),
            refinery::Migration::unapplied("V3__x", sql)
                .unwrap()
                .checksum()
        );
        assert_eq!(m.checksum_for(VersionWidth::Int8), m.checksum());
        assert_ne!(m.checksum_for(VersionWidth::Int4), m.checksum());
    }

    #[test]
    fn crlf_and_bom_are_the_same_migration() {
        let lf = migration("SELECT 1;\nSELECT 2;\n");
        let crlf = migration("SELECT 1;\r\nSELECT 2;\r\n");
        let bom = migration("\u{feff}SELECT 1;\nSELECT 2;\n");
        assert_eq!(lf.checksum(), crlf.checksum());
        assert_eq!(lf.checksum(), bom.checksum());
        assert!(!bom.apply().sql.starts_with('\u{feff}'));
        for width in [VersionWidth::Int4, VersionWidth::Int8] {
            // What an older binary recorded on a CRLF checkout still matches.
            let old = refinery_checksum("x", 3, width, "SELECT 1;\r\nSELECT 2;\r\n");
            assert!(crlf.matches_checksum(&old.to_string(), width));
            assert!(crlf.matches_checksum(&lf.checksum_for(width).to_string(), width));
            assert!(!lf.matches_checksum(&(old + 1).to_string(), width));
        }
    }

    #[test]
    fn pieces_follow_the_statements() {
        let sql = "-- head\nSELECT 1;\nSELECT 2;";
        let script = Script::new("f", sql).with_statements(&[8, 18]);
        assert_eq!(
            script.pieces(),
            [(0, "-- head\nSELECT 1;\n"), (18, "SELECT 2;")]
        );
        assert_eq!(script.statement_start(0), Some(8));
        assert_eq!(script.statement_start(18), Some(18));
        assert_eq!(Script::new("f", sql).statement_start(0), None);
        let single = Script::new("f", "-- no-transaction\n/* x */ DROP INDEX CONCURRENTLY i;");
        assert_eq!(single.statement_start(0), Some(26));
        // Offsets that do not fit the text are ignored.
        let stale = Script::new("f", sql).with_statements(&[8, 400]);
        assert_eq!(stale.pieces(), [(0, sql)]);
    }
}
