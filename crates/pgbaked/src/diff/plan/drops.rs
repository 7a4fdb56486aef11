//! The first phase: what goes, and what a change pins (dropped before it, created again
//! after), dependents before what they depend on.

use super::{Plan, drawn_by_staying_column, foreign_key_retyped, row_typed};
use crate::diff::attached;
use crate::diff::catalog::{Difference, Kind};
use crate::diff::change::{Change, HazardKind};
use crate::diff::column::{Column, nextval_sequence};
use crate::diff::graph;
use crate::diff::name::Unquoted;
use crate::diff::name::{bare_name, collapse, mentions, parts, split_last};
use crate::diff::routine::{in_dependency_order, routine_kind};
use crate::diff::standalone;
use crate::diff::table::{drop_order, from_parent, partitioned_index};
use crate::diff::types::dropped_domain_checks;
use crate::diff::view::{order_by_reference, views_to_rebuild};

impl<'a> Plan<'a> {
    /// Every drop of the plan, and the drops of what its changes pin.
    pub(super) fn drops(&mut self) -> Vec<Change> {
        let mut changes = Vec::new();
        // A sequence that stays while its owning column lets go of it (the column or its
        // table dropped, the sequence kept for another table's default): released first, or
        // the drop would take it along, and fail on whatever else draws from it.
        for name in &self.released {
            changes.push(Change::plain(format!(
                "ALTER SEQUENCE {name} OWNED BY NONE"
            )));
        }
        for d in self.of(Kind::Domain) {
            if let (Some(from), Some(to)) = (&d.from, &d.to) {
                changes.extend(dropped_domain_checks(&d.name, from, to));
            }
        }
        self.drop_pinned(&mut changes);
        self.drop_keys_and_indexes(&mut changes);
        self.drop_columns_routines_and_tables(&mut changes);
        self.drop_sequences_and_types(&mut changes);
        changes
    }

    /// Triggers, rules, policies and views: those that go, and those pinned by a change under
    /// them.
    fn drop_pinned(&mut self, changes: &mut Vec<Change>) {
        let (from, to) = (self.from, self.to);
        for d in self.of(Kind::Trigger).filter(|d| d.from.is_some()) {
            let (table, name) = split_last(&d.name);
            if !self.old_tables.contains(&table.as_str()) {
                changes.push(Change::plain(format!("DROP TRIGGER {name} ON {table}")));
            }
        }
        // An unchanged trigger that names a column whose type changes pins it: it is dropped
        // here and created again after the change.
        self.retyped = self
            .of(Kind::Column)
            .filter(|d| match (&d.from, &d.to) {
                // A new collation is a new type to what reads the column (ALTER … TYPE …
                // COLLATE).
                (Some(_), Some(_)) => {
                    let (a, b) = (
                        self.from.column(&d.name).unwrap_or_default(),
                        self.to.column(&d.name).unwrap_or_default(),
                    );
                    a.data_type != b.data_type || a.collate != b.collate
                }
                _ => false,
            })
            .map(|d| split_last(&d.name))
            .collect();
        let retyped = &self.retyped;
        self.pinned_triggers = from
            .objects()
            .filter(|(kind, name, def)| {
                *kind == Kind::Trigger
                    && to.get(Kind::Trigger, name).map(collapse) == Some(collapse(def))
                    && retyped.iter().any(|(t, c)| {
                        *t == split_last(name).0 && trigger_reads(from, name, def, t, c)
                    })
            })
            .map(|(_, name, def)| (name.to_string(), def.to_string()))
            .collect();
        for (name, _) in &self.pinned_triggers {
            let (table, trigger) = split_last(name);
            changes.push(Change::plain(format!("DROP TRIGGER {trigger} ON {table}")));
        }
        changes.extend(attached::drops(self.differences, &self.old_tables));
        for d in self.of(Kind::Policy).filter(|d| d.from.is_some()) {
            let (table, name) = split_last(&d.name);
            if !self.old_tables.contains(&table.as_str()) {
                changes.push(Change::plain(format!("DROP POLICY {name} ON {table}")));
            }
        }
        // Views are dropped and created again around the changes under them: a view pins the
        // columns it reads (their type, their name), and a changed view cannot always be
        // replaced in place.
        // What the server records as depending on a routine dropped and created again, or on
        // a column whose type changes: dropped before, created again after.
        let mut replaced = graph::replaced_routines(from, to, self.differences);
        replaced.extend(graph::dropped_under_kept(from, to, self.differences));
        let retyped_columns: Vec<String> =
            retyped.iter().map(|(t, c)| format!("{t}.{c}")).collect();
        let dropped_columns: Vec<String> = self
            .of(Kind::Column)
            .filter(|d| d.to.is_none())
            .map(|d| d.name.clone())
            .collect();
        self.pinned = graph::pinned(
            from,
            to,
            self.differences,
            &replaced,
            &retyped_columns,
            &dropped_columns,
        );
        self.rebuilt = views_to_rebuild(from, to, self.differences, &self.pinned.views);
        // A routine whose signature names a view's row type goes with the view's type:
        // dropped before the views, and created (from `to`) after them, with the routines that
        // name a new view's type.
        let rebuilt = &self.rebuilt;
        self.views_after = to
            .objects()
            .filter(|(kind, name, _)| {
                *kind == Kind::View
                    && (rebuilt.iter().any(|r| r == name) || from.get(Kind::View, name).is_none())
            })
            .map(|(_, name, _)| name.to_string())
            .collect();
        self.view_typed = from
            .objects()
            .filter(|(kind, routine, _)| {
                *kind == Kind::Function && rebuilt.iter().any(|v| from.routine_uses(routine, v))
            })
            .map(|(_, name, def)| (name.to_string(), def.to_string()))
            .collect();
        // Pinned routines (and operators and casts made of them) go once the views that call
        // them are gone; what hangs on a view (an INSTEAD OF trigger) goes before it.
        changes.extend(self.pinned.drops.iter().cloned());
        for (relation, drop, create) in std::mem::take(&mut self.pinned.rules) {
            if !self.rebuilt.contains(&relation) {
                changes.push(drop);
                self.pinned.creates.push(create);
            }
        }
        for name in order_by_reference(&self.rebuilt, from, true) {
            // The routines typed by this view, once the views that call them are gone.
            for (routine, def) in &self.view_typed {
                if from.routine_uses(routine, &name) && !self.typed_dropped.contains(routine) {
                    self.typed_dropped.push(routine.clone());
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
        changes.extend(self.pinned.routine_drops.iter().cloned());
        changes.extend(self.pinned.column_drops.iter().cloned());
    }

    /// Constraints (foreign keys first, with those pinned by a change under them) and the
    /// indexes that go.
    fn drop_keys_and_indexes(&mut self, changes: &mut Vec<Change>) {
        let (from, to) = (self.from, self.to);
        // An unchanged foreign key over a column whose type changes, on either side, pins it:
        // each ALTER COLUMN … TYPE checks the key's two column types against each other, so it
        // is dropped here and added again (NOT VALID, then validated) once both sides have
        // changed. So does one that the server records as using the index of a key or unique
        // index that the plan drops or replaces (renamed, widened): the index cannot go while
        // it does.
        let replaced_key_indexes: Vec<String> = self
            .differences
            .iter()
            .filter(|d| d.from.is_some())
            .filter_map(|d| match d.kind {
                Kind::Index => Some(d.name.clone()),
                Kind::Constraint if from.constraint(&d.name).is_some_and(|c| c.is_key()) => {
                    // A key's index is named as the key, in the table's schema.
                    let (table, constraint) = split_last(&d.name);
                    Some(format!("{}.{constraint}", parts(&table)[0]))
                }
                _ => None,
            })
            .collect();
        let uses_replaced_key = |key: &str| {
            replaced_key_indexes.iter().any(|index| {
                from.dependents(Kind::Index, index)
                    .any(|(kind, name)| kind == Kind::Constraint && name == key)
            })
        };
        let (old_tables, retyped) = (&self.old_tables, &self.retyped);
        self.pinned_keys = from
            .objects()
            .filter(|(kind, name, def)| {
                *kind == Kind::Constraint
                    && from.constraint(name).is_some_and(|c| c.is_foreign_key())
                    && to.get(Kind::Constraint, name).map(collapse) == Some(collapse(def))
                    && !old_tables.contains(&split_last(name).0.as_str())
                    && (foreign_key_retyped(from, name, retyped) || uses_replaced_key(name))
            })
            .map(|(_, name, def)| Difference {
                kind: Kind::Constraint,
                name: name.to_string(),
                from: Some(def.to_string()),
                to: Some(def.to_string()),
            })
            .collect();
        let keys_of_dropped_tables = self.keys_of_dropped_tables();
        // Foreign keys before the keys they reference.
        let mut dropped_constraints: Vec<&Difference> = self
            .of(Kind::Constraint)
            .filter(|d| d.from.is_some() && !old_tables.contains(&split_last(&d.name).0.as_str()))
            // A table the plan attaches keeps the checks and keys its parent has too.
            .filter(|d| d.to.is_some() || !attached::kept_by_detach(&d.name, self.from, self.to))
            .chain(&self.pinned_keys)
            .chain(&keys_of_dropped_tables)
            .collect();
        dropped_constraints
            .sort_by_key(|d| !from.constraint(&d.name).is_some_and(|c| c.is_foreign_key()));
        for d in dropped_constraints {
            let (table, name) = split_last(&d.name);
            changes.push(Change::plain(format!(
                "ALTER TABLE {table} DROP CONSTRAINT {name}"
            )));
        }
        // Indexes once the foreign keys that use them (as the key they reference) are gone.
        for d in self.of(Kind::Index).filter(|d| d.from.is_some()) {
            let on = from.index(&d.name).map_or("", |i| i.table.as_str());
            // Gone with its table, or with a materialized view dropped or rebuilt.
            let view_gone = from.get(Kind::View, on).is_some() && to.get(Kind::View, on).is_none();
            // One an attach takes over as its partition's index stays.
            let carried = attached::carried_by_attach(&d.name, from, to, self.differences);
            if !old_tables.contains(&on)
                && !self.rebuilt.iter().any(|v| v == on)
                && !view_gone
                && !carried
            {
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
    }

    /// A foreign key of a table the plan drops, which references a key or unique index the
    /// plan drops on a table that stays: it goes first, or the key cannot go before the table.
    fn keys_of_dropped_tables(&self) -> Vec<Difference> {
        let from = self.from;
        let referenced_drops: Vec<&str> = self
            .differences
            .iter()
            .filter(|d| d.to.is_none())
            .filter_map(|d| match d.kind {
                Kind::Constraint if from.constraint(&d.name).is_some_and(|c| c.is_key()) => {
                    Some(d.name.rsplit_once_unquoted(".")?.0)
                }
                Kind::Index => from
                    .index(&d.name)
                    .filter(|index| index.unique)
                    .map(|index| index.table.as_str()),
                _ => None,
            })
            .collect();
        let old_tables = &self.old_tables;
        from.constraints()
            .filter(|(name, key)| {
                old_tables.contains(&split_last(name).0.as_str())
                    && key.references.as_ref().is_some_and(|(referenced, _)| {
                        referenced_drops.contains(&referenced.as_str())
                            && !old_tables.contains(&referenced.as_str())
                    })
            })
            .filter_map(|(name, _)| {
                Some(Difference {
                    kind: Kind::Constraint,
                    name: name.to_string(),
                    from: Some(from.get(Kind::Constraint, name)?.to_string()),
                    to: None,
                })
            })
            .collect()
    }

    /// Columns (generated ones before their sources), routines (aggregates before the
    /// functions they call, row-typed ones before their tables) and tables.
    fn drop_columns_routines_and_tables(&mut self, changes: &mut Vec<Change>) {
        let (from, to) = (self.from, self.to);
        let mut dropped_columns: Vec<&Difference> =
            self.of(Kind::Column).filter(|d| d.to.is_none()).collect();
        dropped_columns.sort_by_key(|d| from.column(&d.name).is_none_or(|c| c.generated.is_none()));
        for d in dropped_columns {
            let (table, name) = split_last(&d.name);
            if !self.old_tables.contains(&table.as_str())
                && !from_parent(d, self.differences, from, to)
                && !self.through_its_type(d)
            {
                changes.push(Change::hazard(
                    format!("ALTER TABLE {table} DROP COLUMN {name}"),
                    &[HazardKind::DeletesData, HazardKind::BreaksClients],
                    "deletes the column's data",
                ));
            }
        }
        let mut dropped_routines: Vec<&Difference> =
            self.of(Kind::Function).filter(|d| d.to.is_none()).collect();
        // Aggregates before the functions they call.
        dropped_routines
            .sort_by_key(|d| routine_kind(d.from.as_deref().unwrap_or_default()) != "AGGREGATE");
        // And each before the routines it calls in a parsed body.
        let dropped_routines = in_dependency_order(dropped_routines, from, true);
        // A routine that takes or returns a dropped table's row type goes before the table.
        // (Those typed by a rebuilt view went with it.)
        let (early_routines, dropped_routines): (Vec<&Difference>, Vec<&Difference>) =
            dropped_routines
                .into_iter()
                .filter(|d| !self.view_typed.iter().any(|(n, _)| *n == d.name))
                .partition(|d| row_typed(self.from, &d.name, &self.old_tables));
        for d in early_routines {
            let what = routine_kind(d.from.as_deref().unwrap_or_default());
            changes.push(Change::plain(format!("DROP {what} {}", d.name)));
        }
        // A changed routine whose body holds a table the plan drops goes first, and is created
        // from scratch later.
        self.cleared = graph::routines_on_dropped_tables(from, self.differences, &self.old_tables);
        // So does a changed routine built on a routine the plan drops (an aggregate on its old
        // state function): the dropped one cannot go while it stands.
        for gone in self.of(Kind::Function).filter(|d| d.to.is_none()) {
            for (kind, dependent) in from.dependents(Kind::Function, &gone.name) {
                let changed = self
                    .of(Kind::Function)
                    .any(|d| d.name == dependent && d.from.is_some() && d.to.is_some());
                if kind == Kind::Function && changed && !self.cleared.iter().any(|c| c == dependent)
                {
                    self.cleared.push(dependent.to_string());
                }
            }
        }
        // A routine that takes or returns a type made again as another kind of type (an enum
        // made a composite) goes before the type, and is created again after its successor.
        let remade: Vec<&str> = self.remade_types().collect();
        let over_remade: Vec<(&str, &str)> = from
            .objects()
            .filter(|(kind, name, _)| {
                *kind == Kind::Function
                    && to.get(Kind::Function, name).is_some()
                    && remade.iter().any(|t| from.routine_uses(name, t))
            })
            .map(|(_, name, def)| (name, def))
            .collect();
        for (name, def) in over_remade {
            let changed = self.of(Kind::Function).any(|d| d.name == name);
            if changed && !self.cleared.iter().any(|c| c == name) {
                self.cleared.push(name.to_string());
            } else if !changed {
                changes.push(Change::plain(format!("DROP {} {name}", routine_kind(def))));
                self.remade_routines.push(name.to_string());
            }
        }
        for name in &self.cleared {
            let what = routine_kind(from.get(Kind::Function, name).unwrap_or_default());
            changes.push(Change::plain(format!("DROP {what} {name}")));
        }
        let last = graph::routines_dropped_last(from, to, self.differences);
        let (dropped_last, dropped_routines): (Vec<&Difference>, Vec<&Difference>) =
            dropped_routines
                .into_iter()
                .partition(|d| last.contains(&d.name));
        self.dropped_last = dropped_last;
        // A table that stays leaves a parent that goes before the drop, which it would refuse.
        for (_, child, _) in from.objects().filter(|(k, n, _)| {
            *k == Kind::Table && to.table(n).is_some_and(|t| t.partition_of.is_none())
        }) {
            let parents = from.table(child).map(|t| t.parents()).unwrap_or_default();
            for parent in parents.iter().filter(|p| self.old_tables.contains(p)) {
                let sql = format!("ALTER TABLE {child} NO INHERIT {parent}");
                changes.push(Change::hazard(
                    sql.as_str(),
                    &[HazardKind::BreaksClients],
                    "the parent's queries no longer see the table's rows",
                ));
                self.early_no_inherit.push(sql);
            }
        }
        // A sequence that stays, owned by a column of a table that goes: let go first, or
        // the table takes it along.
        for (column, _) in from
            .columns()
            .filter(|(c, _)| self.old_tables.contains(&split_last(c).0.as_str()))
        {
            for (kind, sequence) in from.dependents(Kind::Column, column) {
                let stays = [Kind::Sequence, Kind::OwnedSequence]
                    .iter()
                    .any(|k| to.get(*k, sequence).is_some());
                if matches!(kind, Kind::Sequence | Kind::OwnedSequence) && stays {
                    changes.push(Change::plain(format!(
                        "ALTER SEQUENCE {sequence} OWNED BY NONE"
                    )));
                }
            }
        }
        for tables in drop_order(from, &self.old_tables) {
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
        changes.extend(standalone::drops(self.differences));
        for d in dropped_routines {
            let what = routine_kind(d.from.as_deref().unwrap_or_default());
            changes.push(Change::plain(format!("DROP {what} {}", d.name)));
        }
    }

    /// Sequences (renamed in place where a column moves to a new one of the same options),
    /// types and extensions: at once where their name comes back as something else, otherwise
    /// once no column has them (`type_drops`, after the columns).
    fn drop_sequences_and_types(&mut self, changes: &mut Vec<Change>) {
        let (from, to) = (self.from, self.to);
        self.renamed_sequences = self.renamed_sequences();
        for (old, new) in &self.renamed_sequences {
            changes.push(Change::plain(format!(
                "ALTER SEQUENCE {old} RENAME TO {}",
                parts(new).last().copied().unwrap_or_default()
            )));
        }
        // So does a sequence that a column which stays draws from until its default changes.
        for d in self
            .of(Kind::Sequence)
            .filter(|d| d.to.is_none())
            .filter(|d| !self.renamed_sequences.iter().any(|(old, _)| *old == d.name))
            .filter(|d| !self.adopted.contains(&d.name))
        {
            let drop = Change::plain(format!("DROP SEQUENCE {}", d.name));
            if drawn_by_staying_column(from, to, &d.name) {
                self.type_drops.push(drop);
            } else {
                changes.push(drop);
            }
        }
        // A type whose name comes back as another kind of type (a composite made an enum)
        // goes before its successor is created.
        // So does one whose name a new table or view takes (its row type has that name).
        let remade_types: Vec<&str> = self.remade_types().collect();
        let new_relation = |name: &str| {
            self.differences.iter().any(|d| {
                matches!(d.kind, Kind::Table | Kind::View) && d.name == name && d.from.is_none()
            })
        };
        let remade = |name: &str| remade_types.contains(&name) || new_relation(name);
        for (kind, what) in [
            (Kind::Range, "TYPE"),
            (Kind::Collation, "COLLATION"),
            (Kind::Domain, "DOMAIN"),
            (Kind::Composite, "TYPE"),
            (Kind::Enum, "TYPE"),
        ] {
            for d in self.of(kind).filter(|d| d.to.is_none()) {
                let drop = Change::plain(format!("DROP {what} {}", d.name));
                // A column that stays holds it: its values would have to be converted to the
                // new kind of type.
                let held = remade_types.contains(&d.name.as_str())
                    && from
                        .dependents(kind, &d.name)
                        .any(|(k, column)| k == Kind::Column && to.column(column).is_some());
                if held {
                    changes.push(crate::diff::change::unsupported(
                        d,
                        "a type made again as another kind of type under a column that keeps it",
                    ));
                } else if kind != Kind::Collation && remade(&d.name) {
                    changes.push(drop);
                } else {
                    self.type_drops.push(drop);
                }
            }
        }
        // An extension goes with the types it brings: once no column has them. All in one
        // statement: one that requires another (earthdistance, cube) goes first that way.
        let extensions: Vec<&str> = self
            .of(Kind::Extension)
            .filter(|d| d.to.is_none())
            .map(|d| d.name.as_str())
            .collect();
        if !extensions.is_empty() {
            self.type_drops.push(Change::plain(format!(
                "DROP EXTENSION {}",
                extensions.join(", ")
            )));
        }
    }

    /// The types that go while a type of another kind comes under the same name.
    fn remade_types(&self) -> impl Iterator<Item = &'a str> + use<'a> {
        let differences = self.differences;
        let typed =
            |kind: Kind| Kind::TYPES.contains(&kind) || matches!(kind, Kind::Table | Kind::View);
        differences
            .iter()
            .filter(move |d| typed(d.kind) && d.to.is_none())
            .filter(move |gone| {
                // Made again as another kind of type, or as a relation or from one (a
                // relation's row type is a type a routine may take or return).
                differences.iter().any(|d| {
                    typed(d.kind) && d.kind != gone.kind && d.name == gone.name && d.from.is_none()
                })
            })
            .map(|d| d.name.as_str())
    }

    /// A sequence that goes while one of the same options and schema comes, and a column that
    /// stays moves its default from the one to the other, was renamed: renamed in place, it
    /// keeps its value (created anew, it would hand out numbers the rows already hold).
    fn renamed_sequences(&self) -> Vec<(String, String)> {
        let (from, to) = (self.from, self.to);
        let drawn_from = |c: Column<'_>| {
            c.default
                .and_then(nextval_sequence)
                .map(|s| bare_name(&s).to_string())
        };
        // A sequence a column takes over stays under its name.
        self.of(Kind::Sequence)
            .filter(|d| d.to.is_none() && !self.adopted.contains(&d.name))
            .filter_map(|gone| {
                // Not onto a name a column's sequence keeps (released by its column).
                let new = self.of(Kind::Sequence).find(|d| {
                    d.from.is_none()
                        && !self.released.contains(&d.name)
                        && d.to == gone.from
                        && parts(&d.name).first() == parts(&gone.name).first()
                        && from.columns().any(|(name, old)| {
                            to.column(name).is_some_and(|new| {
                                drawn_from(old) == Some(bare_name(&gone.name).to_string())
                                    && drawn_from(new) == Some(bare_name(&d.name).to_string())
                            })
                        })
                })?;
                Some((gone.name.clone(), new.name.clone()))
            })
            .collect()
    }
}

/// Whether the trigger `name` (defined by `def`) reads the column `column` of `table` (in its
/// `WHEN` or its `UPDATE OF` list), as the server records it; for a catalog read without the
/// records, whether its text names the column.
fn trigger_reads(
    from: &crate::diff::Catalog,
    name: &str,
    def: &str,
    table: &str,
    column: &str,
) -> bool {
    if from.has_dependencies() {
        from.dependents(Kind::Column, &format!("{table}.{column}"))
            .any(|(k, n)| k == Kind::Trigger && n == name)
    } else {
        mentions(def, column)
    }
}
