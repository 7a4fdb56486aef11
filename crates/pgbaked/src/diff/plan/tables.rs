//! Routines, new tables, the table-level changes of tables that stay, and the sequences
//! their columns own.

use super::{Plan, row_typed};
use crate::diff::catalog::{Catalog, Difference, Kind};
use crate::diff::change::Change;
use crate::diff::column::{
    Column, narrowed_sequence, nextval_sequence, owner_type, sequence_options, serial_sequence_def,
};
use crate::diff::name::split_last;
use crate::diff::routine::{in_dependency_order, needs_drop, routine_kind};
use crate::diff::table::{alter_table, attach_or_detach, partition_columns};

impl<'a> Plan<'a> {
    /// Routines created or replaced, aggregates after the functions they call. Those that take
    /// or return a new table's row type are returned, to follow the tables; those typed by a
    /// view the plan creates follow the views (`relations`).
    pub(super) fn routines(&mut self, changes: &mut Vec<Change>) -> Vec<Change> {
        let mut routines: Vec<&Difference> = self
            .of(Kind::Function)
            .filter(|d| d.to.is_some())
            .filter(|d| !self.after_views(&d.name))
            .collect();
        routines.sort_by_key(|d| routine_kind(d.to.as_deref().unwrap_or_default()) == "AGGREGATE");
        // Each after the routines it calls in a parsed body (`RETURN …`, `BEGIN ATOMIC`).
        let routines = in_dependency_order(routines, self.to, false);
        let (late_routines, routines): (Vec<&Difference>, Vec<&Difference>) = routines
            .into_iter()
            .partition(|d| row_typed(self.to, &d.name, &self.new_tables));
        // One whose parsed body reads a column added to a table that stays: after the columns.
        let (after_columns, routines): (Vec<&Difference>, Vec<&Difference>) = routines
            .into_iter()
            .partition(|d| self.reads_new_column(&d.name));
        let mut routine_changes = Vec::new();
        let mut column_routines = Vec::new();
        for d in routines
            .into_iter()
            .chain(late_routines.iter().copied())
            .chain(after_columns.iter().copied())
            .filter(|d| !self.pinned.routines.contains(&d.name))
        {
            let changes = if late_routines.iter().any(|l| l.name == d.name) {
                &mut routine_changes
            } else if after_columns.iter().any(|l| l.name == d.name) {
                &mut column_routines
            } else {
                &mut *changes
            };
            let to_def = d.to.as_deref().unwrap_or_default();
            if let Some(from_def) = d
                .from
                .as_deref()
                .filter(|_| !self.cleared.contains(&d.name))
            {
                // An aggregate is replaced whole (its state type may change); CREATE OR
                // REPLACE cannot change a function's result type or its parameters' names and
                // defaults.
                if needs_drop(self.from, self.to, &d.name) {
                    let what = routine_kind(from_def);
                    changes.push(Change::plain(format!("DROP {what} {}", d.name)));
                }
            }
            changes.push(Change::plain(to_def));
        }
        // (One over a view the plan creates comes with the view.)
        for name in self.remade_routines.iter().filter(|r| !self.after_views(r)) {
            let create = Change::plain(self.to.get(Kind::Function, name).unwrap_or_default());
            // One that now returns a new table's row type follows the table.
            if row_typed(self.to, name, &self.new_tables) {
                routine_changes.push(create);
            } else {
                changes.push(create);
            }
        }
        self.after_columns = column_routines;
        routine_changes
    }

    /// Whether the routine `name` of `to` reads, in a parsed body, a column that `from` lacks
    /// on a table both have.
    fn reads_new_column(&self, name: &str) -> bool {
        self.to.columns().any(|(column, _)| {
            self.from.column(column).is_none()
                && !self.new_tables.contains(&split_last(column).0.as_str())
                && self
                    .to
                    .dependents(Kind::Column, column)
                    .any(|(k, n)| k == Kind::Function && n == name)
        })
    }

    /// New tables, parents before their partitions and children, with the sequences their
    /// columns draw from under a name of their own.
    pub(super) fn tables(&mut self) -> Vec<Change> {
        let to = self.to;
        let mut changes = Vec::new();
        let mut created: Vec<&Difference> =
            self.of(Kind::Table).filter(|d| d.from.is_none()).collect();
        self.partitions = created
            .iter()
            .filter(|d| to.table(&d.name).is_some_and(|t| t.partition_of.is_some()))
            .map(|d| d.name.as_str())
            .collect();
        // A table that inherits comes after its parents: sorted by how many ancestors it has.
        created.sort_by_key(|d| {
            (
                to.table(&d.name).is_some_and(|t| t.partition_of.is_some()),
                ancestors(to, &d.name),
            )
        });
        self.new_sequences(&mut changes);
        for d in created {
            self.create_table(d, &mut changes);
        }
        changes
    }

    /// A default that takes its values from a sequence the column owns under another name
    /// than serial's (a renamed table's): the sequence is created first and owned after. So
    /// does one that an existing column takes as its new default (a table swapped in under
    /// the old name, a sequence added to a column), when the sequence is new.
    fn new_sequences(&mut self, changes: &mut Vec<Change>) {
        let (from, to) = (self.from, self.to);
        let new_tables = &self.new_tables;
        for (name, c) in to.columns().filter(|(name, c)| {
            new_tables.contains(&split_last(name).0.as_str())
                || from.column(name).is_none_or(|old| old.default != c.default)
        }) {
            let (table, column_name) = split_last(name);
            // A partition's column draws from its parent's sequence: the parent's makes it.
            let parents = to
                .table(&table)
                .and_then(|t| t.partition_of)
                .map(|(parent, _)| crate::diff::table::qualified_parent(parent));
            if parents.is_some_and(|parent| {
                to.column(&format!("{parent}.{column_name}"))
                    .is_some_and(|p| p.default == c.default)
            }) {
                continue;
            }
            let Some(seq) = c.default.and_then(nextval_sequence) else {
                continue;
            };
            // A serial makes its sequence: a new column's declaration, or, for a column that
            // stays, the change of its default (`columns`).
            let serial = self.declare(&table, column_name, c).ends_with("serial");
            let known = |c: &Catalog, kind: Kind| {
                c.get(kind, &seq).is_some() || c.get(kind, &format!("public.{seq}")).is_some()
            };
            // A sequence a column owns already stays only when that column does: a dropped
            // table or column takes its sequence along.
            let kept = from.columns().any(|(name, old)| {
                to.column(name).is_some()
                    && old.default.and_then(nextval_sequence).as_deref() == Some(&*seq)
            });
            if !serial && !known(to, Kind::Sequence) && !known(from, Kind::Sequence) && !kept {
                let as_type = match c.data_type {
                    "integer" | "smallint" => format!(" AS {}", c.data_type),
                    _ => String::new(),
                };
                changes.push(Change::plain(format!(
                    "CREATE SEQUENCE IF NOT EXISTS {seq}{as_type}"
                )));
                self.owned_by.push(Change::plain(format!(
                    "ALTER SEQUENCE {seq} OWNED BY {table}.{column_name}"
                )));
            }
        }
    }

    /// One new table: its columns in order, its keys and checks inline, its partition bound
    /// or parents, persistence and row level security.
    fn create_table(&self, d: &Difference, changes: &mut Vec<Change>) {
        let to = self.to;
        let mut columns: Vec<(&str, Column<'_>)> = to
            .columns()
            .filter(|(name, _)| split_last(name).0 == d.name)
            .collect();
        columns.sort_by_key(|(name, _)| to.position(name));
        // Keys and checks inside the statement: an ALTER TABLE … ADD PRIMARY KEY on a new
        // table is one more statement that squawk rightly flags on a table with rows.
        let inline: Vec<String> = to
            .objects()
            .filter(|(kind, name, _)| {
                *kind == Kind::Constraint
                    && split_last(name).0 == d.name
                    && to.constraint(name).is_some_and(|c| c.inlined())
            })
            .map(|(_, name, def)| format!("CONSTRAINT {} {def}", split_last(name).1))
            .collect();
        let traits = to.table(&d.name).unwrap_or_default();
        let mut sql = if let Some((parent, bound)) = traits.partition_of {
            format!("CREATE TABLE {} PARTITION OF {parent} {bound}", d.name)
        } else if let Some(of) = typed_table_type(to, &d.name) {
            // A typed table takes its columns from its type; what is its own (NOT NULL, a
            // default, the keys and checks) is written WITH OPTIONS.
            let mut items: Vec<String> = Vec::new();
            for (name, c) in columns {
                let mut options = String::new();
                if c.not_null {
                    options.push_str(" NOT NULL");
                }
                if let Some(default) = c.default {
                    options.push_str(&format!(" DEFAULT {default}"));
                }
                if !options.is_empty() {
                    items.push(format!("{} WITH OPTIONS{options}", split_last(name).1));
                }
            }
            items.extend(inline);
            if items.is_empty() {
                format!("CREATE TABLE {} OF {of}", d.name)
            } else {
                format!(
                    "CREATE TABLE {} OF {of} (\n    {}\n)",
                    d.name,
                    items.join(",\n    ")
                )
            }
        } else {
            let items: Vec<String> = columns
                .into_iter()
                .map(|(name, c)| self.declare(&d.name, split_last(name).1, c))
                .chain(inline)
                .collect();
            format!(
                "CREATE TABLE {} (\n    {}\n)",
                d.name,
                items.join(",\n    ")
            )
        };
        if let Some(key) = traits.partition_key() {
            sql.push_str(&format!(" PARTITION BY {key}"));
        }
        if let Some(parents) = traits.inherits {
            sql.push_str(&format!(" INHERITS ({parents})"));
        }
        if traits.unlogged {
            sql = sql.replacen("CREATE TABLE", "CREATE UNLOGGED TABLE", 1);
        }
        changes.push(Change::plain(sql));
        changes.extend(partition_columns(to, &d.name));
        if traits.row_level_security {
            changes.push(Change::plain(format!(
                "ALTER TABLE {} ENABLE ROW LEVEL SECURITY",
                d.name
            )));
        }
    }

    /// Tables that stay and become partitions (`attach`) or stop being ones: a detach comes
    /// first of all (before its parent may go, which would take it along), an attach once its
    /// columns and constraints are as the parent needs them.
    pub(super) fn partitions_changed(&self, attach: bool) -> Vec<Change> {
        let mut changes = Vec::new();
        for d in self.of(Kind::Table) {
            let (Some(from), Some(to)) = (self.from.table(&d.name), self.to.table(&d.name)) else {
                continue;
            };
            let Some((change, detaches)) = attach_or_detach(&d.name, &from, &to) else {
                continue;
            };
            if detaches == attach {
                continue;
            }
            // The parent's checks, which an attached partition must have under their names.
            if let Some((parent, _)) = to.partition_of.filter(|_| attach) {
                let parent = crate::diff::table::qualified_parent(parent);
                for (kind, name, def) in self.to.objects() {
                    let (on, constraint) = split_last(name);
                    let child_has = self
                        .from
                        .get(Kind::Constraint, &format!("{}.{constraint}", d.name))
                        .is_some();
                    if kind == Kind::Constraint
                        && on == parent
                        && def.starts_with("CHECK ")
                        && !child_has
                    {
                        changes.push(Change::plain(format!(
                            "ALTER TABLE {} ADD CONSTRAINT {constraint} {def}",
                            d.name
                        )));
                    }
                }
            }
            changes.push(change);
            if detaches {
                changes.extend(crate::diff::attached::detached_leftovers(
                    &d.name,
                    self.from,
                    self.to,
                    self.differences,
                ));
            }
        }
        changes
    }

    /// The table-level changes of tables that stay (persistence, row level security,
    /// inheritance, partition bounds).
    pub(super) fn altered_tables(&self) -> Vec<Change> {
        let mut changes = Vec::new();
        for d in self
            .of(Kind::Table)
            .filter(|d| d.from.is_some() && d.to.is_some())
        {
            let (from, to) = (
                self.from.table(&d.name).unwrap_or_default(),
                self.to.table(&d.name).unwrap_or_default(),
            );
            // (Leaving a parent the plan drops was done before the drop.)
            changes.extend(
                alter_table(d, &from, &to)
                    .into_iter()
                    .filter(|c| !self.early_no_inherit.contains(&c.sql)),
            );
        }
        changes
    }

    /// Once the columns are in place: sequences handed to their owners, the types, sequences
    /// and extensions no column holds any more, and the options of sequences that columns own
    /// (changed in place, and set on a new one only where they differ from what its column's
    /// creation gives it).
    pub(super) fn owned_sequences(&mut self) -> Vec<Change> {
        let mut changes = std::mem::take(&mut self.owned_by);
        changes.append(&mut self.type_drops);
        for d in self.of(Kind::OwnedSequence).filter(|d| d.to.is_some()) {
            let def = d.to.as_deref().unwrap_or_default();
            let before = if self.adopted.contains(&d.name) {
                self.from.get(Kind::Sequence, &d.name)
            } else {
                d.from.as_deref()
            };
            // One no column draws from (`CREATE SEQUENCE … OWNED BY t.c` alone) is no
            // column's to make: made here, and handed to its column.
            if before.is_none() && owner_type(self.to, &d.name) == "none" {
                changes.push(Change::plain(format!(
                    "CREATE SEQUENCE {} {}",
                    d.name,
                    sequence_options(def)
                )));
                let owned_by = format!("SEQUENCE {} OWNED_BY", d.name);
                changes.extend(self.to.get(Kind::Setting, &owned_by).map(Change::plain));
                continue;
            }
            if before.is_none() && def == serial_sequence_def(owner_type(self.to, &d.name))
                || before == Some(def)
            {
                continue;
            }
            if let Some(change) = before.and_then(|old| narrowed_sequence(&d.name, old, def)) {
                changes.push(change);
                continue;
            }
            changes.push(Change::plain(format!(
                "ALTER SEQUENCE {} {}",
                d.name,
                sequence_options(def)
            )));
        }
        changes
    }
}

/// The type a new table is made `OF` (`CREATE TABLE … OF type`), as the catalog reads it
/// (`of type`, the type as the server names it); not one in another access method, which is
/// not generated.
pub(crate) fn typed_table_type<'c>(catalog: &'c Catalog, table: &str) -> Option<&'c str> {
    catalog
        .get(Kind::Unmodelled, &format!("TABLE {table}"))?
        .strip_prefix("of ")
        .filter(|of| !of.contains(" using "))
}

/// How many tables `table` inherits from, through its parents' parents.
fn ancestors(to: &Catalog, table: &str) -> usize {
    let mut seen: Vec<String> = Vec::new();
    let mut next = vec![table.to_string()];
    while let Some(t) = next.pop() {
        for parent in to
            .table(&t)
            .map(|table| table.parents())
            .unwrap_or_default()
        {
            if !seen.iter().any(|s| s == parent) {
                seen.push(parent.to_string());
                next.push(parent.to_string());
            }
        }
    }
    seen.len()
}
