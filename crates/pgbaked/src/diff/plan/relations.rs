//! Once tables and columns are in place: indexes, views (new and rebuilt, with the routines
//! their row types type), triggers and policies, and what a change pinned.

use super::Plan;
use crate::diff::catalog::Kind;
use crate::diff::change::Change;
use crate::diff::name::split_last;
use crate::diff::routine::replace_routine;
use crate::diff::table::{concurrently, partitioned_index, without_only};
use crate::diff::view::order_by_reference;

impl<'a> Plan<'a> {
    /// Indexes, views, triggers, policies, and what the plan's changes pinned.
    pub(super) fn relations(&mut self) -> Vec<Change> {
        let mut changes = Vec::new();
        self.indexes(&mut changes);
        // Pinned routines (and operators and casts made of them) come back before the views,
        // which may call them.
        changes.extend(self.pinned.routine_creates.iter().cloned());
        self.views(&mut changes);
        for d in self.of(Kind::Trigger).filter(|d| d.to.is_some()) {
            changes.push(Change::plain(d.to.clone().unwrap_or_default()));
        }
        for (_, def) in &self.pinned_triggers {
            changes.push(Change::plain(def.as_str()));
        }
        for d in self.of(Kind::Policy).filter(|d| d.to.is_some()) {
            // Dropped above when it changed: a policy's command cannot be altered.
            let (table, name) = split_last(&d.name);
            changes.push(Change::plain(format!(
                "CREATE POLICY {name} ON {table} {}",
                d.to.as_deref().unwrap_or_default()
            )));
        }
        changes.extend(self.pinned.creates.iter().cloned());
        changes
    }

    /// New indexes: on a new table at once, on a partitioned one without `ON ONLY`, otherwise
    /// `CONCURRENTLY` (deferred: each in a file of its own, after the views and triggers, so
    /// that a view dropped to change a column comes back in the same transaction); those of a
    /// new materialized view come with it.
    fn indexes(&mut self, changes: &mut Vec<Change>) {
        // Indexes on a generated column dropped and added again, built again too.
        self.concurrent_indexes = self
            .regenerated_indexes
            .iter()
            .map(|def| {
                if partitioned_index(def) {
                    Change::plain(without_only(def))
                } else {
                    Change::concurrent(concurrently(def))
                }
            })
            .collect();
        for d in self.of(Kind::Index).filter(|d| d.to.is_some()) {
            let def = d.to.as_deref().unwrap_or_default();
            let def = def.strip_suffix(" (INVALID)").unwrap_or(def);
            let table = self.to.index(&d.name).map_or("", |i| i.table.as_str());
            if self.views_after.iter().any(|v| v == table) {
                continue; // with its materialized view
            }
            if crate::diff::attached::carried_by_attach(
                &d.name,
                self.from,
                self.to,
                self.differences,
            ) {
                continue; // left standing by a detach
            }
            if partitioned_index(def) {
                // On a partitioned table, `ON ONLY` would leave the index invalid until each
                // partition's is attached; without it the server builds and attaches them.
                // CONCURRENTLY is refused there.
                changes.push(Change::plain(without_only(def)));
            } else if self.new_tables.contains(&table) {
                changes.push(Change::plain(def.to_string()));
            } else {
                self.concurrent_indexes
                    .push(Change::concurrent(concurrently(def)));
            }
        }
    }

    /// Views (and their indexes) after the tables and columns they read, those they read
    /// first; each routine typed by a view's row type once its views are there and before
    /// the views that call it.
    fn views(&self, changes: &mut Vec<Change>) {
        let (from, to) = (self.from, self.to);
        let created_views = &self.views_after;
        let mut typed_created: Vec<&str> = Vec::new();
        let mut views_done: Vec<String> = Vec::new();
        for name in order_by_reference(created_views, to, false) {
            let typed: Vec<(&str, &str)> = to
                .objects()
                .filter(|(kind, routine, _)| {
                    *kind == Kind::Function
                        && self.after_views(routine)
                        && !typed_created.contains(routine)
                        && to.routine_uses(routine, &name)
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
                    // (Not one the dependency graph builds again anyway, around a routine.)
                    for index in to
                        .indexes()
                        .filter(|(_, index)| index.table == name)
                        .filter_map(|(index, _)| to.get(Kind::Index, index))
                        .map(|index| index.strip_suffix(" (INVALID)").unwrap_or(index))
                        .filter(|index| !self.pinned.creates.iter().any(|c| c.sql == *index))
                    {
                        changes.push(Change::plain(index.to_string()));
                    }
                }
                None => changes.push(Change::plain(format!("CREATE VIEW {name} AS {body}"))),
            }
            // (One that names views not yet created waits for the last of them.)
            views_done.push(name.clone());
            for (routine, def) in typed {
                if created_views
                    .iter()
                    .filter(|v| to.routine_uses(routine, v))
                    .all(|v| views_done.contains(v))
                {
                    typed_created.push(routine);
                    changes.extend(replace_routine(
                        (from, to),
                        routine,
                        def,
                        &self.typed_dropped,
                    ));
                }
            }
        }
        for (kind, name, def) in to.objects() {
            if kind == Kind::Function && self.after_views(name) && !typed_created.contains(&name) {
                changes.extend(replace_routine((from, to), name, def, &self.typed_dropped));
            }
        }
    }
}
