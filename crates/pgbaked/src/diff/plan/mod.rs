//! The SQL that turns one catalog into another, dependency-ordered and safe on a live
//! database where it can be: new indexes on existing tables are built `CONCURRENTLY`, foreign
//! keys and checks on existing tables are added `NOT VALID` and then validated, and every
//! statement that deletes data, rewrites a table or cannot be generated says so.
//!
//! [`plan`] runs the phases in the order the server needs them, each in a file of its own:
//! - `drops`: what goes or is pinned by a change (dependents first): triggers, policies and
//!   views around what they read, keys, indexes, columns, routines, tables, sequences, types;
//! - `creations`: schemas, extensions, collations, enums, domains, composites, sequences and
//!   ranges, each created or altered in place;
//! - `tables`: routines, new tables (parents before partitions and children), the changes of
//!   tables that stay, and the sequences their columns own;
//! - `columns`: columns added, retyped, given or relieved of defaults, identities and NOT NULL;
//! - `constraints`: keys before the foreign keys that reference them, online where they can be;
//! - `relations`: indexes, views (with the routines their row types type), triggers, policies;
//! - `finish`: storage, validations and concurrent builds, what hangs on relations, comments,
//!   privileges, and schemas last.
//!
//! The phases share one [`Plan`]: the two catalogs, their differences, and what one phase
//! decides for a later one (the views it rebuilds, the validations it defers).

mod columns;
mod constraints;
mod creations;
mod drops;
mod finish;
mod relations;
mod tables;
pub(crate) use tables::typed_table_type;
#[cfg(test)]
mod tests;

use super::catalog::{Catalog, Difference, Kind};
use super::change::Change;
use super::column::{Column, declaration, explicit_declaration, nextval_sequence};
use super::graph::Pinned;
use super::name::{bare_name, parts, split_last};
use crate::diff::name::Unquoted;

impl Catalog {
    /// The statements that turn this schema into `to`.
    pub fn plan(&self, to: &Catalog) -> Vec<Change> {
        plan(self, to)
    }
}

/// The plan from `from` to `to`.
pub(crate) fn plan(from: &Catalog, to: &Catalog) -> Vec<Change> {
    let differences = from.diff(to);
    let mut p = Plan::new(from, to, &differences);
    let mut changes = Vec::new();
    // SQL-language bodies are checked against tables that may come later in the plan.
    if differences
        .iter()
        .any(|d| d.kind == Kind::Function && d.to.is_some())
    {
        changes.push(Change::plain("SET check_function_bodies = off"));
    }
    changes.extend(p.partitions_changed(false));
    changes.extend(p.drops());
    // Creations and alterations, dependencies first.
    changes.extend(p.creations());
    let late_routines = p.routines(&mut changes);
    changes.extend(p.tables());
    changes.extend(late_routines);
    changes.extend(super::standalone::creations(&differences));
    changes.extend(p.altered_tables());
    changes.extend(p.columns());
    changes.append(&mut p.after_columns);
    changes.extend(p.owned_sequences());
    changes.extend(p.constraints());
    changes.extend(p.pinned.column_creates.iter().cloned());
    changes.extend(p.relations());
    p.finish(&mut changes);
    default_privileges_around(without_repeated_drops(changes), to)
}

/// Default privileges taken back before anything is created, and given last: a new object
/// gets the defaults in force when it is made, which are not the ones `to` had when it made
/// its objects (the plan grants each object's own privileges itself).
fn default_privileges_around(changes: Vec<Change>, to: &Catalog) -> Vec<Change> {
    let given: Vec<&str> = to
        .objects()
        .filter(|(kind, name, _)| *kind == Kind::Setting && name.starts_with("DEFAULT_PRIVILEGES "))
        .map(|(_, _, def)| def)
        .collect();
    let (defaults, mut rest): (Vec<Change>, Vec<Change>) = changes
        .into_iter()
        .partition(|c| c.sql.starts_with("ALTER DEFAULT PRIVILEGES "));
    let (last, first): (Vec<Change>, Vec<Change>) = defaults
        .into_iter()
        .partition(|c| given.contains(&c.sql.as_str()));
    // After `SET check_function_bodies` and the detaches that open the plan.
    let at = rest
        .iter()
        .position(|c| !c.sql.starts_with("SET ") && !c.sql.contains(" DETACH PARTITION "))
        .unwrap_or(rest.len());
    rest.splice(at..at, first);
    rest.extend(last);
    rest
}

/// The plan without a `DROP` that repeats an earlier one with nothing created in between:
/// two phases may both let go of one object (a routine dropped from `to` that a retyped
/// column's reader also pins), and the second drop would fail.
fn without_repeated_drops(changes: Vec<Change>) -> Vec<Change> {
    let mut out: Vec<Change> = Vec::with_capacity(changes.len());
    for change in changes {
        let repeated = change.sql.starts_with("DROP ")
            && out
                .iter()
                .rev()
                .take_while(|c| !c.sql.starts_with("CREATE "))
                .any(|c| c.sql == change.sql);
        if !repeated {
            out.push(change);
        }
    }
    out
}

/// The two catalogs, their differences, and what one phase of the plan hands to a later one.
pub(crate) struct Plan<'a> {
    from: &'a Catalog,
    to: &'a Catalog,
    differences: &'a [Difference],
    /// Tables only `to` has, and only `from` has.
    new_tables: Vec<&'a str>,
    old_tables: Vec<&'a str>,
    /// Sequences that stay while their owning column lets go of them, and those a column
    /// takes over (see `drops`).
    released: Vec<String>,
    adopted: Vec<String>,
    /// Columns whose type (or collation) changes, as (table, column).
    retyped: Vec<(String, &'a str)>,
    /// `NO INHERIT` from a parent the plan drops, written before the drop.
    early_no_inherit: Vec<String>,
    /// Unchanged triggers that name a retyped column: dropped first, created again last.
    pinned_triggers: Vec<(String, String)>,
    /// What the server records as depending on what changes (see `graph::pinned`).
    pinned: Pinned,
    /// Views dropped and created again around the changes under them.
    rebuilt: Vec<String>,
    /// Views created by the plan: the new ones and the rebuilt ones.
    views_after: Vec<String>,
    /// Routines whose signature names a rebuilt view's row type, and those of them dropped.
    view_typed: Vec<(String, String)>,
    typed_dropped: Vec<String>,
    /// Unchanged foreign keys dropped and added again around a change under them.
    pinned_keys: Vec<Difference>,
    /// Changed routines dropped early and created from scratch.
    cleared: Vec<String>,
    /// Routines whose parsed body reads a column the plan adds to a table that stays: made
    /// once the columns are added.
    after_columns: Vec<Change>,
    /// Unchanged routines dropped early with a type made again, and created again after it.
    remade_routines: Vec<String>,
    /// Routines dropped once what the plan keeps lets go of them.
    dropped_last: Vec<&'a Difference>,
    /// Sequences renamed in place (old, new).
    renamed_sequences: Vec<(String, String)>,
    /// Drops of types, sequences and extensions, once no column has them.
    type_drops: Vec<Change>,
    /// Validations of what was added NOT VALID, run once everything else is in place.
    validations: Vec<Change>,
    /// `ALTER SEQUENCE … OWNED BY`, once the owning column exists.
    owned_by: Vec<Change>,
    /// New tables that are partitions.
    partitions: Vec<&'a str>,
    /// Indexes of generated columns added again, built again after.
    regenerated_indexes: Vec<String>,
    /// What `constraints` builds online or defers: unique indexes built CONCURRENTLY, the keys
    /// that take them over, foreign keys that wait for them, and their validations.
    online_indexes: Vec<Change>,
    keys_using_index: Vec<Change>,
    late_keys: Vec<Change>,
    late_validations: Vec<Change>,
    /// Indexes built CONCURRENTLY, each in a file of its own.
    concurrent_indexes: Vec<Change>,
    /// Typed tables (`CREATE TABLE … OF type`) whose composite type changes: the type's
    /// `ALTER … CASCADE` adds, drops and retypes their columns, the plan does not.
    typed_tables: Vec<String>,
}

impl<'a> Plan<'a> {
    fn new(from: &'a Catalog, to: &'a Catalog, differences: &'a [Difference]) -> Self {
        let tables = |gone: bool| {
            differences
                .iter()
                .filter(|d| d.kind == Kind::Table)
                .filter(|d| {
                    if gone {
                        d.to.is_none()
                    } else {
                        d.from.is_none()
                    }
                })
                .map(|d| d.name.as_str())
                .collect()
        };
        Plan {
            from,
            to,
            differences,
            new_tables: tables(false),
            old_tables: tables(true),
            released: moved_sequences(from, to, Kind::OwnedSequence, Kind::Sequence)
                .into_iter()
                .chain(owner_dropped(from, to))
                .collect(),
            adopted: moved_sequences(from, to, Kind::Sequence, Kind::OwnedSequence),
            retyped: Vec::new(),
            early_no_inherit: Vec::new(),
            pinned_triggers: Vec::new(),
            pinned: Pinned::default(),
            rebuilt: Vec::new(),
            views_after: Vec::new(),
            view_typed: Vec::new(),
            typed_dropped: Vec::new(),
            pinned_keys: Vec::new(),
            cleared: Vec::new(),
            after_columns: Vec::new(),
            remade_routines: Vec::new(),
            dropped_last: Vec::new(),
            renamed_sequences: Vec::new(),
            type_drops: Vec::new(),
            validations: Vec::new(),
            owned_by: Vec::new(),
            partitions: Vec::new(),
            regenerated_indexes: Vec::new(),
            online_indexes: Vec::new(),
            keys_using_index: Vec::new(),
            late_keys: Vec::new(),
            late_validations: Vec::new(),
            concurrent_indexes: Vec::new(),
            typed_tables: differences
                .iter()
                .filter(|d| d.kind == Kind::Composite && d.from.is_some() && d.to.is_some())
                .flat_map(|d| typed_tables(from, &d.name))
                .collect(),
        }
    }

    /// What a table that stays and leaves its parents (`NO INHERIT`) already holds of the
    /// object `kind name` (`schema.table.object`): the parent's definition of the column or
    /// constraint of that name, which the table keeps as its own.
    fn uninherited(&self, kind: Kind, name: &str) -> Option<&'a str> {
        let (table, object) = split_last(name);
        let from = self.from.table(&table)?;
        let kept = self.to.table(&table)?.parents();
        from.parents()
            .into_iter()
            .filter(|parent| !kept.contains(parent))
            .find_map(|parent| self.from.get(kind, &format!("{parent}.{object}")))
    }

    /// Whether the column `d` of a typed table is added, dropped or retyped by its type's
    /// `ALTER TYPE … CASCADE`.
    fn through_its_type(&self, d: &Difference) -> bool {
        let table = split_last(&d.name).0;
        self.typed_tables.contains(&table)
            && match (d.from.as_deref(), d.to.as_deref()) {
                (Some(_), Some(_)) => {
                    let (old, new) = (
                        self.from.column(&d.name).unwrap_or_default(),
                        self.to.column(&d.name).unwrap_or_default(),
                    );
                    old.data_type != new.data_type || old.collate != new.collate
                }
                _ => true,
            }
    }

    /// The differences of one kind.
    fn of(&self, kind: Kind) -> impl Iterator<Item = &'a Difference> + 'a {
        self.differences.iter().filter(move |d| d.kind == kind)
    }

    /// A column's declaration in `CREATE TABLE` or `ADD COLUMN`: a serial, unless the sequence
    /// it would make exists already (a sequence the column takes over).
    fn declare(&self, table: &str, name: &str, c: Column<'_>) -> String {
        // An identity is made with its sequence's options: set after, a MINVALUE above 1
        // would be refused while the new sequence stands at 1.
        let options = self.identity_options(&format!("{table}.{name}"));
        if let (Some(identity), false) = (c.identity, options.is_empty()) {
            let identity = format!("{identity}{options}");
            return explicit_declaration(
                name,
                Column {
                    identity: Some(&identity),
                    ..c
                },
            );
        }
        // A sequence the column takes over, or one that stands alone, exists already.
        let over_adopted = c.default.and_then(nextval_sequence).is_some_and(|s| {
            self.adopted
                .iter()
                .any(|a| *a == s || (parts(&s).len() == 1 && *a == format!("public.{s}")))
                || standalone_sequence(self.to, &s)
        });
        if over_adopted {
            explicit_declaration(name, c)
        } else {
            declaration(table, name, c)
        }
    }

    /// The options of the identity sequence of the column `schema.table.column` in `to`, where
    /// they are not the defaults, as `GENERATED … AS IDENTITY` takes them: ` (START WITH 100
    /// INCREMENT BY 10 …)`; empty otherwise.
    fn identity_options(&self, column: &str) -> String {
        let mut options: Vec<String> = identity_sequence_name(self.to, column)
            .map(|name| format!("SEQUENCE NAME {name}"))
            .into_iter()
            .collect();
        options.extend(
            self.to
                .get(Kind::Setting, &format!("COLUMN {column} IDENTITY"))
                .and_then(|set| set.split_once_unquoted(" SET START WITH "))
                .map(|(_, rest)| format!("START WITH {}", rest.replace(" SET ", " "))),
        );
        if options.is_empty() {
            String::new()
        } else {
            format!(" ({})", options.join(" "))
        }
    }

    /// Whether the routine `name` of `to` is created after the views: it takes or returns the
    /// row type of a view the plan creates.
    fn after_views(&self, name: &str) -> bool {
        self.view_typed.iter().any(|(n, _)| n == name)
            || self
                .views_after
                .iter()
                .any(|v| self.to.routine_uses(name, v))
    }
}

/// The tables `CREATE TABLE … OF` the composite type `name`, as the server records them.
pub(crate) fn typed_tables(catalog: &Catalog, name: &str) -> Vec<String> {
    catalog
        .dependents(Kind::Composite, name)
        .filter(|(kind, _)| *kind == Kind::Table)
        .map(|(_, table)| table.to_string())
        .collect()
}

/// Whether the routine `routine` of `catalog` takes or returns the row type of one of `tables`,
/// or reads one of their columns in a parsed body (`BEGIN ATOMIC`, `RETURN …`): it is made
/// after them, dropped before them.
fn row_typed(catalog: &Catalog, routine: &str, tables: &[&str]) -> bool {
    tables.iter().any(|t| catalog.routine_uses(routine, t))
        || catalog.columns().any(|(column, _)| {
            tables.contains(&split_last(column).0.as_str())
                && catalog
                    .dependents(Kind::Column, column)
                    .any(|(k, n)| k == Kind::Function && n == routine)
        })
}

/// The sequences that `from` has as one kind and `to` as the other (owned by a column or
/// standing alone): the same sequence, whose owner changes.
fn moved_sequences(from: &Catalog, to: &Catalog, was: Kind, is: Kind) -> Vec<String> {
    from.objects()
        .filter(|(kind, name, _)| *kind == was && to.get(is, name).is_some())
        .map(|(_, name, _)| name.to_string())
        .collect()
}

/// The sequences a column owns on both sides whose owning column `to` no longer has: handed
/// to another column (`OWNED BY`), they must be let go of before the old column's drop takes
/// them along.
fn owner_dropped(from: &Catalog, to: &Catalog) -> Vec<String> {
    from.objects()
        .filter(|(kind, name, _)| {
            *kind == Kind::OwnedSequence
                && to.get(Kind::OwnedSequence, name).is_some()
                && owning_column(from, name).is_some_and(|column| to.column(column).is_none())
        })
        .map(|(_, name, _)| name.to_string())
        .collect()
}

/// The column that owns `sequence` in `catalog` (`OWNED BY`), keyed.
pub(crate) fn owning_column<'c>(catalog: &'c Catalog, sequence: &str) -> Option<&'c str> {
    catalog
        .get(Kind::Setting, &format!("SEQUENCE {sequence} OWNED_BY"))
        .and_then(|set| set.rsplit_once_unquoted(" OWNED BY "))
        .map(|(_, column)| column)
}

/// Whether `sequence` (as a default's `nextval` names it: unqualified on the search path) is
/// one that no column owns in `catalog`.
pub(crate) fn standalone_sequence(catalog: &Catalog, sequence: &str) -> bool {
    catalog.get(Kind::Sequence, sequence).is_some()
        || (parts(sequence).len() == 1
            && catalog
                .get(Kind::Sequence, &format!("public.{sequence}"))
                .is_some())
}

/// Whether a column that stays in `to` takes its default from `sequence` in `from`.
fn drawn_by_staying_column(from: &Catalog, to: &Catalog, sequence: &str) -> bool {
    let seq = bare_name(sequence);
    from.columns().any(|(name, c)| {
        to.column(name).is_some()
            && c.default
                .and_then(nextval_sequence)
                .is_some_and(|s| bare_name(&s) == seq)
    })
}

/// Whether the foreign key `name` (`schema.table.key`) of `catalog` has a column among
/// `retyped` (table, column), on its own table or on the one it references.
fn foreign_key_retyped(catalog: &Catalog, name: &str, retyped: &[(String, &str)]) -> bool {
    let table = split_last(name).0;
    let Some(key) = catalog.constraint(name) else {
        return false;
    };
    let Some((referenced, referenced_columns)) = &key.references else {
        return false;
    };
    retyped.iter().any(|(t, c)| {
        (*t == table && key.columns.iter().any(|k| k == c))
            || (t == referenced && referenced_columns.iter().any(|k| k == c))
    })
}

/// The name of the identity sequence of the column `schema.table.column` of `catalog`, when it
/// is not the one the server would choose (`table_column_seq`, in the table's schema): to be
/// given as `SEQUENCE NAME` where the identity is made.
pub(crate) fn identity_sequence_name<'c>(catalog: &'c Catalog, column: &str) -> Option<&'c str> {
    let name = catalog.get(
        Kind::Setting,
        &format!("COLUMN {column} IDENTITY SEQUENCE NAME"),
    )?;
    let (table, column_name) = split_last(column);
    let table_parts = parts(&table);
    let sequence = parts(name);
    let chosen = crate::diff::name::object_name(
        &crate::quote::unquote(table_parts.last()?),
        &crate::quote::unquote(column_name),
        "seq",
    );
    let same = sequence.len() == 2
        && sequence[0] == table_parts[0]
        && crate::quote::unquote(sequence[1]) == chosen;
    (!same).then_some(name)
}
