//! What the server's own dependency records (`pg_depend`, read with the catalog) say must be
//! dropped and created again around a change: the objects that use a routine the plan drops
//! and creates again (its result type changed), or a column whose type changes. The planner
//! finds what reads a column or a view by name elsewhere; here the catalog decides.

use super::catalog::{Catalog, Difference, Kind};
use super::change::{Change, HazardKind};
use super::name::split_last;
use super::table::{concurrently, regenerate};

/// What is dropped before a change and created again after it.
#[derive(Default)]
pub(crate) struct Pinned {
    /// Dropped before the change (its dependents first).
    pub drops: Vec<Change>,
    /// Created again after it, from the target's definitions.
    pub creates: Vec<Change>,
    /// Routines, and operators and casts made of them: dropped once the views that call them
    /// are gone, made again before the views.
    pub routine_drops: Vec<Change>,
    pub routine_creates: Vec<Change>,
    /// Generated columns dropped before the change, once the views that read them are gone.
    pub column_drops: Vec<Change>,
    /// The same added again after it, with their constraints, before the views that read them.
    pub column_creates: Vec<Change>,
    /// Views to rebuild around it (with the planner's own view rebuilds).
    pub views: Vec<String>,
    /// Generated columns dropped and added here, whose own change (a new type) the planner
    /// leaves to this.
    pub regenerated: Vec<String>,
    /// Routines the plan replaces whose parsed body (`BEGIN ATOMIC`) reads a retyped column:
    /// dropped before the change and created after it here, not where routines are made.
    pub routines: Vec<String>,
    /// Rules over a retyped column, as (relation, drop, create): left to the view when the
    /// plan rebuilds the view they are on (`DROP VIEW` takes them, the view's rebuild puts
    /// them back), dropped and created here otherwise.
    pub rules: Vec<(String, Change, Change)>,
}

/// The routines the plan drops and creates again: an aggregate, or a routine whose result
/// type changes (`CREATE OR REPLACE` cannot change it).
pub(crate) fn replaced_routines(
    from: &Catalog,
    to: &Catalog,
    differences: &[Difference],
) -> Vec<String> {
    differences
        .iter()
        .filter(|d| d.kind == Kind::Function && d.from.is_some() && d.to.is_some())
        .filter(|d| super::routine::needs_drop(from, to, &d.name))
        .map(|d| d.name.clone())
        .collect()
}

/// The routines the plan drops whose dependents `to` keeps: the same text there may name
/// another routine (a new overload that `ok(a)` now resolves to), but the server holds the
/// old one, so each dependent is dropped before the routine and created again after.
pub(crate) fn dropped_under_kept(
    from: &Catalog,
    to: &Catalog,
    differences: &[Difference],
) -> Vec<String> {
    dropped_routines_used(from, differences, |kind, name| to.get(kind, name).is_some())
}

/// The routines the plan drops (gone from `to`) that something `used` picks depends on.
fn dropped_routines_used(
    from: &Catalog,
    differences: &[Difference],
    used: impl Fn(Kind, &str) -> bool,
) -> Vec<String> {
    differences
        .iter()
        .filter(|d| d.kind == Kind::Function && d.to.is_none())
        .filter(|d| {
            from.dependents(Kind::Function, &d.name)
                .any(|(kind, name)| used(kind, name))
        })
        .map(|d| d.name.clone())
        .collect()
}

/// Everything that depends on the routines in `routines` or on the columns in `retyped` and
/// must be dropped and created again around their change, unless the plan changes it anyway.
///
/// A column in `dropped` pins only the generated columns computed from it and the routines
/// whose parsed bodies read it: they are dropped before it and made again after (the rest of
/// what reads it changes with it anyway).
pub(crate) fn pinned(
    from: &Catalog,
    to: &Catalog,
    differences: &[Difference],
    routines: &[String],
    retyped: &[String],
    dropped: &[String],
) -> Pinned {
    let mut pinned = Pinned::default();
    if !from.has_dependencies() {
        return pinned;
    }
    let mut seen: Vec<(Kind, String)> = Vec::new();
    // What changes, and then each routine pinned by it (dropped and made again), whose own
    // dependents (a view calling it) must go and come back around it too.
    let mut changing: Vec<(Kind, String)> = routines
        .iter()
        .map(|r| (Kind::Function, r.clone()))
        .chain(retyped.iter().map(|c| (Kind::Column, c.clone())))
        .chain(dropped.iter().map(|c| (Kind::Column, c.clone())))
        .collect();
    let mut next = 0;
    while let Some((kind, name)) = changing.get(next).cloned() {
        next += 1;
        let name = name.as_str();
        let gone = dropped.iter().any(|c| c == name);
        for (dependent_kind, dependent) in from.dependents(kind, name) {
            // A dropped column takes along what reads it, except a generated column computed
            // from it and a routine whose parsed body (`BEGIN ATOMIC`) holds it: the server
            // refuses the drop while they stand.
            let holds = match dependent_kind {
                Kind::Column => from
                    .column(dependent)
                    .is_some_and(|c| c.generated.is_some()),
                // (One over a dropped table goes before the table, with its kind; one the
                // plan drops goes in its own place.)
                Kind::Function => {
                    to.get(Kind::Function, dependent).is_some()
                        && to.get(Kind::Table, &split_last(name).0).is_some()
                }
                _ => false,
            };
            if gone && !holds {
                continue;
            }
            if seen
                .iter()
                .any(|(k, n)| *k == dependent_kind && n == dependent)
            {
                continue;
            }
            seen.push((dependent_kind, dependent.to_string()));
            let routine_drops = pinned.routine_drops.len();
            pin(
                &mut pinned,
                (from, to, differences, routines),
                (kind, name),
                (dependent_kind, dependent),
            );
            // A routine, operator or cast dropped here takes its own dependents along.
            if pinned.routine_drops.len() > routine_drops
                && !changing
                    .iter()
                    .any(|(k, n)| *k == dependent_kind && n == dependent)
            {
                changing.push((dependent_kind, dependent.to_string()));
            }
        }
    }
    // A new routine whose parsed body (`BEGIN ATOMIC`) reads a retyped column is created
    // after the column changes: the server refuses to retype a column a body holds.
    for column in retyped {
        for (kind, routine) in to.dependents(Kind::Column, column) {
            let new = kind == Kind::Function && from.get(Kind::Function, routine).is_none();
            if new && !pinned.routines.iter().any(|r| r == routine) {
                pinned
                    .routine_creates
                    .push(Change::plain(to.get(kind, routine).unwrap_or_default()));
                pinned.routines.push(routine.to_string());
            }
        }
    }
    pinned
}

/// Whether a change to an object of `kind` drops it and makes it again (a routine, or an
/// operator or cast made of one), so that what the server records on it must go too.
fn remade(kind: Kind) -> bool {
    matches!(kind, Kind::Function | Kind::Operator | Kind::Cast)
}

/// What the server records as depending on `changing` (a routine dropped and created again, a
/// retyped or dropped column), `dependent`, pinned: dropped before and created again after,
/// unless the plan changes it anyway.
fn pin(
    pinned: &mut Pinned,
    (from, to, differences, routines): (&Catalog, &Catalog, &[Difference], &[String]),
    (kind, name): (Kind, &str),
    (dependent_kind, dependent): (Kind, &str),
) {
    let differs =
        |kind: Kind, name: &str| differences.iter().any(|d| d.kind == kind && d.name == name);
    let target = to.get(dependent_kind, dependent);
    let current = from.get(dependent_kind, dependent).unwrap_or_default();
    match dependent_kind {
        Kind::View => pinned.views.push(dependent.to_string()),
        Kind::Column => pin_column(pinned, (from, to, differences), kind, dependent),
        // An index or a check over a column whose type changes is rebuilt by the
        // server itself; over a routine, it must be dropped while the routine is.
        Kind::Index if remade(kind) && !differs(Kind::Index, dependent) => {
            if let Some(def) = target {
                pinned
                    .drops
                    .push(Change::plain(format!("DROP INDEX {dependent}")));
                pinned.creates.push(Change::hazard(
                    def.strip_suffix(" (INVALID)").unwrap_or(def),
                    &[HazardKind::LocksForScan],
                    format!("built again because {name} is dropped and created again"),
                ));
            }
        }
        Kind::Constraint if remade(kind) && !differs(Kind::Constraint, dependent) => {
            if let Some(def) = target {
                let (table, constraint) = split_last(dependent);
                pinned.drops.push(Change::plain(format!(
                    "ALTER TABLE {table} DROP CONSTRAINT {constraint}"
                )));
                pinned.creates.push(Change::plain(format!(
                    "ALTER TABLE {table} ADD CONSTRAINT {constraint} {def}"
                )));
            }
        }
        // A trigger whose WHEN calls a routine dropped and created again (or whose
        // function it is): dropped before, created again after.
        Kind::Trigger if remade(kind) && !differs(Kind::Trigger, dependent) => {
            if let Some(def) = target {
                let (table, trigger) = split_last(dependent);
                pinned
                    .drops
                    .push(Change::plain(format!("DROP TRIGGER {trigger} ON {table}")));
                pinned.creates.push(Change::plain(def));
            }
        }
        // A domain's check over a routine dropped and created again: dropped before,
        // added again after (a changed domain is altered as a whole elsewhere).
        Kind::Domain if remade(kind) => {
            let (domain, check) = split_last(dependent);
            if differs(Kind::Domain, &domain) {
                return;
            }
            let def = to.get(Kind::Domain, &domain).and_then(|def| {
                super::types::domain(def)
                    .3
                    .into_iter()
                    .find(|(name, _)| *name == check)
                    .map(|(_, def)| def.to_string())
            });
            if let Some(def) = def {
                pinned.drops.push(Change::plain(format!(
                    "ALTER DOMAIN {domain} DROP CONSTRAINT {check}"
                )));
                pinned.creates.push(Change::plain(format!(
                    "ALTER DOMAIN {domain} ADD CONSTRAINT {check} {def}"
                )));
            }
        }
        // A rule's actions are parsed: they hold the column they name.
        // A partition key calling a routine dropped and created again: the table would have
        // to be made again with its partitions.
        Kind::Table if kind == Kind::Function => {
            if let Some(d) = differences
                .iter()
                .find(|d| d.kind == Kind::Function && d.name == name)
            {
                pinned.drops.push(super::change::unsupported(
                    d,
                    &format!(
                        "a routine the partition key of {dependent} calls is dropped and made again"
                    ),
                ));
            }
        }
        // An operator or a cast made of a routine dropped and created again.
        Kind::Operator | Kind::Cast if remade(kind) && !differs(dependent_kind, dependent) => {
            if let Some(def) = target {
                let what = if dependent_kind == Kind::Cast {
                    "CAST"
                } else {
                    "OPERATOR"
                };
                pinned
                    .routine_drops
                    .push(Change::plain(format!("DROP {what} {dependent}")));
                pinned.routine_creates.push(Change::plain(def));
            }
        }
        Kind::Rule if !differs(Kind::Rule, dependent) => {
            if let Some(def) = target {
                let (table, rule) = split_last(dependent);
                let drop = Change::plain(format!("DROP RULE {rule} ON {table}"));
                pinned.rules.push((table, drop, Change::plain(def)));
            }
        }
        // A publication's row filter or column list holds the columns it names (the
        // server refuses to retype them): made again whole, in the same transaction.
        Kind::Publication if !differs(Kind::Publication, dependent) => {
            if let Some(def) = target {
                pinned
                    .drops
                    .push(Change::plain(format!("DROP PUBLICATION {dependent}")));
                pinned.creates.push(Change::plain(def));
            }
        }
        Kind::Policy if !differs(Kind::Policy, dependent) => {
            if let Some(def) = target {
                let (table, policy) = split_last(dependent);
                pinned
                    .drops
                    .push(Change::plain(format!("DROP POLICY {policy} ON {table}")));
                pinned.creates.push(Change::plain(format!(
                    "CREATE POLICY {policy} ON {table} {def}"
                )));
            }
        }
        // A routine whose body the server parsed (`BEGIN ATOMIC`, SQL standard) holds
        // what it reads.
        // One the plan replaces anyway, over a retyped column: its drop and creation
        // move around the column's change.
        Kind::Function if kind == Kind::Column && routines.iter().any(|r| r == dependent) => {
            if let Some(def) = target {
                pinned.routine_drops.push(Change::plain(format!(
                    "DROP {} {dependent}",
                    super::routine::routine_kind(current)
                )));
                pinned.routine_creates.push(Change::plain(def));
                pinned.routines.push(dependent.to_string());
            }
        }
        Kind::Function if !routines.iter().any(|r| r == dependent) => {
            pinned.routine_drops.push(Change::plain(format!(
                "DROP {} {dependent}",
                super::routine::routine_kind(current)
            )));
            // One that changes too over a retyped column is created here, after the
            // column, not where routines are made (before it).
            let changes = differs(Kind::Function, dependent);
            match target {
                Some(def) if !changes => pinned.routine_creates.push(Change::plain(def)),
                Some(def) if kind == Kind::Column => {
                    pinned.routine_creates.push(Change::plain(def));
                    pinned.routines.push(dependent.to_string());
                }
                _ => {}
            }
        }
        _ => {}
    }
}

/// A column pinned by what changes under it: a generated one computed again (dropped before,
/// added again after, with its indexes and the views reading it), a default calling a
/// replaced routine dropped and set again.
fn pin_column(
    pinned: &mut Pinned,
    (from, to, differences): (&Catalog, &Catalog, &[Difference]),
    kind: Kind,
    dependent: &str,
) {
    let differs =
        |kind: Kind, name: &str| differences.iter().any(|d| d.kind == kind && d.name == name);
    let target = to.get(Kind::Column, dependent);
    let (table, column) = split_last(dependent);
    let old = from.column(dependent).unwrap_or_default();
    // A generated column stays generated: it is computed again even when its
    // own type changes too (ALTER TYPE cannot reach it while its source
    // changes).
    let recomputed =
        old.generated.is_some() && to.column(dependent).is_some_and(|t| t.generated.is_some());
    if (differs(Kind::Column, dependent) || target.is_none()) && !recomputed {
        // Planned anyway: its own change comes after the routine's.
        if old.generated.is_none() && old.default.is_some() && kind == Kind::Function {
            pinned.drops.push(Change::plain(format!(
                "ALTER TABLE {table} ALTER COLUMN {column} DROP DEFAULT"
            )));
        }
        return;
    }
    if let (Some(_), Some(to_column)) = (old.generated, to.column(dependent)) {
        // Computed from what changes: dropped before, added again after (the
        // drop takes its indexes, constraints and the views reading it along).
        pinned.regenerated.push(dependent.to_string());
        let (mut steps, indexes) = regenerate(&table, column, true, to_column, differences, to);
        if !steps.is_empty() {
            pinned.column_drops.push(steps.remove(0));
        }
        pinned.column_creates.extend(steps);
        pinned.creates.extend(
            indexes
                .iter()
                .map(|def| Change::concurrent(concurrently(def))),
        );
        pinned.views.extend(
            from.dependents(Kind::Column, dependent)
                .filter(|(k, _)| *k == Kind::View)
                .map(|(_, v)| v.to_string()),
        );
    } else if let Some(default) = old.default {
        pinned.drops.push(Change::plain(format!(
            "ALTER TABLE {table} ALTER COLUMN {column} DROP DEFAULT"
        )));
        pinned.creates.push(Change::plain(format!(
            "ALTER TABLE {table} ALTER COLUMN {column} SET DEFAULT {default}"
        )));
    }
}

/// The routines the plan drops (gone from `to`) that objects it keeps or changes still use:
/// dropped last, once those have let go of them.
pub(crate) fn routines_dropped_last(
    from: &Catalog,
    to: &Catalog,
    differences: &[Difference],
) -> Vec<String> {
    // A column, policy or constraint on a table that stays (one on a dropped table goes with
    // it, before the routine), which the plan changes: its change lets go of the routine.
    // (One `to` keeps as it is, `dropped_under_kept` drops and creates again around the
    // routine's drop.)
    // So does a type the plan drops once no column has it (a range's subtype_diff).
    dropped_routines_used(from, differences, |kind, name| {
        let changed = differences.iter().any(|c| c.kind == kind && c.name == name);
        match kind {
            Kind::Column | Kind::Policy | Kind::Constraint => {
                to.get(Kind::Table, &split_last(name).0).is_some() && changed
            }
            Kind::Range | Kind::Domain | Kind::Composite => changed,
            _ => false,
        }
    })
}

/// The routines the plan changes that read a table it drops: dropped before the table and
/// created from scratch afterwards (a `BEGIN ATOMIC` body holds the table).
pub(crate) fn routines_on_dropped_tables(
    from: &Catalog,
    differences: &[Difference],
    old_tables: &[&str],
) -> Vec<String> {
    let mut routines = Vec::new();
    for d in differences
        .iter()
        .filter(|d| d.kind == Kind::Function && d.from.is_some() && d.to.is_some())
    {
        let reads_dropped = from.objects().any(|(kind, name, _)| {
            let table = match kind {
                Kind::Table => name.to_string(),
                Kind::Column => split_last(name).0,
                _ => return false,
            };
            old_tables.contains(&table.as_str())
                && from
                    .dependents(kind, name)
                    .any(|(k, n)| k == Kind::Function && n == d.name)
        });
        if reads_dropped {
            routines.push(d.name.clone());
        }
    }
    routines
}
