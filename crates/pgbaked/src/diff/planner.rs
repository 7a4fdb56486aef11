//! The SQL that turns one catalog into another, dependency-ordered and safe on a live
//! database where it can be: new indexes on existing tables are built `CONCURRENTLY`, foreign
//! keys and checks on existing tables are added `NOT VALID` and then validated, and every
//! statement that deletes data, rewrites a table or cannot be generated says so.

use super::attached;
use super::catalog::{Catalog, Difference, Kind};
use super::change::*;
use super::column::*;
use super::graph;
use super::name::*;
use super::privilege::*;
use super::routine::*;
use super::standalone;
use super::table::*;
use super::types::*;
use super::view::*;
use crate::quote::{quote_identifier, quote_literal, unquote};

impl Catalog {
    /// The statements that turn this schema into `to`.
    pub fn plan(&self, to: &Catalog) -> Vec<Change> {
        plan(self, to)
    }
}

/// The plan from `from` to `to`.
pub(crate) fn plan(from: &Catalog, to: &Catalog) -> Vec<Change> {
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

    // A sequence that stays while its owning column lets go of it (the column or its table
    // dropped, the sequence kept for another table's default): released first, or the drop
    // would take it along, and fail on whatever else draws from it.
    let released = moved_sequences(from, to, Kind::OwnedSequence, Kind::Sequence);
    // One that a column takes over (a serial's table created around an existing sequence):
    // kept, so it keeps its value; the column is declared over it and owns it afterwards.
    let adopted = moved_sequences(from, to, Kind::Sequence, Kind::OwnedSequence);
    for name in &released {
        changes.push(Change::plain(format!("ALTER SEQUENCE {name} OWNED BY NONE")));
    }
    let declare = |table: &str, name: &str, def: &str| {
        let serial_over_adopted = column(def).default.and_then(nextval_sequence).is_some_and(|s| {
            adopted
                .iter()
                .any(|a| a == &s || (parts(&s).len() == 1 && a == &format!("public.{s}")))
        });
        if serial_over_adopted {
            explicit_declaration(name, def)
        } else {
            declaration(table, name, def)
        }
    };

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
            // A new collation is a new type to what reads the column (ALTER … TYPE … COLLATE).
            (Some(a), Some(b)) => {
                let (a, b) = (column(a), column(b));
                a.data_type != b.data_type || a.collate != b.collate
            }
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
    changes.extend(pinned.column_drops.iter().cloned());

    // An unchanged foreign key over a column whose type changes, on either side, pins it:
    // each ALTER COLUMN … TYPE checks the key's two column types against each other, so it is
    // dropped here and added again (NOT VALID, then validated) once both sides have changed.
    // So does one that the server records as using the index of a key or unique index that
    // the plan drops or replaces (renamed, widened): the index cannot go while it does.
    let replaced_key_indexes: Vec<String> = differences
        .iter()
        .filter(|d| d.from.is_some())
        .filter_map(|d| match d.kind {
            Kind::Index => Some(d.name.clone()),
            Kind::Constraint
                if d.from
                    .as_deref()
                    .is_some_and(|f| f.starts_with("PRIMARY KEY") || f.starts_with("UNIQUE")) =>
            {
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
    let pinned_keys: Vec<Difference> = from
        .objects()
        .filter(|(kind, name, def)| {
            *kind == Kind::Constraint
                && def.starts_with("FOREIGN KEY")
                && to.get(Kind::Constraint, name).map(collapse) == Some(collapse(def))
                && !old_tables.contains(&split_last(name).0.as_str())
                && (foreign_key_retyped(name, def, &retyped) || uses_replaced_key(name))
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
                if d.from
                    .as_deref()
                    .is_some_and(|f| f.starts_with("PRIMARY KEY") || f.starts_with("UNIQUE")) =>
            {
                Some(bare_name(&split_last(&d.name).0).to_string())
            }
            Kind::Index
                if d.from
                    .as_deref()
                    .is_some_and(|f| f.starts_with("CREATE UNIQUE")) =>
            {
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
        // Gone with its table, or with a materialized view dropped or rebuilt.
        let view_gone = from.get(Kind::View, on).is_some() && to.get(Kind::View, on).is_none();
        if !old_tables.contains(&on) && !rebuilt.iter().any(|v| v == on) && !view_gone {
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
    // Generated columns before the columns they are computed from.
    let mut dropped_columns: Vec<&Difference> =
        of(Kind::Column).filter(|d| d.to.is_none()).collect();
    dropped_columns.sort_by_key(|d| {
        column(d.from.as_deref().unwrap_or_default())
            .generated
            .is_none()
    });
    for d in dropped_columns {
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
    let mut cleared = graph::routines_on_dropped_tables(from, &differences, &old_tables);
    // So does a changed routine built on a routine the plan drops (an aggregate on its old
    // state function): the dropped one cannot go while it stands.
    for gone in of(Kind::Function).filter(|d| d.to.is_none()) {
        for (kind, dependent) in from.dependents(Kind::Function, &gone.name) {
            let changed = differences.iter().any(|d| {
                d.kind == Kind::Function
                    && d.name == dependent
                    && d.from.is_some()
                    && d.to.is_some()
            });
            if kind == Kind::Function && changed && !cleared.iter().any(|c| c == dependent) {
                cleared.push(dependent.to_string());
            }
        }
    }
    for name in &cleared {
        let what = routine_kind(from.get(Kind::Function, name).unwrap_or_default());
        changes.push(Change::plain(format!("DROP {what} {name}")));
    }
    let dropped_last = graph::routines_dropped_last(from, to, &differences);
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
    changes.extend(standalone::drops(&differences));
    for d in dropped_routines {
        let what = routine_kind(d.from.as_deref().unwrap_or_default());
        changes.push(Change::plain(format!("DROP {what} {}", d.name)));
    }
    // Types go once no column has them: after the columns that change away from them.
    let mut type_drops = Vec::new();
    // A sequence that goes while one of the same options and schema comes, and a column that
    // stays moves its default from the one to the other, was renamed: renamed in place, it
    // keeps its value (created anew, it would hand out numbers the rows already hold).
    let renamed_sequences: Vec<(String, String)> = of(Kind::Sequence)
        .filter(|d| d.to.is_none())
        .filter_map(|gone| {
            let new = of(Kind::Sequence).find(|d| {
                d.from.is_none()
                    && d.to == gone.from
                    && parts(&d.name).first() == parts(&gone.name).first()
                    && from.objects().any(|(kind, name, def)| {
                        kind == Kind::Column
                            && to.get(Kind::Column, name).is_some_and(|new_def| {
                                column(def)
                                    .default
                                    .and_then(nextval_sequence)
                                    .map(|s| bare_name(&s).to_string())
                                    == Some(bare_name(&gone.name).to_string())
                                    && column(new_def)
                                        .default
                                        .and_then(nextval_sequence)
                                        .map(|s| bare_name(&s).to_string())
                                        == Some(bare_name(&d.name).to_string())
                            })
                    })
            })?;
            Some((gone.name.clone(), new.name.clone()))
        })
        .collect();
    for (old, new) in &renamed_sequences {
        changes.push(Change::plain(format!(
            "ALTER SEQUENCE {old} RENAME TO {}",
            parts(new).last().copied().unwrap_or_default()
        )));
    }
    // So does a sequence that a column which stays draws from until its default changes.
    for d in of(Kind::Sequence)
        .filter(|d| d.to.is_none())
        .filter(|d| !renamed_sequences.iter().any(|(old, _)| *old == d.name))
        .filter(|d| !adopted.contains(&d.name))
    {
        let drop = Change::plain(format!("DROP SEQUENCE {}", d.name));
        if drawn_by_staying_column(from, to, &d.name) {
            type_drops.push(drop);
        } else {
            changes.push(drop);
        }
    }
    // A type whose name comes back as another kind of type (a composite made an enum) goes
    // before its successor is created.
    let type_kinds = [Kind::Range, Kind::Domain, Kind::Composite, Kind::Enum];
    let remade = |name: &str| {
        differences
            .iter()
            .any(|d| type_kinds.contains(&d.kind) && d.name == name && d.from.is_none())
    };
    for (kind, what) in [
        (Kind::Range, "TYPE"),
        (Kind::Collation, "COLLATION"),
        (Kind::Domain, "DOMAIN"),
        (Kind::Composite, "TYPE"),
        (Kind::Enum, "TYPE"),
    ] {
        for d in of(kind).filter(|d| d.to.is_none()) {
            let drop = Change::plain(format!("DROP {what} {}", d.name));
            if kind != Kind::Collation && remade(&d.name) {
                changes.push(drop);
            } else {
                type_drops.push(drop);
            }
        }
    }
    // An extension goes with the types it brings: once no column has them.
    for d in of(Kind::Extension).filter(|d| d.to.is_none()) {
        type_drops.push(Change::plain(format!("DROP EXTENSION {}", d.name)));
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
    changes.extend(standalone::text_search(&differences));
    // Collations before the columns that use them; one that changes under its columns is
    // not generated (they would have to let go of it first).
    for d in of(Kind::Collation).filter(|d| d.to.is_some()) {
        match d.from {
            None => changes.push(Change::plain(d.to.clone().unwrap_or_default())),
            Some(_) => changes.push(unsupported(d, "a collation's definition changed")),
        }
    }
    let (from_catalog, to_catalog) = (from, to);
    for d in of(Kind::Enum).filter(|d| d.to.is_some()) {
        let to = d.to.as_deref().unwrap_or_default();
        match d.from.as_deref() {
            None => changes.push(Change::plain(format!(
                "CREATE TYPE {} AS ENUM ({to})",
                d.name
            ))),
            Some(from) => {
                // Labels are literals, which may hold ", " themselves.
                let old: Vec<&str> = split_unquoted(from, ", ");
                let new: Vec<&str> = split_unquoted(to, ", ");
                // The old labels must keep their order; new ones may go anywhere, each placed
                // by its neighbour (squawk's require-enum-value-ordering: a bare ADD VALUE
                // appends).
                if !enum_rebuilt(from, to) {
                    for (i, label) in new.iter().enumerate() {
                        if old.contains(label) {
                            continue;
                        }
                        // An enum that had no label takes its first one bare; a first label
                        // goes before the first old one (the labels after it then follow it).
                        let first_old = new.iter().find(|l| old.contains(l));
                        let place = match (i, first_old) {
                            (0, None) => String::new(),
                            (0, Some(next)) => format!(" BEFORE {next}"),
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
    // A new domain over a new composite type comes after the composites.
    let mut late_domains = Vec::new();
    for d in of(Kind::Domain).filter(|d| d.to.is_some()) {
        match d.from {
            None => {
                let def = d.to.as_deref().unwrap_or_default();
                let base = domain(def).0;
                let create = Change::plain(format!("CREATE DOMAIN {} AS {def}", d.name));
                let over_new_composite = of(Kind::Composite).any(|c| {
                    c.from.is_none()
                        && (c.name == base || parts(&c.name).last().copied() == Some(base))
                });
                if over_new_composite {
                    late_domains.push(create);
                } else {
                    changes.push(create);
                }
            }
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
    changes.extend(late_domains);
    for d in of(Kind::Sequence)
        .filter(|d| d.to.is_some())
        .filter(|d| !renamed_sequences.iter().any(|(_, new)| *new == d.name))
    {
        let options = sequence_options(d.to.as_deref().unwrap_or_default());
        if let Some(change) = d
            .from
            .as_deref()
            .and_then(|old| narrowed_sequence(&d.name, old, d.to.as_deref().unwrap_or_default()))
        {
            changes.push(change);
            continue;
        }
        let verb = if d.from.is_none() && !released.contains(&d.name) {
            "CREATE"
        } else {
            "ALTER"
        };
        changes.push(Change::plain(format!(
            "{verb} SEQUENCE {} {options}",
            d.name
        )));
    }
    // Range types before the routines and columns that use them (a user routine as its
    // canonical or subtype_diff is not ordered before it); one that changes under its
    // columns is not generated.
    for d in of(Kind::Range).filter(|d| d.to.is_some()) {
        match d.from {
            None => changes.push(Change::plain(d.to.clone().unwrap_or_default())),
            Some(_) => changes.push(unsupported(d, "a range type's definition changed")),
        }
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
    for d in routines
        .into_iter()
        .chain(late_routines.iter().copied())
        .filter(|d| !pinned.routines.contains(&d.name))
    {
        let late = late_routines.iter().any(|l| l.name == d.name);
        let changes = if late {
            &mut routine_changes
        } else {
            &mut changes
        };
        let to_def = d.to.as_deref().unwrap_or_default();
        if let Some(from_def) = d.from.as_deref().filter(|_| !cleared.contains(&d.name)) {
            // An aggregate is replaced whole (its state type may change); CREATE OR REPLACE
            // cannot change a function's result type or its parameters' names and defaults.
            if needs_drop(from_def, to_def) {
                let what = routine_kind(from_def);
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
    // A table that inherits comes after its parents: sorted by how many ancestors it has.
    let ancestors = |table: &str| {
        let mut seen: Vec<String> = Vec::new();
        let mut next = vec![table.to_string()];
        while let Some(t) = next.pop() {
            for parent in to
                .get(Kind::Table, &t)
                .map(|def| TableTraits::of(def).parents())
                .unwrap_or_default()
            {
                if !seen.iter().any(|s| s == parent) {
                    seen.push(parent.to_string());
                    next.push(parent.to_string());
                }
            }
        }
        seen.len()
    };
    created.sort_by_key(|d| {
        (
            d.to.as_deref()
                .is_some_and(|t| t.contains(" partition of ")),
            ancestors(&d.name),
        )
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
            let serial = declare(&table, column_name, column_def).ends_with("serial")
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
            .map(|(name, column_def)| declare(&d.name, split_last(name).1, column_def))
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
        if let Some(parents) = TableTraits::of(def).inherits {
            sql.push_str(&format!(" INHERITS ({parents})"));
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
    changes.extend(standalone::creations(&differences));
    // What validates a constraint added NOT VALID: after everything else that runs in a
    // transaction, and (see `cut_into_files`) in a transaction of its own, so the long scan
    // holds only the weak lock VALIDATE takes.
    for d in of(Kind::Table).filter(|d| d.from.is_some() && d.to.is_some()) {
        let (from, to) = (
            d.from.as_deref().unwrap_or(""),
            d.to.as_deref().unwrap_or(""),
        );
        changes.extend(alter_table(d, &TableTraits::of(from), &TableTraits::of(to)));
    }
    // Indexes on a generated column dropped and added again, built again CONCURRENTLY.
    let mut regenerated_indexes: Vec<String> = Vec::new();
    // Added columns in the order they are declared.
    let mut columns: Vec<&Difference> = of(Kind::Column).filter(|d| d.to.is_some()).collect();
    columns.sort_by_key(|d| (split_last(&d.name).0, to.position(&d.name)));
    for d in columns {
        let (table, name) = split_last(&d.name);
        if new_tables.contains(&table.as_str())
            || from_parent(d, &differences, from, to)
            || pinned.regenerated.contains(&d.name)
        {
            continue;
        }
        let to_def = d.to.as_deref().unwrap_or_default();
        match d.from.as_deref() {
            None => {
                let c = column(to_def);
                let change = format!(
                    "ALTER TABLE {table} ADD COLUMN {}",
                    declare(&table, name, to_def)
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
                // A partitioned table's key column cannot change type: the table must be
                // made again with its partitions.
                let in_key = from
                    .get(Kind::Table, &table)
                    .and_then(|def| def.strip_prefix("partitioned by "))
                    .is_some_and(|key| mentions(key, name));
                if retyped && in_key {
                    changes.push(unsupported(d, "a partition key column's type changed"));
                    continue;
                }
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
        let before = if adopted.contains(&d.name) {
            from.get(Kind::Sequence, &d.name)
        } else {
            d.from.as_deref()
        };
        if before.is_none() && def == serial_sequence_def(owner_type(to, &d.name))
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
    // A primary key or unique constraint added to a table that exists is built online: its
    // index CONCURRENTLY, then the constraint takes it over (`USING INDEX`), holding ACCESS
    // EXCLUSIVE for a moment instead of the whole build. Foreign keys that reference it wait.
    // (PRIMARY KEY or UNIQUE, its columns, what follows them: DEFERRABLE…)
    let online = |table: &str, def: &str| -> Option<(&'static str, String, String)> {
        let plain_table = to
            .get(Kind::Table, table)
            .is_some_and(|t| t.starts_with("table") && !t.contains(" partition of "));
        if new_tables.contains(&table) || !plain_table {
            return None;
        }
        let (kind, rest) = ["PRIMARY KEY", "UNIQUE"]
            .into_iter()
            .find_map(|k| def.strip_prefix(k).map(|rest| (k, rest)))?;
        let (columns, after) = rest.strip_prefix(" (")?.split_once(')')?;
        if !["", " DEFERRABLE", " DEFERRABLE INITIALLY DEFERRED"].contains(&after) {
            return None;
        }
        Some((kind, columns.to_string(), after.to_string()))
    };
    let mut online_keys: Vec<(String, String)> = Vec::new();
    let mut online_indexes: Vec<Change> = Vec::new();
    let mut keys_using_index: Vec<Change> = Vec::new();
    for d in &added_constraints {
        let (table, _) = split_last(&d.name);
        if let Some((_, columns, _)) = online(&table, d.to.as_deref().unwrap_or_default()) {
            online_keys.push((bare_name(&table).to_string(), column_set(&columns)));
        }
    }
    for d in added_constraints {
        let (table, name) = split_last(&d.name);
        let def = d.to.as_deref().unwrap_or_default();
        if let Some((kind, columns, after)) = online(&table, def) {
            online_indexes.push(Change::concurrent(format!(
                "CREATE UNIQUE INDEX CONCURRENTLY {name} ON {table} ({columns})"
            )));
            keys_using_index.push(Change::plain(format!(
                "ALTER TABLE {table} ADD CONSTRAINT {name} {kind} USING INDEX {name}{after}"
            )));
            continue;
        }
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
                let key = (bare_name(referenced).to_string(), columns);
                Some(online_keys.contains(&key) || (!keyed && new_unique.contains(&key)))
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
    changes.extend(pinned.column_creates.iter().cloned());
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
    let pinned_names: Vec<String> = pinned_triggers
        .iter()
        .map(|(name, _)| name.clone())
        .collect();
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
    changes.extend(online_indexes);
    changes.extend(keys_using_index);
    changes.extend(by_index);
    changes.extend(late_keys);
    changes.extend(late_validations);
    // A sequence a column owned and drew from, when the column stays and draws from it no
    // more (a serial's own sequence is dropped with its default above).
    for d in of(Kind::OwnedSequence)
        .filter(|d| d.to.is_none())
        .filter(|d| !released.contains(&d.name))
    {
        let seq = bare_name(&d.name);
        let drawn_by_staying_column = drawn_by_staying_column(from, to, &d.name);
        let dropped = changes.iter().any(|c| {
            c.sql
                .strip_prefix("DROP SEQUENCE ")
                .map(|n| n.trim_start_matches("IF EXISTS "))
                .is_some_and(|n| n == d.name || (parts(n).len() == 1 && bare_name(n) == seq))
        });
        if drawn_by_staying_column && !dropped {
            changes.push(Change::plain(format!("DROP SEQUENCE IF EXISTS {}", d.name)));
        }
    }
    // Routines that what the plan kept or changed used until now.
    for d in dropped_last {
        let what = routine_kind(d.from.as_deref().unwrap_or_default());
        changes.push(Change::plain(format!("DROP {what} {}", d.name)));
    }
    // What hangs on relations and triggers, once they exist, and on those created again.
    let recreated = attached::Recreated {
        views: &rebuilt,
        triggers: of(Kind::Trigger)
            .filter(|d| d.from.is_some() && d.to.is_some())
            .map(|d| d.name.clone())
            .chain(pinned_names)
            .chain(
                to.objects()
                    .filter(|&(kind, name, _)| {
                        kind == Kind::Trigger && rebuilt.iter().any(|v| *v == split_last(name).0)
                    })
                    .map(|(_kind, name, _)| name.to_string()),
            )
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
    // Schemas last, once nothing the plan drops is left in them (a type goes after the
    // columns that leave it, an extension before its schema).
    for d in of(Kind::Schema).filter(|d| d.to.is_none()) {
        changes.push(Change::hazard(
            format!("DROP SCHEMA {}", d.name),
            &[HazardKind::DeletesData],
            "deletes the schema",
        ));
    }
    changes
}

/// Whether a new table's constraint is written inside its `CREATE TABLE`: all but foreign keys
/// (the table they reference may come later) and what is `NOT VALID` (not allowed there).
pub(crate) fn inlined_constraint(def: &str) -> bool {
    !def.starts_with("FOREIGN KEY") && !def.ends_with("NOT VALID")
}

/// Whether a column that stays in `to` takes its default from `sequence` in `from`.
/// The sequences that `from` has as one kind and `to` as the other (owned by a column or
/// standing alone): the same sequence, whose owner changes.
fn moved_sequences(from: &Catalog, to: &Catalog, was: Kind, is: Kind) -> Vec<String> {
    from.objects()
        .filter(|(kind, name, _)| *kind == was && to.get(is, name).is_some())
        .map(|(_, name, _)| name.to_string())
        .collect()
}

fn drawn_by_staying_column(from: &Catalog, to: &Catalog, sequence: &str) -> bool {
    let seq = bare_name(sequence);
    from.objects().any(|(kind, name, def)| {
        kind == Kind::Column
            && to.get(Kind::Column, name).is_some()
            && column(def)
                .default
                .and_then(nextval_sequence)
                .is_some_and(|s| bare_name(&s) == seq)
    })
}

/// Whether the object a comment (`COLUMN a.b.c`, `TABLE a.b`, …) is on exists in `to`.
pub(crate) fn comment_target_stays(name: &str, to: &Catalog) -> bool {
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
        // A column of a table, or of a view or composite type (their attributes are not
        // modelled one by one).
        "COLUMN" => {
            found(&[Kind::Column], object)
                || found(&[Kind::View, Kind::Composite], &split_last(object).0)
        }
        "TABLE" => found(&[Kind::Table], object),
        "VIEW" | "MATERIALIZED" => found(
            &[Kind::View],
            object.strip_prefix("VIEW ").unwrap_or(object),
        ),
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

/// Whether the foreign key `name` (`schema.table.key`, defined by `def`) has a column among
/// `retyped` (table, column), on its own table or on the one it references.
pub(crate) fn foreign_key_retyped(name: &str, def: &str, retyped: &[(String, &str)]) -> bool {
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
