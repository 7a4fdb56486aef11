//! Schemas, extensions and types, created or altered in place: what tables, columns and
//! routines are made of comes first.

use super::{Plan, typed_tables};
use crate::diff::catalog::{Difference, Kind};
use crate::diff::change::{Change, unsupported};
use crate::diff::column::{narrowed_sequence, sequence_options};
use crate::diff::name::{Unquoted, parts, split_unquoted};
use crate::diff::standalone;
use crate::diff::types::{
    alter_composite, alter_domain, domain, enum_rebuilt, rebuild_enum, rebuild_type, stored_inside,
};

impl<'a> Plan<'a> {
    /// Schemas, extensions, text search objects, collations, types, sequences and ranges.
    pub(super) fn creations(&mut self) -> Vec<Change> {
        let mut changes = Vec::new();
        // Each extension in its schema (`schema extensions`), which may be new: after the
        // schemas.
        let mut extensions = Vec::new();
        for d in self.of(Kind::Extension).filter(|d| d.to.is_some()) {
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
        for d in self.of(Kind::Schema).filter(|d| d.from.is_none()) {
            changes.push(Change::plain(format!("CREATE SCHEMA {}", d.name)));
        }
        changes.extend(extensions);
        changes.extend(standalone::text_search(self.differences));
        // Collations before the columns that use them; one that changes under its columns is
        // not generated (they would have to let go of it first).
        for d in self.of(Kind::Collation).filter(|d| d.to.is_some()) {
            match d.from {
                None => changes.push(Change::plain(d.to.clone().unwrap_or_default())),
                Some(_) => changes.push(unsupported(d, "a collation's definition changed")),
            }
        }
        for d in self.of(Kind::Enum).filter(|d| d.to.is_some()) {
            self.enum_type(d, &mut changes);
        }
        // A new domain over a new composite type comes after the composites.
        let mut late_domains = Vec::new();
        for d in self.of(Kind::Domain).filter(|d| d.to.is_some()) {
            match d.from {
                None => {
                    let def = d.to.as_deref().unwrap_or_default();
                    let base = domain(def).0;
                    let create = Change::plain(format!("CREATE DOMAIN {} AS {def}", d.name));
                    let over_new_composite = self.of(Kind::Composite).any(|c| {
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
                    let mut validations = Vec::new();
                    let steps = alter_domain(
                        &d.name,
                        from,
                        d.to.as_deref().unwrap_or_default(),
                        &mut validations,
                    );
                    // PostgreSQL checks a domain's new constraint only in columns of the
                    // domain itself, and refuses it where a column holds the domain inside
                    // an array or a composite type.
                    let checks = validations
                        .iter()
                        .any(|c| c.sql.contains(" VALIDATE CONSTRAINT "))
                        || steps
                            .iter()
                            .flatten()
                            .any(|c| c.sql.ends_with(" SET NOT NULL"));
                    match steps {
                        Some(_) if checks && stored_inside(self.from, &d.name) => {
                            changes.push(unsupported(
                                d,
                                "a domain stored inside an array or composite column gains a \
                                 check or NOT NULL, which PostgreSQL cannot validate there",
                            ))
                        }
                        Some(steps) => {
                            changes.extend(steps);
                            self.validations.extend(validations);
                        }
                        None => changes.push(unsupported(d, "a domain's base type changed")),
                    }
                }
            }
        }
        for d in self.of(Kind::Composite).filter(|d| d.to.is_some()) {
            self.composite_type(d, &mut changes);
        }
        changes.extend(late_domains);
        self.sequences(&mut changes);
        // Range types before the routines and columns that use them, after a new routine
        // that is their subtype_diff (which takes the subtype, not the range); one that
        // changes under its columns is not generated.
        for d in self.of(Kind::Range).filter(|d| d.to.is_some()) {
            match d.from {
                None => {
                    let def = d.to.clone().unwrap_or_default();
                    if let Some(routine) = self.new_subtype_diff(&def) {
                        changes.push(Change::plain(
                            self.to.get(Kind::Function, &routine).unwrap_or_default(),
                        ));
                        self.pinned.routines.push(routine);
                    }
                    changes.push(Change::plain(def));
                }
                Some(_) => changes.push(unsupported(d, "a range type's definition changed")),
            }
        }
        changes
    }

    /// The new routine a new range type names as its `subtype_diff`, by its key.
    fn new_subtype_diff(&self, range: &str) -> Option<String> {
        let (_, rest) = range.split_once_unquoted("subtype_diff = ")?;
        let routine = split_unquoted(rest, ",")[0].trim_end_matches(')').trim();
        let bare = parts(routine).last().copied()?;
        self.of(Kind::Function)
            .filter(|d| d.from.is_none() && !self.pinned.routines.contains(&d.name))
            .find(|d| {
                let name = split_unquoted(&d.name, "(")[0];
                parts(name).last() == Some(&bare) && (parts(routine).len() == 1 || name == routine)
            })
            .map(|d| d.name.clone())
    }

    /// An enum created, given new labels in place (each placed by its neighbour), or rebuilt
    /// when labels go or move.
    fn enum_type(&self, d: &Difference, changes: &mut Vec<Change>) {
        let to = d.to.as_deref().unwrap_or_default();
        let Some(from) = d.from.as_deref() else {
            changes.push(Change::plain(format!(
                "CREATE TYPE {} AS ENUM ({to})",
                d.name
            )));
            return;
        };
        // Labels are literals, which may hold ", " themselves.
        let old: Vec<&str> = split_unquoted(from, ", ");
        let new: Vec<&str> = split_unquoted(to, ", ");
        // The old labels must keep their order; new ones may go anywhere, each placed by its
        // neighbour (squawk's require-enum-value-ordering: a bare ADD VALUE appends).
        if !enum_rebuilt(from, to) {
            for (i, label) in new.iter().enumerate() {
                if old.contains(label) {
                    continue;
                }
                // An enum that had no label takes its first one bare; a first label goes
                // before the first old one (the labels after it then follow it).
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
            return;
        }
        let removed: Vec<&str> = old.iter().copied().filter(|l| !new.contains(l)).collect();
        match rebuild_enum(self.from, self.to, &d.name, to, &removed, &self.rebuilt) {
            Some(steps) => changes.extend(steps),
            None => changes.push(unsupported(
                d,
                "enum labels removed or reordered, with a partition key, view, function, constraint, index \
                 expression or array naming the type",
            )),
        }
    }

    /// A composite type created, altered in place, or rebuilt when a column holds it while an
    /// attribute is retyped.
    fn composite_type(&self, d: &Difference, changes: &mut Vec<Change>) {
        let Some(from) = d.from.as_deref() else {
            changes.push(Change::plain(format!(
                "CREATE TYPE {} AS {}",
                d.name,
                d.to.as_deref().unwrap_or_default()
            )));
            return;
        };
        let to_def = d.to.as_deref().unwrap_or("");
        // A column of the type (or of an array of it) forbids retyping an attribute in place.
        let held = self.from.columns().any(|(_, c)| {
            let t = c.data_type.strip_suffix("[]").unwrap_or(c.data_type);
            t == d.name || Some(t) == parts(&d.name).last().copied()
        });
        let rebuilt_type = || {
            rebuild_type(
                self.from,
                self.to,
                &d.name,
                &format!("CREATE TYPE {} AS {to_def}", d.name),
                Some(
                    "converts each value through its text form: fails on one that does not read \
                     as the new attributes; rewrites the table"
                        .into(),
                ),
                &self.rebuilt,
            )
        };
        // A typed table (`CREATE TABLE … OF`) follows its type's attributes: the ALTER
        // cascades to it, and the type cannot be made again under it.
        let typed = !typed_tables(self.from, &d.name).is_empty();
        // Only a retyped attribute needs the type unheld: ADD and DROP ATTRIBUTE reach the
        // values in place.
        match (held, alter_composite(&d.name, from, to_def, typed)) {
            (false, Some(change)) => changes.push(change),
            (true, Some(change)) if !change.sql.contains(" ALTER ATTRIBUTE ") => {
                changes.push(change)
            }
            _ if typed => changes.push(unsupported(
                d,
                "a composite type that types a table (CREATE TABLE … OF) would be made again",
            )),
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

    /// Sequences that stand alone: created, or altered (a released one, or new options; a
    /// narrowing moves a value outside the new bounds to the nearest one).
    fn sequences(&self, changes: &mut Vec<Change>) {
        for d in self
            .of(Kind::Sequence)
            .filter(|d| d.to.is_some())
            .filter(|d| !self.renamed_sequences.iter().any(|(_, new)| *new == d.name))
        {
            let options = sequence_options(d.to.as_deref().unwrap_or_default());
            if let Some(change) = d.from.as_deref().and_then(|old| {
                narrowed_sequence(&d.name, old, d.to.as_deref().unwrap_or_default())
            }) {
                changes.push(change);
                continue;
            }
            let verb = if d.from.is_none() && !self.released.contains(&d.name) {
                "CREATE"
            } else {
                "ALTER"
            };
            changes.push(Change::plain(format!(
                "{verb} SEQUENCE {} {options}",
                d.name
            )));
        }
    }
}
