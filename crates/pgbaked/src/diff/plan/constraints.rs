//! Constraints added (or added again around a change): keys before the foreign keys that
//! reference them, checks and foreign keys on tables that stay `NOT VALID` and validated
//! later, primary keys and unique constraints through an index built `CONCURRENTLY`.

use super::{Plan, inlined_constraint};
use crate::diff::catalog::{Difference, Kind};
use crate::diff::change::{Change, HazardKind};
use crate::diff::column::column_set;
use crate::diff::name::Unquoted;
use crate::diff::name::{bare_name, index_table, parenthesised, split_last};

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
        added_constraints.sort_by_key(|d| {
            d.to.as_deref()
                .is_some_and(|def| def.starts_with("FOREIGN KEY"))
        });
        let online_keys: Vec<(String, String)> = added_constraints
            .iter()
            .filter_map(|d| {
                let (table, _) = split_last(&d.name);
                let (_, columns, _) =
                    self.online(&d.name, &table, d.to.as_deref().unwrap_or_default())?;
                Some((bare_name(&table).to_string(), column_set(&columns)))
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
            let waits = self.waits_for_index(def, &online_keys);
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
            if !existing && inlined_constraint(def) && !self.partitions.contains(&table.as_str()) {
                continue; // in its CREATE TABLE
            }
            // A partitioned table takes no foreign key NOT VALID (PostgreSQL 15).
            let partitioned = self
                .to
                .table(&table)
                .is_some_and(|t| t.partition_key().is_some());
            // A key that waits for its index comes in a later file, where its table exists.
            let validate_later = (existing || waits)
                && (def.starts_with("CHECK") || (def.starts_with("FOREIGN KEY") && !partitioned))
                && !def.ends_with("NOT VALID");
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
        let (kind, rest) = ["PRIMARY KEY", "UNIQUE"]
            .into_iter()
            .find_map(|k| def.strip_prefix(k).map(|rest| (k, rest)))?;
        let (columns, after) = rest.strip_prefix(" (")?.split_once(')')?;
        if !["", " DEFERRABLE", " DEFERRABLE INITIALLY DEFERRED"].contains(&after) {
            return None;
        }
        Some((kind, columns.to_string(), after.to_string()))
    }

    /// Whether a foreign key waits for the index of the key it references: one built online
    /// (`online_keys`), or a unique index the plan builds (rather than a key constraint),
    /// which the server looks for when the key is added.
    fn waits_for_index(&self, def: &str, online_keys: &[(String, String)]) -> bool {
        let to = self.to;
        let new_unique: Vec<(String, String)> = self
            .of(Kind::Index)
            .filter_map(|d| d.to.as_deref())
            .filter(|def| def.starts_with("CREATE UNIQUE INDEX ") && !def.contains(" WHERE "))
            .filter_map(|def| {
                // The key columns, not the INCLUDE list after them.
                let rest = def.split_once_unquoted(" USING ")?.1;
                let columns = parenthesised(rest.split_once_unquoted(" ")?.1)?;
                Some((bare_name(index_table(def)).to_string(), column_set(columns)))
            })
            .collect();
        def.strip_prefix("FOREIGN KEY (")
            .and_then(|r| r.split_once_unquoted(") REFERENCES "))
            .and_then(|(_, r)| r.split_once_unquoted("("))
            .and_then(|(referenced, r)| {
                let columns = column_set(parenthesised(&format!("({r}"))?);
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
            .unwrap_or(false)
    }
}
