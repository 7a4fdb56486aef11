//! The last phase: storage, the validations and concurrent builds deferred to their own
//! files, sequences and routines let go of, what hangs on relations, comments, privileges,
//! and schemas once nothing is left in them.

use super::{Plan, drawn_by_staying_column, owning_column};
use crate::diff::attached;
use crate::diff::catalog::{Catalog, Kind};
use crate::diff::change::{Change, HazardKind};
use crate::diff::column::owner_type;
use crate::diff::name::Unquoted;
use crate::diff::name::{bare_name, parts, split_last};
use crate::diff::privilege::privileges;
use crate::diff::routine::routine_kind;
use crate::diff::table::alter_storage;
use crate::quote::quote_literal;

impl<'a> Plan<'a> {
    /// Appends the rest of the plan to `changes` (it looks at what is planned already).
    pub(super) fn finish(&mut self, changes: &mut Vec<Change>) {
        let (from, to) = (self.from, self.to);
        // Storage parameters and replica identity, once the tables are there; an identity
        // using an index after the indexes built CONCURRENTLY.
        let mut by_index = Vec::new();
        for d in self.of(Kind::Storage) {
            if d.to.is_none() && self.old_tables.contains(&d.name.as_str()) {
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
        changes.append(&mut self.validations);
        changes.append(&mut self.concurrent_indexes);
        changes.append(&mut self.online_indexes);
        changes.append(&mut self.keys_using_index);
        changes.append(&mut by_index);
        changes.append(&mut self.late_keys);
        changes.append(&mut self.late_validations);
        // A table attached as a partition, once its columns are NOT NULL where the parent's
        // are (set through the validations above).
        changes.extend(self.partitions_changed(true));
        // A sequence a column owned and drew from, when the column stays and draws from it no
        // more (a serial's own sequence is dropped with its default above).
        for d in self
            .of(Kind::OwnedSequence)
            .filter(|d| d.to.is_none())
            .filter(|d| !self.released.contains(&d.name))
        {
            let seq = bare_name(&d.name);
            let dropped = changes.iter().any(|c| {
                c.sql
                    .strip_prefix("DROP SEQUENCE ")
                    .map(|n| n.trim_start_matches("IF EXISTS "))
                    .is_some_and(|n| n == d.name || (parts(n).len() == 1 && bare_name(n) == seq))
            });
            // (Or one no column drew from, whose column stays: nothing else takes it along.)
            let undrawn_on_staying_column = owner_type(from, &d.name) == "none"
                && owning_column(from, &d.name).is_some_and(|column| to.column(column).is_some());
            if (drawn_by_staying_column(from, to, &d.name) || undrawn_on_staying_column) && !dropped
            {
                changes.push(Change::plain(format!("DROP SEQUENCE IF EXISTS {}", d.name)));
            }
        }
        // Routines that what the plan kept or changed used until now.
        for d in &self.dropped_last {
            let what = routine_kind(d.from.as_deref().unwrap_or_default());
            changes.push(Change::plain(format!("DROP {what} {}", d.name)));
        }
        // What hangs on relations and triggers, once they exist, and on those created again.
        let rebuilt = &self.rebuilt;
        let recreated = attached::Recreated {
            views: rebuilt,
            triggers: self
                .of(Kind::Trigger)
                .filter(|d| d.from.is_some() && d.to.is_some())
                .map(|d| d.name.clone())
                .chain(self.pinned_triggers.iter().map(|(name, _)| name.clone()))
                .chain(
                    to.objects()
                        .filter(|&(kind, name, _)| {
                            kind == Kind::Trigger
                                && rebuilt.iter().any(|v| *v == split_last(name).0)
                        })
                        .map(|(_kind, name, _)| name.to_string()),
                )
                .collect(),
        };
        changes.extend(attached::creations(from, to, self.differences, &recreated));
        self.comments(changes);
        changes.extend(super::super::privilege::defaults_taken_back(
            from,
            to,
            self.differences,
        ));
        privileges(&self.of(Kind::Privilege).collect::<Vec<_>>(), to, changes);
        // Schemas last, once nothing the plan drops is left in them (a type goes after the
        // columns that leave it, an extension before its schema).
        for d in self.of(Kind::Schema).filter(|d| d.to.is_none()) {
            changes.push(Change::hazard(
                format!("DROP SCHEMA {}", d.name),
                &[HazardKind::DeletesData],
                "deletes the schema",
            ));
        }
    }

    /// Comments last, once their objects exist (those a rebuilt view took along, too); a
    /// removed comment only where its object stays.
    fn comments(&self, changes: &mut Vec<Change>) {
        let mut again: Vec<Change> = Vec::new();
        for (name, text) in attached::view_comments(self.to, self.differences, &self.rebuilt) {
            again.push(Change::plain(format!(
                "COMMENT ON {name} IS {}",
                quote_literal(&text)
            )));
        }
        // An unchanged comment on what the plan dropped and created again (a routine whose
        // result type changed, an index or policy made again): the drop took it along.
        for (kind, name, text) in self.to.objects() {
            let unchanged = kind == Kind::Comment
                && !self
                    .differences
                    .iter()
                    .any(|d| d.kind == Kind::Comment && d.name == name);
            if unchanged && changes.iter().any(|c| drops_commented(&c.sql, name)) {
                again.push(Change::plain(format!(
                    "COMMENT ON {name} IS {}",
                    quote_literal(text)
                )));
            }
        }
        for change in again {
            if !changes.iter().any(|c| c.sql == change.sql) {
                changes.push(change);
            }
        }
        for d in self.of(Kind::Comment) {
            match &d.to {
                Some(text) => changes.push(Change::plain(format!(
                    "COMMENT ON {} IS {}",
                    d.name,
                    quote_literal(text)
                ))),
                None if comment_target_stays(&d.name, self.to) => {
                    changes.push(Change::plain(format!("COMMENT ON {} IS NULL", d.name)));
                }
                None => {}
            }
        }
    }
}

/// Whether the statement `sql` drops the object that the comment keyed `name` is on
/// (`FUNCTION s.f()`, `COLUMN s.t.c`, `POLICY p ON s.t`, …).
fn drops_commented(sql: &str, name: &str) -> bool {
    let Some((what, object)) = name.split_once(' ') else {
        return false;
    };
    let drop = |target: &str| {
        sql.strip_prefix("DROP ")
            .map(|rest| rest.strip_prefix("MATERIALIZED ").unwrap_or(rest))
            .and_then(|rest| rest.strip_prefix(what))
            .and_then(|rest| rest.strip_prefix(' '))
            .map(|rest| rest.strip_prefix("CONCURRENTLY ").unwrap_or(rest))
            .map(|rest| rest.strip_prefix("IF EXISTS ").unwrap_or(rest))
            .is_some_and(|rest| rest == target || rest == format!("{target} CASCADE"))
    };
    match what {
        "COLUMN" => {
            let (table, column) = split_last(object);
            sql == format!("ALTER TABLE {table} DROP COLUMN {column}")
        }
        "CONSTRAINT" => object
            .split_once_unquoted(" ON ")
            .is_some_and(|(constraint, table)| {
                sql == format!("ALTER TABLE {table} DROP CONSTRAINT {constraint}")
            }),
        _ => drop(object),
    }
}

/// Whether the object a comment (`COLUMN a.b.c`, `TABLE a.b`, …) is on exists in `to`.
pub(crate) fn comment_target_stays(name: &str, to: &Catalog) -> bool {
    let (what, object) = name.split_once(' ').unwrap_or(("", name));
    // `CONSTRAINT c ON s.t` and `TRIGGER g ON s.t` are keyed `s.t.c` and `s.t.g`.
    let on_table = || {
        object
            .split_once_unquoted(" ON ")
            .map(|(object, table)| format!("{table}.{object}"))
            .unwrap_or_default()
    };
    let found = |kinds: &[Kind], object: &str| kinds.iter().any(|k| to.get(*k, object).is_some());
    match what {
        // A column of a table, or of a view or composite type (their attributes are not
        // modelled one by one).
        "COLUMN" => {
            let (relation, column) = split_last(object);
            found(&[Kind::Column], object)
                || found(&[Kind::View], &relation)
                || to.get(Kind::Composite, &relation).is_some_and(|def| {
                    crate::diff::types::attributes(def)
                        .iter()
                        .any(|(attribute, _)| *attribute == column)
                })
        }
        "TABLE" => found(&[Kind::Table], object),
        "VIEW" | "MATERIALIZED" => found(
            &[Kind::View],
            object.strip_prefix("VIEW ").unwrap_or(object),
        ),
        "FUNCTION" | "PROCEDURE" | "AGGREGATE" => found(&[Kind::Function], object),
        // An index of its own, or a key's (named as its constraint, in its table's schema).
        "INDEX" => {
            found(&[Kind::Index], object)
                || to.constraints().any(|(key, c)| {
                    let (table, constraint) = split_last(key);
                    (c.is_key() || c.kind == crate::diff::constraint::ConstraintKind::Exclusion)
                        && crate::diff::name::parts(&table).first().copied()
                            == crate::diff::name::parts(object).first().copied()
                        && split_last(object).1 == constraint
                })
        }
        "SEQUENCE" => found(&[Kind::Sequence, Kind::OwnedSequence], object),
        "SCHEMA" => object == "public" || found(&[Kind::Schema], object),
        "TYPE" => found(&Kind::TYPES, object),
        // A domain's check is held in its domain's definition.
        "CONSTRAINT" => match object.split_once_unquoted(" ON DOMAIN ") {
            Some((constraint, domain)) => to
                .get(Kind::Domain, domain)
                .is_some_and(|def| def.contains(&format!("CONSTRAINT {constraint} "))),
            None => found(&[Kind::Constraint], &on_table()),
        },
        "TRIGGER" => found(&[Kind::Trigger], &on_table()),
        "POLICY" => found(&[Kind::Policy], &on_table()),
        "RULE" => found(&[Kind::Rule], &on_table()),
        "COLLATION" => found(&[Kind::Collation], object),
        "STATISTICS" => found(&[Kind::Statistics], object),
        "PUBLICATION" => found(&[Kind::Publication], object),
        "EVENT" => found(
            &[Kind::EventTrigger],
            object.strip_prefix("TRIGGER ").unwrap_or(object),
        ),
        "TEXT" => match object.strip_prefix("SEARCH CONFIGURATION ") {
            Some(config) => found(&[Kind::TextSearchConfiguration], config),
            None => found(
                &[Kind::TextSearchDictionary],
                object.strip_prefix("SEARCH DICTIONARY ").unwrap_or(object),
            ),
        },
        _ => false,
    }
}
