//! The SQL that turns one catalog into another, dependency-ordered and safe on a live database
//! where it can be: new indexes on existing tables are built `CONCURRENTLY` (a statement of
//! their own, outside any transaction), foreign keys and checks on existing tables are added
//! `NOT VALID` and then validated. Statements that delete data carry a hazard.
//!
//! Covered: extensions, schemas, enums (new labels), domains, sequences, tables (partitioned
//! and partitions included), columns (type, default, nullability), constraints, indexes,
//! views, functions and procedures, triggers. Anything else is written as a `-- unsupported`
//! comment, never silently dropped.

use serde::Serialize;

use super::attached;
use super::graph;
use super::catalog::{Catalog, Difference, Kind};
use super::quote::{quote_identifier, quote_literal, unquote};

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
    /// Not generated: the statement is a comment saying what must be written by hand.
    Unsupported,
}

impl HazardKind {
    /// Every kind, in the order they are listed.
    pub const ALL: [HazardKind; 6] = [
        HazardKind::DeletesData,
        HazardKind::RewritesTable,
        HazardKind::LocksForScan,
        HazardKind::MayFail,
        HazardKind::BreaksClients,
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
            hazard: Some(hazard.into()),
            hazards: kinds.to_vec(),
        }
    }

    fn concurrent(sql: impl Into<String>) -> Change {
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

/// The parts of a qualified name as the catalog writes it (each already quoted where needed).
fn parts(name: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut start = 0;
    let mut quoted = false;
    for (i, c) in name.char_indices() {
        match c {
            '"' => quoted = !quoted,
            '.' if !quoted => {
                parts.push(&name[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&name[start..]);
    parts
}

/// `schema.table` of a `schema.table.object` name, and the object.
pub(crate) fn split_last(name: &str) -> (String, &str) {
    let p = parts(name);
    let (last, table) = p.split_last().map_or(("", &p[..]), |(l, t)| (*l, t));
    (table.join("."), last)
}

/// A column's definition as the catalog writes it, taken apart.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Column<'a> {
    pub(crate) data_type: &'a str,
    pub(crate) not_null: bool,
    pub(crate) identity: Option<&'a str>,
    pub(crate) generated: Option<&'a str>,
    pub(crate) default: Option<&'a str>,
    pub(crate) collate: Option<&'a str>,
}

pub(crate) fn column(def: &str) -> Column<'_> {
    let mut rest = def;
    let mut column = Column::default();
    if let Some(i) = rest.find(" COLLATE ") {
        column.collate = Some(&rest[i + 9..]);
        rest = &rest[..i];
    }
    // Before the default: an identity has none, and its BY DEFAULT is not one.
    for identity in [
        " GENERATED ALWAYS AS IDENTITY",
        " GENERATED BY DEFAULT AS IDENTITY",
    ] {
        if let Some(stripped) = rest.strip_suffix(identity) {
            column.identity = Some(&identity[1..]);
            rest = stripped;
        }
    }
    if let Some(i) = rest.find(" DEFAULT ") {
        column.default = Some(&rest[i + 9..]);
        rest = &rest[..i];
    }
    if let Some(i) = rest.find(" GENERATED ALWAYS AS (") {
        column.generated = Some(&rest[i + 1..]);
        rest = &rest[..i];
    }
    if let Some(stripped) = rest.strip_suffix(" NOT NULL") {
        column.not_null = true;
        rest = stripped;
    }
    column.data_type = rest;
    column
}

/// The column as it is declared in `CREATE TABLE` or `ADD COLUMN`. A default of the serial
/// sequence the column would own (`<table>_<column>_seq`) is written as `serial`/`bigserial`,
/// which creates that sequence, as the original `serial` column did.
fn declaration(table: &str, name: &str, def: &str) -> String {
    let c = column(def);
    let bare_table = parts(table)
        .last()
        .map(|t| unquote(t))
        .unwrap_or_default();
    let seq = object_name(&bare_table, &unquote(name), "seq");
    // `nextval('users_id_seq'::regclass)`, `nextval('"Users_id_seq"'::regclass)`, perhaps
    // schema-qualified.
    let serial = c.default.and_then(nextval_sequence).is_some_and(|inner| {
        parts(&inner)
            .last()
            .is_some_and(|last| unquote(last) == seq)
    });
    let serial_type = match c.data_type {
        "bigint" => Some("bigserial"),
        "integer" => Some("serial"),
        "smallint" => Some("smallserial"),
        _ => None,
    };
    if let (true, Some(serial_type)) = (serial, serial_type) {
        return format!("{name} {serial_type}");
    }
    let mut out = format!("{name} {}", c.data_type);
    if let Some(collate) = c.collate {
        out.push_str(&format!(" COLLATE {collate}"));
    }
    if let Some(generated) = c.generated {
        out.push_str(&format!(" {generated}"));
    } else if let Some(default) = c.default {
        out.push_str(&format!(" DEFAULT {default}"));
    }
    if let Some(identity) = c.identity {
        out.push_str(&format!(" {identity}"));
    }
    if c.not_null {
        out.push_str(" NOT NULL");
    }
    out
}

/// The name PostgreSQL gives an object it names after a table and a column
/// (`makeObjectName`): `<table>_<column>_<label>`, the longer of the two names cut a
/// character at a time until the whole fits in 63 bytes.
pub(crate) fn object_name(table: &str, column: &str, label: &str) -> String {
    let available = 63 - (label.len() + 2);
    let (mut t, mut c) = (table.len(), column.len());
    while t + c > available {
        if t > c {
            t -= 1;
            while !table.is_char_boundary(t) {
                t -= 1;
            }
        } else {
            c -= 1;
            while !column.is_char_boundary(c) {
                c -= 1;
            }
        }
    }
    format!("{}_{}_{label}", &table[..t], &column[..c])
}

/// A list of columns as a set, for matching a foreign key with the key or unique index the
/// server finds for it: `t, id` and `id,t` are the same (the server matches them in any order).
fn column_set(list: &str) -> String {
    let mut columns: Vec<&str> = list.split(',').map(str::trim).collect();
    columns.sort_unstable();
    columns.join(",")
}

/// Whether a default calls a volatile function, which a new column computes row by row (a
/// constant or a stable default such as `now()` is stored once, without a rewrite).
fn volatile(default: &str) -> bool {
    [
        "nextval(",
        "random(",
        "gen_random_uuid(",
        "uuid_generate_",
        "clock_timestamp(",
        "timeofday(",
        "txid_current(",
        "statement_timestamp(",
    ]
    .iter()
    .any(|f| default.contains(f))
}

/// The precision and scale of `numeric(p,s)` (`numeric(p)` has scale 0).
fn numeric_size(t: &str) -> Option<(u32, u32)> {
    let inner = t.strip_prefix("numeric(")?.strip_suffix(')')?;
    let mut parts = inner.split(',').map(|p| p.trim().parse::<u32>());
    let precision = parts.next()?.ok()?;
    let scale = parts.next().unwrap_or(Ok(0)).ok()?;
    Some((precision, scale))
}

/// Whether a column can change from type `from` to `to` without the table being rewritten:
/// the server only checks the catalog (a longer or unbounded varchar, varchar to text, a
/// numeric with more digits and the same scale).
fn binary_coercible(from: &str, to: &str) -> bool {
    let unbounded = |t: &str| t == "text" || t == "character varying" || t == "numeric";
    let varchar = |t: &str| t.starts_with("character varying") || t == "text";
    if varchar(from) && varchar(to) {
        return unbounded(to) || !narrowing(from, to);
    }
    if let (Some((p1, s1)), Some((p2, s2))) = (numeric_size(from), numeric_size(to)) {
        return s1 == s2 && p2 >= p1;
    }
    numeric_size(from).is_some() && to == "numeric"
}

/// Whether a column type change can lose data or fail; widening a varchar or a numeric's
/// integer and fractional digits, or varchar to text, is neither.
fn narrowing(from: &str, to: &str) -> bool {
    if let (Some((p1, s1)), Some((p2, s2))) = (numeric_size(from), numeric_size(to)) {
        return p2 - s2.min(p2) < p1 - s1.min(p1) || s2 < s1;
    }
    let widen = |from: &str, to: &str| -> bool {
        let size = |t: &str, prefix: &str| -> Option<u32> {
            t.strip_prefix(prefix)?
                .strip_suffix(')')?
                .split(',')
                .next()?
                .trim()
                .parse()
                .ok()
        };
        if to == "text" && from.starts_with("character varying") {
            return true;
        }
        for prefix in ["character varying(", "numeric(", "character("] {
            if let (Some(a), Some(b)) = (size(from, prefix), size(to, prefix)) {
                return b >= a;
            }
        }
        matches!(
            (from, to),
            ("smallint", "integer") | ("smallint", "bigint") | ("integer", "bigint")
        )
    };
    !widen(from, to)
}

impl Catalog {
    /// The statements that turn this schema into `to`.
    pub fn plan(&self, to: &Catalog) -> Vec<Change> {
        plan(self, to)
    }
}

/// The plan from `from` to `to`.
fn plan(from: &Catalog, to: &Catalog) -> Vec<Change> {
    let differences = from.diff(to);
    let new_tables: Vec<&str> = differences
        .iter()
        .filter(|d| d.kind == Kind::Table && d.from.is_none())
        .map(|d| d.name.as_str())
        .collect();
    let old_tables: Vec<&str> = differences
        .iter()
        .filter(|d| d.kind == Kind::Table && d.to.is_none())
        .map(|d| d.name.as_str())
        .collect();
    let of = |kind: Kind| differences.iter().filter(move |d| d.kind == kind);
    let mut changes = Vec::new();
    // SQL-language bodies are checked against tables that may come later in the plan.
    if differences
        .iter()
        .any(|d| d.kind == Kind::Function && d.to.is_some())
    {
        changes.push(Change::plain("SET check_function_bodies = off"));
    }

    // Drops, dependents first.
    for d in of(Kind::Trigger).filter(|d| d.from.is_some()) {
        let (table, name) = split_last(&d.name);
        if !old_tables.contains(&table.as_str()) {
            changes.push(Change::plain(format!("DROP TRIGGER {name} ON {table}")));
        }
    }
    // An unchanged trigger that names a column whose type changes pins it: it is dropped
    // here and created again after the change.
    let retyped: Vec<(String, &str)> = differences
        .iter()
        .filter(|d| d.kind == Kind::Column)
        .filter(|d| match (&d.from, &d.to) {
            (Some(a), Some(b)) => column(a).data_type != column(b).data_type,
            _ => false,
        })
        .map(|d| split_last(&d.name))
        .collect();
    let pinned_triggers: Vec<(String, String)> = from
        .objects()
        .filter(|(kind, name, def)| {
            *kind == Kind::Trigger
                && to.get(Kind::Trigger, name).map(collapse) == Some(collapse(def))
                && retyped
                    .iter()
                    .any(|(t, c)| *t == split_last(name).0 && mentions(def, c))
        })
        .map(|(_, name, def)| (name.to_string(), def.to_string()))
        .collect();
    for (name, _) in &pinned_triggers {
        let (table, trigger) = split_last(name);
        changes.push(Change::plain(format!("DROP TRIGGER {trigger} ON {table}")));
    }
    changes.extend(attached::drops(&differences, &old_tables));
    for d in of(Kind::Policy).filter(|d| d.from.is_some()) {
        let (table, name) = split_last(&d.name);
        if !old_tables.contains(&table.as_str()) {
            changes.push(Change::plain(format!("DROP POLICY {name} ON {table}")));
        }
    }
    // Views are dropped and created again around the changes under them: a view pins the
    // columns it reads (their type, their name), and a changed view cannot always be replaced
    // in place. Which view reads what is found in the deparsed definitions.
    // What the server records as depending on a routine dropped and created again, or on a
    // column whose type changes: dropped before, created again after.
    let replaced = graph::replaced_routines(&differences);
    let retyped_columns: Vec<String> = retyped.iter().map(|(t, c)| format!("{t}.{c}")).collect();
    let pinned = graph::pinned(from, to, &differences, &replaced, &retyped_columns);
    let rebuilt = views_to_rebuild(from, to, &differences, &pinned.views);
    // A routine whose signature names a view's row type goes with the view's type: dropped
    // before the views, and created (from `to`) after them, with the routines that name a new
    // view's type.
    let views_after: Vec<String> = to
        .objects()
        .filter(|(kind, name, _)| {
            *kind == Kind::View
                && (rebuilt.iter().any(|r| r == name) || from.get(Kind::View, name).is_none())
        })
        .map(|(_, name, _)| name.to_string())
        .collect();
    let view_typed: Vec<(String, String)> = from
        .objects()
        .filter(|(kind, _, def)| {
            *kind == Kind::Function && rebuilt.iter().any(|v| mentions(function_header(def), v))
        })
        .map(|(_, name, def)| (name.to_string(), def.to_string()))
        .collect();
    let after_views = |name: &str, to_def: &str| {
        view_typed.iter().any(|(n, _)| n == name)
            || views_after
                .iter()
                .any(|v| mentions(function_header(to_def), v))
    };
    changes.extend(pinned.drops.iter().cloned());
    let mut typed_dropped: Vec<&str> = Vec::new();
    for name in order_by_reference(&rebuilt, from, true) {
        // The routines typed by this view, once the views that call them are gone.
        for (routine, def) in &view_typed {
            if mentions(function_header(def), &name) && !typed_dropped.contains(&routine.as_str()) {
                typed_dropped.push(routine);
                changes.push(Change::plain(format!(
                    "DROP {} {routine}",
                    routine_kind(def)
                )));
            }
        }
        let materialized = from
            .get(Kind::View, &name)
            .is_some_and(|f| f.starts_with("materialized "));
        let what = if materialized {
            "MATERIALIZED VIEW"
        } else {
            "VIEW"
        };
        changes.push(Change::plain(format!("DROP {what} {name}")));
    }

    // An unchanged foreign key over a column whose type changes, on either side, pins it:
    // each ALTER COLUMN … TYPE checks the key's two column types against each other, so it is
    // dropped here and added again (NOT VALID, then validated) once both sides have changed.
    let pinned_keys: Vec<Difference> = from
        .objects()
        .filter(|(kind, name, def)| {
            *kind == Kind::Constraint
                && def.starts_with("FOREIGN KEY")
                && to.get(Kind::Constraint, name).map(collapse) == Some(collapse(def))
                && !old_tables.contains(&split_last(name).0.as_str())
                && foreign_key_retyped(name, def, &retyped)
        })
        .map(|(_, name, def)| Difference {
            kind: Kind::Constraint,
            name: name.to_string(),
            from: Some(def.to_string()),
            to: Some(def.to_string()),
        })
        .collect();
    // A foreign key of a table the plan drops, which references a key or unique index the
    // plan drops on a table that stays: it goes first, or the key cannot go before the table.
    let referenced_drops: Vec<String> = differences
        .iter()
        .filter(|d| d.to.is_none())
        .filter_map(|d| match d.kind {
            Kind::Constraint
                if d.from.as_deref().is_some_and(|f| {
                    f.starts_with("PRIMARY KEY") || f.starts_with("UNIQUE")
                }) =>
            {
                Some(bare_name(&split_last(&d.name).0).to_string())
            }
            Kind::Index if d.from.as_deref().is_some_and(|f| f.starts_with("CREATE UNIQUE")) => {
                Some(bare_name(index_table(d.from.as_deref().unwrap_or_default())).to_string())
            }
            _ => None,
        })
        .collect();
    let keys_of_dropped_tables: Vec<Difference> = from
        .objects()
        .filter(|(kind, name, def)| {
            *kind == Kind::Constraint
                && old_tables.contains(&split_last(name).0.as_str())
                && def
                    .strip_prefix("FOREIGN KEY (")
                    .and_then(|r| r.split_once(") REFERENCES "))
                    .and_then(|(_, r)| r.split_once('('))
                    .is_some_and(|(referenced, _)| {
                        let referenced = bare_name(referenced);
                        referenced_drops.iter().any(|t| t == referenced)
                            && !old_tables.iter().any(|t| bare_name(t) == referenced)
                    })
        })
        .map(|(_, name, def)| Difference {
            kind: Kind::Constraint,
            name: name.to_string(),
            from: Some(def.to_string()),
            to: None,
        })
        .collect();
    // Foreign keys before the keys they reference.
    let mut dropped_constraints: Vec<&Difference> = of(Kind::Constraint)
        .filter(|d| d.from.is_some() && !old_tables.contains(&split_last(&d.name).0.as_str()))
        .chain(&pinned_keys)
        .chain(&keys_of_dropped_tables)
        .collect();
    dropped_constraints.sort_by_key(|d| {
        !d.from
            .as_deref()
            .is_some_and(|def| def.starts_with("FOREIGN KEY"))
    });
    for d in dropped_constraints {
        let (table, name) = split_last(&d.name);
        changes.push(Change::plain(format!(
            "ALTER TABLE {table} DROP CONSTRAINT {name}"
        )));
    }
    // Indexes once the foreign keys that use them (as the key they reference) are gone.
    for d in of(Kind::Index).filter(|d| d.from.is_some()) {
        let on = index_table(d.from.as_deref().unwrap_or_default());
        // Gone with its table, or with a view being rebuilt.
        if !old_tables.contains(&on) && !rebuilt.iter().any(|v| v == on) {
            if d.from.as_deref().is_some_and(partitioned_index) {
                // A partitioned table's index cannot be dropped CONCURRENTLY.
                changes.push(Change::plain(format!("DROP INDEX {}", d.name)));
            } else {
                changes.push(Change::concurrent(format!(
                    "DROP INDEX CONCURRENTLY {}",
                    d.name
                )));
            }
        }
    }
    for d in of(Kind::Column).filter(|d| d.to.is_none()) {
        let (table, name) = split_last(&d.name);
        if !old_tables.contains(&table.as_str()) && !from_parent(d, &differences, from, to) {
            changes.push(Change::hazard(
                format!("ALTER TABLE {table} DROP COLUMN {name}"),
                &[HazardKind::DeletesData, HazardKind::BreaksClients],
                "deletes the column's data",
            ));
        }
    }
    // A routine that takes or returns a dropped table's row type goes before the table.
    let row_typed = |def: &str, tables: &[&str]| {
        let header = function_header(def);
        tables.iter().any(|t| mentions(header, t))
    };
    let mut dropped_routines: Vec<&Difference> =
        of(Kind::Function).filter(|d| d.to.is_none()).collect();
    // Aggregates before the functions they call.
    dropped_routines
        .sort_by_key(|d| routine_kind(d.from.as_deref().unwrap_or_default()) != "AGGREGATE");
    // (Those typed by a rebuilt view went with it.)
    let (early_routines, dropped_routines): (Vec<&Difference>, Vec<&Difference>) = dropped_routines
        .into_iter()
        .filter(|d| !view_typed.iter().any(|(n, _)| *n == d.name))
        .partition(|d| row_typed(d.from.as_deref().unwrap_or_default(), &old_tables));
    for d in early_routines {
        let what = routine_kind(d.from.as_deref().unwrap_or_default());
        changes.push(Change::plain(format!("DROP {what} {}", d.name)));
    }
    // A changed routine whose body holds a table the plan drops goes first, and is created
    // from scratch later.
    let cleared = graph::routines_on_dropped_tables(from, &differences, &old_tables);
    for name in &cleared {
        let what = routine_kind(from.get(Kind::Function, name).unwrap_or_default());
        changes.push(Change::plain(format!("DROP {what} {name}")));
    }
    let dropped_last = graph::routines_dropped_last(from, &differences);
    let (dropped_last, dropped_routines): (Vec<&Difference>, Vec<&Difference>) = dropped_routines
        .into_iter()
        .partition(|d| dropped_last.contains(&d.name));
    for tables in drop_order(from, &old_tables) {
        changes.push(Change::hazard(
            format!("DROP TABLE {}", tables.join(", ")),
            &[HazardKind::DeletesData, HazardKind::BreaksClients],
            if tables.len() == 1 {
                "deletes the table and its data"
            } else {
                "deletes the tables and their data (their foreign keys go round in a cycle)"
            },
        ));
    }
    for d in dropped_routines {
        let what = routine_kind(d.from.as_deref().unwrap_or_default());
        changes.push(Change::plain(format!("DROP {what} {}", d.name)));
    }
    for d in of(Kind::Sequence).filter(|d| d.to.is_none()) {
        changes.push(Change::plain(format!("DROP SEQUENCE {}", d.name)));
    }
    // Types go once no column has them: after the columns that change away from them.
    let mut type_drops = Vec::new();
    for d in of(Kind::Domain).filter(|d| d.to.is_none()) {
        type_drops.push(Change::plain(format!("DROP DOMAIN {}", d.name)));
    }
    for d in of(Kind::Composite).filter(|d| d.to.is_none()) {
        type_drops.push(Change::plain(format!("DROP TYPE {}", d.name)));
    }
    for d in of(Kind::Enum).filter(|d| d.to.is_none()) {
        type_drops.push(Change::plain(format!("DROP TYPE {}", d.name)));
    }
    for d in of(Kind::Schema).filter(|d| d.to.is_none()) {
        changes.push(Change::hazard(
            format!("DROP SCHEMA {}", d.name),
            &[HazardKind::DeletesData],
            "deletes the schema",
        ));
    }
    for d in of(Kind::Extension).filter(|d| d.to.is_none()) {
        changes.push(Change::plain(format!("DROP EXTENSION {}", d.name)));
    }

    // Creations and alterations, dependencies first.
    // Validations of checks and keys added NOT VALID, run once everything else is in place.
    let mut validations: Vec<Change> = Vec::new();
    // Each extension in its schema (`schema extensions`), which may be new: after the schemas.
    let mut extensions = Vec::new();
    for d in of(Kind::Extension).filter(|d| d.to.is_some()) {
        let schema = d.to.as_deref().unwrap_or_default();
        let schema = schema.strip_prefix("schema ").unwrap_or(schema);
        extensions.push(Change::plain(if d.from.is_none() {
            format!(
                "CREATE EXTENSION IF NOT EXISTS {} WITH SCHEMA {schema}",
                d.name
            )
        } else {
            format!("ALTER EXTENSION {} SET SCHEMA {schema}", d.name)
        }));
    }
    for d in of(Kind::Schema).filter(|d| d.from.is_none()) {
        changes.push(Change::plain(format!("CREATE SCHEMA {}", d.name)));
    }
    changes.extend(extensions);
    let (from_catalog, to_catalog) = (from, to);
    for d in of(Kind::Enum).filter(|d| d.to.is_some()) {
        let to = d.to.as_deref().unwrap_or_default();
        match d.from.as_deref() {
            None => changes.push(Change::plain(format!(
                "CREATE TYPE {} AS ENUM ({to})",
                d.name
            ))),
            Some(from) => {
                let old: Vec<&str> = from.split(", ").collect();
                let new: Vec<&str> = to.split(", ").collect();
                // The old labels must keep their order; new ones may go anywhere, each placed
                // by its neighbour (squawk's require-enum-value-ordering: a bare ADD VALUE
                // appends).
                if !enum_rebuilt(from, to) {
                    for (i, label) in new.iter().enumerate() {
                        if old.contains(label) {
                            continue;
                        }
                        // An enum that had no label takes its first one bare.
                        let place = match i {
                            0 if old.is_empty() => String::new(),
                            0 => format!(" BEFORE {}", new[1]),
                            _ => format!(" AFTER {}", new[i - 1]),
                        };
                        changes.push(Change::plain(format!(
                            "ALTER TYPE {} ADD VALUE {label}{place}",
                            d.name
                        )));
                    }
                } else {
                    let removed: Vec<&str> =
                        old.iter().copied().filter(|l| !new.contains(l)).collect();
                    match rebuild_enum(from_catalog, to_catalog, &d.name, to, &removed, &rebuilt) {
                        Some(steps) => changes.extend(steps),
                        None => changes.push(unsupported(
                            d,
                            "enum labels removed or reordered, with a view, function, \
                             constraint, index expression or array naming the type",
                        )),
                    }
                }
            }
        }
    }
    for d in of(Kind::Domain).filter(|d| d.to.is_some()) {
        match d.from {
            None => changes.push(Change::plain(format!(
                "CREATE DOMAIN {} AS {}",
                d.name,
                d.to.as_deref().unwrap_or_default()
            ))),
            Some(ref from) => {
                match alter_domain(
                    &d.name,
                    from,
                    d.to.as_deref().unwrap_or_default(),
                    &mut validations,
                ) {
                    Some(steps) => changes.extend(steps),
                    None => changes.push(unsupported(d, "a domain's base type changed")),
                }
            }
        }
    }
    for d in of(Kind::Composite).filter(|d| d.to.is_some()) {
        match d.from {
            None => changes.push(Change::plain(format!(
                "CREATE TYPE {} AS {}",
                d.name,
                d.to.as_deref().unwrap_or_default()
            ))),
            Some(ref from) => {
                let to_def = d.to.as_deref().unwrap_or("");
                // A column of the type (or of an array of it) forbids retyping an attribute in
                // place.
                let held = from_catalog.objects().any(|(kind, _, def)| {
                    let t = column(def).data_type;
                    let t = t.strip_suffix("[]").unwrap_or(t);
                    kind == Kind::Column
                        && (t == d.name || Some(t) == parts(&d.name).last().copied())
                });
                let rebuilt_type = || {
                    rebuild_type(
                        from_catalog,
                        to_catalog,
                        &d.name,
                        &format!("CREATE TYPE {} AS {to_def}", d.name),
                        Some(
                            "converts each value through its text form: fails on one that does \
                             not read as the new attributes; rewrites the table"
                                .into(),
                        ),
                        &rebuilt,
                    )
                };
                // Only a retyped attribute needs the type unheld: ADD and DROP ATTRIBUTE reach
                // the values in place.
                match (held, alter_composite(&d.name, from, to_def)) {
                    (false, Some(change)) => changes.push(change),
                    (true, Some(change)) if !change.sql.contains(" ALTER ATTRIBUTE ") => {
                        changes.push(change)
                    }
                    _ => match rebuilt_type() {
                        Some(steps) => changes.extend(steps),
                        None => changes.push(unsupported(
                            d,
                            "a composite type's attributes changed while a function, view or \
                             constraint names it, or reordered",
                        )),
                    },
                }
            }
        }
    }
    for d in of(Kind::Sequence).filter(|d| d.to.is_some()) {
        let options = sequence_options(d.to.as_deref().unwrap_or_default());
        let verb = if d.from.is_none() { "CREATE" } else { "ALTER" };
        changes.push(Change::plain(format!(
            "{verb} SEQUENCE {} {options}",
            d.name
        )));
    }
    // Aggregates after the functions they call; a routine that takes or returns a new table's
    // row type after the tables.
    let mut routines: Vec<&Difference> = of(Kind::Function)
        .filter(|d| d.to.is_some())
        .filter(|d| !after_views(&d.name, d.to.as_deref().unwrap_or_default()))
        .collect();
    routines.sort_by_key(|d| routine_kind(d.to.as_deref().unwrap_or_default()) == "AGGREGATE");
    let (late_routines, routines): (Vec<&Difference>, Vec<&Difference>) = routines
        .into_iter()
        .partition(|d| row_typed(d.to.as_deref().unwrap_or_default(), &new_tables));
    let mut routine_changes = Vec::new();
    for d in routines.into_iter().chain(late_routines.iter().copied()) {
        let late = late_routines.iter().any(|l| l.name == d.name);
        let changes = if late {
            &mut routine_changes
        } else {
            &mut changes
        };
        let to_def = d.to.as_deref().unwrap_or_default();
        if let Some(from_def) = d.from.as_deref().filter(|_| !cleared.contains(&d.name)) {
            let what = routine_kind(from_def);
            if what == "AGGREGATE" || routine_kind(to_def) == "AGGREGATE" {
                // An aggregate is replaced whole (its state type may change).
                changes.push(Change::plain(format!("DROP {what} {}", d.name)));
            } else if returns(from_def) != returns(to_def) {
                // CREATE OR REPLACE cannot change a function's return type: drop it first.
                changes.push(Change::plain(format!("DROP {what} {}", d.name)));
            }
        }
        changes.push(Change::plain(to_def));
    }
    // New tables, parents before their partitions.
    let mut created: Vec<&Difference> = of(Kind::Table).filter(|d| d.from.is_none()).collect();
    let partitions: Vec<&str> = created
        .iter()
        .filter(|d| {
            d.to.as_deref()
                .is_some_and(|t| t.contains(" partition of "))
        })
        .map(|d| d.name.as_str())
        .collect();
    created.sort_by_key(|d| {
        d.to.as_deref()
            .is_some_and(|t| t.contains(" partition of "))
    });
    // A default that takes its values from a sequence the column owns under another name than
    // serial's (a renamed table's): the sequence is created first and owned after.
    let mut owned_sequences = Vec::new();
    // So does one that an existing column takes as its new default (a table swapped in under
    // the old name, a sequence added to a column), when the sequence is new.
    for (_, name, column_def) in to.objects().filter(|(kind, name, def)| {
        *kind == Kind::Column
            && (new_tables.contains(&split_last(name).0.as_str())
                || from
                    .get(Kind::Column, name)
                    .is_none_or(|old| column(old).default != column(def).default))
    }) {
        let (table, column_name) = split_last(name);
        let c = column(column_def);
        if let Some(seq) = c.default.and_then(nextval_sequence) {
            let serial = declaration(&table, column_name, column_def).ends_with("serial")
                && from.get(Kind::Column, name).is_none();
            let known = |c: &Catalog, kind: Kind| {
                c.get(kind, &seq).is_some() || c.get(kind, &format!("public.{seq}")).is_some()
            };
            // A sequence a column owns already stays only when that column does: a dropped
            // table or column takes its sequence along.
            let kept = from.objects().any(|(kind, name, def)| {
                kind == Kind::Column
                    && to.get(Kind::Column, name).is_some()
                    && column(def).default.and_then(nextval_sequence).as_deref() == Some(&*seq)
            });
            if !serial && !known(to, Kind::Sequence) && !known(from, Kind::Sequence) && !kept {
                let as_type = match c.data_type {
                    "integer" | "smallint" => format!(" AS {}", c.data_type),
                    _ => String::new(),
                };
                changes.push(Change::plain(format!(
                    "CREATE SEQUENCE IF NOT EXISTS {seq}{as_type}"
                )));
                owned_sequences.push(format!(
                    "ALTER SEQUENCE {seq} OWNED BY {table}.{column_name}"
                ));
            }
        }
    }
    for d in created {
        let def = d.to.as_deref().unwrap_or_default();
        let mut columns: Vec<(&str, &str)> = to
            .objects()
            .filter(|(kind, name, _)| *kind == Kind::Column && split_last(name).0 == d.name)
            .map(|(_, name, column_def)| (name, column_def))
            .collect();
        columns.sort_by_key(|(name, _)| to.position(name));
        let columns: Vec<String> = columns
            .into_iter()
            .map(|(name, column_def)| declaration(&d.name, split_last(name).1, column_def))
            .collect();
        let mut sql = if let Some(i) = def.find(" partition of ") {
            let rest = &def[i + 14..];
            let (parent, bound) = rest.split_once(' ').unwrap_or((rest, ""));
            format!("CREATE TABLE {} PARTITION OF {parent} {bound}", d.name)
        } else {
            // Keys and checks inside the statement: an ALTER TABLE … ADD PRIMARY KEY on a new
            // table is one more statement that squawk rightly flags on a table with rows.
            let inline = to.objects().filter(|(kind, name, def)| {
                *kind == Kind::Constraint && split_last(name).0 == d.name && inlined_constraint(def)
            });
            let items: Vec<String> = columns
                .into_iter()
                .chain(
                    inline.map(|(_, name, def)| format!("CONSTRAINT {} {def}", split_last(name).1)),
                )
                .collect();
            format!(
                "CREATE TABLE {} (\n    {}\n)",
                d.name,
                items.join(",\n    ")
            )
        };
        if let Some(key) = def
            .strip_prefix("partitioned by ")
            .map(|k| k.split(" partition of ").next().unwrap_or(k))
        {
            let key = key.split(" row level security").next().unwrap_or(key);
            sql.push_str(&format!(" PARTITION BY {key}"));
        }
        if def.contains(" unlogged") {
            sql = sql.replacen("CREATE TABLE", "CREATE UNLOGGED TABLE", 1);
        }
        changes.push(Change::plain(sql));
        changes.extend(partition_columns(to, &d.name, def));
        if def.contains("row level security") {
            changes.push(Change::plain(format!(
                "ALTER TABLE {} ENABLE ROW LEVEL SECURITY",
                d.name
            )));
        }
    }
    changes.extend(routine_changes);
    // What validates a constraint added NOT VALID: after everything else that runs in a
    // transaction, and (see `cut_into_files`) in a transaction of its own, so the long scan
    // holds only the weak lock VALIDATE takes.
    for d in of(Kind::Table).filter(|d| d.from.is_some() && d.to.is_some()) {
        let (from, to) = (
            d.from.as_deref().unwrap_or(""),
            d.to.as_deref().unwrap_or(""),
        );
        let rls = |t: &str| t.contains("row level security");
        if rls(from) != rls(to) {
            let verb = if rls(to) { "ENABLE" } else { "DISABLE" };
            changes.push(Change::plain(format!(
                "ALTER TABLE {} {verb} ROW LEVEL SECURITY",
                d.name
            )));
        } else {
            changes.push(unsupported(d, "a changed table kind or partitioning"));
        }
    }
    // Indexes on a generated column dropped and added again, built again CONCURRENTLY.
    let mut regenerated_indexes: Vec<String> = Vec::new();
    // Added columns in the order they are declared.
    let mut columns: Vec<&Difference> = of(Kind::Column).filter(|d| d.to.is_some()).collect();
    columns.sort_by_key(|d| (split_last(&d.name).0, to.position(&d.name)));
    for d in columns {
        let (table, name) = split_last(&d.name);
        if new_tables.contains(&table.as_str()) || from_parent(d, &differences, from, to) {
            continue;
        }
        let to_def = d.to.as_deref().unwrap_or_default();
        match d.from.as_deref() {
            None => {
                let c = column(to_def);
                let change = format!(
                    "ALTER TABLE {table} ADD COLUMN {}",
                    declaration(&table, name, to_def)
                );
                let required = c.not_null
                    && c.default.is_none()
                    && c.identity.is_none()
                    && c.generated.is_none();
                // A column in a key or a unique index cannot take one value for every row
                // (nor, for a foreign key, a made-up one): no placeholder there.
                let keyed = to.objects().any(|(kind, object, def)| match kind {
                    Kind::Constraint => {
                        split_last(object).0 == table
                            && ["FOREIGN KEY (", "PRIMARY KEY (", "UNIQUE ("]
                                .iter()
                                .any(|k| {
                                    def.strip_prefix(k)
                                        .and_then(|c| c.split(')').next())
                                        .is_some_and(|c| mentions(c, name))
                                })
                    }
                    Kind::Index => {
                        def.starts_with("CREATE UNIQUE INDEX ")
                            && index_table(def) == table
                            && def
                                .split_once(" USING ")
                                .is_some_and(|(_, body)| mentions(body, name))
                    }
                    _ => false,
                });
                let value = placeholder(c.data_type, to).filter(|_| !keyed);
                if let (true, Some(value)) = (required, value) {
                    // Rows already there need a value: Django's one-off default. Added with a
                    // placeholder that no row keeps unnoticed (the hazard says to put the real
                    // backfill in its place), then the default goes, as declared.
                    let collate = c
                        .collate
                        .map(|c| format!(" COLLATE {c}"))
                        .unwrap_or_default();
                    changes.push(Change::hazard(
                        format!(
                            "ALTER TABLE {table} ADD COLUMN {name} {}{collate} DEFAULT {value} NOT NULL",
                            c.data_type
                        ),
                        &[HazardKind::MayFail],
                        format!(
                            "NOT NULL without a default: rows already in the table get {value}; \
                             write the real backfill in its place"
                        ),
                    ));
                    changes.push(Change::plain(format!(
                        "ALTER TABLE {table} ALTER COLUMN {name} DROP DEFAULT"
                    )));
                } else if required {
                    changes.push(Change::hazard(
                        change,
                        &[HazardKind::MayFail],
                        "NOT NULL without a default fails on a table with rows",
                    ));
                } else if c.default.is_some_and(volatile) && c.generated.is_none() {
                    changes.push(Change::hazard(
                        change,
                        &[HazardKind::RewritesTable],
                        "a volatile default is computed for every row: rewrites the table under an \
                         ACCESS EXCLUSIVE lock (online: add the column without a default, SET DEFAULT, \
                         backfill in batches)",
                    ));
                } else if c.generated.is_some() {
                    changes.push(Change::hazard(
                        change,
                        &[HazardKind::RewritesTable],
                        "a stored generated column is computed for every row: rewrites the table under \
                         an ACCESS EXCLUSIVE lock",
                    ));
                } else {
                    changes.push(Change::plain(change));
                }
            }
            Some(from_def) => {
                let (old, new) = (column(from_def), column(to_def));
                if new.generated.is_some() && old.generated != new.generated {
                    // PostgreSQL 15 cannot change a generation expression in place. A
                    // generated column's values are derived, so it is dropped and added again;
                    // what was built on it (indexes, constraints) is built again after, and
                    // views over it are rebuilt (`views_to_rebuild`).
                    let (steps, indexes) = regenerate(
                        &table,
                        name,
                        old.generated.is_none(),
                        to_def,
                        &differences,
                        to,
                    );
                    changes.extend(steps);
                    regenerated_indexes.extend(indexes);
                    continue;
                }
                let alter =
                    |what: String| format!("ALTER TABLE {table} ALTER COLUMN {name} {what}");
                let retyped = old.data_type != new.data_type || old.collate != new.collate;
                // A default of the old type may not cast to the new one: it goes first and
                // comes back after.
                if retyped && old.default.is_some() {
                    changes.push(Change::plain(alter("DROP DEFAULT".into())));
                }
                if retyped {
                    let collate = new
                        .collate
                        .map(|c| format!(" COLLATE {c}"))
                        .unwrap_or_default();
                    // USING: an explicit cast converts where no implicit one exists (text to
                    // an enum, say). Into an enum it goes through text: no other type casts
                    // to one (a smallint code, say).
                    let is_enum = |t: &str| {
                        to.get(Kind::Enum, t).is_some()
                            || to.get(Kind::Enum, &format!("public.{t}")).is_some()
                    };
                    // Out of an enum into anything but text, through text too.
                    let was_enum = |t: &str| {
                        from.get(Kind::Enum, t).is_some()
                            || from.get(Kind::Enum, &format!("public.{t}")).is_some()
                    };
                    let into_text = matches!(new.data_type, "text")
                        || new.data_type.starts_with("character varying");
                    // A time of day has no cast to a date or a timestamp, nor a date to a
                    // time of day: through text too (it parses on an empty table; a row fails).
                    let time_of_day = |t: &str| t.starts_with("time ") || t == "time";
                    let dated = |t: &str| t == "date" || t.starts_with("timestamp");
                    let no_temporal_cast = (time_of_day(old.data_type) && dated(new.data_type))
                        || (old.data_type == "date" && time_of_day(new.data_type));
                    let via = if (is_enum(new.data_type) && !is_enum(old.data_type))
                        || (was_enum(old.data_type) && !into_text)
                        || no_temporal_cast
                        || !cast_exists(old.data_type, new.data_type)
                    {
                        "::text"
                    } else {
                        ""
                    };
                    // Into json from anything but text (an array, a number): no cast exists,
                    // to_jsonb/to_json converts any value; text is parsed by the cast.
                    let from_text =
                        old.data_type == "text" || old.data_type.starts_with("character varying");
                    let using = match new.data_type {
                        "jsonb" | "json" if !from_text && !old.data_type.starts_with("json") => {
                            format!("to_{}({name})", new.data_type)
                        }
                        _ => format!("{name}{via}::{}", new.data_type),
                    };
                    let sql = alter(format!("TYPE {}{collate} USING {using}", new.data_type));
                    if narrowing(old.data_type, new.data_type) {
                        changes.push(Change::hazard(
                            sql,
                            &[HazardKind::RewritesTable, HazardKind::MayFail, HazardKind::DeletesData],
                            format!(
                                "changes the type from {} to {}: rewrites the table, and may fail or lose data",
                                old.data_type, new.data_type
                            ),
                        ));
                    } else if !binary_coercible(old.data_type, new.data_type) {
                        changes.push(Change::hazard(
                            sql,
                            &[HazardKind::RewritesTable],
                            format!(
                                "changes the type from {} to {}: rewrites the table under an ACCESS EXCLUSIVE lock \
                                 (online: add a column of the new type, backfill it in batches, switch over)",
                                old.data_type, new.data_type
                            ),
                        ));
                    } else {
                        changes.push(Change::plain(sql));
                    }
                }
                // Identity first: DROP IDENTITY (which drops its sequence) before a default
                // comes back, and before DROP NOT NULL, which an identity column refuses.
                let reidentified = old.identity != new.identity;
                if let (true, Some(_)) = (reidentified, old.identity) {
                    changes.push(Change::plain(alter(match new.identity {
                        Some(identity) => format!(
                            "SET {}",
                            identity.strip_suffix(" AS IDENTITY").unwrap_or(identity)
                        ),
                        None => "DROP IDENTITY".into(),
                    })));
                }
                if old.generated.is_some() && new.generated.is_none() {
                    changes.push(Change::plain(alter("DROP EXPRESSION".into())));
                }
                // The sequence behind a serial default, which the column owns and the catalog
                // lists with the column rather than as a sequence of its own.
                let serial_sequence = |c: &Column<'_>, def: &str| {
                    c.default
                        .and_then(nextval_sequence)
                        .filter(|_| declaration(&table, name, def).ends_with("serial"))
                };
                let (old_serial, new_serial) = (
                    serial_sequence(&old, from_def),
                    serial_sequence(&new, to_def),
                );
                if old.default != new.default || (retyped && new.default.is_some()) {
                    match new.default {
                        Some(default) => {
                            if let Some(seq) = new_serial
                                .as_ref()
                                .filter(|s| old_serial.as_ref() != Some(s))
                            {
                                // Serial again (from an identity, say): its sequence, owned by
                                // the column and carried on past the values already there.
                                changes.push(Change::plain(format!(
                                    "CREATE SEQUENCE {seq} AS {} OWNED BY {table}.{name}",
                                    new.data_type
                                )));
                                changes.push(Change::plain(format!(
                                    "SELECT setval({}, coalesce(max({name}), 0) + 1, false) FROM {table}",
                                    quote_literal(seq)
                                )));
                            }
                            changes.push(Change::plain(alter(format!("SET DEFAULT {default}"))));
                        }
                        None => {
                            if !(retyped && old.default.is_some()) {
                                changes.push(Change::plain(alter("DROP DEFAULT".into())));
                            }
                            // Unless another column draws from it now (the serial renamed
                            // aside, a new column in its place).
                            if let Some(seq) = old_serial
                                .as_ref()
                                .filter(|s| new_serial.as_ref() != Some(s))
                                .filter(|s| owner_type(to, s) == "none")
                            {
                                changes.push(Change::plain(format!("DROP SEQUENCE {seq}")));
                            }
                        }
                    }
                }
                // ADD IDENTITY wants NOT NULL: after the SET NOT NULL below when it comes too.
                // The identity's new sequence starts at 1: it is carried on past the values the
                // column holds (a serial's, or any), or the next insert collides with them.
                let add_identity: Vec<Change> = match (reidentified, old.identity, new.identity) {
                    (true, None, Some(identity)) => vec![
                        Change::plain(alter(format!("ADD {identity}"))),
                        Change::plain(format!(
                            "SELECT setval(pg_get_serial_sequence({}, {}), max({name})) FROM {table} HAVING max({name}) IS NOT NULL",
                            quote_literal(&table),
                            quote_literal(&unquote(name)),
                        )),
                    ],
                    _ => Vec::new(),
                };
                if old.not_null || !new.not_null {
                    changes.extend(add_identity.iter().cloned());
                }
                match (old.not_null, new.not_null) {
                    (false, true) => {
                        // SET NOT NULL scans the table under an exclusive lock; a validated
                        // check lets the server skip the scan.
                        let check = quote_identifier(&free_constraint_name(
                            from_catalog,
                            &table,
                            &format!("{}_not_null", unquote(name)),
                        ));
                        changes.push(Change::plain(format!(
                            "ALTER TABLE {table} ADD CONSTRAINT {check} CHECK ({name} IS NOT NULL) NOT VALID"
                        )));
                        validations.push(Change::plain(format!(
                            "ALTER TABLE {table} VALIDATE CONSTRAINT {check}"
                        )));
                        validations.push(Change::plain(alter("SET NOT NULL".into())));
                        validations.push(Change::plain(format!(
                            "ALTER TABLE {table} DROP CONSTRAINT {check}"
                        )));
                        validations.extend(add_identity);
                    }
                    (true, false) => changes.push(Change::plain(alter("DROP NOT NULL".into()))),
                    _ => {}
                }
            }
        }
    }
    for own in owned_sequences {
        changes.push(Change::plain(own));
    }
    changes.extend(type_drops);
    // The options of sequences that columns own: changed in place, and set on a new one only
    // where they differ from what its column's creation gives it.
    for d in of(Kind::OwnedSequence).filter(|d| d.to.is_some()) {
        let def = d.to.as_deref().unwrap_or_default();
        if d.from.is_none() && def == serial_sequence_def(owner_type(to, &d.name)) {
            continue;
        }
        changes.push(Change::plain(format!(
            "ALTER SEQUENCE {} {}",
            d.name,
            sequence_options(def)
        )));
    }
    // Keys before the foreign keys that reference them.
    let mut added_constraints: Vec<&Difference> = of(Kind::Constraint)
        .filter(|d| d.to.is_some())
        .chain(&pinned_keys)
        .collect();
    added_constraints.sort_by_key(|d| {
        d.to.as_deref()
            .is_some_and(|def| def.starts_with("FOREIGN KEY"))
    });
    // A foreign key that references the columns of a unique index the plan builds (rather
    // than of a key constraint) waits for the index: the server looks for it when the key is
    // added.
    let new_unique: Vec<(String, String)> = of(Kind::Index)
        .filter_map(|d| d.to.as_deref())
        .filter(|def| def.starts_with("CREATE UNIQUE INDEX ") && !def.contains(" WHERE "))
        .filter_map(|def| {
            let columns = def.split_once(" USING ")?.1.split_once(" (")?.1;
            let columns = columns.strip_suffix(')')?;
            Some((bare_name(index_table(def)).to_string(), column_set(columns)))
        })
        .collect();
    let (mut late_keys, mut late_validations) = (Vec::new(), Vec::new());
    for d in added_constraints {
        let (table, name) = split_last(&d.name);
        let def = d.to.as_deref().unwrap_or_default();
        let waits = def
            .strip_prefix("FOREIGN KEY (")
            .and_then(|r| r.split_once(") REFERENCES "))
            .and_then(|(_, r)| r.split_once('('))
            .and_then(|(referenced, r)| {
                let columns = column_set(r.split(')').next()?);
                // A key constraint over the same columns serves it already.
                let keyed = to.objects().any(|(kind, name, def)| {
                    kind == Kind::Constraint
                        && bare_name(&split_last(name).0) == bare_name(referenced)
                        && ["PRIMARY KEY (", "UNIQUE ("].iter().any(|k| {
                            def.strip_prefix(k)
                                .and_then(|c| c.split(')').next())
                                .is_some_and(|c| column_set(c) == columns)
                        })
                });
                Some(!keyed && new_unique.contains(&(bare_name(referenced).to_string(), columns)))
            })
            .unwrap_or(false);
        let (changes, validations) = if waits {
            (&mut late_keys, &mut late_validations)
        } else {
            (&mut changes, &mut validations)
        };
        let existing = !new_tables.contains(&table.as_str());
        if !existing && inlined_constraint(def) && !partitions.contains(&table.as_str()) {
            continue; // in its CREATE TABLE
        }
        // A partitioned table takes no foreign key NOT VALID (PostgreSQL 15).
        let partitioned = to
            .get(Kind::Table, &table)
            .is_some_and(|t| t.starts_with("partitioned by "));
        // A key that waits for its index comes in a later file, where its table exists.
        let validate_later = (existing || waits)
            && (def.starts_with("CHECK") || (def.starts_with("FOREIGN KEY") && !partitioned))
            && !def.ends_with("NOT VALID");
        if validate_later {
            changes.push(Change::plain(format!(
                "ALTER TABLE {table} ADD CONSTRAINT {name} {def} NOT VALID"
            )));
            validations.push(Change::plain(format!(
                "ALTER TABLE {table} VALIDATE CONSTRAINT {name}"
            )));
        } else if existing
            && ["PRIMARY KEY", "UNIQUE", "EXCLUDE"]
                .iter()
                .any(|k| def.starts_with(k))
        {
            changes.push(Change::hazard(
                format!("ALTER TABLE {table} ADD CONSTRAINT {name} {def}"),
                &[HazardKind::LocksForScan],
                "builds the constraint's index under an ACCESS EXCLUSIVE lock (online: \
                 CREATE UNIQUE INDEX CONCURRENTLY, then ADD CONSTRAINT … USING INDEX)",
            ));
        } else {
            changes.push(Change::plain(format!(
                "ALTER TABLE {table} ADD CONSTRAINT {name} {def}"
            )));
        }
    }
    // Views (and their indexes) after the tables and columns they read: the new ones and the
    // rebuilt ones.
    let created_views = &views_after;
    // Built CONCURRENTLY, each in a file of its own: after the views and triggers, so that a
    // view dropped to change a column comes back in the same transaction.
    let mut concurrent_indexes: Vec<Change> = regenerated_indexes
        .iter()
        .map(|def| {
            if partitioned_index(def) {
                Change::plain(def.replacen(" ON ONLY ", " ON ", 1))
            } else {
                Change::concurrent(concurrently(def))
            }
        })
        .collect();
    for d in of(Kind::Index).filter(|d| d.to.is_some()) {
        let def = d.to.as_deref().unwrap_or_default();
        let def = def.strip_suffix(" (INVALID)").unwrap_or(def);
        let table = index_table(def);
        if created_views.iter().any(|v| v == table) {
            continue; // with its materialized view, below
        }
        if partitioned_index(def) {
            // On a partitioned table, `ON ONLY` would leave the index invalid until each
            // partition's is attached; without it the server builds and attaches them.
            // CONCURRENTLY is refused there.
            changes.push(Change::plain(def.replacen(" ON ONLY ", " ON ", 1)));
        } else if new_tables.contains(&table) {
            changes.push(Change::plain(def.to_string()));
        } else {
            concurrent_indexes.push(Change::concurrent(concurrently(def)));
        }
    }
    let mut typed_created: Vec<&str> = Vec::new();
    let mut views_done: Vec<String> = Vec::new();
    for name in order_by_reference(created_views, to, false) {
        // The routines a view's row type types, once it is there and before the views that
        // call them.
        let typed: Vec<(&str, &str)> = to
            .objects()
            .filter(|(kind, routine, def)| {
                *kind == Kind::Function
                    && after_views(routine, def)
                    && !typed_created.contains(routine)
                    && mentions(function_header(def), &name)
            })
            .map(|(_, routine, def)| (routine, def))
            .collect();
        let def = to.get(Kind::View, &name).unwrap_or_default();
        let body = def.trim_end_matches(';');
        match body.strip_prefix("materialized ") {
            Some(query) => {
                changes.push(Change::plain(format!(
                    "CREATE MATERIALIZED VIEW {name} AS {query}"
                )));
                for (_, _, index) in to
                    .objects()
                    .filter(|(kind, _, def)| *kind == Kind::Index && index_table(def) == name)
                {
                    changes.push(Change::plain(
                        index
                            .strip_suffix(" (INVALID)")
                            .unwrap_or(index)
                            .to_string(),
                    ));
                }
            }
            None => changes.push(Change::plain(format!("CREATE VIEW {name} AS {body}"))),
        }
        // (One that names views not yet created waits for the last of them.)
        views_done.push(name.clone());
        for (routine, def) in typed {
            if created_views
                .iter()
                .filter(|v| mentions(function_header(def), v))
                .all(|v| views_done.contains(v))
            {
                typed_created.push(routine);
                changes.extend(replace_routine(from, routine, def, &typed_dropped));
            }
        }
    }
    for (kind, name, def) in to.objects() {
        if kind == Kind::Function && after_views(name, def) && !typed_created.contains(&name) {
            changes.extend(replace_routine(from, name, def, &typed_dropped));
        }
    }
    for d in of(Kind::Trigger).filter(|d| d.to.is_some()) {
        changes.push(Change::plain(d.to.clone().unwrap_or_default()));
    }
    let pinned_names: Vec<String> = pinned_triggers.iter().map(|(name, _)| name.clone()).collect();
    for (_, def) in pinned_triggers {
        changes.push(Change::plain(def));
    }
    for d in of(Kind::Policy).filter(|d| d.to.is_some()) {
        // Dropped above when it changed: a policy's command cannot be altered.
        let (table, name) = split_last(&d.name);
        changes.push(Change::plain(format!(
            "CREATE POLICY {name} ON {table} {}",
            d.to.as_deref().unwrap_or_default()
        )));
    }
    changes.extend(pinned.creates.iter().cloned());
    // Storage parameters and replica identity, once the tables are there; an identity using
    // an index after the indexes built CONCURRENTLY.
    let mut by_index = Vec::new();
    for d in of(Kind::Storage) {
        if d.to.is_none() && old_tables.contains(&d.name.as_str()) {
            continue; // dropped with its table
        }
        for change in alter_storage(&d.name, d.from.as_deref(), d.to.as_deref()) {
            if change.sql.contains(" REPLICA IDENTITY USING INDEX ") {
                by_index.push(change);
            } else {
                changes.push(change);
            }
        }
    }
    changes.extend(validations);
    changes.extend(concurrent_indexes);
    changes.extend(by_index);
    changes.extend(late_keys);
    changes.extend(late_validations);
    // A sequence a column owned and drew from, when the column stays and draws from it no
    // more (a serial's own sequence is dropped with its default above).
    for d in of(Kind::OwnedSequence).filter(|d| d.to.is_none()) {
        let seq = bare_name(&d.name);
        let drawn_by_staying_column = from.objects().any(|(kind, name, def)| {
            kind == Kind::Column
                && to.get(Kind::Column, name).is_some()
                && column(def)
                    .default
                    .and_then(nextval_sequence)
                    .is_some_and(|s| bare_name(&s) == seq)
        });
        let dropped = changes
            .iter()
            .any(|c| c.sql.starts_with("DROP SEQUENCE ") && bare_name(c.sql.rsplit(' ').next().unwrap_or("")) == seq);
        if drawn_by_staying_column && !dropped {
            changes.push(Change::plain(format!("DROP SEQUENCE IF EXISTS {}", d.name)));
        }
    }
    // Routines that what the plan kept or changed used until now.
    for d in dropped_last {
        let what = routine_kind(d.from.as_deref().unwrap_or_default());
        changes.push(Change::plain(format!("DROP {what} {}", d.name)));
    }
    changes.extend(pinned.unsupported.iter().cloned());
    // What hangs on relations and triggers, once they exist, and on those created again.
    let recreated = attached::Recreated {
        views: &rebuilt,
        triggers: of(Kind::Trigger)
            .filter(|d| d.from.is_some() && d.to.is_some())
            .map(|d| d.name.clone())
            .chain(pinned_names)
            .chain(to.objects().filter(|&(kind, name, _)| kind == Kind::Trigger && rebuilt.iter().any(|v| *v == split_last(name).0)).map(|(_kind, name, _)| name.to_string()))
            .collect(),
    };
    changes.extend(attached::creations(from, to, &differences, &recreated));
    // Comments last, once their objects exist; a removed comment only where its object stays.
    for (name, text) in attached::view_comments(to, &differences, &rebuilt) {
        changes.push(Change::plain(format!(
            "COMMENT ON {name} IS {}",
            quote_literal(&text)
        )));
    }
    for d in of(Kind::Comment) {
        match &d.to {
            Some(text) => changes.push(Change::plain(format!(
                "COMMENT ON {} IS {}",
                d.name,
                quote_literal(text)
            ))),
            None if comment_target_stays(&d.name, to) => {
                changes.push(Change::plain(format!("COMMENT ON {} IS NULL", d.name)));
            }
            None => {}
        }
    }
    privileges(&of(Kind::Privilege).collect::<Vec<_>>(), to, &mut changes);
    changes
}

/// `GRANT`/`REVOKE` last, once every object exists: revoked where a role's privileges changed
/// or went (not on what the plan drops: that takes its grants along), granted where they are
/// new or changed, and granted again on what the plan dropped and re-created (a view over a
/// changed column, a function whose result type changed).
fn privileges(differences: &[&Difference], to: &Catalog, changes: &mut Vec<Change>) {
    // `TABLE public.users TO reader` → ("TABLE", "public.users", "reader").
    fn split(key: &str) -> Option<(&str, &str, &str)> {
        let (what, rest) = key.split_once(' ')?;
        let (object, grantee) = rest.rsplit_once(" TO ")?;
        Some((what, object, grantee))
    }
    // A column's privileges (`COLUMN public.users(email) TO reader`) are granted on its
    // table: ("public.users", Some("email")).
    fn target(object: &str) -> (&str, Option<&str>) {
        match object.strip_suffix(')').and_then(|o| o.split_once('(')) {
            Some((table, column)) => (table, Some(column)),
            None => (object, None),
        }
    }
    let dropped = |object: &str| {
        let (object, column) = target(object);
        changes.iter().any(|c| {
            (c.sql.starts_with("DROP ")
                && (c.sql.ends_with(&format!(" {object}"))
                    || c.sql.contains(&format!(" {object}, "))
                    || c.sql.contains(&format!(", {object},"))
                    || c.sql.ends_with(&format!(", {object}"))))
                || column.is_some_and(|column| {
                    c.sql == format!("ALTER TABLE {object} DROP COLUMN {column}")
                })
        })
    };
    // `SELECT, UPDATE` on a column: `SELECT (email), UPDATE (email)` on its table.
    let on = |what: &str, object: &str, privileges: &[&str]| -> (String, String) {
        match target(object) {
            (table, Some(column)) if what == "COLUMN" => (
                privileges
                    .iter()
                    .map(|p| format!("{p} ({column})"))
                    .collect::<Vec<_>>()
                    .join(", "),
                format!("TABLE {table}"),
            ),
            _ => (privileges.join(", "), format!("{what} {object}")),
        }
    };
    let mut out = Vec::new();
    for d in differences {
        let Some((what, object, grantee)) = split(&d.name) else {
            continue;
        };
        if d.from.is_some() && !dropped(object) {
            let (all, on) = on(what, object, &["ALL"]);
            out.push(Change::plain(format!(
                "REVOKE {all} ON {on} FROM {grantee}"
            )));
        }
    }
    let regranted = to.objects().filter(|(kind, name, _)| {
        *kind == Kind::Privilege
            && !differences.iter().any(|d| d.name == *name)
            && split(name).is_some_and(|(_, object, _)| dropped(object))
    });
    let granted = differences
        .iter()
        .filter_map(|d| Some((d.name.as_str(), d.to.as_deref()?)))
        .chain(regranted.map(|(_, name, def)| (name, def)));
    for (key, def) in granted {
        let Some((what, object, grantee)) = split(key) else {
            continue;
        };
        let (with_option, plain): (Vec<&str>, Vec<&str>) = def
            .split(", ")
            .partition(|p| p.ends_with(" WITH GRANT OPTION"));
        if !plain.is_empty() {
            let (privileges, on) = on(what, object, &plain);
            out.push(Change::plain(format!(
                "GRANT {privileges} ON {on} TO {grantee}"
            )));
        }
        if !with_option.is_empty() {
            let privileges: Vec<&str> = with_option
                .iter()
                .map(|p| p.trim_end_matches(" WITH GRANT OPTION"))
                .collect();
            let (privileges, on) = on(what, object, &privileges);
            out.push(Change::plain(format!(
                "GRANT {privileges} ON {on} TO {grantee} WITH GRANT OPTION"
            )));
        }
    }
    changes.extend(out);
}

/// The attributes of a composite type's definition, `(a integer, b numeric(12,2))`, as
/// (name, type) pairs.
fn attributes(def: &str) -> Vec<(&str, &str)> {
    let inner = def
        .trim()
        .strip_prefix('(')
        .and_then(|d| d.strip_suffix(')'))
        .unwrap_or(def);
    // The name is the first word, quoted or not.
    fn pair(piece: &str) -> Option<(&str, &str)> {
        let piece = piece.trim();
        let split = if let Some(rest) = piece.strip_prefix('"') {
            rest.find('"').map(|i| i + 2)
        } else {
            piece.find(' ')
        }?;
        Some((piece[..split].trim(), piece[split..].trim()))
    }
    let mut out = Vec::new();
    let (mut depth, mut start) = (0i32, 0usize);
    for (i, c) in inner.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                out.extend(pair(&inner[start..i]));
                start = i + 1;
            }
            _ => {}
        }
    }
    out.extend(pair(&inner[start..]));
    out
}

/// `ALTER TYPE … DROP/ADD/ALTER ATTRIBUTE` from one composite definition to another, or `None`
/// when the attributes kept would end up in another order (ADD appends).
fn alter_composite(name: &str, from: &str, to: &str) -> Option<Change> {
    let (old, new) = (attributes(from), attributes(to));
    let kept_order: Vec<&str> = old
        .iter()
        .filter(|(a, _)| new.iter().any(|(b, _)| a == b))
        .map(|(a, _)| *a)
        .chain(
            new.iter()
                .filter(|(b, _)| !old.iter().any(|(a, _)| a == b))
                .map(|(b, _)| *b),
        )
        .collect();
    if kept_order != new.iter().map(|(b, _)| *b).collect::<Vec<_>>() {
        return None;
    }
    let mut actions = Vec::new();
    for (attr, _) in old.iter().filter(|(a, _)| !new.iter().any(|(b, _)| a == b)) {
        actions.push(format!("DROP ATTRIBUTE {attr}"));
    }
    for (attr, ty) in &new {
        match old.iter().find(|(a, _)| a == attr) {
            Some((_, old_ty)) if old_ty != ty => {
                actions.push(format!("ALTER ATTRIBUTE {attr} TYPE {ty}"))
            }
            Some(_) => {}
            None => actions.push(format!("ADD ATTRIBUTE {attr} {ty}")),
        }
    }
    let sql = format!("ALTER TYPE {name} {}", actions.join(", "));
    Some(if actions.iter().any(|a| a.starts_with("DROP ")) {
        Change::hazard(
            sql,
            &[HazardKind::DeletesData],
            "deletes the attribute's data wherever the type is stored",
        )
    } else {
        Change::plain(sql)
    })
}

/// Whether a new table's constraint is written inside its `CREATE TABLE`: all but foreign keys
/// (the table they reference may come later) and what is `NOT VALID` (not allowed there).
fn inlined_constraint(def: &str) -> bool {
    !def.starts_with("FOREIGN KEY") && !def.ends_with("NOT VALID")
}

/// Whether the object a comment (`COLUMN a.b.c`, `TABLE a.b`, …) is on exists in `to`.
fn comment_target_stays(name: &str, to: &Catalog) -> bool {
    let (what, object) = name.split_once(' ').unwrap_or(("", name));
    // `CONSTRAINT c ON s.t` and `TRIGGER g ON s.t` are keyed `s.t.c` and `s.t.g`.
    let on_table = || {
        object
            .split_once(" ON ")
            .map(|(object, table)| format!("{table}.{object}"))
            .unwrap_or_default()
    };
    let found = |kinds: &[Kind], object: &str| kinds.iter().any(|k| to.get(*k, object).is_some());
    match what {
        "COLUMN" => found(&[Kind::Column], object),
        "TABLE" => found(&[Kind::Table], object),
        "VIEW" | "MATERIALIZED" => {
            found(&[Kind::View], object.strip_prefix("VIEW ").unwrap_or(object))
        }
        "FUNCTION" | "PROCEDURE" | "AGGREGATE" => found(&[Kind::Function], object),
        "INDEX" => found(&[Kind::Index], object),
        "SEQUENCE" => found(&[Kind::Sequence, Kind::OwnedSequence], object),
        "SCHEMA" => found(&[Kind::Schema], object),
        "TYPE" => found(&[Kind::Enum, Kind::Domain, Kind::Composite], object),
        "CONSTRAINT" => found(&[Kind::Constraint], &on_table()),
        "TRIGGER" => found(&[Kind::Trigger], &on_table()),
        _ => false,
    }
}

/// The sequence of a `nextval('seq'::regclass)` default, as the name the literal holds
/// (`"Ev'il_id_seq"` of `nextval('"Ev''il_id_seq"'::regclass)`): a name SQL can use as it is.
fn nextval_sequence(default: &str) -> Option<String> {
    let literal = default
        .strip_prefix("nextval('")?
        .strip_suffix("'::regclass)")?;
    Some(literal.replace("''", "'"))
}

/// The routine `name` made as `def` declares it: dropped first when it exists in `from`,
/// was not dropped already (`dropped`), and cannot be replaced in place (an aggregate, or a
/// function whose result type changes).
fn replace_routine(from: &Catalog, name: &str, def: &str, dropped: &[&str]) -> Vec<Change> {
    let mut changes = Vec::new();
    if let Some(old) = from.get(Kind::Function, name)
        && !dropped.contains(&name)
        && collapse(old) != collapse(def)
        && (routine_kind(old) == "AGGREGATE"
            || routine_kind(def) == "AGGREGATE"
            || returns(old) != returns(def))
    {
        changes.push(Change::plain(format!("DROP {} {name}", routine_kind(old))));
    }
    changes.push(Change::plain(def));
    changes
}

/// What `DROP` calls a routine, from its definition: `FUNCTION`, `PROCEDURE` or `AGGREGATE`.
pub(crate) fn routine_kind(def: &str) -> &'static str {
    if def.starts_with("CREATE AGGREGATE") {
        "AGGREGATE"
    } else if def.contains("CREATE OR REPLACE PROCEDURE") {
        "PROCEDURE"
    } else {
        "FUNCTION"
    }
}

/// What a function definition returns (`RETURNS …` up to its line's end).
pub(crate) fn returns(def: &str) -> Option<&str> {
    let start = def.find(" RETURNS ")? + 9;
    let rest = &def[start..];
    Some(rest.split('\n').next().unwrap_or(rest).trim())
}

/// Whitespace collapsed, as the catalog compares definitions.
fn collapse(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Whether PostgreSQL has a cast from type `from` to type `to` as the catalog prints them,
/// told by their families: within numbers, within strings, within dates and times, within
/// json, to or from a string (every type has its text input and output), integer and boolean,
/// inet and cidr. Anything else (an integer into a uuid, say) is converted through text,
/// which parses on an empty table and fails on a row that does not read as the new type.
fn cast_exists(from: &str, to: &str) -> bool {
    fn family(t: &str) -> String {
        if let Some(element) = t.strip_suffix("[]") {
            return format!("{}[]", family(element));
        }
        match t {
            "smallint" | "integer" | "bigint" | "real" | "double precision" | "money" => {
                "number".into()
            }
            t if t.starts_with("numeric") => "number".into(),
            "text" | "name" | "citext" => "string".into(),
            t if t.starts_with("character") => "string".into(),
            "date" => "time".into(),
            t if t.starts_with("interval") => "interval".into(),
            t if t.starts_with("time") => "time".into(),
            "json" | "jsonb" => "json".into(),
            "inet" | "cidr" => "network".into(),
            t if t.starts_with("bit") => "bit".into(),
            t => t.into(),
        }
    }
    let (a, b) = (family(from), family(to));
    a == b
        || a == "string"
        || b == "string"
        || matches!((from, to), ("integer", "boolean") | ("boolean", "integer"))
        || (a == "bit" && matches!(to, "integer" | "bigint"))
        || (b == "bit" && matches!(from, "integer" | "bigint"))
}

/// A constant of type `data_type` for the rows already in a table that gains a `NOT NULL`
/// column without a default: zero, empty, false, the epoch, an enum's first label. `None` for
/// a type with no obvious one (a domain, a range, a composite).
fn placeholder(data_type: &str, to: &Catalog) -> Option<String> {
    let constant = match data_type {
        t if t.ends_with("[]") => "'{}'",
        "smallint" | "integer" | "bigint" | "real" | "double precision" | "money" => "0",
        t if t.starts_with("numeric") => "0",
        "text" | "bytea" | "citext" | "name" => "''",
        t if t.starts_with("character") => "''",
        "boolean" => "false",
        "json" | "jsonb" => "'{}'",
        "uuid" => "'00000000-0000-0000-0000-000000000000'",
        "date" => "'epoch'",
        t if t.starts_with("timestamp") => "'epoch'",
        t if t.starts_with("time") => "'00:00'",
        t if t.starts_with("interval") => "'0'",
        t => {
            let labels = to
                .get(Kind::Enum, t)
                .or_else(|| to.get(Kind::Enum, &format!("public.{t}")))?;
            return labels
                .split(", ")
                .next()
                .filter(|l| !l.is_empty())
                .map(str::to_string);
        }
    };
    Some(constant.to_string())
}

/// A sequence's catalog definition (`type start S increment I min M max X cache C [cycle]`)
/// as the options of `CREATE`/`ALTER SEQUENCE`.
fn sequence_options(def: &str) -> String {
    let words: Vec<&str> = def.split_whitespace().collect();
    let value = |key: &str| {
        words
            .iter()
            .position(|w| *w == key)
            .and_then(|i| words.get(i + 1))
            .copied()
            .unwrap_or("1")
    };
    let cycle = if words.last() == Some(&"cycle") {
        " CYCLE"
    } else {
        " NO CYCLE"
    };
    format!(
        "AS {} START {} INCREMENT {} MINVALUE {} MAXVALUE {} CACHE {}{cycle}",
        words.first().copied().unwrap_or("bigint"),
        value("start"),
        value("increment"),
        value("min"),
        value("max"),
        value("cache")
    )
}

/// The type of the sequence that the plan's creation of its owning column gives (`serial`,
/// `bigserial`, or `CREATE SEQUENCE … AS` the column's type): the type of the column in `to`
/// whose default draws from `sequence` (`none` when no column does).
fn owner_type<'a>(to: &'a Catalog, sequence: &str) -> &'a str {
    let wanted = bare_name(sequence);
    to.objects()
        .filter(|(kind, _, _)| *kind == Kind::Column)
        .map(|(_, _, def)| column(def))
        .find(|c| {
            c.default
                .and_then(nextval_sequence)
                .is_some_and(|s| bare_name(&s) == wanted)
        })
        .map_or("none", |c| c.data_type)
}

/// The definition a sequence has when a column of `data_type` creates it (`serial`,
/// `bigserial`, `smallserial`; a sequence of another type is bigint): from 1 up to the type's
/// maximum, by 1, cache 1.
fn serial_sequence_def(data_type: &str) -> String {
    let (data_type, max) = match data_type {
        "smallint" => ("smallint", "32767"),
        "integer" => ("integer", "2147483647"),
        _ => ("bigint", "9223372036854775807"),
    };
    format!("{data_type} start 1 increment 1 min 1 max {max} cache 1")
}

/// `CREATE [UNIQUE] INDEX …` as `CREATE [UNIQUE] INDEX CONCURRENTLY …`.
fn concurrently(def: &str) -> String {
    def.replacen(
        "CREATE UNIQUE INDEX ",
        "CREATE UNIQUE INDEX CONCURRENTLY ",
        1,
    )
    .replacen("CREATE INDEX ", "CREATE INDEX CONCURRENTLY ", 1)
}

/// A column whose generation expression is new or changed, dropped and added again, then the
/// constraints of `to` on it that the plan does not add anyway (the drop took them along);
/// and, apart, the indexes on it to build again.
fn regenerate(
    table: &str,
    name: &str,
    had_values: bool,
    to_def: &str,
    differences: &[Difference],
    to: &Catalog,
) -> (Vec<Change>, Vec<String>) {
    let drop = format!("ALTER TABLE {table} DROP COLUMN {name}");
    let mut changes = vec![Change::hazard(
        drop,
        &[HazardKind::RewritesTable, HazardKind::DeletesData],
        if had_values {
            "replaces the column's values by the expression's; rewrites the table"
        } else {
            "computes the column again: rewrites the table under an ACCESS EXCLUSIVE lock"
        },
    )];
    changes.push(Change::plain(format!(
        "ALTER TABLE {table} ADD COLUMN {}",
        declaration(table, name, to_def)
    )));
    let mut indexes = Vec::new();
    let planned = |kind: Kind, object: &str| {
        differences
            .iter()
            .any(|d| d.kind == kind && d.name == object && d.to.is_some())
    };
    for (kind, object, def) in to.objects() {
        let on_table = match kind {
            Kind::Index => index_table(def) == table,
            Kind::Constraint => split_last(object).0 == table,
            _ => false,
        };
        // An index's columns and predicate, after its name and table.
        let body = match kind {
            Kind::Index => def.split_once(" USING ").map_or(def, |(_, b)| b),
            _ => def,
        };
        if !on_table || !mentions(body, name) || planned(kind, object) {
            continue;
        }
        match kind {
            Kind::Index => indexes.push(def.to_string()),
            _ => changes.push(Change::plain(format!(
                "ALTER TABLE {table} ADD CONSTRAINT {} {def}",
                split_last(object).1
            ))),
        }
    }
    (changes, indexes)
}

/// Whether a column difference on a partition is the same as its parent's: the parent's
/// `ALTER TABLE` (add, drop, retype, default, NOT NULL) reaches its partitions by itself.
fn from_parent(d: &Difference, differences: &[Difference], from: &Catalog, to: &Catalog) -> bool {
    let (table, column_name) = split_last(&d.name);
    let parent = [to, from].iter().find_map(|c| {
        let def = c.get(Kind::Table, &table)?;
        let rest = &def[def.find(" partition of ")? + 14..];
        let parent = rest.split(' ').next()?;
        // The server names the parent unqualified when it is on the search path.
        Some(if parts(parent).len() == 1 {
            format!("public.{parent}")
        } else {
            parent.to_string()
        })
    });
    let Some(parent) = parent else {
        return false;
    };
    let key = format!("{parent}.{column_name}");
    differences
        .iter()
        .any(|p| p.kind == Kind::Column && p.name == key && p.from == d.from && p.to == d.to)
}

/// Whether an index definition is a partitioned table's (`… ON ONLY table …`).
fn partitioned_index(def: &str) -> bool {
    def.contains(" ON ONLY ")
}

/// A new partition's columns where they are not what `PARTITION OF` gives them (the parent's
/// default and nullability): a partition made `LIKE` its parent and attached has no defaults.
fn partition_columns(to: &Catalog, partition: &str, def: &str) -> Vec<Change> {
    let Some(i) = def.find(" partition of ") else {
        return Vec::new();
    };
    let parent = def[i + 14..].split(' ').next().unwrap_or("");
    let parent = if to.get(Kind::Table, parent).is_some() {
        parent.to_string()
    } else {
        format!("public.{parent}")
    };
    let mut changes = Vec::new();
    for (_, name, column_def) in to
        .objects()
        .filter(|(kind, name, _)| *kind == Kind::Column && split_last(name).0 == partition)
    {
        let column_name = split_last(name).1;
        let Some(inherited) = to.get(Kind::Column, &format!("{parent}.{column_name}")) else {
            continue;
        };
        let (own, inherited) = (column(column_def), column(inherited));
        let alter = |what: String| {
            Change::plain(format!("ALTER TABLE {partition} ALTER COLUMN {column_name} {what}"))
        };
        if own.default != inherited.default && own.generated.is_none() {
            changes.push(alter(match own.default {
                Some(default) => format!("SET DEFAULT {default}"),
                None => "DROP DEFAULT".into(),
            }));
        }
        if own.not_null && !inherited.not_null {
            changes.push(alter("SET NOT NULL".into()));
        }
    }
    changes
}

/// The table (or materialized view) an index definition is on.
fn index_table(def: &str) -> &str {
    let rest = def.split(" ON ").nth(1).unwrap_or("");
    let rest = rest.strip_prefix("ONLY ").unwrap_or(rest);
    rest.split_whitespace().next().unwrap_or("")
}

/// The last part of a qualified name, without its quotes: `users` of `public."users"`, for
/// finding it in deparsed text.
fn bare_name(name: &str) -> &str {
    parts(name)
        .last()
        .map(|n| n.trim_matches('"'))
        .unwrap_or("")
}

/// `wanted`, or `wanted` with a number after it, whichever names no constraint of `table` in
/// `catalog`: a constraint the plan adds for a while must not clash with one the user made.
fn free_constraint_name(catalog: &Catalog, table: &str, wanted: &str) -> String {
    let taken = |candidate: &str| {
        catalog.objects().any(|(kind, name, _)| {
            kind == Kind::Constraint && {
                let (on, constraint) = split_last(name);
                on == table && unquote(constraint) == candidate
            }
        })
    };
    let mut candidate = wanted.to_string();
    let mut n = 1;
    while taken(&candidate) {
        candidate = format!("{wanted}{n}");
        n += 1;
    }
    candidate
}

/// Whether `text` mentions the relation `name` (its bare name, as a whole word).
fn mentions(text: &str, name: &str) -> bool {
    let bare = bare_name(name);
    if bare.is_empty() {
        return false;
    }
    let word = |c: char| c.is_alphanumeric() || c == '_';
    text.match_indices(bare).any(|(i, _)| {
        let before = text[..i].chars().next_back();
        let after = text[i + bare.len()..].chars().next();
        !before.is_some_and(word) && !after.is_some_and(word)
    })
}

/// Whether the foreign key `name` (`schema.table.key`, defined by `def`) has a column among
/// `retyped` (table, column), on its own table or on the one it references.
fn foreign_key_retyped(name: &str, def: &str, retyped: &[(String, &str)]) -> bool {
    let table = split_last(name).0;
    // `FOREIGN KEY (a, b) REFERENCES other(x, y) …`
    let Some(rest) = def.strip_prefix("FOREIGN KEY (") else {
        return false;
    };
    let Some((columns, rest)) = rest.split_once(") REFERENCES ") else {
        return false;
    };
    let Some((referenced, rest)) = rest.split_once('(') else {
        return false;
    };
    let referenced_columns = rest.split(')').next().unwrap_or_default();
    retyped.iter().any(|(t, c)| {
        (*t == table && mentions(columns, c))
            || (bare_name(t) == bare_name(referenced) && mentions(referenced_columns, c))
    })
}

/// The views of `from` to drop and create again: the changed and removed ones, those that
/// read a table whose columns are dropped, renamed or retyped, and, transitively, the views
/// that read any of them.
fn views_to_rebuild(
    from: &Catalog,
    to: &Catalog,
    differences: &[Difference],
    pinned: &[String],
) -> Vec<String> {
    let touched_columns: Vec<&str> = differences
        .iter()
        .filter(|d| d.kind == Kind::Column && d.from.is_some())
        .filter(|d| match (&d.from, &d.to) {
            (Some(a), Some(b)) => {
                let (a, b) = (column(a), column(b));
                a.data_type != b.data_type || (b.generated.is_some() && a.generated != b.generated)
            }
            _ => true,
        })
        .map(|d| d.name.as_str())
        .collect();
    let dropped_tables: Vec<String> = differences
        .iter()
        .filter(|d| d.kind == Kind::Table && d.to.is_none())
        .map(|d| d.name.clone())
        .collect();
    let enum_tables = enum_rebuilt_tables(from, differences);
    let touched_tables: Vec<String> = touched_columns
        .iter()
        .map(|c| split_last(c).0)
        .chain(dropped_tables.iter().cloned())
        .chain(enum_tables.iter().cloned())
        .collect();
    // Which view reads what: the server's record of it when the catalog has one (a view that
    // reads other columns of a changed table is left alone), else the names in its text.
    let reads_touched = |view: &str, def: &str| {
        if !from.has_dependencies() {
            return touched_tables.iter().any(|t| mentions(def, t));
        }
        from.objects().any(|(kind, name, _)| {
            let touched = match kind {
                Kind::Column => {
                    touched_columns.contains(&name)
                        || dropped_tables.contains(&split_last(name).0)
                }
                Kind::Table => dropped_tables.iter().any(|t| t == name),
                _ => false,
            };
            touched
                && from
                    .dependents(kind, name)
                    .any(|(k, n)| k == Kind::View && n == view)
        }) || enum_tables.iter().any(|t| mentions(def, t))
    };
    let views: Vec<(&str, &str)> = from
        .objects()
        .filter(|(kind, _, _)| *kind == Kind::View)
        .map(|(_, name, def)| (name, def))
        .collect();
    let mut rebuilt: Vec<String> = views
        .iter()
        .filter(|(name, def)| {
            to.get(Kind::View, name).map(collapse) != Some(collapse(def))
                || reads_touched(name, def)
        })
        .map(|(name, _)| name.to_string())
        .chain(pinned.iter().cloned())
        .collect();
    rebuilt.sort();
    rebuilt.dedup();
    loop {
        let more: Vec<String> = views
            .iter()
            .filter(|(name, def)| {
                !rebuilt.iter().any(|r| r == name)
                    && rebuilt.iter().any(|r| {
                        mentions(def, r)
                            || from
                                .dependents(Kind::View, r)
                                .any(|(k, n)| k == Kind::View && n == *name)
                    })
            })
            .map(|(name, _)| name.to_string())
            .collect();
        if more.is_empty() {
            break;
        }
        rebuilt.extend(more);
    }
    rebuilt.sort();
    rebuilt
}

/// Whether an enum going from labels `from` to `to` (as the catalog lists them) is rebuilt
/// rather than extended: a label removed, or the old ones in another order.
fn enum_rebuilt(from: &str, to: &str) -> bool {
    let old: Vec<&str> = from.split(", ").collect();
    let new: Vec<&str> = to.split(", ").collect();
    let kept: Vec<&str> = new.iter().copied().filter(|l| old.contains(l)).collect();
    kept != old
}

/// The tables with a column of an enum that is rebuilt: their columns change type (to the new
/// enum), so the views over them are rebuilt too.
fn enum_rebuilt_tables(from: &Catalog, differences: &[Difference]) -> Vec<String> {
    let rebuilt: Vec<&str> = differences
        .iter()
        .filter(|d| d.kind == Kind::Enum)
        .filter(|d| match (&d.from, &d.to) {
            (Some(a), Some(b)) => enum_rebuilt(a, b),
            _ => false,
        })
        .map(|d| d.name.as_str())
        .collect();
    if rebuilt.is_empty() {
        return Vec::new();
    }
    from.objects()
        .filter(|(kind, _, def)| {
            *kind == Kind::Column
                && rebuilt.iter().any(|e| {
                    let t = column(def).data_type;
                    t == *e || Some(t) == parts(e).last().copied()
                })
        })
        .map(|(_, name, _)| split_last(name).0)
        .collect()
}

/// A function's definition up to a body in a string (`AS $function$…`), which the server reads
/// at each call: its name, arguments, result and attributes. A `BEGIN ATOMIC` body is parsed
/// at creation and depends on what it names, so it stays.
fn function_header(def: &str) -> &str {
    def.find("\nAS ").map_or(def, |i| &def[..i])
}

/// `views` ordered so that a view comes after the views it reads (`dependents_first`: before).
fn order_by_reference(views: &[String], catalog: &Catalog, dependents_first: bool) -> Vec<String> {
    let mut left: Vec<String> = views.to_vec();
    let mut ordered = Vec::with_capacity(left.len());
    while !left.is_empty() {
        let def_of = |name: &str| catalog.get(Kind::View, name).unwrap_or_default();
        // Ready: reads none of the others still left (for creation), or is read by none of
        // them (for dropping).
        let ready: Vec<String> = left
            .iter()
            .filter(|v| {
                left.iter().filter(|o| o != v).all(|o| {
                    if dependents_first {
                        !mentions(def_of(o), v)
                    } else {
                        !mentions(def_of(v), o)
                    }
                })
            })
            .cloned()
            .collect();
        // A cycle of mentions (a name inside a string, say): take the rest in name order.
        let ready = if ready.is_empty() {
            left.clone()
        } else {
            ready
        };
        left.retain(|v| !ready.contains(v));
        ordered.extend(ready);
    }
    ordered
}

pub(crate) fn unsupported(d: &Difference, what: &str) -> Change {
    Change::hazard(
        format!(
            "-- unsupported: {what}: {} {} (write this change by hand)",
            d.kind.as_str(),
            d.name
        ),
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
/// and the validation of constraints added `NOT VALID` starts a new one.
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
        match files.last_mut() {
            Some(last)
                if !alone
                    && !last.iter().any(|c| c.no_transaction)
                    && !validates_after_not_valid(last) =>
            {
                last.push(change)
            }
            _ => files.push(vec![change]),
        }
    }
    files
}

/// The tables of `dropped` in an order each can be dropped in: one a foreign key of another
/// dropped table references comes after that table, a partitioned table after its partitions.
/// Tables whose keys go round in a cycle are dropped together, in one statement.
fn drop_order(from: &Catalog, dropped: &[&str]) -> Vec<Vec<String>> {
    let same = |referenced: &str, table: &str| {
        referenced == table || table.strip_prefix("public.") == Some(referenced)
    };
    // (referencing, referenced) among the dropped tables.
    let mut edges: Vec<(&str, &str)> = Vec::new();
    for (kind, name, def) in from.objects() {
        // A partition goes before its parent, whose DROP would take it along.
        if let (Kind::Table, Some((_, rest))) = (kind, def.split_once(" partition of ")) {
            let parent = rest.split(' ').next().unwrap_or("");
            if let (Some(child), Some(parent)) = (
                dropped.iter().find(|t| **t == name),
                dropped.iter().find(|t| same(parent, t)),
            ) {
                edges.push((child, parent));
            }
            continue;
        }
        if kind != Kind::Constraint || !def.starts_with("FOREIGN KEY") {
            continue;
        }
        let table = split_last(name).0;
        let Some(referencing) = dropped.iter().find(|t| **t == table) else {
            continue;
        };
        let referenced = def
            .split_once(" REFERENCES ")
            .map(|(_, rest)| rest.split('(').next().unwrap_or("").trim())
            .unwrap_or("");
        if let Some(target) = dropped
            .iter()
            .find(|t| same(referenced, t) && *t != referencing)
        {
            edges.push((referencing, target));
        }
    }
    let mut left: Vec<&str> = dropped.to_vec();
    let mut order = Vec::new();
    while !left.is_empty() {
        // One no other remaining table references.
        let free = left.iter().position(|t| {
            !edges
                .iter()
                .any(|(from, to)| to == t && left.contains(from))
        });
        match free {
            Some(i) => order.push(vec![left.remove(i).to_string()]),
            None => {
                order.push(left.iter().map(|t| t.to_string()).collect());
                left.clear();
            }
        }
    }
    order
}

/// `ALTER TABLE … SET (…)`/`RESET (…)` and `REPLICA IDENTITY` from one storage definition
/// (`with (fillfactor=70); replica identity full`) to another; `None` is the default of both.
fn alter_storage(table: &str, from: Option<&str>, to: Option<&str>) -> Vec<Change> {
    let parse = |def: Option<&str>| {
        let mut options: Vec<(String, String)> = Vec::new();
        let mut replica = "DEFAULT".to_string();
        for part in def.unwrap_or("").split("; ").filter(|p| !p.is_empty()) {
            if let Some(list) = part
                .strip_prefix("with (")
                .and_then(|l| l.strip_suffix(')'))
            {
                for option in list.split(", ") {
                    let (key, value) = option.split_once('=').unwrap_or((option, ""));
                    options.push((key.to_string(), value.to_string()));
                }
            } else if let Some(identity) = part.strip_prefix("replica identity ") {
                replica = match identity.strip_prefix("using index ") {
                    Some(index) => format!("USING INDEX {index}"),
                    None => identity.to_uppercase(),
                };
            }
        }
        (options, replica)
    };
    let ((old, old_replica), (new, new_replica)) = (parse(from), parse(to));
    let mut changes = Vec::new();
    let reset: Vec<&str> = old
        .iter()
        .filter(|(key, _)| !new.iter().any(|(k, _)| k == key))
        .map(|(key, _)| key.as_str())
        .collect();
    if !reset.is_empty() {
        changes.push(Change::plain(format!(
            "ALTER TABLE {table} RESET ({})",
            reset.join(", ")
        )));
    }
    let set: Vec<String> = new
        .iter()
        .filter(|option| !old.contains(option))
        .map(|(key, value)| format!("{key} = {value}"))
        .collect();
    if !set.is_empty() {
        changes.push(Change::plain(format!(
            "ALTER TABLE {table} SET ({})",
            set.join(", ")
        )));
    }
    if old_replica != new_replica {
        changes.push(Change::plain(format!(
            "ALTER TABLE {table} REPLICA IDENTITY {new_replica}"
        )));
    }
    changes
}

/// A domain's definition as the catalog writes it, taken apart: base type, NOT NULL, default,
/// and its named constraints (`name CHECK (…)`).
fn domain(def: &str) -> (&str, bool, Option<&str>, Vec<(&str, &str)>) {
    let (head, constraints) = match def.find(" CONSTRAINT ") {
        Some(i) => (&def[..i], &def[i + 12..]),
        None => (def, ""),
    };
    let constraints = constraints
        .split(" CONSTRAINT ")
        .filter(|c| !c.is_empty())
        .map(|c| c.split_once(' ').unwrap_or((c, "")))
        .collect();
    let (head, default) = match head.find(" DEFAULT ") {
        Some(i) => (&head[..i], Some(&head[i + 9..])),
        None => (head, None),
    };
    match head.strip_suffix(" NOT NULL") {
        Some(base) => (base, true, default, constraints),
        None => (head, false, default, constraints),
    }
}

/// The steps from one definition of domain `name` to another, or `None` when its base type
/// changed. New checks are added `NOT VALID` and validated with the other validations, so
/// that the columns of the domain are scanned without blocking writes.
fn alter_domain(
    name: &str,
    from: &str,
    to: &str,
    validations: &mut Vec<Change>,
) -> Option<Vec<Change>> {
    let (old, new) = (domain(from), domain(to));
    if old.0 != new.0 {
        return None;
    }
    let mut changes = Vec::new();
    for (constraint, check) in &old.3 {
        if !new.3.contains(&(constraint, check)) {
            changes.push(Change::plain(format!(
                "ALTER DOMAIN {name} DROP CONSTRAINT {constraint}"
            )));
        }
    }
    if old.2 != new.2 {
        changes.push(Change::plain(match new.2 {
            Some(default) => format!("ALTER DOMAIN {name} SET DEFAULT {default}"),
            None => format!("ALTER DOMAIN {name} DROP DEFAULT"),
        }));
    }
    match (old.1, new.1) {
        (false, true) => changes.push(Change::plain(format!("ALTER DOMAIN {name} SET NOT NULL"))),
        (true, false) => changes.push(Change::plain(format!("ALTER DOMAIN {name} DROP NOT NULL"))),
        _ => {}
    }
    for (constraint, check) in &new.3 {
        if !old.3.contains(&(constraint, check)) {
            let check = check.strip_suffix(" NOT VALID").unwrap_or(check);
            changes.push(Change::plain(format!(
                "ALTER DOMAIN {name} ADD CONSTRAINT {constraint} {check} NOT VALID"
            )));
            validations.push(Change::plain(format!(
                "ALTER DOMAIN {name} VALIDATE CONSTRAINT {constraint}"
            )));
        }
    }
    Some(changes)
}

/// Labels removed or reordered: the enum is renamed aside, created anew, each column of it
/// converted through text (its default dropped and set again), and the old one dropped. Only
/// when nothing else names the type (a view, a function, a constraint, an index expression, a
/// domain, an array column), which would keep the old type alive or fail the conversion:
/// `None` then.
fn rebuild_enum(
    from: &Catalog,
    to: &Catalog,
    name: &str,
    labels: &str,
    removed: &[&str],
    rebuilt_views: &[String],
) -> Option<Vec<Change>> {
    let hazard = (!removed.is_empty()).then(|| {
        format!(
            "fails if a row holds a removed label ({}); rewrites the table",
            removed.join(", ")
        )
    });
    rebuild_type(
        from,
        to,
        name,
        &format!("CREATE TYPE {name} AS ENUM ({labels})"),
        hazard,
        rebuilt_views,
    )
}

/// A type that cannot change in place while columns hold it (an enum losing labels, a
/// composite type whose attributes change): renamed aside, created anew by `create`, each
/// column of it (or of an array of it) converted through text, its default dropped and set
/// again, and the old type dropped. `hazard` marks each conversion. `None` when something else
/// names the type and stays (see [`rebuild_enum`]).
fn rebuild_type(
    from: &Catalog,
    to: &Catalog,
    name: &str,
    create: &str,
    hazard: Option<String>,
    rebuilt_views: &[String],
) -> Option<Vec<Change>> {
    let p = parts(name);
    let bare = *p.last()?;
    let is_type = |t: &str| {
        let t = t.strip_suffix("[]").unwrap_or(t);
        t == name || t == bare
    };
    let mut columns = Vec::new();
    for (kind, object, def) in from.objects() {
        // In deparsed expressions an enum's labels are casts: `'done'::status`.
        let cast = def.contains(&format!("::{bare}")) || def.contains(&format!("::{name}"));
        // What the plan drops before the types change (and creates again after, from `to`)
        // holds on to nothing.
        let dropped_before = match kind {
            Kind::View => rebuilt_views.iter().any(|v| v == object),
            Kind::Function | Kind::Index | Kind::Constraint | Kind::Policy | Kind::Trigger => {
                to.get(kind, object).map(collapse) != Some(collapse(def))
                    && (kind != Kind::Function || to.get(kind, object).is_none())
            }
            _ => false,
        };
        if dropped_before {
            continue;
        }
        let uses = match kind {
            Kind::Enum | Kind::Composite if object == name => false,
            Kind::Column if is_type(column(def).data_type) => {
                columns.push(object.to_string());
                false
            }
            // A column (or an index, a view) of the same name as the type is no use of it.
            Kind::Column => cast || mentions(column(def).data_type, name),
            Kind::Index | Kind::Constraint | Kind::View | Kind::Policy | Kind::Trigger => cast,
            Kind::Comment | Kind::Privilege => {
                object.ends_with(&format!(" {name}")) || object.contains(&format!(" {name} "))
            }
            // A function depends on the types of its signature; its body is read at each call.
            Kind::Function => mentions(function_header(def), name),
            _ => mentions(def, name),
        };
        if uses {
            return None;
        }
    }
    let aside = quote_identifier(&format!("{}__pgm_old", unquote(bare)));
    let schema = p[..p.len() - 1].join(".");
    let aside_name = if schema.is_empty() {
        aside.clone()
    } else {
        format!("{schema}.{aside}")
    };
    let mut changes = vec![
        Change::plain(format!("ALTER TYPE {name} RENAME TO {aside}")),
        Change::plain(create.to_string()),
    ];
    for object in columns {
        let (table, column_name) = split_last(&object);
        let alter = |what: String| format!("ALTER TABLE {table} ALTER COLUMN {column_name} {what}");
        let old_default = from
            .get(Kind::Column, &object)
            .and_then(|def| column(def).default);
        let new_default = to
            .get(Kind::Column, &object)
            .map_or(old_default, |def| column(def).default);
        if old_default.is_some() {
            changes.push(Change::plain(alter("DROP DEFAULT".into())));
        }
        let array = from
            .get(Kind::Column, &object)
            .is_some_and(|def| column(def).data_type.ends_with("[]"));
        let new_type = if array {
            format!("{name}[]")
        } else {
            name.to_string()
        };
        let convert = alter(format!(
            "TYPE {new_type} USING {column_name}::text::{new_type}"
        ));
        match &hazard {
            None => changes.push(Change::plain(convert)),
            Some(hazard) => changes.push(Change::hazard(
                convert,
                &[HazardKind::RewritesTable, HazardKind::DeletesData],
                hazard.clone(),
            )),
        }
        if let Some(default) = new_default {
            changes.push(Change::plain(alter(format!("SET DEFAULT {default}"))));
        }
    }
    changes.push(Change::plain(format!("DROP TYPE {aside_name}")));
    Some(changes)
}

/// The squawk rules a generated file may trip on purpose, each with the reason written beside
/// it in the file's `-- lint: allow` line: what `--allow-data-loss` allowed, and steps that are
/// safe as generated (a view dropped and re-created in one transaction) or that `schema/`
/// declares (a view or constraint removed, a column's type changed).
fn lint_allowances(changes: &[Change]) -> Vec<(&'static str, String)> {
    let hazard_has = |what: &str| {
        changes
            .iter()
            .any(|c| c.hazard.is_some() && c.sql.contains(what))
    };
    let mut allowed = Vec::new();
    if hazard_has(" DROP COLUMN ") {
        allowed.push((
            "ban-drop-column",
            "deletes data, as the hazard below says".to_string(),
        ));
    }
    if hazard_has("DROP TABLE ") {
        allowed.push((
            "ban-drop-table",
            "deletes data, as the hazard below says".to_string(),
        ));
    }
    let retypes = changes.iter().any(|c| {
        (c.sql.contains(" ALTER COLUMN ") || c.sql.contains(" ALTER ATTRIBUTE "))
            && c.sql.contains(" TYPE ")
    });
    if retypes {
        let why = if hazard_has(" TYPE ") {
            "deletes data, as the hazard below says"
        } else {
            "schema/ changes the type; a table is rewritten under an ACCESS EXCLUSIVE lock"
        };
        allowed.push(("changing-column-type", why.to_string()));
    }
    let dropped_views: Vec<&str> = changes
        .iter()
        .filter_map(|c| {
            c.sql
                .strip_prefix("DROP VIEW ")
                .or_else(|| c.sql.strip_prefix("DROP MATERIALIZED VIEW "))
        })
        .collect();
    if !dropped_views.is_empty() {
        let recreated = dropped_views.iter().all(|v| {
            changes.iter().any(|c| {
                c.sql.starts_with(&format!("CREATE VIEW {v} "))
                    || c.sql.starts_with(&format!("CREATE MATERIALIZED VIEW {v} "))
            })
        });
        let why = if recreated {
            "re-created below, in the same transaction"
        } else {
            "schema/ no longer declares it; a view holds no data"
        };
        allowed.push(("ban-drop-view", why.to_string()));
    }
    let dropped_constraints: Vec<&str> = changes
        .iter()
        .filter_map(|c| c.sql.split_once(" DROP CONSTRAINT ").map(|(_, name)| name))
        .collect();
    if !dropped_constraints.is_empty() {
        let helpers = dropped_constraints.iter().all(|name| {
            changes
                .iter()
                .any(|c| c.sql.ends_with(&format!(" VALIDATE CONSTRAINT {name}")))
                && unquote(name).contains("_not_null")
        });
        let why = if helpers {
            "the validated check only spared SET NOT NULL its scan"
        } else {
            "schema/ drops or changes it"
        };
        allowed.push(("ban-drop-constraint", why.to_string()));
    }
    let dropped_defaults: Vec<&str> = changes
        .iter()
        .filter_map(|c| c.sql.strip_suffix(" DROP DEFAULT"))
        .collect();
    if !dropped_defaults.is_empty() {
        let restored = dropped_defaults.iter().all(|column| {
            changes
                .iter()
                .any(|c| c.sql.starts_with(&format!("{column} SET DEFAULT ")))
        });
        let why = if restored {
            "set again below, after the type change"
        } else {
            "schema/ declares the column without a default"
        };
        allowed.push(("ban-drop-default", why.to_string()));
    }
    if changes.iter().any(|c| c.sql.starts_with("DROP SEQUENCE ")) {
        allowed.push((
            "ban-drop-sequence",
            "schema/ no longer declares it (a serial column became an identity)".to_string(),
        ));
    }
    let identity = |c: &Change| {
        c.sql.contains(" ALTER COLUMN ")
            && [" ADD GENERATED ", " SET GENERATED ", " DROP IDENTITY"]
                .iter()
                .any(|what| c.sql.contains(what))
    };
    if changes.iter().any(identity) {
        allowed.push((
            "ban-alter-identity",
            "schema/ declares the column's identity".to_string(),
        ));
    }
    if changes
        .iter()
        .any(|c| c.sql.starts_with("ALTER DOMAIN ") && c.sql.contains(" ADD CONSTRAINT "))
    {
        allowed.push((
            "ban-alter-domain-with-add-constraint",
            "schema/ declares the check; added NOT VALID, validated in a file of its own"
                .to_string(),
        ));
    }
    if changes
        .iter()
        .any(|c| c.sql.starts_with("CREATE DOMAIN ") && c.sql.contains(" CHECK "))
    {
        allowed.push((
            "ban-create-domain-with-constraint",
            "schema/ declares the domain with its check".to_string(),
        ));
    }
    if changes
        .iter()
        .any(|c| c.sql.contains(" ADD COLUMN ") && c.sql.contains(") STORED"))
    {
        allowed.push((
            "adding-field-with-default",
            "schema/ declares a stored generated column, which PostgreSQL computes for every \
             row: the table is rewritten under an ACCESS EXCLUSIVE lock"
                .to_string(),
        ));
    }
    if changes.iter().any(|c| c.sql.ends_with(" DROP EXPRESSION")) {
        allowed.push((
            "ban-drop-generated-expression",
            "schema/ declares a plain column; its values stay".to_string(),
        ));
    }
    allowed
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
    for (rule, why) in lint_allowances(&changes) {
        text.push_str(&format!("-- lint: allow {rule} -- {why}\n"));
    }
    text.push_str(&render_changes(&changes));
    (text, no_transaction)
}

#[cfg(test)]
mod tests {
    #[test]
    fn serial_sequences_are_named_as_the_server_names_them() {
        assert_eq!(super::object_name("users", "id", "seq"), "users_id_seq");
        // Past 63 bytes, the longer name is cut first, a character at a time.
        assert_eq!(
            super::object_name(
                "scheduler_dependency_tracker_fri",
                "circuit_10_final_prover_job_id",
                "seq"
            ),
            "scheduler_dependency_tracker__circuit_10_final_prover_job_i_seq"
        );
    }

    use super::*;

    #[test]
    fn composite_types_are_altered_in_place() {
        assert_eq!(
            alter_composite(
                "public.money",
                "(amount numeric(12,2), currency text, \"Old\" integer)",
                "(amount numeric(14,2), currency text, rate double precision)"
            )
            .map(|c| (c.sql, c.hazard.is_some())),
            Some((
                "ALTER TYPE public.money DROP ATTRIBUTE \"Old\", ALTER ATTRIBUTE amount TYPE numeric(14,2), ADD ATTRIBUTE rate double precision".into(),
                true
            ))
        );
        // ADD appends: a new attribute in the middle cannot be generated.
        assert!(
            alter_composite(
                "public.t",
                "(a integer, b text)",
                "(a integer, c text, b text)"
            )
            .is_none()
        );
    }

    #[test]
    fn column_definitions_come_apart() {
        assert_eq!(
            column("character varying(50) NOT NULL DEFAULT 'Bearer'::character varying"),
            Column {
                data_type: "character varying(50)",
                not_null: true,
                default: Some("'Bearer'::character varying"),
                ..Column::default()
            }
        );
        assert_eq!(
            declaration(
                "public.api_tokens",
                "id",
                "bigint NOT NULL DEFAULT nextval('api_tokens_id_seq'::regclass)"
            ),
            "id bigserial"
        );
        assert_eq!(
            declaration(
                "public.t",
                "id",
                "integer NOT NULL GENERATED ALWAYS AS IDENTITY"
            ),
            "id integer GENERATED ALWAYS AS IDENTITY NOT NULL"
        );
        // BY DEFAULT is no default.
        assert_eq!(
            declaration(
                "public.t",
                "id",
                "bigint NOT NULL GENERATED BY DEFAULT AS IDENTITY"
            ),
            "id bigint GENERATED BY DEFAULT AS IDENTITY NOT NULL"
        );
        assert_eq!(parts("public.\"a.b\".c"), ["public", "\"a.b\"", "c"]);
        assert!(!narrowing(
            "character varying(50)",
            "character varying(100)"
        ));
        assert!(!narrowing("character varying(50)", "text"));
        assert!(narrowing("text", "character varying(10)"));
        assert!(narrowing("bigint", "integer"));
    }
}

/// A rename declared in a schema file: `-- renamed from: old_name` above (or at the end of)
/// a `CREATE TABLE` line renames the table; on a column's line, or the line above it, the
/// column. Without it a renamed object is planned as dropped and created, which loses data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Rename {
    /// `ALTER TABLE from RENAME TO to`; both qualified as the catalog writes them.
    Table {
        /// The old name.
        from: String,
        /// The new name.
        to: String,
    },
    /// `ALTER TABLE table RENAME COLUMN from TO to`.
    Column {
        /// The table (qualified, new name).
        table: String,
        /// The old column name.
        from: String,
        /// The new column name.
        to: String,
    },
}

const RENAMED_FROM: &str = "-- renamed from:";

/// The renames declared in `sql` (one schema file).
pub fn declared_renames(sql: &str) -> Vec<Rename> {
    let qualify = |name: &str| {
        let name = name.trim().trim_end_matches(['(', ';']).trim();
        if name.contains('.') {
            name.to_string()
        } else {
            format!("public.{name}")
        }
    };
    let mut renames = Vec::new();
    let mut pending: Option<String> = None;
    let mut table: Option<String> = None;
    for line in sql.lines() {
        let (code, annotation) = match line.find(RENAMED_FROM) {
            Some(i) => (
                &line[..i],
                Some(line[i + RENAMED_FROM.len()..].trim().to_string()),
            ),
            None => (line, None),
        };
        let words: Vec<&str> = code.split_whitespace().collect();
        let upper: Vec<String> = words.iter().map(|w| w.to_ascii_uppercase()).collect();
        if upper.first().is_some_and(|w| w == "CREATE") && upper.iter().any(|w| w == "TABLE") {
            let at = upper.iter().position(|w| w == "TABLE").unwrap_or(0) + 1;
            let at = if upper.get(at).is_some_and(|w| w == "IF") {
                at + 3
            } else {
                at
            };
            if let Some(name) = words.get(at) {
                let name = qualify(name.split('(').next().unwrap_or(name));
                if let Some(old) = annotation.or(pending.take()) {
                    renames.push(Rename::Table {
                        from: qualify(&old),
                        to: name.clone(),
                    });
                }
                table = Some(name);
            }
            continue;
        }
        if code.trim_start().starts_with(')') {
            table = None;
            pending = None;
            continue;
        }
        match (words.first(), &table) {
            (None, _)
                if annotation.is_some() => {
                    pending = annotation;
                }
            (Some(first), Some(table))
                if !upper[0].starts_with("CONSTRAINT") && !upper[0].starts_with("PRIMARY") =>
            {
                if let Some(old) = annotation.or(pending.take()) {
                    renames.push(Rename::Column {
                        table: table.clone(),
                        from: old,
                        to: first.trim_end_matches(',').to_string(),
                    });
                }
            }
            _ => {}
        }
    }
    renames
}

/// The renames that undo `renames`, in the order that undoes them.
pub fn invert_renames(renames: &[Rename]) -> Vec<Rename> {
    renames
        .iter()
        .rev()
        .map(|rename| match rename {
            Rename::Table { from, to } => Rename::Table {
                from: to.clone(),
                to: from.clone(),
            },
            Rename::Column { table, from, to } => Rename::Column {
                table: table.clone(),
                from: to.clone(),
                to: from.clone(),
            },
        })
        .collect()
}

/// Replaces `old` as a whole word in `text`.
pub(crate) fn replace_word(text: &str, old: &str, new: &str) -> String {
    let word = |c: char| c.is_alphanumeric() || c == '_';
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find(old) {
        let before = rest[..i].chars().next_back().or(out.chars().next_back());
        let after = rest[i + old.len()..].chars().next();
        out.push_str(&rest[..i]);
        if before.is_some_and(word) || after.is_some_and(word) {
            out.push_str(old);
        } else {
            out.push_str(new);
        }
        rest = &rest[i + old.len()..];
    }
    out.push_str(rest);
    out
}

impl Catalog {
    /// The statements that turn this schema into `to`, renaming what `renames` declares
    /// instead of dropping and creating it.
    pub fn plan_with_renames(&self, to: &Catalog, renames: &[Rename]) -> Vec<Change> {
        let mut from = self.clone();
        let mut changes = Vec::new();
        for rename in renames {
            match rename {
                Rename::Table { from: old, to: new } => {
                    if from.get(Kind::Table, old).is_none() || to.get(Kind::Table, old).is_some() {
                        continue;
                    }
                    let bare = |n: &str| parts(n).last().map(|p| p.to_string()).unwrap_or_default();
                    let (old_bare, new_bare) = (bare(old), bare(new));
                    changes.push(Change::plain(format!(
                        "ALTER TABLE {old} RENAME TO {new_bare}"
                    )));
                    // Objects named after the table (serial sequences, keys, indexes) follow
                    // it when the declared schema names them after the new one.
                    let prefixed: Vec<(Kind, String)> = from
                        .objects()
                        .filter(|(kind, name, _)| {
                            matches!(kind, Kind::Index | Kind::Constraint)
                                && bare(name).starts_with(&format!("{old_bare}_"))
                        })
                        .map(|(kind, name, _)| (kind, name.to_string()))
                        .collect();
                    let mut extra = Vec::new();
                    for (kind, name) in prefixed {
                        let old_object = bare(&name);
                        let new_object = format!("{new_bare}{}", &old_object[old_bare.len()..]);
                        let renamed = name.replace(old, new).replace(&old_object, &new_object);
                        if to.get(kind, &renamed).is_some() {
                            extra.push(match kind {
                                Kind::Constraint => format!(
                                    "ALTER TABLE {new} RENAME CONSTRAINT {old_object} TO {new_object}"
                                ),
                                _ => format!("ALTER INDEX {name} RENAME TO {new_object}"),
                            });
                            from =
                                from.rewritten(|text| replace_word(text, &old_object, &new_object));
                        }
                    }
                    from = from.rewritten(|text| {
                        replace_word(
                            &text
                                .replace(&format!("{old}."), &format!("{new}."))
                                .replace(&format!("{old} "), &format!("{new} ")),
                            &old_bare,
                            &new_bare,
                        )
                    });
                    for (_, name, def) in to
                        .objects()
                        .filter(|(k, n, _)| *k == Kind::Column && n.starts_with(&format!("{new}.")))
                    {
                        let column_name = split_last(name).1;
                        let old_seq = format!("{old_bare}_{column_name}_seq");
                        let new_seq = format!("{new_bare}_{column_name}_seq");
                        if def.contains(&format!("'{new_seq}'")) {
                            extra.push(format!("ALTER SEQUENCE {old_seq} RENAME TO {new_seq}"));
                            from = from.rewritten(|text| {
                                text.replace(&format!("'{old_seq}'"), &format!("'{new_seq}'"))
                            });
                        }
                    }
                    changes.extend(extra.into_iter().map(Change::plain));
                }
                Rename::Column {
                    table,
                    from: old,
                    to: new,
                } => {
                    let old_key = format!("{table}.{old}");
                    if from.get(Kind::Column, &old_key).is_none()
                        || to.get(Kind::Column, &old_key).is_some()
                    {
                        continue;
                    }
                    changes.push(Change::plain(format!(
                        "ALTER TABLE {table} RENAME COLUMN {old} TO {new}"
                    )));
                    let table = table.clone();
                    let (old, new) = (old.clone(), new.clone());
                    from = from.renamed_column(&table, &old, &new);
                }
            }
        }
        changes.extend(plan(&from, to));
        changes
    }
}
