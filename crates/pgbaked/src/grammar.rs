//! The migration files' grammar, shared by the build helper and the engine: file names
//! (`V{n}__{desc}.sql`, `U{n}__{desc}.sql`), the `-- no-transaction` marker, and the lexical
//! statement split used where no PostgreSQL parser ran. Plain `std`, so that a build script
//! can use it without the engine's runtime.

use std::fmt;

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

/// The marker of a migration that breaks the previous release (`-- contract`): a drop, a
/// rename, a narrowing. It may stand on any comment line before the first statement.
pub const CONTRACT_MARKER: &str = "-- contract";

/// Whether a script is marked [`CONTRACT_MARKER`] in its leading comments.
pub fn is_contract(sql: &str) -> bool {
    let sql = sql.strip_prefix('\u{feff}').unwrap_or(sql);
    sql.lines()
        .map(str::trim)
        .take_while(|line| line.is_empty() || line.starts_with("--"))
        .any(|line| {
            line.eq_ignore_ascii_case(CONTRACT_MARKER)
                || line
                    .get(..CONTRACT_MARKER.len() + 1)
                    .is_some_and(|head| head.eq_ignore_ascii_case(&format!("{CONTRACT_MARKER}:")))
        })
}

/// The statements of `sql` that delete data: `DROP TABLE`, `DROP SCHEMA`, `TRUNCATE`,
/// `DELETE`, and `ALTER TABLE … DROP [COLUMN] c` (not a constraint, a default, NOT NULL, an
/// identity or an expression). Each as written, on one line. A contract step that holds one
/// cannot be reverted without losing what the previous release reads.
pub fn data_dropping_statements(sql: &str) -> Vec<String> {
    split_statements(sql)
        .into_iter()
        .filter(|s| deletes_data(&words(&s.text)))
        .map(|s| s.text.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect()
}

/// Whether a statement, as its words, deletes data.
fn deletes_data(words: &[String]) -> bool {
    let word = |i: usize| words.get(i).map_or("", String::as_str);
    match (word(0), word(1)) {
        ("DROP", "TABLE" | "SCHEMA") | ("TRUNCATE" | "DELETE", _) => true,
        ("ALTER", "TABLE") => words.windows(2).any(|w| {
            w[0] == "DROP"
                && !matches!(
                    w[1].as_str(),
                    "CONSTRAINT" | "DEFAULT" | "NOT" | "IDENTITY" | "EXPRESSION"
                )
        }),
        _ => false,
    }
}

/// The words of a statement, upper-cased; a quoted name or a string literal is one word
/// (`"…"`, `'…'`), so that a name holding ` DROP ` is not read as the keyword.
fn words(text: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' | '\'' => {
                let mut quoted = String::from(c);
                for q in chars.by_ref() {
                    quoted.push(q);
                    if q == c {
                        break;
                    }
                }
                words.push(quoted);
            }
            c if c.is_alphanumeric() || c == '_' => {
                let mut word = String::from(c);
                while let Some(&n) = chars.peek() {
                    if n.is_alphanumeric() || n == '_' || n == '$' {
                        word.push(n);
                        chars.next();
                    } else {
                        break;
                    }
                }
                words.push(word.to_uppercase());
            }
            _ => {}
        }
    }
    words
}

/// One statement of a script, as found by [`split_statements`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Statement {
    /// The 1-based line on which the statement starts.
    pub line: usize,
    /// The byte offset of the statement's first token.
    pub start: usize,
    /// The statement's text, without its terminating `;`.
    pub text: String,
    /// Whether a `;` ends it; only the last statement of a script can lack one.
    pub terminated: bool,
}

/// Splits a script into its statements, skipping comments and empty statements.
///
/// It understands the lexical forms that may hide a `;`: quoted strings (`'…'`, `E'…'`),
/// quoted identifiers, dollar quoting (`$tag$…$tag$`) and both kinds of comment, nested block
/// comments included; and, with psql's own rule, the `;` inside a SQL-standard routine body:
/// in a `CREATE [OR REPLACE] FUNCTION|PROCEDURE` statement, outside parentheses, `BEGIN` opens
/// a block, `CASE` inside one opens another, `END` closes one, and a `;` inside a block ends
/// nothing. So the statements are the same whether or not a PostgreSQL parser ran at build
/// time.
pub fn split_statements(sql: &str) -> Vec<Statement> {
    let bytes = sql.as_bytes();
    let mut statements = Vec::new();
    let mut current = String::new();
    // The line and byte offset of the current statement's first token.
    let mut start: Option<(usize, usize)> = None;
    let mut line = 1;
    let mut i = 0;
    // The current statement's words and parentheses, and the depth of its BEGIN … END blocks.
    let mut routine = RoutineHead::default();
    let mut depth = 0usize;
    let mut flush = |current: &mut String, start: &mut Option<(usize, usize)>, terminated: bool| {
        let text = current.trim();
        if let (false, Some((line, at))) = (text.is_empty(), *start) {
            statements.push(Statement {
                line,
                start: at,
                text: text.to_string(),
                terminated,
            });
        }
        current.clear();
        *start = None;
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
        if c == b';' && depth == 0 {
            flush(&mut current, &mut start, true);
            routine = RoutineHead::default();
            i += 1;
            continue;
        }
        if !c.is_ascii_whitespace() && start.is_none() {
            start = Some((line, i));
        }
        let end = match c {
            b'\'' => {
                let escapes = i > 0 && matches!(bytes[i - 1], b'E' | b'e');
                quoted_end(bytes, i, b'\'', escapes)
            }
            b'"' => quoted_end(bytes, i, b'"', false),
            b'$' => dollar_quoted_end(bytes, i),
            // A word: a keyword or an unquoted identifier (`$` may continue one).
            _ if c.is_ascii_alphabetic() || c == b'_' || c >= 0x80 => {
                let mut end = i + c.len_utf8_hint();
                while end < bytes.len()
                    && (bytes[end].is_ascii_alphanumeric()
                        || matches!(bytes[end], b'_' | b'$')
                        || bytes[end] >= 0x80)
                {
                    end += 1;
                }
                let word = &bytes[i..end];
                if routine.word(word) && routine.parentheses == 0 {
                    if word.eq_ignore_ascii_case(b"begin")
                        || (depth > 0 && word.eq_ignore_ascii_case(b"case"))
                    {
                        depth += 1;
                    } else if word.eq_ignore_ascii_case(b"end") {
                        depth = depth.saturating_sub(1);
                    }
                }
                end
            }
            b'(' => {
                routine.parentheses += 1;
                i + 1
            }
            b')' => {
                routine.parentheses = routine.parentheses.saturating_sub(1);
                i + 1
            }
            _ => i + c.len_utf8_hint(),
        };
        let end = end.min(bytes.len());
        line += bytes[i..end].iter().filter(|&&b| b == b'\n').count();
        current.push_str(&String::from_utf8_lossy(&bytes[i..end]));
        i = end;
    }
    flush(&mut current, &mut start, false);
    statements
}

/// What psql tracks of a statement's head to tell a SQL-standard routine body, whose `;`
/// do not end the statement: its first four words' initials, when they are among `CREATE OR
/// REPLACE FUNCTION PROCEDURE`, and its depth of parentheses.
#[derive(Default)]
struct RoutineHead {
    initials: [u8; 4],
    words: usize,
    parentheses: usize,
}

impl RoutineHead {
    /// Counts one word; whether the statement is a `CREATE [OR REPLACE] FUNCTION|PROCEDURE`.
    fn word(&mut self, word: &[u8]) -> bool {
        let known = [&b"create"[..], b"function", b"procedure", b"or", b"replace"];
        if self.words < self.initials.len() && known.iter().any(|k| word.eq_ignore_ascii_case(k)) {
            self.initials[self.words] = word[0].to_ascii_lowercase();
        }
        self.words += 1;
        matches!(
            self.initials,
            [b'c', b'f' | b'p', ..] | [b'c', b'o', b'r', b'f' | b'p']
        )
    }
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

#[cfg(test)]
mod tests {
    #[test]
    fn statements_that_delete_data() {
        let sql = "-- contract\nALTER TABLE users DROP COLUMN legacy;\n\
                   ALTER TABLE users ALTER COLUMN a DROP DEFAULT, DROP CONSTRAINT c;\n\
                   ALTER TABLE \"x DROP y\" ADD COLUMN z int;\n\
                   ALTER TABLE t DROP old_name;\n\
                   drop table audit;\nTRUNCATE log;\nDELETE FROM t WHERE false;\n\
                   DROP INDEX i; DROP VIEW v;\nALTER TABLE t ALTER c DROP NOT NULL;";
        assert_eq!(
            data_dropping_statements(sql),
            [
                "ALTER TABLE users DROP COLUMN legacy",
                "ALTER TABLE t DROP old_name",
                "drop table audit",
                "TRUNCATE log",
                "DELETE FROM t WHERE false",
            ]
        );
    }

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
            // A SQL-standard body's `;` end nothing, CASE … END inside it included.
            (
                "CREATE FUNCTION f() RETURNS int LANGUAGE sql\nBEGIN ATOMIC\n  SELECT 1;\n  \
                 SELECT CASE WHEN true THEN 2 END;\nEND;\nSELECT 3;",
                &[1, 6],
            ),
            (
                "create or replace procedure p() language sql begin atomic insert into t \
                 values (1); end;\nSELECT 2;",
                &[1, 2],
            ),
            // A transaction's BEGIN, a CASE outside a routine and a column named begin
            // open no block.
            ("BEGIN;\nSELECT 1;\nCOMMIT;", &[1, 2, 3]),
            ("SELECT CASE WHEN true THEN 1 END;\nSELECT 2;", &[1, 2]),
            ("CREATE TABLE t (begin int);\nSELECT 2;", &[1, 2]),
            (
                "CREATE FUNCTION f(\"begin\" int) RETURNS int LANGUAGE sql RETURN 1;\nSELECT 2;",
                &[1, 2],
            ),
        ];
        for (sql, lines) in cases {
            let found: Vec<usize> = split_statements(sql).iter().map(|s| s.line).collect();
            assert_eq!(&found, lines, "{sql}");
        }
    }

    #[test]
    fn statements_start_at_their_first_token() {
        let sql = "-- head\nSELECT 1;\n  /* c */ CREATE FUNCTION f() RETURNS int LANGUAGE sql \
                   BEGIN ATOMIC SELECT 1; SELECT 2; END;\n";
        let starts: Vec<usize> = split_statements(sql).iter().map(|s| s.start).collect();
        assert_eq!(starts, [8, 28]);
        assert_eq!(&sql[28..34], "CREATE");
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
}
