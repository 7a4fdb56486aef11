//! Constraints added (or added again around a change): keys before the foreign keys that
//! reference them, checks and foreign keys on tables that stay `NOT VALID` and validated
//! later, primary keys and unique constraints through an index built `CONCURRENTLY`.

use super::Plan;
use crate::diff::catalog::{Difference, Kind};
use crate::diff::change::{Change, HazardKind};
use crate::diff::constraint::{ConstraintKind, sorted};
use crate::diff::name::split_last;

impl<'a> Plan<'a> {
    /// The constraints to add, in the order the server accepts them.
    pub(super) fn constraints(&mut self) -> Vec<Change> {
        let mut changes = Vec::new();
        let pinned_keys = std::mem::take(&mut self.pinned_keys);
        let mut added_constraints: Vec<&Difference> = self
            .of(Kind::Constraint)
            .filter(|d| d.to.is_some())
            .chain(&pinned_keys)
            .collect();
        let to = self.to;
        let foreign_key = |name: &str| to.constraint(name).is_some_and(|c| c.is_foreign_key());
        added_constraints.sort_by_key(|d| foreign_key(&d.name));
        let online_keys: Vec<(String, Vec<String>)> = added_constraints
            .iter()
            .filter_map(|d| {
                let (table, _) = split_last(&d.name);
                self.online(&d.name, &table, d.to.as_deref().unwrap_or_default())?;
                Some((table, to.constraint(&d.name)?.column_set()))
            })
            .collect();
        for d in added_constraints {
            let (table, name) = split_last(&d.name);
            let def = d.to.as_deref().unwrap_or_default();
            if let Some((kind, columns, after)) = self.online(&d.name, &table, def) {
                self.online_indexes.push(Change::concurrent(format!(
                    "CREATE UNIQUE INDEX CONCURRENTLY {name} ON {table} ({columns})"
                )));
                self.keys_using_index.push(Change::plain(format!(
                    "ALTER TABLE {table} ADD CONSTRAINT {name} {kind} USING INDEX {name}{after}"
                )));
                continue;
            }
            let waits = self.waits_for_index(&d.name, &online_keys);
            // A detached partition keeps its parent's checks and foreign keys.
            if d.from.is_none()
                && crate::diff::attached::kept_by_detach(&d.name, self.from, self.to)
            {
                continue;
            }
            // A check inherited until now stays the table's own under its name.
            if d.from.is_none()
                && self
                    .uninherited(Kind::Constraint, &d.name)
                    .is_some_and(|inherited| Some(inherited) == d.to.as_deref())
            {
                continue;
            }
            let existing = !self.new_tables.contains(&table.as_str());
            let typed = to.constraint(&d.name);
            if !existing
                && typed.is_some_and(|c| c.inlined())
                && !self.partitions.contains(&table.as_str())
            {
                continue; // in its CREATE TABLE
            }
            // A partitioned table takes no foreign key NOT VALID (PostgreSQL 15).
            let partitioned = self
                .to
                .table(&table)
                .is_some_and(|t| t.partition_key().is_some());
            // A key that waits for its index comes in a later file, where its table exists.
            let validate_later = (existing || waits)
                && typed.is_some_and(|c| {
                    (c.is_check() || (c.is_foreign_key() && !partitioned)) && c.validated
                });
            let (changes, validations) = if waits {
                (&mut self.late_keys, &mut self.late_validations)
            } else {
                (&mut changes, &mut self.validations)
            };
            if validate_later {
                changes.push(Change::plain(format!(
                    "ALTER TABLE {table} ADD CONSTRAINT {name} {def} NOT VALID"
                )));
                validations.push(Change::plain(format!(
                    "ALTER TABLE {table} VALIDATE CONSTRAINT {name}"
                )));
            } else if existing
                && typed.is_some_and(|c| c.is_key() || c.kind == ConstraintKind::Exclusion)
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
        changes
    }

    /// A primary key or unique constraint added to a table that exists is built online: its
    /// index CONCURRENTLY, then the constraint takes it over (`USING INDEX`), holding ACCESS
    /// EXCLUSIVE for a moment instead of the whole build. Foreign keys that reference it wait.
    /// (PRIMARY KEY or UNIQUE, its columns, what follows them: DEFERRABLE…)
    ///
    /// Not a key that something in `to` stands on (a view grouping by the key's columns
    /// alone, which the server accepts only while the key exists): that is created in the
    /// transaction, before what needs it.
    fn online(
        &self,
        constraint: &str,
        table: &str,
        def: &str,
    ) -> Option<(&'static str, String, String)> {
        let plain_table = self
            .to
            .table(table)
            .is_some_and(|t| t.kind == "table" && t.partition_of.is_none());
        let needed = self
            .to
            .dependents(Kind::Constraint, constraint)
            .any(|(kind, _)| kind != Kind::Constraint);
        if self.new_tables.contains(&table) || !plain_table || needed {
            return None;
        }
        let typed = self.to.constraint(constraint)?;
        let kind = match typed.kind {
            ConstraintKind::PrimaryKey => "PRIMARY KEY",
            ConstraintKind::Unique => "UNIQUE",
            _ => return None,
        };
        // The server's deparse: the kind, the columns as `quote_ident` writes them, then what
        // follows (INCLUDE, WITH, DEFERRABLE…), of which only DEFERRABLE goes with USING INDEX.
        let columns = typed.columns.join(", ");
        let after = def.strip_prefix(&format!("{kind} ({columns})"))?;
        if !["", " DEFERRABLE", " DEFERRABLE INITIALLY DEFERRED"].contains(&after) {
            return None;
        }
        Some((kind, columns, after.to_string()))
    }

    /// Whether the foreign key `name` waits for the index of the key it references: one
    /// built online (`online_keys`), or a unique index the plan builds (rather than a key
    /// constraint), which the server looks for when the key is added.
    fn waits_for_index(&self, name: &str, online_keys: &[(String, Vec<String>)]) -> bool {
        let to = self.to;
        let Some((referenced, columns)) = to.constraint(name).and_then(|c| c.references.as_ref())
        else {
            return false;
        };
        let key = (referenced.clone(), sorted(columns));
        // A key constraint over the same columns serves it already.
        let keyed = to.constraints().any(|(other, c)| {
            c.is_key() && split_last(other).0 == *referenced && c.column_set() == key.1
        });
        let new_unique = self
            .of(Kind::Index)
            .filter(|d| d.to.is_some())
            .filter_map(|d| to.index(&d.name))
            .any(|index| index.table == key.0 && index.referenceable().as_ref() == Some(&key.1));
        online_keys.contains(&key) || (!keyed && new_unique)
    }
}
