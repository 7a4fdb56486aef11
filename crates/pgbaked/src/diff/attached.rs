//! The plan for what hangs on tables, columns, triggers and views beyond their own
//! definitions (rules, extended statistics, settings such as a disabled trigger or a view's
//! `security_barrier`), including what a relation or trigger the plan drops and creates again
//! loses on the way; and the unsupported change for each object of a kind not modelled.

use super::catalog::{Catalog, Difference, Kind};
use super::change::{Change, unsupported};
use super::name::object_name;
use super::name::{collapse, first_word, split_last, split_unquoted};
use crate::diff::name::Unquoted;
use crate::quote::unquote;

/// What the plan drops and creates again, so that what hangs on it is put back.
pub(crate) struct Recreated<'a> {
    /// Views (and materialized views) dropped and created again around a change under them.
    pub views: &'a [String],
    /// Triggers dropped and created again (changed, or pinned by a column's new type).
    pub triggers: Vec<String>,
}

/// The object a setting named `KIND target ATTRIBUTE` hangs on: its kind and qualified name
/// (a view's column is looked for as its view).
fn setting_target(name: &str) -> Option<(Kind, String)> {
    let (kind, rest) = name.split_once(' ')?;
    let (target, _) = rest.rsplit_once(' ')?;
    Some(match kind {
        "TABLE" => (Kind::Table, target.to_string()),
        "COLUMN" => (Kind::Column, target.to_string()),
        "TRIGGER" => (Kind::Trigger, target.to_string()),
        // A partition's clone of its parent's trigger: there while the parent's is.
        "PARTITION_TRIGGER" => (
            Kind::Trigger,
            target.split_once_unquoted(" ")?.0.to_string(),
        ),
        "RULE" => (Kind::Rule, target.to_string()),
        "VIEW" => (Kind::View, target.to_string()),
        "VIEW_COLUMN" => (Kind::View, split_last(target).0),
        "INDEX" => (Kind::Index, target.to_string()),
        "EXTENSION" => (Kind::Extension, target.to_string()),
        "TABLE_OWNER" => (Kind::Table, target.to_string()),
        "VIEW_OWNER" | "MATERIALIZED_VIEW_OWNER" => (Kind::View, target.to_string()),
        "SEQUENCE_OWNER" => (Kind::Sequence, target.to_string()),
        "FUNCTION_OWNER" => (Kind::Function, target.to_string()),
        "SCHEMA_OWNER" => (Kind::Schema, target.to_string()),
        "TYPE_OWNER" => (Kind::Enum, target.to_string()),
        "PUBLICATION_OWNER" => (Kind::Publication, target.to_string()),
        "COLLATION_OWNER" => (Kind::Collation, target.to_string()),
        "OPERATOR_OWNER" => (Kind::Operator, target.to_string()),
        "TEXT_SEARCH_CONFIGURATION_OWNER" => (Kind::TextSearchConfiguration, target.to_string()),
        "TEXT_SEARCH_DICTIONARY_OWNER" => (Kind::TextSearchDictionary, target.to_string()),
        "STATISTICS_OWNER" => (Kind::Statistics, target.to_string()),
        _ => return None,
    })
}

/// Rules and statistics that go or change, dropped before anything they could depend on
/// changes; a rule on a table the plan drops goes with it.
pub(crate) fn drops(differences: &[Difference], old_tables: &[&str]) -> Vec<Change> {
    let mut changes = Vec::new();
    for d in differences.iter().filter(|d| d.from.is_some()) {
        match d.kind {
            Kind::Rule if d.to.is_none() => {
                let (relation, rule) = split_last(&d.name);
                if !old_tables.contains(&relation.as_str()) {
                    changes.push(Change::plain(format!(
                        "DROP RULE IF EXISTS {rule} ON {relation}"
                    )));
                }
            }
            // Its columns may be dropped first, which takes it along: IF EXISTS.
            Kind::Statistics => changes.push(Change::plain(format!(
                "DROP STATISTICS IF EXISTS {}",
                d.name
            ))),
            // Changed ones are made again whole: nothing depends on them.
            Kind::EventTrigger => {
                changes.push(Change::plain(format!("DROP EVENT TRIGGER {}", d.name)))
            }
            Kind::Publication => {
                changes.push(Change::plain(format!("DROP PUBLICATION {}", d.name)))
            }
            _ => {}
        }
    }
    changes
}

/// Rules, statistics and settings once every relation, column and trigger is in place; what
/// a recreated view or trigger held, put back; and a note for each object not modelled.
pub(crate) fn creations(
    from: &Catalog,
    to: &Catalog,
    differences: &[Difference],
    recreated: &Recreated<'_>,
) -> Vec<Change> {
    let mut changes = Vec::new();
    // Partitions' indexes renamed once the server has made them.
    let mut renames = Vec::new();
    let changed =
        |kind: Kind, name: &str| differences.iter().any(|d| d.kind == kind && d.name == name);
    let on_view = |name: &str| recreated.views.iter().any(|v| *v == split_last(name).0);
    // A view's triggers and rules go with it: unchanged ones are created again.
    for (kind, name, def) in to.objects() {
        if matches!(kind, Kind::Trigger | Kind::Rule) && on_view(name) && !changed(kind, name) {
            changes.push(Change::plain(def));
        }
    }
    for d in differences {
        match (d.kind, d.from.as_deref(), d.to.as_deref()) {
            (Kind::Rule, None, Some(def)) => changes.push(Change::plain(def)),
            (Kind::Rule, Some(_), Some(def)) => changes.push(Change::plain(def.replacen(
                "CREATE RULE ",
                "CREATE OR REPLACE RULE ",
                1,
            ))),
            (Kind::Statistics | Kind::EventTrigger | Kind::Publication, _, Some(def)) => {
                changes.push(Change::plain(def))
            }
            // A partition's index goes with its parent's, or with its table.
            (Kind::Unmodelled, Some(def), None)
                if def
                    .rsplit_once_unquoted("; attached to ")
                    .is_some_and(|(_, parent)| {
                        let (schema, parent_name) = split_last(parent);
                        differences.iter().filter(|p| p.to.is_none()).any(|p| {
                            (p.kind == Kind::Index && p.name == parent)
                                || (p.kind == Kind::Constraint && {
                                    let (table, constraint) = split_last(&p.name);
                                    constraint == parent_name && split_last(&table).0 == schema
                                })
                        })
                    })
                    || d.name
                        .rsplit_once_unquoted(" ON PARTITION ")
                        .is_some_and(|(_, table)| to.get(Kind::Table, table).is_none()) => {}
            // One the server names itself when the plan creates its parent's index or its
            // partition.
            (Kind::Unmodelled, None, Some(def))
                if generated_partition_index(d, def, differences, from, to) => {}
            // A typed table the plan creates (`CREATE TABLE … OF`) or drops.
            (Kind::Unmodelled, None, Some(_)) | (Kind::Unmodelled, Some(_), None)
                if d.name.strip_prefix("TABLE ").is_some_and(|table| {
                    let new = d.from.is_none();
                    let catalog = if new { to } else { from };
                    crate::diff::plan::typed_table_type(catalog, table).is_some()
                        && differences.iter().any(|t| {
                            t.kind == Kind::Table
                                && t.name == table
                                && t.from.is_none() == new
                                && t.to.is_none() != new
                        })
                }) => {}
            // One the server makes under its own name, which the target names otherwise:
            // renamed once made (a partition's index may be renamed).
            (Kind::Unmodelled, None, Some(def))
                if server_named_partition_index(d, def, differences, from, to).is_some()
                    && !partition_index_name(&d.name)
                        .is_some_and(|name| carried_by_attach(name, from, to, differences)) =>
            {
                if let Some((index, expected)) =
                    server_named_partition_index(d, def, differences, from, to)
                {
                    let schema = split_last(index).0;
                    renames.push(Change::plain(format!(
                        "ALTER INDEX {schema}.{} RENAME TO {}",
                        crate::quote::quote_identifier(&expected),
                        split_last(index).1
                    )));
                }
            }
            // One an attach takes over, or a detach leaves standing, as the target has it.
            (Kind::Unmodelled, _, _)
                if partition_index_name(&d.name)
                    .is_some_and(|name| carried_by_attach(name, from, to, differences)) => {}
            // One a detach leaves standing that the target does not have: dropped after the
            // detach (`detached_leftovers`).
            (Kind::Unmodelled, Some(_), None)
                if d.name.strip_prefix("INDEX ").is_some_and(|rest| {
                    rest.split_once_unquoted(" ON PARTITION ")
                        .is_some_and(|(_, table)| partition_changes(table, from, to))
                }) => {}
            // Privileges are read without `--with-privileges` only to say that they differ.
            (Kind::Unmodelled, _, _)
                if d.name.starts_with("GRANT ON ") || d.name.starts_with("DEFAULT PRIVILEGES ") =>
            {
                changes.push(unsupported(
                    d,
                    "privileges differ, and are compared and planned only with \
                     --with-privileges (APP_WITH_PRIVILEGES=1)",
                ))
            }
            (Kind::Unmodelled, _, _) if d.name.starts_with("OWNER PRIVILEGES ON ") => {
                changes.push(unsupported(
                    d,
                    "the privileges its owner holds on it differ (a REVOKE from the owner)",
                ))
            }
            (Kind::Unmodelled, _, _) => {
                changes.push(unsupported(d, "this kind of object is not modelled"))
            }
            _ => {}
        }
    }
    changes.extend(settings(from, to, differences, recreated));
    changes.extend(renames);
    changes
}

/// Settings: set where new or changed; reset where gone from an object that stays; set again
/// where the object they are on is created again.
fn settings(
    from: &Catalog,
    to: &Catalog,
    differences: &[Difference],
    recreated: &Recreated<'_>,
) -> Vec<Change> {
    let mut changes = Vec::new();
    let changed =
        |kind: Kind, name: &str| differences.iter().any(|d| d.kind == kind && d.name == name);
    for (_, name, def) in to.objects().filter(|(kind, ..)| *kind == Kind::Setting) {
        if let Some(column) = name
            .strip_prefix("COLUMN ")
            .and_then(|rest| rest.strip_suffix(" IDENTITY SEQUENCE NAME"))
        {
            changes.extend(renamed_identity_sequence(from, column, def));
            continue;
        }
        let put_back = setting_target(name).is_some_and(|(kind, target)| match kind {
            // A materialized view made again is clustered on no index (`TABLE m CLUSTER`).
            Kind::View | Kind::Table => recreated.views.contains(&target),
            Kind::Trigger => recreated.triggers.contains(&target),
            // A rule made again is enabled.
            Kind::Rule => changed(Kind::Rule, &target),
            // An index built again starts from the default targets.
            Kind::Index => changed(Kind::Index, &target),
            // A new type resets a column's storage; a column dropped and added back loses all.
            Kind::Column => changed(Kind::Column, &target),
            // A routine or type made again is its maker's (owners).
            Kind::Function | Kind::Enum => same_family(kind).iter().any(|k| changed(*k, &target)),
            Kind::Publication
            | Kind::Collation
            | Kind::Operator
            | Kind::TextSearchConfiguration
            | Kind::TextSearchDictionary
            | Kind::Statistics => changed(kind, &target),
            _ => false,
        });
        // A sequence's owner is set by the column (serial) or statement that makes a new one;
        // only a sequence that stays is moved to another column.
        let new_sequence = name.strip_prefix("SEQUENCE ").is_some_and(|rest| {
            let sequence = rest.rsplit_once(' ').map_or(rest, |(s, _)| s);
            from.get(Kind::Sequence, sequence).is_none()
                && from.get(Kind::OwnedSequence, sequence).is_none()
        });
        if (changed(Kind::Setting, name) || put_back) && !new_sequence {
            // An identity's bounds on a column that had the identity: its value kept inside.
            let bounded = name
                .strip_prefix("COLUMN ")
                .and_then(|rest| rest.strip_suffix(" IDENTITY"))
                .filter(|column| from.column(column).is_some_and(|c| c.identity.is_some()))
                .and_then(|column| {
                    let (table, column) = split_last(column);
                    super::column::bounded_identity_options(def, &table, column)
                });
            changes.push(bounded.unwrap_or_else(|| Change::plain(def)));
        }
    }
    for d in differences.iter().filter(|d| {
        d.kind == Kind::Setting && d.to.is_none() && !d.name.ends_with(" IDENTITY SEQUENCE NAME")
    }) {
        // Default privileges belong to a role, which stays.
        let stays = d.name.starts_with("DEFAULT_PRIVILEGES ")
            || setting_target(&d.name).is_some_and(|(kind, target)| {
                let kinds = same_family(kind);
                kinds
                    .iter()
                    .find_map(|k| to.get(*k, &target))
                    .is_some_and(|def| {
                        // An identity's options go with the identity.
                        !d.name.ends_with(" IDENTITY") || def.ends_with(" AS IDENTITY")
                    })
                    && !(kind == Kind::View && recreated.views.contains(&target))
                    && !(kind == Kind::Trigger && recreated.triggers.contains(&target))
            });
        if let (true, Some(reset)) = (stays, from.reset(&d.name)) {
            changes.push(Change::plain(reset));
        }
    }
    changes
}

/// Comments on a view the plan creates again, which `DROP VIEW` took along, and which are not
/// differences (those are planned anyway).
pub(crate) fn view_comments(
    to: &Catalog,
    differences: &[Difference],
    views: &[String],
) -> Vec<(String, String)> {
    to.objects()
        .filter(|(kind, name, _)| {
            *kind == Kind::Comment
                && !differences
                    .iter()
                    .any(|d| d.kind == Kind::Comment && d.name == *name)
                && views.iter().any(|v| {
                    name.strip_prefix("VIEW ")
                        .or_else(|| name.strip_prefix("MATERIALIZED VIEW "))
                        == Some(v.as_str())
                        || name
                            .strip_prefix("COLUMN ")
                            .is_some_and(|c| split_last(c).0 == *v)
                        // `TRIGGER g ON s.v`, `RULE r ON s.v`: they went with their view.
                        || name
                            .strip_prefix("TRIGGER ")
                            .or_else(|| name.strip_prefix("RULE "))
                            .and_then(|rest| rest.rsplit_once_unquoted(" ON "))
                            .is_some_and(|(_, relation)| relation == v)
                })
        })
        .map(|(_, name, text)| (name.to_string(), text.to_string()))
        .collect()
}

/// What a detach of `table` leaves standing that the target does not have: the partition's
/// indexes, dropped, and the keys they back (a partition's copy of its parent's primary key
/// stays a constraint of its own), dropped as constraints.
pub(crate) fn detached_leftovers(
    table: &str,
    from: &Catalog,
    to: &Catalog,
    differences: &[Difference],
) -> Vec<Change> {
    let mut changes = Vec::new();
    for (kind, key, def) in from.objects() {
        let Some(name) = partition_index_name(key) else {
            continue;
        };
        let on_table = key.ends_with(&format!(" ON PARTITION {table}"));
        if kind != Kind::Unmodelled || !on_table || carried_by_attach(name, from, to, differences) {
            continue;
        }
        let parent = def.rsplit_once_unquoted("; attached to ").map(|(_, p)| p);
        let backs_key = parent.is_some_and(|parent| {
            let (schema, parent_name) = split_last(parent);
            from.objects().any(|(kind, constraint, _)| {
                let (on, constraint) = split_last(constraint);
                kind == Kind::Constraint && constraint == parent_name && split_last(&on).0 == schema
            })
        });
        changes.push(Change::plain(if backs_key {
            format!("ALTER TABLE {table} DROP CONSTRAINT {}", split_last(name).1)
        } else {
            format!("DROP INDEX {name}")
        }));
    }
    // The parent's checks and foreign keys, which the partition keeps as its own.
    for (constraint, _) in detached_constraints(table, from, to) {
        if !kept_by_detach(&format!("{table}.{constraint}"), from, to) {
            changes.push(Change::plain(format!(
                "ALTER TABLE {table} DROP CONSTRAINT {constraint}"
            )));
        }
    }
    changes
}

/// The checks and foreign keys of the parent a table the plan detaches leaves (as
/// `(name, definition)`): the partition holds them under the same names, and keeps them.
fn detached_constraints<'c>(
    table: &str,
    from: &'c Catalog,
    to: &Catalog,
) -> Vec<(&'c str, &'c str)> {
    let (Some(old), Some(new)) = (from.table(table), to.table(table)) else {
        return Vec::new();
    };
    let (Some((parent, _)), None) = (old.partition_of, new.partition_of) else {
        return Vec::new();
    };
    let parent = super::table::qualified_parent(parent);
    from.objects()
        .filter(|(kind, name, def)| {
            *kind == Kind::Constraint
                && split_last(name).0 == parent
                && (def.starts_with("CHECK ") || def.starts_with("FOREIGN KEY"))
        })
        .map(|(_, name, def)| (split_last(name).1, def))
        .collect()
}

/// Whether the constraint `name` (`schema.table.constraint`) of a table the plan detaches or
/// attaches is its parent's, under the same name and definition: a detached partition keeps
/// it as its own (nothing to add), an attached one takes it for the parent's (nothing to
/// drop).
pub(crate) fn kept_by_detach(name: &str, from: &Catalog, to: &Catalog) -> bool {
    let (table, constraint) = split_last(name);
    let detached = to.get(Kind::Constraint, name).is_some_and(|def| {
        detached_constraints(&table, from, to)
            .iter()
            .any(|(c, d)| *c == constraint && *d == def)
    });
    let attached = from.get(Kind::Constraint, name).is_some_and(|def| {
        detached_constraints(&table, to, from)
            .iter()
            .any(|(c, d)| *c == constraint && *d == def)
    });
    detached || attached
}

/// The index's name in a partition index entry's key (`INDEX s.i ON PARTITION s.t`).
fn partition_index_name(key: &str) -> Option<&str> {
    key.strip_prefix("INDEX ")?
        .split_once_unquoted(" ON PARTITION ")
        .map(|(name, _)| name)
}

/// Whether the index `name` is carried over by a table the plan attaches as a partition or
/// detaches, or by a new index on its parent: a standalone index on one side and, under the
/// same name and definition, a partition's index attached to its parent's on the other
/// (`ATTACH PARTITION` and a parent's `CREATE INDEX` take a matching index of the partition
/// for theirs, `DETACH PARTITION` leaves it standing).
pub(crate) fn carried_by_attach(
    name: &str,
    from: &Catalog,
    to: &Catalog,
    differences: &[Difference],
) -> bool {
    let partition_index = |catalog: &Catalog| {
        catalog.objects().find_map(|(kind, key, def)| {
            let rest = key.strip_prefix("INDEX ")?.strip_prefix(name)?;
            let table = rest.strip_prefix(" ON PARTITION ")?;
            (kind == Kind::Unmodelled).then(|| {
                let (create, parent) = def
                    .rsplit_once_unquoted("; attached to ")
                    .unwrap_or((def, ""));
                (table.to_string(), collapse(create), parent.to_string())
            })
        })
    };
    let standalone = |catalog: &Catalog| catalog.get(Kind::Index, name).map(collapse);
    let (table, same, parent, attaching) = match (partition_index(from), partition_index(to)) {
        (Some((table, create, parent)), None) => {
            (table, standalone(to) == Some(create), parent, false)
        }
        (None, Some((table, create, parent))) => {
            (table, standalone(from) == Some(create), parent, true)
        }
        _ => return false,
    };
    // A new index on the parent takes over the partition's matching index, under its name.
    let parent_is_new = attaching
        && differences
            .iter()
            .any(|d| d.kind == Kind::Index && d.name == parent && d.from.is_none());
    same && (partition_changes(&table, from, to) || parent_is_new)
}

/// Whether the table `name` stays and becomes a partition or stops being one.
pub(crate) fn partition_changes(name: &str, from: &Catalog, to: &Catalog) -> bool {
    match (from.table(name), to.table(name)) {
        (Some(a), Some(b)) => a.partition_of.is_some() != b.partition_of.is_some(),
        _ => false,
    }
}

/// Whether `d`, a partition's index the plan does not have (`INDEX s.name ON PARTITION s.table`,
/// defined as `CREATE INDEX … (columns); attached to s.parent_index`), is the one the server
/// makes with its own name when the plan creates the parent's index (or key) or the partition:
/// the partition's name, the columns' (`expr` for an expression), and what the parent is, as
/// PostgreSQL's `ChooseIndexName` writes it: `pkey` (no columns) under a primary key, `key`
/// under a unique constraint, `excl` under an exclusion constraint, `idx` under an index.
fn generated_partition_index(
    d: &Difference,
    def: &str,
    differences: &[Difference],
    from: &Catalog,
    to: &Catalog,
) -> bool {
    server_named_partition_index(d, def, differences, from, to)
        .is_some_and(|(index, expected)| unquote(split_last(index).1) == expected)
}

/// The partition's index `d` (as in [`generated_partition_index`]) and the name the server
/// gives it when the plan creates its parent's index (or key) or the partition, or attaches
/// the partition; `None` when the plan makes none of them.
fn server_named_partition_index<'d>(
    d: &'d Difference,
    def: &str,
    differences: &[Difference],
    from: &Catalog,
    to: &Catalog,
) -> Option<(&'d str, String)> {
    let (index, partition) = d
        .name
        .strip_prefix("INDEX ")
        .and_then(|rest| rest.split_once_unquoted(" ON PARTITION "))?;
    let (create, parent) = def.rsplit_once_unquoted("; attached to ")?;
    let new = |kind: Kind, name: &str| {
        differences
            .iter()
            .any(|p| p.kind == kind && p.name == name && p.from.is_none())
    };
    // The parent's constraint, when the parent index backs one: same schema, same name.
    let (schema, parent_name) = split_last(parent);
    let constraint = to.objects().find(|(kind, name, _)| {
        let (table, constraint) = split_last(name);
        *kind == Kind::Constraint && constraint == parent_name && split_last(&table).0 == schema
    });
    let parent_is_new = new(Kind::Index, parent)
        || constraint.is_some_and(|(_, name, _)| new(Kind::Constraint, name));
    if !parent_is_new && !new(Kind::Table, partition) && !partition_changes(partition, from, to) {
        return None;
    }
    let columns = create
        .split_once_unquoted(" USING ")
        .and_then(|(_, rest)| rest.split_once_unquoted(" ("))
        .map(|(_, rest)| {
            rest.split(") ")
                .next()
                .unwrap_or(rest)
                .trim_end_matches(')')
        })?;
    // Each key's name (before its operator class or order), or `expr` for an expression.
    let columns: Vec<String> = split_unquoted(columns, ", ")
        .into_iter()
        .map(|c| {
            let c = first_word(c).0;
            if c.chars().all(|ch| ch.is_alphanumeric() || ch == '_') || c.starts_with('"') {
                unquote(c)
            } else {
                "expr".to_string()
            }
        })
        .collect();
    let label = match constraint.map(|(_, _, def)| def) {
        Some(def) if def.starts_with("PRIMARY KEY") => "pkey",
        Some(def) if def.starts_with("EXCLUDE") => "excl",
        Some(_) => "key",
        None => "idx",
    };
    let table = unquote(split_last(partition).1);
    let expected = if label == "pkey" {
        primary_key_name(&table)
    } else {
        object_name(&table, &columns.join("_"), label)
    };
    Some((index, expected))
}

/// The name PostgreSQL gives a table's primary key index: `table_pkey`, the table's name cut
/// to fit in 63 bytes.
fn primary_key_name(table: &str) -> String {
    let mut end = table.len().min(63 - "_pkey".len());
    while !table.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}_pkey", &table[..end])
}

/// The identity sequence of `column`, which stays an identity, under its name in `to`
/// (`sequence`): `from`'s renamed (and moved) in place, keeping its value. A new identity is
/// made under its name by its `GENERATED … (SEQUENCE NAME …)`.
fn renamed_identity_sequence(from: &Catalog, column: &str, sequence: &str) -> Vec<Change> {
    let key = format!("COLUMN {column} IDENTITY SEQUENCE NAME");
    let Some(old) = from.get(Kind::Setting, &key) else {
        return Vec::new();
    };
    if old == sequence {
        return Vec::new();
    }
    let (old_parts, new_parts) = (super::name::parts(old), super::name::parts(sequence));
    let (Some(old_schema), Some(new_schema), Some(new_name)) =
        (old_parts.first(), new_parts.first(), new_parts.last())
    else {
        return Vec::new();
    };
    let mut changes = Vec::new();
    let mut current = old.to_string();
    if old_schema != new_schema {
        changes.push(Change::plain(format!(
            "ALTER SEQUENCE {current} SET SCHEMA {new_schema}"
        )));
        current = format!(
            "{new_schema}.{}",
            old_parts.last().copied().unwrap_or_default()
        );
    }
    if old_parts.last() != Some(new_name) {
        changes.push(Change::plain(format!(
            "ALTER SEQUENCE {current} RENAME TO {new_name}"
        )));
    }
    changes
}

/// The kinds a setting's target may be of: a type's owner is keyed under [`Kind::Enum`] for
/// every kind of type.
fn same_family(kind: Kind) -> Vec<Kind> {
    if kind == Kind::Enum {
        Kind::TYPES.to_vec()
    } else {
        vec![kind]
    }
}
