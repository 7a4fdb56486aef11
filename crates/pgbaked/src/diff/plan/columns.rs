//! Columns added to tables that stay, and columns that change: type, generation, identity,
//! default, serial sequence and NOT NULL, each as online as PostgreSQL allows.

use super::{Plan, standalone_sequence};
use crate::diff::catalog::{Catalog, Difference, Kind};
use crate::diff::change::{Change, HazardKind, unsupported};
use crate::diff::column::{
    Column, binary_coercible, cast_exists, declaration, narrowing, nextval_sequence, owner_type,
    placeholder, volatile,
};
use crate::diff::name::{free_constraint_name, mentions, parts, split_last};
use crate::diff::table::{from_parent, regenerate};
use crate::quote::{quote_identifier, quote_literal, unquote};

impl<'a> Plan<'a> {
    /// Added columns in the order they are declared, and changed ones.
    pub(super) fn columns(&mut self) -> Vec<Change> {
        let mut changes = Vec::new();
        let mut columns: Vec<&Difference> =
            self.of(Kind::Column).filter(|d| d.to.is_some()).collect();
        columns.sort_by_key(|d| (split_last(&d.name).0, self.to.position(&d.name)));
        for d in columns {
            let table = split_last(&d.name).0;
            if self.new_tables.contains(&table.as_str())
                || from_parent(d, self.differences, self.from, self.to)
                || self.pinned.regenerated.contains(&d.name)
            {
                continue;
            }
            match d.from.as_deref() {
                None if self.through_its_type(d) => {}
                // Inherited until now: the table keeps it, as its parent has it.
                None if let Some(inherited) = self.uninherited(Kind::Column, &d.name) => {
                    let kept = Difference {
                        kind: Kind::Column,
                        name: d.name.clone(),
                        from: Some(inherited.to_string()),
                        to: d.to.clone(),
                    };
                    if kept.from != kept.to {
                        self.alter_column(&kept, &mut changes);
                    }
                }
                None => self.add_column(d, &mut changes),
                Some(_) => self.alter_column(d, &mut changes),
            }
        }
        changes
    }

    /// A column added to a table that stays: a NOT NULL one without a default through a
    /// placeholder (where no key forbids one), each rewrite flagged.
    fn add_column(&self, d: &Difference, changes: &mut Vec<Change>) {
        let to = self.to;
        let (table, name) = split_last(&d.name);
        let c = to.column(&d.name).unwrap_or_default();
        let change = format!(
            "ALTER TABLE {table} ADD COLUMN {}",
            self.declare(&table, name, c)
        );
        let required =
            c.not_null && c.default.is_none() && c.identity.is_none() && c.generated.is_none();
        // A column in a key or a unique index cannot take one value for every row (nor, for a
        // foreign key, a made-up one): no placeholder there.
        let keyed = to.constraints().any(|(object, c)| {
            (c.is_key() || c.is_foreign_key())
                && split_last(object).0 == table
                && c.columns.iter().any(|k| k == name)
        }) || to
            .indexes()
            .any(|(_, index)| index.unique && index.table == table && index.covers(name));
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
                    "NOT NULL without a default: rows already in the table get {value}; write \
                     the real backfill in its place"
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

    /// A column that stays and changes.
    fn alter_column(&mut self, d: &Difference, changes: &mut Vec<Change>) {
        let (table, name) = split_last(&d.name);
        let (old, new) = (
            self.from.column(&d.name).unwrap_or_default(),
            self.to.column(&d.name).unwrap_or_default(),
        );
        if new.generated.is_some() && old.generated != new.generated {
            // PostgreSQL 15 cannot change a generation expression in place. A generated
            // column's values are derived, so it is dropped and added again; what was built on
            // it (indexes, constraints) is built again after, and views over it are rebuilt
            // (`views_to_rebuild`).
            let (steps, indexes) = regenerate(
                &table,
                name,
                old.generated.is_none(),
                new,
                self.differences,
                self.to,
            );
            changes.extend(steps);
            self.regenerated_indexes.extend(indexes);
            return;
        }
        let alter = |what: String| format!("ALTER TABLE {table} ALTER COLUMN {name} {what}");
        // A typed table's column is retyped by its type's ALTER … CASCADE.
        // So is a partition's by its parent's (the server refuses it on the partition).
        let retyped = (old.data_type != new.data_type || old.collate != new.collate)
            && !self.through_its_type(d)
            && !self.retyped_by_parent(&table, name, (&old, &new));
        // A partitioned table's key column cannot change type: the table must be made again
        // with its partitions.
        let in_key = self
            .from
            .table(&table)
            .and_then(|t| t.partition_key())
            .is_some_and(|key| mentions(key, name));
        if retyped && in_key {
            changes.push(unsupported(d, "a partition key column's type changed"));
            return;
        }
        // A column of another table holding this table's row type: the server refuses to
        // retype it.
        let row_type_held = self
            .from
            .dependents(Kind::Table, &table)
            .any(|(kind, column)| kind == Kind::Column && split_last(column).0 != table);
        if retyped && row_type_held {
            changes.push(unsupported(
                d,
                "a column retyped in a table whose row type another table's column holds",
            ));
            return;
        }
        // A default of the old type may not cast to the new one: it goes first and comes back
        // after.
        if retyped && old.default.is_some() {
            changes.push(Change::plain(alter("DROP DEFAULT".into())));
        }
        if retyped {
            changes.push(self.retype(&alter, name, &old, &new));
        }
        // Identity first: DROP IDENTITY (which drops its sequence) before a default comes
        // back, and before DROP NOT NULL, which an identity column refuses.
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
        if old.default != new.default || (retyped && new.default.is_some()) {
            self.default(&table, name, &old, &new, retyped, changes);
        }
        // ADD IDENTITY wants NOT NULL: after the SET NOT NULL below when it comes too. The
        // identity's new sequence starts at 1: it is carried on past the values the column
        // holds (a serial's, or any), or the next insert collides with them.
        // Its sequence's options come with it: set after, a MINVALUE above 1 would be refused
        // while the new sequence stands at 1.
        let identity_options = self.identity_options(&d.name);
        let add_identity: Vec<Change> = match (reidentified, old.identity, new.identity) {
            (true, None, Some(identity)) => vec![
                Change::plain(alter(format!("ADD {identity}{identity_options}"))),
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
            // The parent's steps reach its partitions: the check it adds is theirs too.
            (false, true) if self.not_null_by_parent(&table, name) => {
                self.validations.extend(add_identity);
            }
            (false, true) => {
                // SET NOT NULL scans the table under an exclusive lock; a validated check lets
                // the server skip the scan.
                let check = quote_identifier(&free_constraint_name(
                    self.from,
                    &table,
                    &format!("{}_not_null", unquote(name)),
                ));
                changes.push(Change::plain(format!(
                    "ALTER TABLE {table} ADD CONSTRAINT {check} CHECK ({name} IS NOT NULL) NOT VALID"
                )));
                self.validations.push(Change::plain(format!(
                    "ALTER TABLE {table} VALIDATE CONSTRAINT {check}"
                )));
                self.validations
                    .push(Change::plain(alter("SET NOT NULL".into())));
                self.validations.push(Change::plain(format!(
                    "ALTER TABLE {table} DROP CONSTRAINT {check}"
                )));
                self.validations.extend(add_identity);
            }
            (true, false) => changes.push(Change::plain(alter("DROP NOT NULL".into()))),
            _ => {}
        }
    }

    /// `ALTER COLUMN … TYPE … USING`, through text where no cast leads from the old type to
    /// the new one, flagged as the rewrite (or narrowing) it is.
    fn retype(
        &self,
        alter: &dyn Fn(String) -> String,
        name: &str,
        old: &Column<'_>,
        new: &Column<'_>,
    ) -> Change {
        let (from, to) = (self.from, self.to);
        let collate = new
            .collate
            .map(|c| format!(" COLLATE {c}"))
            .unwrap_or_default();
        // USING: an explicit cast converts where no implicit one exists (text to an enum,
        // say). Into an enum it goes through text: no other type casts to one (a smallint
        // code, say).
        let is_enum = |t: &str| {
            to.get(Kind::Enum, t).is_some() || to.get(Kind::Enum, &format!("public.{t}")).is_some()
        };
        // Out of an enum into anything but text, through text too.
        let was_enum = |t: &str| {
            from.get(Kind::Enum, t).is_some()
                || from.get(Kind::Enum, &format!("public.{t}")).is_some()
        };
        let into_text =
            matches!(new.data_type, "text") || new.data_type.starts_with("character varying");
        // A time of day has no cast to a date or a timestamp, nor a date to a time of day:
        // through text too (it parses on an empty table; a row fails).
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
        let from_text = old.data_type == "text" || old.data_type.starts_with("character varying");
        let using = match new.data_type {
            "jsonb" | "json" if !from_text && !old.data_type.starts_with("json") => {
                format!("to_{}({name})", new.data_type)
            }
            _ => format!("{name}{via}::{}", new.data_type),
        };
        let sql = alter(format!("TYPE {}{collate} USING {using}", new.data_type));
        if narrowing(old.data_type, new.data_type) {
            Change::hazard(
                sql,
                &[
                    HazardKind::RewritesTable,
                    HazardKind::MayFail,
                    HazardKind::DeletesData,
                ],
                format!(
                    "changes the type from {} to {}: rewrites the table, and may fail or lose data",
                    old.data_type, new.data_type
                ),
            )
        } else if !binary_coercible(old.data_type, new.data_type) {
            Change::hazard(
                sql,
                &[HazardKind::RewritesTable],
                format!(
                    "changes the type from {} to {}: rewrites the table under an ACCESS EXCLUSIVE \
                     lock (online: add a column of the new type, backfill it in batches, switch \
                     over)",
                    old.data_type, new.data_type
                ),
            )
        } else {
            Change::plain(sql)
        }
    }

    /// A column's new default, or its default dropped: a serial's sequence created (and
    /// carried on past the values already there) or dropped with it.
    fn default(
        &self,
        table: &str,
        name: &str,
        old: &Column<'_>,
        new: &Column<'_>,
        retyped: bool,
        changes: &mut Vec<Change>,
    ) {
        let alter = |what: String| format!("ALTER TABLE {table} ALTER COLUMN {name} {what}");
        // The sequence behind a serial default, which the column owns and the catalog lists
        // with the column rather than as a sequence of its own (one of the serial's name that
        // stands alone is only drawn from).
        let serial_sequence = |c: &Column<'_>, catalog: &Catalog| {
            c.default
                .and_then(nextval_sequence)
                .filter(|_| declaration(table, name, *c).ends_with("serial"))
                .filter(|seq| !standalone_sequence(catalog, seq))
        };
        let (old_serial, new_serial) = (
            serial_sequence(old, self.from),
            serial_sequence(new, self.to),
        );
        match new.default {
            Some(default) => {
                // (Not one `from` has under that name, owned by another column: that one
                // moves to this column with its value.)
                let exists = |seq: &str| {
                    [Kind::Sequence, Kind::OwnedSequence].iter().any(|k| {
                        self.from.get(*k, seq).is_some()
                            || (parts(seq).len() == 1
                                && self.from.get(*k, &format!("public.{seq}")).is_some())
                    })
                };
                if let Some(seq) = new_serial
                    .as_ref()
                    .filter(|s| old_serial.as_ref() != Some(s) && !exists(s))
                {
                    // Serial again (from an identity, say): its sequence, owned by the column
                    // and carried on past the values already there.
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
                // Unless another column draws from it now (the serial renamed aside, a new
                // column in its place).
                if let Some(seq) = old_serial
                    .as_ref()
                    .filter(|s| new_serial.as_ref() != Some(s))
                    .filter(|s| owner_type(self.to, s) == "none")
                {
                    changes.push(Change::plain(format!("DROP SEQUENCE {seq}")));
                }
            }
        }
    }
}

impl Plan<'_> {
    /// Whether the column `name` of the partition `table` changes type (or collation) as its
    /// parent's does: the parent's `ALTER … TYPE` changes it.
    fn retyped_by_parent(
        &self,
        table: &str,
        name: &str,
        (old, new): (&Column<'_>, &Column<'_>),
    ) -> bool {
        let Some(key) = self.parent_column(table, name) else {
            return false;
        };
        let (Some(p_old), Some(p_new)) = (self.from.column(&key), self.to.column(&key)) else {
            return false;
        };
        (
            p_old.data_type,
            p_old.collate,
            p_new.data_type,
            p_new.collate,
        ) == (old.data_type, old.collate, new.data_type, new.collate)
    }

    /// The column `name` of the table `table` is a partition of, keyed.
    fn parent_column(&self, table: &str, name: &str) -> Option<String> {
        let parent = [self.to, self.from].iter().find_map(|c| {
            c.table(table)?
                .partition_of
                .map(|(parent, _)| crate::diff::table::qualified_parent(parent))
        })?;
        Some(format!("{parent}.{name}"))
    }

    /// Whether the column `name` of the partition `table` is made NOT NULL by its parent's
    /// column becoming NOT NULL in the same plan (the server carries the parent's steps down).
    fn not_null_by_parent(&self, table: &str, name: &str) -> bool {
        self.parent_column(table, name).is_some_and(|key| {
            self.from.column(&key).is_some_and(|c| !c.not_null)
                && self.to.column(&key).is_some_and(|c| c.not_null)
        })
    }
}
