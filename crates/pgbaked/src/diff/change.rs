//! A plan's statements: each with whether it must run outside a transaction and the typed
//! hazards it carries; rendered as a psql script or cut into migration files.

use crate::diff::name::Unquoted;
use serde::Serialize;

use super::catalog::Difference;

/// One statement of a plan.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Change {
    /// The statement, without its terminating `;`; a comment when nothing can be generated.
    pub sql: String,
    /// Whether it must run outside a transaction block (`CONCURRENTLY`).
    pub no_transaction: bool,
    /// Why it is dangerous, when it is, in words: data deleted, a table rewritten, a statement
    /// that fails on a table with rows.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hazard: Option<String>,
    /// What kinds of danger it carries, for a machine to accept or refuse by kind.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub hazards: Vec<HazardKind>,
}

/// A kind of danger a planned statement carries (pg-schema-diff's hazard types, for
/// PostgreSQL as this planner writes it).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum HazardKind {
    /// Deletes data: a dropped table, column, schema, attribute or sequence, or values cut
    /// short by a narrowing cast.
    DeletesData,
    /// Rewrites the whole table under an ACCESS EXCLUSIVE lock: readers and writers wait for
    /// as long as it takes.
    RewritesTable,
    /// Holds a lock that blocks writes (ACCESS EXCLUSIVE or SHARE) while it scans the table or
    /// builds an index.
    LocksForScan,
    /// May fail on the data already there (a narrowing type, a NOT NULL column without a
    /// default) or fill it with a placeholder.
    MayFail,
    /// Running clients of the previous release lose what they use: a drop or a rename.
    BreaksClients,
    /// Values change meaning: a sequence moved to stay within new bounds, numbering restarted.
    Correctness,
    /// Not generated: the statement is a comment saying what must be written by hand.
    Unsupported,
}

impl HazardKind {
    /// Every kind, in the order they are listed.
    pub const ALL: [HazardKind; 7] = [
        HazardKind::DeletesData,
        HazardKind::RewritesTable,
        HazardKind::LocksForScan,
        HazardKind::MayFail,
        HazardKind::BreaksClients,
        HazardKind::Correctness,
        HazardKind::Unsupported,
    ];

    /// The name JSON and `--allow-hazards` use (`deletes_data`).
    pub fn as_str(self) -> &'static str {
        match self {
            HazardKind::DeletesData => "deletes_data",
            HazardKind::RewritesTable => "rewrites_table",
            HazardKind::LocksForScan => "locks_for_scan",
            HazardKind::MayFail => "may_fail",
            HazardKind::BreaksClients => "breaks_clients",
            HazardKind::Correctness => "correctness",
            HazardKind::Unsupported => "unsupported",
        }
    }
}

impl std::str::FromStr for HazardKind {
    type Err = String;

    fn from_str(s: &str) -> Result<HazardKind, String> {
        HazardKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| {
                let names: Vec<&str> = HazardKind::ALL.iter().map(|k| k.as_str()).collect();
                format!("unknown hazard kind `{s}` (one of: {})", names.join(", "))
            })
    }
}

impl Change {
    pub(crate) fn plain(sql: impl Into<String>) -> Change {
        Change {
            sql: sql.into(),
            no_transaction: false,
            hazard: None,
            hazards: Vec::new(),
        }
    }

    pub(crate) fn hazard(
        sql: impl Into<String>,
        kinds: &[HazardKind],
        hazard: impl Into<String>,
    ) -> Change {
        Change {
            sql: sql.into(),
            no_transaction: false,
            hazard: Some(one_line(&hazard.into())),
            hazards: kinds.to_vec(),
        }
    }

    pub(crate) fn concurrent(sql: impl Into<String>) -> Change {
        Change {
            sql: sql.into(),
            no_transaction: true,
            hazard: None,
            hazards: Vec::new(),
        }
    }

    /// Whether the statement is only a note that the change must be written by hand.
    pub fn is_unsupported(&self) -> bool {
        self.hazards.contains(&HazardKind::Unsupported)
    }
}

/// `text` fit for a `--` comment: a line break in a name or a label (which the catalog may
/// hold) would end the comment and run the rest of the line as SQL, so it is written `\n`.
pub(crate) fn one_line(text: &str) -> String {
    text.replace('\r', "\\r").replace('\n', "\\n")
}

pub(crate) fn unsupported(d: &Difference, what: &str) -> Change {
    Change::hazard(
        one_line(&format!(
            "-- unsupported: {what}: {} {} (write this change by hand)",
            d.kind.as_str(),
            d.name
        )),
        &[HazardKind::Unsupported],
        format!("not generated yet: {what}"),
    )
}

/// The plan as a script for `psql`: each statement terminated, hazards as comments above it
/// (`-- hazard: deletes_data, breaks_clients: deletes the column's data`).
pub fn render_changes(changes: &[Change]) -> String {
    let mut out = String::new();
    for change in changes {
        if let Some(hazard) = &change.hazard {
            let kinds: Vec<&str> = change.hazards.iter().map(|k| k.as_str()).collect();
            out.push_str(&format!("-- hazard: {}: {hazard}\n", kinds.join(", ")));
        }
        out.push_str(&change.sql);
        if !change.sql.starts_with("--") {
            out.push(';');
        }
        out.push('\n');
    }
    out
}

/// A plan cut into migration files: a run of transactional statements is one file, each
/// statement that must run outside a transaction (`CREATE INDEX CONCURRENTLY`) one of its own,
/// and the validation of constraints added `NOT VALID` starts a new one, as does a statement
/// that uses an enum label added earlier in the file (PostgreSQL refuses a new label until the
/// transaction that added it commits).
pub fn cut_into_files(changes: Vec<Change>) -> Vec<Vec<Change>> {
    let mut files: Vec<Vec<Change>> = Vec::new();
    for change in changes {
        let alone = change.no_transaction;
        // VALIDATE after a NOT VALID in the same transaction would keep the ADD's strong lock
        // through the whole scan (squawk: constraint-missing-not-valid).
        let validates_after_not_valid = |file: &[Change]| {
            change.sql.contains(" VALIDATE CONSTRAINT ")
                && file.iter().any(|c| c.sql.ends_with(" NOT VALID"))
        };
        let uses_new_label = |file: &[Change]| {
            file.iter()
                .filter_map(|c| added_label(&c.sql))
                .any(|label| change.sql.contains(label))
        };
        match files.last_mut() {
            Some(last)
                if !alone
                    && !last.iter().any(|c| c.no_transaction)
                    && !validates_after_not_valid(last)
                    && !uses_new_label(last) =>
            {
                last.push(change)
            }
            _ => files.push(vec![change]),
        }
    }
    files
}

/// The label literal (`'apac'`) an `ALTER TYPE … ADD VALUE` statement adds.
fn added_label(sql: &str) -> Option<&str> {
    let rest = sql.strip_prefix("ALTER TYPE ")?;
    let (_, rest) = rest.split_once_unquoted(" ADD VALUE ")?;
    let rest = rest.strip_prefix("IF NOT EXISTS ").unwrap_or(rest);
    // The literal runs to its closing quote; a doubled quote stays inside.
    let bytes = rest.as_bytes();
    if bytes.first() != Some(&b'\'') {
        return None;
    }
    let mut i = 1;
    while i < bytes.len() {
        if bytes[i] == b'\'' {
            if bytes.get(i + 1) == Some(&b'\'') {
                i += 2;
                continue;
            }
            return Some(&rest[..=i]);
        }
        i += 1;
    }
    None
}

/// `changes` with the qualifier `schema.` taken off the names it qualifies, so that the
/// statements act on whatever schema `search_path` puts first when they run, as hand-written
/// migrations do (a schema-per-tenant fleet pins it to each tenant's). Only outside literals,
/// quoted identifiers, dollar-quoted bodies and comments; names in other schemas stay
/// qualified.
pub fn unqualified(changes: &[Change], schema: &str) -> Vec<Change> {
    // The catalog writes the schema as quote_ident does: bare when it needs no quotes.
    let quoted = format!("{}.", crate::quote::quote_identifier(schema));
    let bare = format!("{schema}.");
    let plain = schema
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && !schema.starts_with(|c: char| c.is_ascii_digit());
    changes
        .iter()
        .map(|c| {
            let mut sql = strip_qualifier(&c.sql, &quoted);
            if plain {
                sql = strip_qualifier(&sql, &bare);
            }
            Change { sql, ..c.clone() }
        })
        .collect()
}

/// `sql` without `prefix` where it starts a name outside literals, quoted identifiers,
/// dollar quotes and comments.
fn strip_qualifier(sql: &str, prefix: &str) -> String {
    let bytes = sql.as_bytes();
    let mut out = String::with_capacity(sql.len());
    let mut i = 0;
    while i < sql.len() {
        let rest = &sql[i..];
        // Skipped whole: a literal, a quoted identifier (unless it is the prefix itself), a
        // dollar-quoted body, a comment.
        let skip = if rest.starts_with('\'') {
            Some(closing(rest, '\''))
        } else if rest.starts_with('"') && !rest.starts_with(prefix) {
            Some(closing(rest, '"'))
        } else if rest.starts_with("--") {
            Some(rest.find('\n').unwrap_or(rest.len()))
        } else if rest.starts_with('$') {
            dollar_tag(rest).map(|tag| {
                rest[tag.len()..]
                    .find(tag)
                    .map_or(rest.len(), |end| tag.len() + end + tag.len())
            })
        } else {
            None
        };
        if let Some(len) = skip {
            out.push_str(&rest[..len]);
            i += len;
            continue;
        }
        let boundary = i == 0 || {
            let before = bytes[i - 1];
            !(before.is_ascii_alphanumeric()
                || before == b'_'
                || before == b'$'
                || before == b'.'
                || before == b'"')
        };
        if boundary && rest.starts_with(prefix) {
            i += prefix.len();
            continue;
        }
        let c = rest.chars().next().unwrap_or(' ');
        out.push(c);
        i += c.len_utf8();
    }
    out
}

/// The length of a `quote`-delimited token at the start of `text`, doubled quotes included.
fn closing(text: &str, quote: char) -> usize {
    let mut chars = text.char_indices().skip(1).peekable();
    while let Some((i, c)) = chars.next() {
        if c == quote {
            if chars.peek().is_some_and(|&(_, n)| n == quote) {
                chars.next();
                continue;
            }
            return i + 1;
        }
    }
    text.len()
}

/// The dollar-quote tag (`$$`, `$function$`) at the start of `text`, if it is one.
fn dollar_tag(text: &str) -> Option<&str> {
    let end = text[1..].find('$')? + 2;
    let tag = &text[..end];
    tag[1..end - 1]
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '_')
        .then_some(tag)
        .filter(|t| !t[1..].starts_with(|c: char| c.is_ascii_digit()))
}

/// The text of a migration file holding `changes`, and whether it runs outside a transaction:
/// one such statement, under `-- no-transaction`, or statements in one transaction (where an
/// undo rebuilds indexes without CONCURRENTLY). The rules it trips on purpose are named in
/// `-- lint: allow` lines with their reasons, so the build's lint stays quiet about exactly
/// those.
pub fn file_text(changes: &[Change]) -> (String, bool) {
    let no_transaction = changes.len() == 1 && changes[0].no_transaction;
    let changes: Vec<Change> = changes
        .iter()
        .map(|c| {
            let mut c = c.clone();
            if c.no_transaction && !no_transaction {
                c.sql = c.sql.replacen(" CONCURRENTLY", "", 1);
                c.no_transaction = false;
            }
            c
        })
        .collect();
    let mut text = String::new();
    if no_transaction {
        text.push_str("-- no-transaction\n");
    }
    // What breaks the running release (a drop, a rename) makes the file a contract step: held
    // back at boot while replicas of the previous release are connected.
    if changes
        .iter()
        .any(|c| c.hazards.contains(&HazardKind::BreaksClients))
    {
        text.push_str(
            "-- contract: the previous release's running clients lose what it drops or renames\n",
        );
    }
    for (rule, why) in super::lint::lint_allowances(&changes) {
        text.push_str(&format!("-- lint: allow {rule} -- {}\n", one_line(&why)));
    }
    text.push_str(&render_changes(&changes));
    (text, no_transaction)
}

#[cfg(test)]
mod unqualified_tests {
    use super::*;

    #[test]
    fn only_the_names_lose_their_schema() {
        let sql = "ALTER TABLE public.t ADD COLUMN c text DEFAULT 'public.x' REFERENCES public.\"U\"(id); \
                   CREATE FUNCTION public.f() RETURNS int AS $f$ SELECT 1 FROM public.t $f$; \
                   SELECT other.t, mypublic.t, \"public.t\" -- public.t";
        assert_eq!(
            strip_qualifier(sql, "public."),
            "ALTER TABLE t ADD COLUMN c text DEFAULT 'public.x' REFERENCES \"U\"(id); \
             CREATE FUNCTION f() RETURNS int AS $f$ SELECT 1 FROM public.t $f$; \
             SELECT other.t, mypublic.t, \"public.t\" -- public.t"
        );
        assert_eq!(
            strip_qualifier("DROP TABLE \"My S\".t, public.u", "\"My S\"."),
            "DROP TABLE t, public.u"
        );
    }
}

#[cfg(test)]
mod unqualified_index_test {
    use super::*;

    #[test]
    fn the_schema_as_the_catalog_writes_it() {
        let changes = [Change::plain(
            "CREATE INDEX i ON public.users USING btree (a)",
        )];
        assert_eq!(
            unqualified(&changes, "public")[0].sql,
            "CREATE INDEX i ON users USING btree (a)"
        );
        let changes = [Change::plain("ALTER TABLE \"My S\".t ADD c int")];
        assert_eq!(
            unqualified(&changes, "My S")[0].sql,
            "ALTER TABLE t ADD c int"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::{Change, added_label, cut_into_files};

    #[test]
    fn a_statement_using_a_label_added_in_its_file_starts_another() {
        let plan = vec![
            Change::plain("ALTER TYPE public.region ADD VALUE 'ap''ac' AFTER 'us'"),
            Change::plain("CREATE TABLE public.other (id integer)"),
            Change::plain(
                "CREATE TABLE public.orders_apac PARTITION OF orders FOR VALUES IN ('ap''ac')",
            ),
            Change::plain("CREATE INDEX i ON public.orders_apac (id)"),
        ];
        let files: Vec<usize> = cut_into_files(plan).iter().map(Vec::len).collect();
        assert_eq!(files, [2, 2]);
        assert_eq!(
            added_label("ALTER TYPE e ADD VALUE IF NOT EXISTS 'x' BEFORE 'y'"),
            Some("'x'")
        );
        assert_eq!(added_label("ALTER TYPE e RENAME VALUE 'x' TO 'y'"), None);
    }
}
