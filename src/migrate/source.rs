//! The `sql/` directory: file-name grammar, validation and the generated embedding code.
//!
//! This file is compiled twice: by `build.rs` (through `#[path]`) and by the library, where its
//! unit tests run. It therefore uses only `std` and `walkdir`.

use std::collections::BTreeMap;
use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};

/// The first line that makes a migration run outside a transaction.
pub const NO_TRANSACTION_MARKER: &str = "-- no-transaction";

/// Whether a file applies a migration (`V`) or undoes one (`U`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum FileKind {
    /// `V{n}__{desc}.sql`: applies version `n`.
    Apply,
    /// `U{n}__{desc}.sql`: undoes version `n`.
    Undo,
}

/// A parsed migration file name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileName {
    /// `V` or `U`.
    pub kind: FileKind,
    /// The positive version number.
    pub version: i64,
    /// The description, `[A-Za-z0-9_]+`.
    pub description: String,
}

/// Why a file name does not follow the grammar.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NameError {
    /// The name does not end in `.sql`.
    NotSql,
    /// The name starts with neither `V` nor `U`.
    Prefix,
    /// There is no `__` between the version and the description.
    Separator,
    /// The version is missing.
    MissingVersion,
    /// The version has a character other than an ASCII digit.
    NonNumericVersion(String),
    /// The version is zero.
    ZeroVersion,
    /// The version does not fit in an i64.
    VersionTooLarge(String),
    /// The description is empty or has a character outside `[A-Za-z0-9_]`.
    Description(String),
}

impl fmt::Display for NameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NameError::NotSql => write!(f, "the file name does not end in .sql"),
            NameError::Prefix => write!(f, "the file name does not start with V or U"),
            NameError::Separator => write!(
                f,
                "the file name has no `__` between the version and the description"
            ),
            NameError::MissingVersion => write!(f, "the file name has no version"),
            NameError::NonNumericVersion(v) => write!(f, "the version `{v}` is not a number"),
            NameError::ZeroVersion => write!(f, "the version is 0 but versions start at 1"),
            NameError::VersionTooLarge(v) => {
                write!(f, "the version `{v}` does not fit in a 64-bit integer")
            }
            NameError::Description(d) if d.is_empty() => write!(f, "the description is empty"),
            NameError::Description(d) => write!(
                f,
                "the description `{d}` has characters outside [A-Za-z0-9_]"
            ),
        }
    }
}

/// Parses `V{version}__{description}.sql` or `U{version}__{description}.sql`.
///
/// # Errors
///
/// Returns the first way in which `name` breaks the grammar.
pub fn parse_file_name(name: &str) -> Result<FileName, NameError> {
    let stem = name.strip_suffix(".sql").ok_or(NameError::NotSql)?;
    let (kind, rest) = if let Some(rest) = stem.strip_prefix('V') {
        (FileKind::Apply, rest)
    } else if let Some(rest) = stem.strip_prefix('U') {
        (FileKind::Undo, rest)
    } else {
        return Err(NameError::Prefix);
    };
    let (version, description) = rest.split_once("__").ok_or_else(|| {
        if rest.is_empty() || !rest.starts_with(|c: char| c.is_ascii_digit()) {
            NameError::MissingVersion
        } else {
            NameError::Separator
        }
    })?;
    if version.is_empty() {
        return Err(NameError::MissingVersion);
    }
    if !version.bytes().all(|b| b.is_ascii_digit()) {
        return Err(NameError::NonNumericVersion(version.to_string()));
    }
    let version_number: i64 = version
        .parse()
        .map_err(|_| NameError::VersionTooLarge(version.to_string()))?;
    if version_number == 0 {
        return Err(NameError::ZeroVersion);
    }
    if description.is_empty()
        || !description
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_')
    {
        return Err(NameError::Description(description.to_string()));
    }
    Ok(FileName {
        kind,
        version: version_number,
        description: description.to_string(),
    })
}

/// One file read from `sql/`.
#[derive(Clone, Debug)]
pub struct SourceFile {
    /// The absolute path, for `include_str!`.
    pub path: PathBuf,
    /// The path relative to the project root, for messages (`sql/V1__initial.sql`).
    pub display: String,
    /// The parsed file name.
    pub name: FileName,
    /// The file's content.
    pub sql: String,
    /// Where each statement starts, in bytes after a byte-order mark, as a PostgreSQL parser
    /// found them; empty when no parser ran or it could not parse the file.
    pub statements: Vec<usize>,
}

/// A `V` file with its optional `U` file.
#[derive(Clone, Debug)]
pub struct SourceMigration {
    /// The version shared by both files.
    pub version: i64,
    /// The description shared by both files.
    pub description: String,
    /// The `V` file.
    pub apply: SourceFile,
    /// The `U` file, if there is one.
    pub undo: Option<SourceFile>,
}

/// One reason the build must fail, tied to a file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// The offending file, relative to the project root; with `:line` when a line is known.
    pub location: String,
    /// What is wrong.
    pub message: String,
    /// How to fix it.
    pub hint: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {} (hint: {})",
            self.location, self.message, self.hint
        )
    }
}

/// What a scan found besides the migrations: files that were skipped.
#[derive(Debug, Default)]
pub struct Scan {
    /// The migrations, sorted by version.
    pub migrations: Vec<SourceMigration>,
    /// Files that are not `.sql` and were therefore ignored, relative to the project root.
    pub ignored: Vec<String>,
}

/// The 1-based line and column (in characters) of a byte offset in `text`.
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, text[line_start..offset].chars().count() + 1)
}

/// Whether a script's first line asks for it to run outside a transaction.
pub fn is_no_transaction(sql: &str) -> bool {
    let sql = sql.strip_prefix('\u{feff}').unwrap_or(sql);
    sql.lines()
        .next()
        .is_some_and(|line| line.trim().eq_ignore_ascii_case(NO_TRANSACTION_MARKER))
}

/// Scans `dir` (recursively) for migration files and validates the whole set.
///
/// `root` is the directory that file paths in messages are shown relative to.
///
/// # Errors
///
/// Returns every problem found, not only the first, so that one failed build names every bad file.
pub fn scan(root: &Path, dir: &Path) -> Result<Scan, Vec<Problem>> {
    scan_with(root, dir, &|_| None)
}

/// [`scan`], finding statements with `parse`, which returns the byte offset where each
/// statement starts, or `None` when it cannot parse the text; `build.rs` passes a real
/// PostgreSQL parser where it has one.
///
/// # Errors
///
/// As for [`scan`].
pub fn scan_with(
    root: &Path,
    dir: &Path,
    parse: &dyn Fn(&str) -> Option<Vec<usize>>,
) -> Result<Scan, Vec<Problem>> {
    let mut problems = Vec::new();
    let mut files = Vec::new();
    let mut ignored = Vec::new();
    // Every parsed version counts, even of a file rejected for its content, so that the
    // hint for a duplicate never suggests a version that is already taken.
    let mut highest = 0i64;
    let show = |path: &Path| {
        path.strip_prefix(root)
            .unwrap_or(path)
            .to_string_lossy()
            .replace('\\', "/")
    };

    // Sorted so that the generated code does not depend on directory order.
    for entry in walkdir::WalkDir::new(dir).sort_by_file_name() {
        let entry = match entry {
            Ok(entry) => entry,
            Err(err) => {
                let path = err.path().unwrap_or(dir).to_path_buf();
                problems.push(Problem {
                    location: show(&path),
                    message: format!("cannot be read: {err}"),
                    hint: "check the permissions of sql/ and the files in it".into(),
                });
                continue;
            }
        };
        if !entry.file_type().is_file() {
            continue;
        }
        let path = entry.path();
        let file_name = entry.file_name().to_string_lossy();
        if file_name.starts_with('.') || !file_name.ends_with(".sql") {
            ignored.push(show(path));
            continue;
        }
        let name = match parse_file_name(&file_name) {
            Ok(name) => name,
            Err(err) => {
                problems.push(Problem {
                    location: show(path),
                    message: format!("malformed migration file name: {err}"),
                    hint: "name it V{version}__{description}.sql (or U… for its undo), \
                           for example V3__add_users.sql"
                        .into(),
                });
                continue;
            }
        };
        highest = highest.max(name.version);
        let bytes = match fs::read(path) {
            Ok(bytes) => bytes,
            Err(err) => {
                problems.push(Problem {
                    location: show(path),
                    message: format!("cannot be read: {err}"),
                    hint: "check the file's permissions".into(),
                });
                continue;
            }
        };
        let sql = match String::from_utf8(bytes) {
            Ok(sql) => sql,
            Err(err) => {
                let offset = err.utf8_error().valid_up_to();
                let line = 1 + err.as_bytes()[..offset]
                    .iter()
                    .filter(|&&b| b == b'\n')
                    .count();
                problems.push(Problem {
                    location: format!("{}:{line}", show(path)),
                    message: format!("is not valid UTF-8 (invalid byte at offset {offset})"),
                    hint: "save the file as UTF-8".into(),
                });
                continue;
            }
        };
        if sql.trim().is_empty() {
            problems.push(Problem {
                location: show(path),
                message: "is empty".into(),
                hint: "write the migration's SQL, or delete the file".into(),
            });
            continue;
        }
        // A byte-order mark is not SQL: the engine strips it before sending the text.
        let text = sql.strip_prefix('\u{feff}').unwrap_or(&sql);
        let statements = parse(text);
        if is_no_transaction(text) {
            let statements: Vec<usize> = match &statements {
                Some(starts) => starts.iter().map(|&at| line_col(text, at).0).collect(),
                None => split_statements(text).iter().map(|s| s.line).collect(),
            };
            if statements.len() > 1 {
                problems.push(Problem {
                    location: format!("{}:{}", show(path), statements[1]),
                    message: format!(
                        "a `{NO_TRANSACTION_MARKER}` file must hold exactly one statement, \
                         but this one holds {}",
                        statements.len()
                    ),
                    hint: "move the other statements into a migration of their own".into(),
                });
                continue;
            }
        }
        files.push(SourceFile {
            path: path.to_path_buf(),
            display: show(path),
            name,
            statements: statements.unwrap_or_default(),
            sql,
        });
    }

    let mut applies: BTreeMap<i64, Vec<SourceFile>> = BTreeMap::new();
    let mut undos: BTreeMap<i64, Vec<SourceFile>> = BTreeMap::new();
    for file in files {
        let by_version = match file.name.kind {
            FileKind::Apply => &mut applies,
            FileKind::Undo => &mut undos,
        };
        by_version.entry(file.name.version).or_default().push(file);
    }
    let next_free = highest.saturating_add(1);

    let mut migrations = Vec::new();
    for (version, mut group) in applies {
        if group.len() > 1 {
            let names: Vec<&str> = group.iter().map(|f| f.display.as_str()).collect();
            for file in &group[1..] {
                problems.push(Problem {
                    location: file.display.clone(),
                    message: format!(
                        "duplicate version {version}: {} share it",
                        names.join(" and ")
                    ),
                    hint: format!(
                        "renumber this file (and its undo) to the next free version, V{next_free}"
                    ),
                });
            }
            // Its undo file is neither matched nor an orphan: the duplicate is the problem.
            undos.remove(&version);
            continue;
        }
        let apply = group.remove(0);
        let undo = match undos.remove(&version) {
            None => None,
            Some(mut undo_group) => {
                if undo_group.len() > 1 {
                    for file in &undo_group[1..] {
                        problems.push(Problem {
                            location: file.display.clone(),
                            message: format!("duplicate undo for version {version}"),
                            hint: "keep one U file per version".into(),
                        });
                    }
                }
                let undo = undo_group.remove(0);
                if undo.name.description != apply.name.description {
                    problems.push(Problem {
                        location: undo.display.clone(),
                        message: format!(
                            "undo file has no matching V file: {} is named `{}`",
                            apply.display, apply.name.description
                        ),
                        hint: format!("rename it to U{version}__{}.sql", apply.name.description),
                    });
                }
                Some(undo)
            }
        };
        migrations.push(SourceMigration {
            version,
            description: apply.name.description.clone(),
            apply,
            undo,
        });
    }
    for (version, group) in undos {
        for file in group {
            problems.push(Problem {
                location: file.display.clone(),
                message: format!("undo file has no matching V file (no V{version}__*.sql)"),
                hint: format!(
                    "add V{version}__{}.sql, or delete this file",
                    file.name.description
                ),
            });
        }
    }

    if problems.is_empty() {
        Ok(Scan {
            migrations,
            ignored,
        })
    } else {
        Err(problems)
    }
}

/// One statement of a script, as found by [`split_statements`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Statement {
    /// The 1-based line on which the statement starts.
    pub line: usize,
    /// The statement's text, without its terminating `;`.
    pub text: String,
    /// Whether a `;` ends it; only the last statement of a script can lack one.
    pub terminated: bool,
}

/// Splits a script into its statements, skipping comments and empty statements.
///
/// It understands the lexical forms that may hide a `;`: quoted strings (`'…'`, `E'…'`),
/// quoted identifiers, dollar quoting (`$tag$…$tag$`) and both kinds of comment, nested block
/// comments included.
pub fn split_statements(sql: &str) -> Vec<Statement> {
    let bytes = sql.as_bytes();
    let mut statements = Vec::new();
    let mut current = String::new();
    let mut start_line = None;
    let mut line = 1;
    let mut i = 0;
    let mut flush = |current: &mut String, start_line: &mut Option<usize>, terminated: bool| {
        let text = current.trim();
        if let (false, Some(line)) = (text.is_empty(), *start_line) {
            statements.push(Statement {
                line,
                text: text.to_string(),
                terminated,
            });
        }
        current.clear();
        *start_line = None;
    };
    while i < bytes.len() {
        let c = bytes[i];
        // Comments do not start a statement and are not part of its text.
        if c == b'-' && bytes.get(i + 1) == Some(&b'-') {
            while i < bytes.len() && bytes[i] != b'\n' {
                i += 1;
            }
            continue;
        }
        if c == b'/' && bytes.get(i + 1) == Some(&b'*') {
            let mut depth = 0;
            while i < bytes.len() {
                if bytes[i] == b'/' && bytes.get(i + 1) == Some(&b'*') {
                    depth += 1;
                    i += 2;
                } else if bytes[i] == b'*' && bytes.get(i + 1) == Some(&b'/') {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    if bytes[i] == b'\n' {
                        line += 1;
                    }
                    i += 1;
                }
            }
            current.push(' ');
            continue;
        }
        if c == b';' {
            flush(&mut current, &mut start_line, true);
            i += 1;
            continue;
        }
        if !c.is_ascii_whitespace() && start_line.is_none() {
            start_line = Some(line);
        }
        let end = match c {
            b'\'' => {
                let escapes = i > 0 && matches!(bytes[i - 1], b'E' | b'e');
                quoted_end(bytes, i, b'\'', escapes)
            }
            b'"' => quoted_end(bytes, i, b'"', false),
            b'$' => dollar_quoted_end(bytes, i),
            _ => i + c.len_utf8_hint(),
        };
        let end = end.min(bytes.len());
        line += bytes[i..end].iter().filter(|&&b| b == b'\n').count();
        current.push_str(&String::from_utf8_lossy(&bytes[i..end]));
        i = end;
    }
    flush(&mut current, &mut start_line, false);
    statements
}

/// The length of a character from its first byte, so that text is copied whole.
trait Utf8Len {
    fn len_utf8_hint(self) -> usize;
}

impl Utf8Len for u8 {
    fn len_utf8_hint(self) -> usize {
        match self {
            0xF0..=0xFF => 4,
            0xE0..=0xEF => 3,
            0xC0..=0xDF => 2,
            _ => 1,
        }
    }
}

/// The index just past a quoted token that starts at `start`; doubled quotes stay inside.
fn quoted_end(bytes: &[u8], start: usize, quote: u8, backslash_escapes: bool) -> usize {
    let mut i = start + 1;
    while i < bytes.len() {
        if backslash_escapes && bytes[i] == b'\\' {
            i += 2;
            continue;
        }
        if bytes[i] == quote {
            if bytes.get(i + 1) == Some(&quote) {
                i += 2;
                continue;
            }
            return i + 1;
        }
        i += 1;
    }
    bytes.len()
}

/// The index just past a dollar-quoted string starting at `start`, or past a lone `$`
/// (a parameter such as `$1`) when it is not a dollar quote.
fn dollar_quoted_end(bytes: &[u8], start: usize) -> usize {
    let mut j = start + 1;
    while j < bytes.len() && (bytes[j].is_ascii_alphanumeric() || bytes[j] == b'_') {
        j += 1;
    }
    let is_tag =
        bytes.get(j) == Some(&b'$') && !bytes.get(start + 1).is_some_and(|b| b.is_ascii_digit());
    if !is_tag {
        return start + 1;
    }
    let tag = &bytes[start..=j];
    let mut k = j + 1;
    while k + tag.len() <= bytes.len() {
        if &bytes[k..k + tag.len()] == tag {
            return k + tag.len();
        }
        k += 1;
    }
    bytes.len()
}

/// Renders the Rust expression that embeds `migrations`: a slice of
/// `crate::migrate::EmbeddedMigration`, sorted by version.
///
/// The output depends only on the migrations, so an unchanged `sql/` gives byte-identical code.
pub fn render(migrations: &[SourceMigration]) -> String {
    let mut out = String::from(
        "// @generated by build.rs from sql/. Do not edit: add or change files in sql/ instead.\n&[\n",
    );
    for m in migrations {
        out.push_str("    crate::migrate::EmbeddedMigration {\n");
        out.push_str(&format!("        version: {},\n", m.version));
        out.push_str(&format!("        description: {:?},\n", m.description));
        out.push_str(&format!("        path: {:?},\n", m.apply.display));
        out.push_str(&format!(
            "        sql: include_str!({:?}),\n",
            m.apply.path.to_string_lossy()
        ));
        out.push_str(&format!("        statements: &{:?},\n", m.apply.statements));
        match &m.undo {
            Some(undo) => {
                out.push_str(&format!("        undo_path: Some({:?}),\n", undo.display));
                out.push_str(&format!(
                    "        undo_sql: Some(include_str!({:?})),\n",
                    undo.path.to_string_lossy()
                ));
                out.push_str(&format!(
                    "        undo_statements: &{:?},\n",
                    undo.statements
                ));
            }
            None => out.push_str(
                "        undo_path: None,\n        undo_sql: None,\n        undo_statements: &[],\n",
            ),
        }
        out.push_str("    },\n");
    }
    out.push_str("]\n");
    out
}

/// Writes `content` to `path` only if it differs, so that an unchanged `sql/` does not
/// make Cargo recompile the crate that includes the file.
///
/// # Errors
///
/// Returns the I/O error of the write.
pub fn write_if_changed(path: &Path, content: &str) -> std::io::Result<bool> {
    if fs::read(path).is_ok_and(|old| old == content.as_bytes()) {
        return Ok(false);
    }
    fs::write(path, content)?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_name_grammar() {
        let ok = [
            ("V1__initial.sql", FileKind::Apply, 1, "initial"),
            ("U2__move_tokens.sql", FileKind::Undo, 2, "move_tokens"),
            (
                "V20261122093000__x.sql",
                FileKind::Apply,
                20261122093000,
                "x",
            ),
            ("V007__a__b.sql", FileKind::Apply, 7, "a__b"),
            (
                "V9223372036854775807__max.sql",
                FileKind::Apply,
                i64::MAX,
                "max",
            ),
        ];
        for (name, kind, version, description) in ok {
            assert_eq!(
                parse_file_name(name),
                Ok(FileName {
                    kind,
                    version,
                    description: description.into()
                }),
                "{name}"
            );
        }
        let bad = [
            ("V1__x.txt", NameError::NotSql),
            ("X1__x.sql", NameError::Prefix),
            ("initial.sql", NameError::Prefix),
            ("V__x.sql", NameError::MissingVersion),
            ("Vx__y.sql", NameError::NonNumericVersion("x".into())),
            ("V1a__y.sql", NameError::NonNumericVersion("1a".into())),
            ("V-1__y.sql", NameError::NonNumericVersion("-1".into())),
            ("V1_x.sql", NameError::Separator),
            ("V1.sql", NameError::Separator),
            ("V0__zero.sql", NameError::ZeroVersion),
            (
                "V9223372036854775808__big.sql",
                NameError::VersionTooLarge("9223372036854775808".into()),
            ),
            ("V1__.sql", NameError::Description(String::new())),
            (
                "V1__add-users.sql",
                NameError::Description("add-users".into()),
            ),
            ("V1__naïve.sql", NameError::Description("naïve".into())),
        ];
        for (name, err) in bad {
            assert_eq!(parse_file_name(name), Err(err), "{name}");
        }
    }

    proptest::proptest! {
        #[test]
        fn any_file_name_parses_or_is_rejected_without_panicking(name in ".*") {
            let _ = parse_file_name(&name);
        }

        #[test]
        fn well_formed_names_round_trip(
            undo: bool,
            version in 1..=i64::MAX,
            description in "[A-Za-z0-9_]{1,40}",
        ) {
            let kind = if undo { 'U' } else { 'V' };
            let parsed = parse_file_name(&format!("{kind}{version}__{description}.sql")).unwrap();
            proptest::prop_assert_eq!(parsed.version, version);
            proptest::prop_assert_eq!(parsed.description, description);
        }

        #[test]
        fn any_script_splits_without_panicking(sql in "(?s).{0,200}") {
            let statements = split_statements(&sql);
            for statement in &statements {
                proptest::prop_assert!(statement.line >= 1);
            }
            let _ = is_no_transaction(&sql);
        }
    }

    #[test]
    fn statements_split_around_quotes_comments_and_dollar_quotes() {
        let cases: &[(&str, &[usize])] = &[
            ("SELECT 1;", &[1]),
            ("SELECT 1; SELECT 2", &[1, 1]),
            ("-- only a comment\n", &[]),
            ("SELECT ';';\n-- ; not here\nSELECT 2;", &[1, 3]),
            ("SELECT E'\\';';\n", &[1]),
            ("SELECT \"a;b\" FROM t;", &[1]),
            ("/* a; /* nested; */ still; */ SELECT 1;", &[1]),
            (
                "CREATE FUNCTION f() RETURNS int AS $$ SELECT 1; $$ LANGUAGE sql;\nSELECT 2;",
                &[1, 2],
            ),
            ("DO $body$ BEGIN PERFORM 1; END $body$;", &[1]),
            ("PREPARE p AS SELECT $1; EXECUTE p(1);", &[1, 1]),
            (";;\n\nSELECT 1;;", &[3]),
        ];
        for (sql, lines) in cases {
            let found: Vec<usize> = split_statements(sql).iter().map(|s| s.line).collect();
            assert_eq!(&found, lines, "{sql}");
        }
    }

    #[test]
    fn no_transaction_marker_is_the_first_line_only() {
        assert!(is_no_transaction(
            "-- no-transaction\nCREATE INDEX CONCURRENTLY i ON t (a);"
        ));
        assert!(is_no_transaction("  -- No-Transaction  \r\nSELECT 1;"));
        assert!(!is_no_transaction("SELECT 1;\n-- no-transaction\n"));
        assert!(!is_no_transaction("-- no-transaction please\nSELECT 1;"));
    }

    struct TempDir(PathBuf);

    impl TempDir {
        fn new(files: &[(&str, &[u8])]) -> TempDir {
            use std::sync::atomic::{AtomicUsize, Ordering};
            static NEXT: AtomicUsize = AtomicUsize::new(0);
            let dir = std::env::temp_dir().join(format!(
                "app-source-test-{}-{}",
                std::process::id(),
                NEXT.fetch_add(1, Ordering::Relaxed)
            ));
            let _ = fs::remove_dir_all(&dir);
            fs::create_dir_all(dir.join("sql")).unwrap();
            for (name, content) in files {
                let path = dir.join("sql").join(name);
                fs::create_dir_all(path.parent().unwrap()).unwrap();
                fs::write(path, content).unwrap();
            }
            TempDir(dir)
        }

        fn scan(&self) -> Result<Scan, Vec<Problem>> {
            scan(&self.0, &self.0.join("sql"))
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    #[test]
    fn scan_pairs_undo_files_and_sorts_by_version() {
        let dir = TempDir::new(&[
            ("V10__ten.sql", b"SELECT 10;"),
            ("V2__two.sql", b"SELECT 2;"),
            ("U2__two.sql", b"SELECT -2;"),
            ("nested/V3__three.sql", b"SELECT 3;"),
            ("README.md", b"notes"),
        ]);
        let scan = dir.scan().unwrap();
        let versions: Vec<i64> = scan.migrations.iter().map(|m| m.version).collect();
        assert_eq!(versions, [2, 3, 10]);
        assert_eq!(
            scan.migrations[0].undo.as_ref().unwrap().display,
            "sql/U2__two.sql"
        );
        assert!(scan.migrations[1].undo.is_none());
        assert_eq!(scan.migrations[1].apply.display, "sql/nested/V3__three.sql");
        assert_eq!(scan.ignored, ["sql/README.md"]);
    }

    #[test]
    fn scan_reports_every_bad_file_at_once() {
        let dir = TempDir::new(&[
            ("V1__one.sql", b"SELECT 1;"),
            ("__nothing.sql", b"SELECT 1;"),
            ("Vabc__x.sql", b"SELECT 1;"),
            ("V4__first.sql", b"SELECT 4;"),
            ("V4__second.sql", b"SELECT 4;"),
            // The undo of a duplicated version is not reported a second time as an orphan.
            ("U4__second.sql", b"SELECT -4;"),
            ("U9__orphan.sql", b"SELECT 9;"),
            ("U1__wrong_name.sql", b"SELECT 1;"),
            ("V5__empty.sql", b"  \n"),
            ("V6__latin1.sql", b"SELECT 'caf\xe9';"),
            (
                "V7__two_statements.sql",
                b"-- no-transaction\nCREATE INDEX CONCURRENTLY a ON t (x);\nSELECT 1;",
            ),
        ]);
        let problems = dir.scan().unwrap_err();
        let rendered: Vec<String> = problems.iter().map(ToString::to_string).collect();
        let expect = [
            "sql/__nothing.sql: malformed migration file name: the file name does not start with V or U",
            "sql/Vabc__x.sql: malformed migration file name: the version `abc` is not a number",
            "sql/V5__empty.sql: is empty",
            "sql/V6__latin1.sql:1: is not valid UTF-8 (invalid byte at offset 11)",
            "sql/V7__two_statements.sql:3: a `-- no-transaction` file must hold exactly one statement, but this one holds 2",
            "sql/V4__second.sql: duplicate version 4: sql/V4__first.sql and sql/V4__second.sql share it (hint: renumber this file (and its undo) to the next free version, V10)",
            "sql/U1__wrong_name.sql: undo file has no matching V file: sql/V1__one.sql is named `one` (hint: rename it to U1__one.sql)",
            "sql/U9__orphan.sql: undo file has no matching V file (no V9__*.sql) (hint: add V9__orphan.sql, or delete this file)",
        ];
        assert_eq!(problems.len(), expect.len(), "{rendered:#?}");
        for want in expect {
            assert!(
                rendered.iter().any(|got| got.starts_with(want)),
                "missing {want:?} in {rendered:#?}"
            );
        }
    }

    #[test]
    fn render_is_deterministic_and_marked_generated() {
        let dir = TempDir::new(&[
            ("V1__one.sql", b"SELECT 1;"),
            ("U1__one.sql", b"SELECT 0;"),
            ("V2__two.sql", b"SELECT 2;"),
        ]);
        let first = render(&dir.scan().unwrap().migrations);
        let second = render(&dir.scan().unwrap().migrations);
        assert_eq!(first, second);
        assert!(first.starts_with("// @generated by build.rs"));
        assert!(first.contains("undo_path: Some(\"sql/U1__one.sql\")"));
        assert!(first.contains("version: 2,"));
        assert!(first.find("version: 1,") < first.find("version: 2,"));
    }

    #[test]
    fn write_if_changed_leaves_identical_files_alone() {
        let dir = TempDir::new(&[]);
        let path = dir.0.join("out.rs");
        assert!(write_if_changed(&path, "a").unwrap());
        assert!(!write_if_changed(&path, "a").unwrap());
        assert!(write_if_changed(&path, "b").unwrap());
    }
}
