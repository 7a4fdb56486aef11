//! Compile-time SQL checks for `build.rs`: every migration is parsed with squawk's PostgreSQL
//! grammar (a syntax error fails the build at file:line:column) and linted with squawk's rules
//! (each finding is a warning, or an error in strict mode).
//!
//! Compiled by `build.rs` (through `#[path]`, with the default `sql-lint` feature) and by the
//! library's unit tests; never into the binary.

use pgbaked::grammar::line_col;
use squawk_linter::{Linter, Rule};
use squawk_syntax::SourceFile;
use squawk_syntax::ast::AstNode;

/// The comment that silences rules for one file: `-- lint: allow rule-a, rule-b`.
pub const ALLOW_PREFIX: &str = "-- lint: allow";

/// The pseudo-rule that downgrades syntax errors of one file to warnings.
pub const SYNTAX_ERROR: &str = "syntax-error";

/// Rules that stay off by default, and why.
///
/// - `require-lock-timeout`, `require-statement-timeout`, `require-timeout-settings`: the
///   engine sets `lock_timeout` and `statement_timeout` itself for every migration (`SET LOCAL`
///   in its transaction, `SET` around a `-- no-transaction` one; `--migration-lock-timeout`,
///   `--migration-statement-timeout`).
/// - `prefer-*`, `ban-char-field`: column-type style, not migration safety; a team's own
///   conventions decide (the seed schema uses `varchar` and `integer` on purpose).
/// - `require-table-schema`: squawk's own opt-in.
/// - `unused-ignore`: concerns squawk's `-- squawk-ignore` comments, which still work.
pub const OFF_BY_DEFAULT: &[Rule] = &[
    Rule::RequireLockTimeout,
    Rule::RequireStatementTimeout,
    Rule::RequireTimeoutSettings,
    Rule::PreferBigintOverInt,
    Rule::PreferBigintOverSmallint,
    Rule::PreferIdentity,
    Rule::PreferRepack,
    Rule::PreferRobustStmts,
    Rule::PreferTextField,
    Rule::PreferTimestampTz,
    Rule::BanCharField,
    Rule::RequireTableSchema,
    Rule::UnusedIgnore,
];

/// How serious a finding is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Severity {
    /// Fails the build.
    Error,
    /// A `cargo::warning`.
    Warning,
}

/// One finding in one file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    /// Error or warning.
    pub severity: Severity,
    /// `path:line:column: message`, ready for a `cargo::` line.
    pub message: String,
}

/// Where each statement starts (byte offsets), or `None` when the grammar rejects the text:
/// the engine sends each statement of a migration as its own message, so that a failure
/// names its statement, and only a clean parse can be trusted to cut the file.
pub fn statement_starts(sql: &str) -> Option<Vec<usize>> {
    let parse = SourceFile::parse(sql);
    if !parse.errors().is_empty() {
        return None;
    }
    Some(
        parse
            .tree()
            .stmts()
            .filter(|stmt| !matches!(stmt, squawk_syntax::ast::Stmt::EmptyStmt(_)))
            .map(|stmt| usize::from(stmt.syntax().text_range().start()))
            .collect(),
    )
}

/// The statements PostgreSQL refuses inside a transaction block, as the words they start
/// with (`*` stands for any words in between, such as REINDEX's options and object kind).
const OUTSIDE_TRANSACTION: &[&[&str]] = &[
    &["CREATE", "INDEX", "CONCURRENTLY"],
    &["CREATE", "UNIQUE", "INDEX", "CONCURRENTLY"],
    &["DROP", "INDEX", "CONCURRENTLY"],
    &["REINDEX", "*", "CONCURRENTLY"],
    &["REINDEX", "*", "DATABASE"],
    &["REINDEX", "*", "SYSTEM"],
    &[
        "ALTER",
        "TABLE",
        "*",
        "DETACH",
        "PARTITION",
        "*",
        "CONCURRENTLY",
    ],
    &["VACUUM"],
    &["CREATE", "DATABASE"],
    &["DROP", "DATABASE"],
    &["ALTER", "SYSTEM"],
    &["CREATE", "TABLESPACE"],
    &["DROP", "TABLESPACE"],
];

/// Whether `words` match `pattern`, where `*` skips any number of words.
fn matches_words(words: &[String], pattern: &[&str]) -> bool {
    match pattern.split_first() {
        None => true,
        Some((&"*", rest)) => (0..=words.len()).any(|skip| matches_words(&words[skip..], rest)),
        Some((first, rest)) => words
            .split_first()
            .is_some_and(|(word, tail)| word == first && matches_words(tail, rest)),
    }
}

/// The statements of a file that cannot run in a transaction block: line, column and what
/// the statement is.
fn outside_transaction(
    parse: &squawk_syntax::Parse<SourceFile>,
    sql: &str,
) -> Vec<(usize, usize, String)> {
    let mut found = Vec::new();
    for stmt in parse.tree().stmts() {
        // Words only: a literal or a quoted name holds one token, so text inside a function
        // body or a string never matches. The first dozen words decide.
        let words: Vec<String> = stmt
            .syntax()
            .descendants_with_tokens()
            .filter_map(|element| element.into_token())
            .filter(|token| !token.kind().is_trivia())
            .take(12)
            .map(|token| token.text().to_ascii_uppercase())
            .collect();
        if let Some(pattern) = OUTSIDE_TRANSACTION
            .iter()
            .find(|pattern| matches_words(&words, pattern))
        {
            let (line, column) = line_col(sql, usize::from(stmt.syntax().text_range().start()));
            let what = pattern
                .iter()
                .filter(|w| **w != "*")
                .copied()
                .collect::<Vec<_>>()
                .join(" ");
            found.push((line, column, what));
        }
    }
    found
}

/// The rules a file silences with `-- lint: allow …` lines; a reason may follow the rules
/// after ` -- `.
fn allowed(sql: &str) -> Vec<String> {
    sql.lines()
        .filter_map(|line| line.trim().strip_prefix(ALLOW_PREFIX))
        .map(|rest| rest.split(" -- ").next().unwrap_or(rest))
        .flat_map(|rest| rest.split(',').map(|r| r.trim().to_string()))
        .filter(|r| !r.is_empty())
        .collect()
}

/// Checks one migration file: syntax always, rules only for `V` files (an undo file exists to
/// drop things). `in_transaction` is false for `-- no-transaction` files, which changes what
/// squawk expects (CONCURRENTLY is then allowed, and needed).
pub fn check(
    path: &str,
    sql: &str,
    lint_rules: bool,
    in_transaction: bool,
    strict: bool,
) -> Vec<Finding> {
    let parse = SourceFile::parse(sql);
    let allowed = allowed(sql);
    let errors = parse.errors();
    if !errors.is_empty() {
        // `-- lint: allow syntax-error` is the way out if the grammar rejects valid SQL.
        let severity = if allowed.iter().any(|a| a == SYNTAX_ERROR) {
            Severity::Warning
        } else {
            Severity::Error
        };
        // One error per line: the parser's recovery often reports the rest of a bad line too.
        let mut seen_lines = Vec::new();
        let mut findings = Vec::new();
        for err in &errors {
            let (start, end) = (
                usize::from(err.range().start()),
                usize::from(err.range().end()),
            );
            let (line, column) = line_col(sql, start);
            if seen_lines.contains(&line) {
                continue;
            }
            seen_lines.push(line);
            // The error's range is often empty: show the token that starts there.
            let near = sql
                .get(start..end)
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .or_else(|| {
                    let rest = sql.get(start..)?;
                    let token = rest
                        .split(|c: char| c.is_whitespace() || c == ';' || c == ',' || c == '(')
                        .next()?;
                    (!token.is_empty()).then_some(token)
                });
            let near = near
                .map(|t| format!(" at or near `{t}`"))
                .unwrap_or_default();
            findings.push(Finding {
                severity,
                message: format!(
                    "{path}:{line}:{column}: syntax error{near}: {}",
                    err.message()
                ),
            });
        }
        return findings;
    }
    let mut findings = Vec::new();
    if in_transaction {
        for (line, column, what) in outside_transaction(&parse, sql) {
            findings.push(Finding {
                severity: Severity::Error,
                message: format!(
                    "{path}:{line}:{column}: {what} cannot run inside a transaction block, and this \
                     file runs in one; add `-- no-transaction` as its first line (such a file holds \
                     exactly this one statement)"
                ),
            });
        }
    }
    if !lint_rules {
        return findings;
    }
    for name in &allowed {
        if name != SYNTAX_ERROR && name.parse::<Rule>().is_err() {
            findings.push(Finding {
                severity: Severity::Error,
                message: format!("{path}: `{ALLOW_PREFIX} {name}` names no lint rule"),
            });
        }
    }
    let mut linter = Linter::with_rules(&[], OFF_BY_DEFAULT);
    linter.settings.assume_in_transaction = in_transaction;
    for violation in linter.lint(&parse, sql) {
        let rule = violation.code.to_string();
        if allowed.contains(&rule) {
            continue;
        }
        let (line, column) = line_col(sql, usize::from(violation.text_range.start()));
        let help = violation
            .help
            .map(|h| format!(" ({})", h.trim_end_matches('.')))
            .unwrap_or_default();
        findings.push(Finding {
            severity: if strict {
                Severity::Error
            } else {
                Severity::Warning
            },
            message: format!(
                "{path}:{line}:{column}: {rule}: {}{help}; silence it with `{ALLOW_PREFIX} {rule}`",
                violation.message.trim_end_matches('.')
            ),
        });
    }
    findings
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lint(sql: &str) -> Vec<String> {
        check("sql/V3__x.sql", sql, true, true, false)
            .into_iter()
            .map(|f| f.message)
            .collect()
    }

    #[test]
    fn syntax_error_names_file_line_and_column() {
        let findings = check(
            "sql/V3__x.sql",
            "-- one\nCREATE TABLE t (id int);\nSELEC 1;\n",
            true,
            true,
            false,
        );
        assert_eq!(findings.len(), 1, "{findings:?}");
        assert_eq!(findings[0].severity, Severity::Error);
        assert_eq!(
            findings[0].message,
            "sql/V3__x.sql:3:1: syntax error at or near `SELEC`: expected command, found IDENT"
        );
    }

    #[test]
    fn each_dangerous_operation_is_named_by_its_rule() {
        let cases = [
            (
                "CREATE INDEX users_email ON users (email);",
                "require-concurrent-index-creation",
            ),
            (
                "ALTER TABLE users ADD COLUMN age int NOT NULL;",
                "adding-required-field",
            ),
            (
                "ALTER TABLE users ALTER COLUMN email TYPE text;",
                "changing-column-type",
            ),
            (
                "ALTER TABLE chat_sessions ADD CONSTRAINT fk FOREIGN KEY (user_id) REFERENCES users (id);",
                "adding-foreign-key-constraint",
            ),
            ("ALTER TABLE users DROP COLUMN email;", "ban-drop-column"),
            ("DROP TABLE users;", "ban-drop-table"),
            (
                "ALTER TABLE users RENAME COLUMN email TO mail;",
                "renaming-column",
            ),
            ("ALTER TABLE users RENAME TO people;", "renaming-table"),
        ];
        for (sql, rule) in cases {
            let found = lint(&format!("-- a comment\n{sql}\n"));
            assert!(
                found.iter().any(
                    |m| m.starts_with("sql/V3__x.sql:2:") && m.contains(&format!(": {rule}: "))
                ),
                "{sql}: {found:#?}"
            );
        }
    }

    #[test]
    fn index_on_a_table_created_in_the_same_file_is_fine() {
        let found = lint(
            "CREATE TABLE t (id bigint PRIMARY KEY, name text);\nCREATE INDEX t_name ON t (name);\n",
        );
        assert!(found.is_empty(), "{found:#?}");
    }

    #[test]
    fn allow_comment_silences_its_rule_only() {
        let sql =
            "-- lint: allow ban-drop-table\nDROP TABLE users;\nALTER TABLE t DROP COLUMN c;\n";
        let found = lint(sql);
        assert_eq!(found.len(), 1, "{found:#?}");
        assert!(found[0].contains(": ban-drop-column: "));
        // A reason may follow the rules.
        let reasoned = lint(
            "-- lint: allow ban-drop-table, ban-drop-column -- allowed by --allow-data-loss\n\
             DROP TABLE users;\nALTER TABLE t DROP COLUMN c;\n",
        );
        assert!(reasoned.is_empty(), "{reasoned:#?}");
        let unknown = lint("-- lint: allow no-such-rule\nSELECT 1;\n");
        assert_eq!(
            unknown,
            ["sql/V3__x.sql: `-- lint: allow no-such-rule` names no lint rule"]
        );
    }

    #[test]
    fn strict_mode_turns_warnings_into_errors() {
        let findings = check("sql/V3__x.sql", "DROP TABLE users;", true, true, true);
        assert_eq!(findings[0].severity, Severity::Error);
    }

    #[test]
    fn timeout_rules_are_off_because_the_engine_sets_them() {
        let found = lint("ALTER TABLE users ADD COLUMN note text;\n");
        assert!(found.is_empty(), "{found:#?}");
    }

    #[test]
    fn statements_refused_in_a_transaction_fail_without_the_marker() {
        let cases = [
            (
                "DROP INDEX CONCURRENTLY users_email;",
                Some("DROP INDEX CONCURRENTLY"),
            ),
            (
                "create unique index concurrently i on t (a);",
                Some("CREATE UNIQUE INDEX CONCURRENTLY"),
            ),
            (
                "REINDEX (VERBOSE) TABLE CONCURRENTLY t;",
                Some("REINDEX CONCURRENTLY"),
            ),
            ("VACUUM ANALYZE t;", Some("VACUUM")),
            ("ALTER SYSTEM SET work_mem = '8MB';", Some("ALTER SYSTEM")),
            ("CREATE DATABASE other;", Some("CREATE DATABASE")),
            (
                "ALTER TABLE p DETACH PARTITION p1 CONCURRENTLY;",
                Some("ALTER TABLE DETACH PARTITION CONCURRENTLY"),
            ),
            ("CREATE INDEX i ON t (a);", None),
            ("REINDEX TABLE t;", None),
            (
                "CREATE FUNCTION f() RETURNS void LANGUAGE sql AS $$ VACUUM $$;",
                None,
            ),
            ("COMMENT ON TABLE t IS 'DROP INDEX CONCURRENTLY x';", None),
        ];
        for (sql, want) in cases {
            let sql = format!("SELECT 1;\n{sql}\n");
            let errors: Vec<String> = check("sql/U4__x.sql", &sql, false, true, false)
                .into_iter()
                .filter(|f| f.severity == Severity::Error)
                .map(|f| f.message)
                .collect();
            match want {
                Some(what) => {
                    assert_eq!(errors.len(), 1, "{sql}: {errors:?}");
                    assert!(
                        errors[0].starts_with(&format!(
                            "sql/U4__x.sql:2:1: {what} cannot run inside a transaction block"
                        )),
                        "{errors:?}"
                    );
                    assert!(errors[0].contains("add `-- no-transaction`"));
                }
                None => assert!(errors.is_empty(), "{sql}: {errors:?}"),
            }
        }
        // With the marker, the statement is where it belongs.
        let marked = "-- no-transaction\nDROP INDEX CONCURRENTLY i;\n";
        assert!(check("sql/U4__x.sql", marked, false, false, false).is_empty());
    }

    #[test]
    fn statement_starts_come_from_a_clean_parse_only() {
        let sql = "-- head\nSELECT 1;\nCREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1; SELECT 2; END;\n";
        assert_eq!(statement_starts(sql), Some(vec![8, 18]));
        assert_eq!(statement_starts("SELEC 1;"), None);
    }

    /// With `APP_SQL_LINT=off` no parser runs and the engine's splitter finds the statements:
    /// both must find the same ones, or a failure's line would depend on the lint switch.
    #[test]
    fn the_splitter_finds_the_parser_s_statements() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let mut texts: Vec<String> = ["sql", "schema", "examples/minimal-service/sql"]
            .iter()
            .flat_map(|dir| std::fs::read_dir(root.join(dir)).unwrap())
            .map(|entry| std::fs::read_to_string(entry.unwrap().path()).unwrap())
            .collect();
        texts.extend(
            [
                "CREATE FUNCTION f(a int) RETURNS int LANGUAGE sql\nBEGIN ATOMIC\n  SELECT a;\n  \
                 SELECT CASE WHEN a > 0 THEN 1 ELSE 2 END;\nEND;\nSELECT 3;\n",
                "CREATE OR REPLACE PROCEDURE p() LANGUAGE sql BEGIN ATOMIC INSERT INTO t \
                 VALUES (1); END;\nBEGIN;\nCOMMIT;\n",
                "CREATE TABLE t (begin int, \"end\" text DEFAULT 'x;y');\n\
                 COMMENT ON TABLE t IS $c$a; b$c$;\nSELECT CASE WHEN true THEN 1 END;",
                "DO $$ BEGIN PERFORM 1; END $$;\n/* x; */ SELECT E'\\';';\n",
            ]
            .map(String::from),
        );
        for text in &texts {
            let split: Vec<usize> = pgbaked::grammar::split_statements(text)
                .iter()
                .map(|s| s.start)
                .collect();
            assert_eq!(statement_starts(text), Some(split), "{text}");
        }
    }

    #[test]
    fn the_parser_splits_statements() {
        let sql = "-- no-transaction\nCREATE INDEX CONCURRENTLY a ON t (x);\n\n\
                   CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1; SELECT 2; END;\n";
        let lines: Vec<usize> = statement_starts(sql)
            .unwrap()
            .iter()
            .map(|&at| line_col(sql, at).0)
            .collect();
        assert_eq!(lines, [2, 4]);
    }
}
