//! Tables: the order dropped tables go in, storage parameters, partitions, and generated
//! columns computed again.

use super::catalog::{Catalog, Difference, Kind};
use super::change::*;
use super::column::*;
use super::name::*;
use crate::diff::name::Unquoted;

/// `CREATE [UNIQUE] INDEX …` as `CREATE [UNIQUE] INDEX CONCURRENTLY …`.
pub(crate) fn concurrently(def: &str) -> String {
    // Only the statement's head: a predicate's string may hold `CREATE INDEX ` too.
    for head in ["CREATE UNIQUE INDEX ", "CREATE INDEX "] {
        if let Some(rest) = def.strip_prefix(head) {
            return format!("{head}CONCURRENTLY {rest}");
        }
    }
    def.to_string()
}

/// A column whose generation expression is new or changed, dropped and added again, then the
/// constraints of `to` on it that the plan does not add anyway (the drop took them along);
/// and, apart, the indexes on it to build again.
pub(crate) fn regenerate(
    table: &str,
    name: &str,
    had_values: bool,
    to_column: Column<'_>,
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
        declaration(table, name, to_column)
    )));
    let mut indexes = Vec::new();
    let planned = |kind: Kind, object: &str| {
        differences
            .iter()
            .any(|d| d.kind == kind && d.name == object && d.to.is_some())
    };
    let column_key = format!("{table}.{name}");
    // What reads the column, as the server records it (a name in a string is no read); for a
    // catalog read without the records, the column's name in an index's columns and
    // predicate or in a constraint.
    let reads = |kind: Kind, object: &str, def: &str| {
        if to.has_dependencies() {
            return to
                .dependents(Kind::Column, &column_key)
                .any(|(k, n)| k == kind && n == object);
        }
        let body = match kind {
            Kind::Index => def.split_once_unquoted(" USING ").map_or(def, |(_, b)| b),
            _ => def,
        };
        mentions(body, name)
    };
    for (kind, object, def) in to.objects() {
        let on_table = match kind {
            Kind::Index => to.index(object).is_some_and(|i| i.table == table),
            Kind::Constraint => split_last(object).0 == table,
            _ => false,
        };
        if !on_table || !reads(kind, object, def) || planned(kind, object) {
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
    // What else the drop took along: the column's comment and settings, and the extended
    // statistics over it.
    for (kind, object, def) in to.objects() {
        let again = match kind {
            Kind::Comment if object == format!("COLUMN {column_key}") => Some(format!(
                "COMMENT ON {object} IS {}",
                crate::quote::quote_literal(def)
            )),
            Kind::Setting if object.starts_with(&format!("COLUMN {column_key} ")) => {
                Some(def.to_string())
            }
            Kind::Statistics if statistics_over(def, table, name) && !planned(kind, object) => {
                Some(def.to_string())
            }
            _ => None,
        };
        changes.extend(again.map(Change::plain));
    }
    (changes, indexes)
}

/// Whether the extended statistics object `def` (`CREATE STATISTICS s ON a, b FROM t`, the
/// table named as the server's search path shows it) covers `column` of `table`.
fn statistics_over(def: &str, table: &str, column: &str) -> bool {
    let create = def.split("; ALTER STATISTICS ").next().unwrap_or(def);
    let Some((head, on)) = split_unquoted(create, " FROM ")
        .first()
        .copied()
        .zip(split_unquoted(create, " FROM ").last().copied())
    else {
        return false;
    };
    let table_parts = parts(table);
    let named = parts(on);
    let same_table = on == table
        || (named.len() == 1
            && table_parts.len() == 2
            && table_parts[0] == "public"
            && named[0] == table_parts[1]);
    same_table
        && head
            .split_once_unquoted(" ON ")
            .is_some_and(|(_, columns)| mentions(columns, column))
}

/// Whether a column difference on a partition is the same as its parent's: the parent's
/// `ALTER TABLE` (add, drop, retype, default, NOT NULL) reaches its partitions by itself.
pub(crate) fn from_parent(
    d: &Difference,
    differences: &[Difference],
    from: &Catalog,
    to: &Catalog,
) -> bool {
    let (table, column_name) = split_last(&d.name);
    let parent = [to, from]
        .iter()
        .find_map(|c| c.table(&table)?.partition_of.map(|(parent, _)| parent));
    let Some(parent) = parent else {
        return false;
    };
    let key = format!("{parent}.{column_name}");
    differences
        .iter()
        .any(|p| p.kind == Kind::Column && p.name == key && p.from == d.from && p.to == d.to)
}

/// Whether an index definition is a partitioned table's (`… ON ONLY table …`).
pub(crate) fn partitioned_index(def: &str) -> bool {
    only_at(def).is_some()
}

/// A partitioned table's index definition without its `ONLY`: built that way, the server
/// builds and attaches each partition's index too. Only the `ONLY` after the index's name is
/// taken out, never one in a quoted name or a predicate's string.
pub(crate) fn without_only(def: &str) -> String {
    match only_at(def) {
        Some(at) => format!("{}{}", &def[..at], &def[at + "ONLY ".len()..]),
        None => def.to_string(),
    }
}

/// Where the `ONLY ` of `CREATE INDEX name ON ONLY table` starts: after the first ` ON ` outside
/// quotes.
fn only_at(def: &str) -> Option<usize> {
    let head = split_unquoted(def, " ON ")[0];
    let at = head.len() + " ON ".len();
    def.get(at..)?.starts_with("ONLY ").then_some(at)
}

/// A new partition's columns where they are not what `PARTITION OF` gives them (the parent's
/// default and nullability): a partition made `LIKE` its parent and attached has no defaults.
pub(crate) fn partition_columns(to: &Catalog, partition: &str) -> Vec<Change> {
    let Some((parent, _)) = to.table(partition).and_then(|t| t.partition_of) else {
        return Vec::new();
    };
    let mut changes = Vec::new();
    for (name, own) in to
        .columns()
        .filter(|(name, _)| split_last(name).0 == partition)
    {
        let column_name = split_last(name).1;
        let Some(inherited) = to.column(&format!("{parent}.{column_name}")) else {
            continue;
        };
        let alter = |what: String| {
            Change::plain(format!(
                "ALTER TABLE {partition} ALTER COLUMN {column_name} {what}"
            ))
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

/// The tables of `dropped` in an order each can be dropped in: one a foreign key of another
/// dropped table references comes after that table, a partitioned table after its partitions.
/// Tables whose keys go round in a cycle are dropped together, in one statement.
pub(crate) fn drop_order(from: &Catalog, dropped: &[&str]) -> Vec<Vec<String>> {
    let same = |referenced: &str, table: &str| {
        referenced == table || table.strip_prefix("public.") == Some(referenced)
    };
    // (referencing, referenced) among the dropped tables.
    let mut edges: Vec<(&str, &str)> = Vec::new();
    for (kind, name, def) in from.objects() {
        // A partition goes before its parent, whose DROP would take it along; a child before
        // its parents, whose DROP would refuse while it inherits.
        if kind == Kind::Table {
            let table = from.table(name).unwrap_or_default();
            if let Some(child) = dropped.iter().find(|t| **t == name) {
                let parent = table.partition_of.map(|(parent, _)| parent);
                for parent in parent.into_iter().chain(table.parents()) {
                    if let Some(parent) = dropped.iter().find(|t| same(parent, t)) {
                        edges.push((child, parent));
                    }
                }
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
            .split_once_unquoted(" REFERENCES ")
            .map(|(_, rest)| split_unquoted(rest, "(")[0].trim())
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
pub(crate) fn alter_storage(table: &str, from: Option<&str>, to: Option<&str>) -> Vec<Change> {
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

/// A table's traits as the catalog holds them, each read from a field of its own: a partition
/// key's expression or a bound's string may hold any word, so nothing is cut out of a text.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct TableDef {
    /// `table`, or `partitioned by KEY` (`pg_get_partkeydef`).
    pub(crate) kind: String,
    pub(crate) unlogged: bool,
    pub(crate) row_level_security: bool,
    /// The parent (qualified) and the bound, for a partition.
    pub(crate) partition_of: Option<(String, String)>,
    /// The parents (`a.p, b.q`, qualified), for a table that inherits (`INHERITS`).
    pub(crate) inherits: Option<String>,
}

impl TableDef {
    /// The definition the diff shows and compares: `table` or `partitioned by KEY`, then
    /// ` unlogged`, ` row level security`, ` partition of PARENT BOUND`, ` inherits (…)`.
    pub(crate) fn text(&self) -> String {
        let mut out = self.kind.clone();
        if self.unlogged {
            out.push_str(" unlogged");
        }
        if self.row_level_security {
            out.push_str(" row level security");
        }
        if let Some((parent, bound)) = &self.partition_of {
            out.push_str(&format!(" partition of {parent} {bound}"));
        }
        if let Some(parents) = &self.inherits {
            out.push_str(&format!(" inherits ({parents})"));
        }
        out
    }

    /// The same table with every name and expression passed through `rewrite`.
    pub(crate) fn rewritten(&self, rewrite: impl Fn(&str) -> String) -> TableDef {
        TableDef {
            kind: rewrite(&self.kind),
            partition_of: self
                .partition_of
                .as_ref()
                .map(|(parent, bound)| (rewrite(parent), rewrite(bound))),
            inherits: self.inherits.as_deref().map(&rewrite),
            ..self.clone()
        }
    }

    /// The borrowed view the planner works on.
    pub(crate) fn view(&self) -> TableTraits<'_> {
        TableTraits {
            kind: &self.kind,
            unlogged: self.unlogged,
            row_level_security: self.row_level_security,
            partition_of: self
                .partition_of
                .as_ref()
                .map(|(parent, bound)| (parent.as_str(), bound.as_str())),
            inherits: self.inherits.as_deref(),
        }
    }
}

/// A table's traits, borrowed from its [`TableDef`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct TableTraits<'a> {
    /// `table`, or `partitioned by KEY`.
    pub(crate) kind: &'a str,
    pub(crate) unlogged: bool,
    pub(crate) row_level_security: bool,
    /// The parent and the bound, for a partition.
    pub(crate) partition_of: Option<(&'a str, &'a str)>,
    /// The parents (`a.p, b.q`, qualified), for a table that inherits (`INHERITS`).
    pub(crate) inherits: Option<&'a str>,
}

impl<'a> TableTraits<'a> {
    /// The partition key (`RANGE (at)`), for a partitioned table.
    pub(crate) fn partition_key(&self) -> Option<&'a str> {
        self.kind.strip_prefix("partitioned by ")
    }

    /// The tables this one inherits from, qualified.
    pub(crate) fn parents(&self) -> Vec<&'a str> {
        self.inherits
            .map(|list| split_unquoted(list, ", "))
            .unwrap_or_default()
    }
}

/// A table that stays and becomes a partition (`ATTACH PARTITION`, once its columns are as
/// the parent needs them) or stops being one (`DETACH PARTITION`, first): the statement, and
/// whether it detaches.
pub(crate) fn attach_or_detach(
    table: &str,
    old: &TableTraits<'_>,
    new: &TableTraits<'_>,
) -> Option<(Change, bool)> {
    if old.kind != "table" || new.kind != "table" {
        return None;
    }
    match (old.partition_of, new.partition_of) {
        (None, Some((parent, bound))) => Some((
            Change::hazard(
                format!("ALTER TABLE {parent} ATTACH PARTITION {table} {bound}"),
                &[HazardKind::LocksForScan, HazardKind::MayFail],
                "scans the table to check its rows fit the partition's bound, and fails if one \
                 does not",
            ),
            false,
        )),
        (Some((parent, _)), None) => Some((
            Change::hazard(
                format!("ALTER TABLE {parent} DETACH PARTITION {table}"),
                &[HazardKind::BreaksClients],
                "the parent's queries no longer see the table's rows",
            ),
            true,
        )),
        _ => None,
    }
}

/// A parent as a partition's definition names it (`regclass` text: unqualified where the
/// default search path finds it), qualified as the catalog keys tables.
pub(crate) fn qualified_parent(parent: &str) -> String {
    if parts(parent).len() == 1 {
        format!("public.{parent}")
    } else {
        parent.to_string()
    }
}

/// The statements that change a table that stays from `old` to `new`: logging, row-level
/// security, a partition's bound (detached and attached again); a changed kind, partition key
/// or parent is not generated.
pub(crate) fn alter_table(
    d: &Difference,
    old: &TableTraits<'_>,
    new: &TableTraits<'_>,
) -> Vec<Change> {
    let table = &d.name;
    let mut changes = Vec::new();
    let same_parent = match (old.partition_of, new.partition_of) {
        (Some((a, _)), Some((b, _))) => a == b,
        (None, None) => true,
        // A table attached as a partition, or detached from its parent: see
        // `attach_or_detach`.
        _ => old.kind == "table" && new.kind == "table",
    };
    if old.kind != new.kind || !same_parent {
        return vec![unsupported(
            d,
            "a changed table kind, partition key or parent",
        )];
    }
    // INHERIT leaves the columns the table had as its own, which a new `CREATE TABLE …
    // INHERITS` would not: not generated. NO INHERIT makes the inherited ones its own, as a
    // table declared with them has them.
    let (old_parents, new_parents) = (old.parents(), new.parents());
    if new_parents.iter().any(|p| !old_parents.contains(p)) {
        return vec![unsupported(
            d,
            "a table that stays inherits from other tables (INHERIT)",
        )];
    }
    for parent in old_parents.iter().filter(|p| !new_parents.contains(p)) {
        changes.push(Change::hazard(
            format!("ALTER TABLE {table} NO INHERIT {parent}"),
            &[HazardKind::BreaksClients],
            "the parent's queries no longer see the table's rows",
        ));
    }
    if old.unlogged != new.unlogged {
        let to = if new.unlogged { "UNLOGGED" } else { "LOGGED" };
        changes.push(Change::hazard(
            format!("ALTER TABLE {table} SET {to}"),
            &[HazardKind::RewritesTable],
            "rewrites the table under an ACCESS EXCLUSIVE lock",
        ));
    }
    if old.row_level_security != new.row_level_security {
        let verb = if new.row_level_security {
            "ENABLE"
        } else {
            "DISABLE"
        };
        changes.push(Change::plain(format!(
            "ALTER TABLE {table} {verb} ROW LEVEL SECURITY"
        )));
    }
    if let (Some((parent, old_bound)), Some((_, new_bound))) = (old.partition_of, new.partition_of)
        && old_bound != new_bound
    {
        changes.push(Change::plain(format!(
            "ALTER TABLE {parent} DETACH PARTITION {table}"
        )));
        changes.push(Change::hazard(
            format!("ALTER TABLE {parent} ATTACH PARTITION {table} {new_bound}"),
            &[HazardKind::LocksForScan, HazardKind::MayFail],
            "scans the partition to check its rows fit the new bound, and fails if one does not",
        ));
    }
    changes
}
