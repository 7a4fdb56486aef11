//! Recovery of `-- no-transaction` scripts that a previous run started and never recorded.
//!
//! `CREATE INDEX CONCURRENTLY`, `DROP INDEX CONCURRENTLY` and `REINDEX … CONCURRENTLY` commit
//! in stages; interrupted (a signal, a kill, a timeout), they leave an INVALID index behind,
//! and a plain rerun then fails with "already exists". Their leftovers can be recognised from
//! the catalog, so the next run cleans them up and runs the script again.

use tokio_postgres::Client;
use tokio_postgres::types::Type;

/// A statement whose interrupted run can be recognised and repaired.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Concurrent {
    /// `CREATE [UNIQUE] INDEX CONCURRENTLY [IF NOT EXISTS] name ON [ONLY] table …`.
    CreateIndex {
        /// The index name as written (unqualified: an index lives in its table's schema).
        index: String,
        /// The table as written, possibly qualified and quoted.
        table: String,
    },
    /// `DROP INDEX CONCURRENTLY [IF EXISTS] name`.
    DropIndex {
        /// The index as written.
        index: String,
    },
    /// `REINDEX [(…)] INDEX|TABLE|SCHEMA|DATABASE|SYSTEM CONCURRENTLY name`.
    Reindex {
        /// `INDEX`, `TABLE`, `SCHEMA`, `DATABASE` or `SYSTEM`.
        kind: String,
        /// The object as written.
        target: String,
    },
}

/// What the catalog says about an interrupted statement.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// It finished before the run stopped: record it without running it again.
    Finished,
    /// It did not finish; its leftovers (listed) were dropped, and it can run again.
    Retry(Vec<String>),
}

/// The words of a statement: runs of characters up to whitespace, `(`, `)`, `,` or `;`, where a
/// double-quoted part may hold any of them. Comments are skipped; strings do not matter for
/// the statements recognised here, which end their interesting part before any literal.
fn words(sql: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut chars = sql.chars().peekable();
    let mut word = String::new();
    while let Some(c) = chars.next() {
        match c {
            '-' if chars.peek() == Some(&'-') => {
                for c in chars.by_ref() {
                    if c == '\n' {
                        break;
                    }
                }
                flush(&mut word, &mut words);
            }
            '/' if chars.peek() == Some(&'*') => {
                chars.next();
                let mut depth = 1;
                let mut last = ' ';
                for c in chars.by_ref() {
                    if last == '/' && c == '*' {
                        depth += 1;
                    } else if last == '*' && c == '/' {
                        depth -= 1;
                        if depth == 0 {
                            break;
                        }
                    }
                    last = c;
                }
                flush(&mut word, &mut words);
            }
            '"' => {
                word.push(c);
                while let Some(c) = chars.next() {
                    word.push(c);
                    if c == '"' {
                        if chars.peek() == Some(&'"') {
                            word.push('"');
                            chars.next();
                        } else {
                            break;
                        }
                    }
                }
            }
            c if c.is_whitespace() || matches!(c, '(' | ')' | ',' | ';') => {
                flush(&mut word, &mut words);
                if c == '(' {
                    words.push("(".into());
                } else if c == ')' {
                    words.push(")".into());
                }
            }
            c => word.push(c),
        }
    }
    flush(&mut word, &mut words);
    words
}

fn flush(word: &mut String, words: &mut Vec<String>) {
    if !word.is_empty() {
        words.push(std::mem::take(word));
    }
}

/// Recognises the statements whose leftovers can be repaired.
pub fn classify(sql: &str) -> Option<Concurrent> {
    let words = words(sql);
    let upper: Vec<String> = words.iter().map(|w| w.to_ascii_uppercase()).collect();
    let is = |i: usize, word: &str| upper.get(i).is_some_and(|w| w == word);
    let mut i = 0;
    match upper.first()?.as_str() {
        "CREATE" => {
            i += 1;
            if is(i, "UNIQUE") {
                i += 1;
            }
            if !(is(i, "INDEX") && is(i + 1, "CONCURRENTLY")) {
                return None;
            }
            i += 2;
            if is(i, "IF") && is(i + 1, "NOT") && is(i + 2, "EXISTS") {
                i += 3;
            }
            // Without a name the server picks one, which cannot be known in advance.
            if is(i, "ON") {
                return None;
            }
            let index = words.get(i)?.clone();
            i += 1;
            if !is(i, "ON") {
                return None;
            }
            i += 1;
            if is(i, "ONLY") {
                i += 1;
            }
            let table = words.get(i)?.clone();
            Some(Concurrent::CreateIndex { index, table })
        }
        "DROP" => {
            if !(is(1, "INDEX") && is(2, "CONCURRENTLY")) {
                return None;
            }
            i = 3;
            if is(i, "IF") && is(i + 1, "EXISTS") {
                i += 2;
            }
            Some(Concurrent::DropIndex {
                index: words.get(i)?.clone(),
            })
        }
        "REINDEX" => {
            i = 1;
            if is(i, "(") {
                while !is(i, ")") {
                    i += 1;
                    if i >= upper.len() {
                        return None;
                    }
                }
                i += 1;
            }
            let kind = upper.get(i)?.clone();
            if !matches!(
                kind.as_str(),
                "INDEX" | "TABLE" | "SCHEMA" | "DATABASE" | "SYSTEM"
            ) || !is(i + 1, "CONCURRENTLY")
            {
                return None;
            }
            let target = words.get(i + 2).cloned().unwrap_or_default();
            Some(Concurrent::Reindex { kind, target })
        }
        _ => None,
    }
}

/// Inspects the catalog for what an interrupted `statement` left, and drops its leftovers.
///
/// # Errors
///
/// The server's error.
pub async fn recover(
    client: &Client,
    statement: &Concurrent,
) -> Result<Outcome, tokio_postgres::Error> {
    match statement {
        Concurrent::CreateIndex { index, table } => {
            // The index lives in its table's schema; to_regclass parses the quoting as written.
            let row = client
                .query_typed_opt(
                    "SELECT c.oid::regclass::text, i.indisvalid \
                     FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid \
                     WHERE c.oid = to_regclass(( \
                         SELECT quote_ident(n.nspname) FROM pg_class t \
                         JOIN pg_namespace n ON n.oid = t.relnamespace \
                         WHERE t.oid = to_regclass($1)) || '.' || $2)",
                    &[(table, Type::TEXT), (index, Type::TEXT)],
                )
                .await?;
            match row {
                Some(row) if row.get::<_, bool>(1) => Ok(Outcome::Finished),
                Some(row) => {
                    let name: String = row.get(0);
                    drop_indexes(client, std::slice::from_ref(&name)).await?;
                    Ok(Outcome::Retry(vec![name]))
                }
                None => Ok(Outcome::Retry(Vec::new())),
            }
        }
        Concurrent::DropIndex { index } => {
            let row = client
                .query_typed_one("SELECT to_regclass($1) IS NULL", &[(index, Type::TEXT)])
                .await?;
            // Gone: it finished. Still there, valid or not: dropping it again is the repair.
            Ok(if row.get::<_, bool>(0) {
                Outcome::Finished
            } else {
                Outcome::Retry(Vec::new())
            })
        }
        Concurrent::Reindex { kind, target } => {
            // REINDEX CONCURRENTLY builds `<index>_ccnew` beside each index and swaps them; an
            // interruption leaves the INVALID copies (`_ccnew`, or `_ccold` after the swap).
            let scope = match kind.as_str() {
                "INDEX" => {
                    "i.indrelid = (SELECT indrelid FROM pg_index WHERE indexrelid = to_regclass($1))"
                }
                "TABLE" => "i.indrelid = to_regclass($1)",
                "SCHEMA" => "c.relnamespace = to_regnamespace($1)",
                _ => "$1 IS NOT NULL",
            };
            let sql = format!(
                "SELECT c.oid::regclass::text FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid \
                 WHERE NOT i.indisvalid AND c.relname ~ '_cc(new|old)[0-9]*$' AND {scope} \
                 ORDER BY 1"
            );
            let rows = client.query_typed(&sql, &[(target, Type::TEXT)]).await?;
            let names: Vec<String> = rows.iter().map(|r| r.get(0)).collect();
            drop_indexes(client, &names).await?;
            // REINDEX is idempotent: running it again is always right.
            Ok(Outcome::Retry(names))
        }
    }
}

/// Drops INVALID leftovers without blocking writes, one statement each, as CONCURRENTLY
/// requires. The names come from `regclass::text`, already quoted where needed.
async fn drop_indexes(client: &Client, names: &[String]) -> Result<(), tokio_postgres::Error> {
    for name in names {
        client
            .batch_execute(&format!("DROP INDEX CONCURRENTLY IF EXISTS {name}"))
            .await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn concurrent_statements_are_recognised() {
        let index = |index: &str, table: &str| {
            Some(Concurrent::CreateIndex {
                index: index.into(),
                table: table.into(),
            })
        };
        let cases = [
            (
                "-- no-transaction\nCREATE INDEX CONCURRENTLY users_email ON users (email);",
                index("users_email", "users"),
            ),
            (
                "create unique index concurrently if not exists \"Idx\" on only public.\"T\"(a)",
                index("\"Idx\"", "public.\"T\""),
            ),
            (
                "/* c */ CREATE INDEX CONCURRENTLY x ON s.t USING btree (a) WHERE b",
                index("x", "s.t"),
            ),
            ("CREATE INDEX CONCURRENTLY ON t (a);", None),
            ("CREATE INDEX i ON t (a);", None),
            (
                "DROP INDEX CONCURRENTLY IF EXISTS s.i;",
                Some(Concurrent::DropIndex {
                    index: "s.i".into(),
                }),
            ),
            (
                "REINDEX (VERBOSE) TABLE CONCURRENTLY users;",
                Some(Concurrent::Reindex {
                    kind: "TABLE".into(),
                    target: "users".into(),
                }),
            ),
            ("REINDEX TABLE users;", None),
            ("VACUUM users;", None),
        ];
        for (sql, want) in cases {
            assert_eq!(classify(sql), want, "{sql}");
        }
    }
}
