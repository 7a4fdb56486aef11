//! Constraints and indexes as the catalog holds them, each part read from a field of its own
//! (`pg_constraint`, `pg_index`): which kind, over which columns, referencing which table. The
//! planner asks these, never the deparsed text, which columns a key covers or which table a
//! foreign key references: a quoted name or a check's string may hold `) REFERENCES ` or
//! ` ON `, and a deparse writes a referenced table unqualified when it is on the search path.

/// What kind of constraint (`pg_constraint.contype`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ConstraintKind {
    PrimaryKey,
    Unique,
    Check,
    ForeignKey,
    Exclusion,
}

impl ConstraintKind {
    fn from_contype(contype: &str) -> ConstraintKind {
        match contype {
            "p" => ConstraintKind::PrimaryKey,
            "u" => ConstraintKind::Unique,
            "f" => ConstraintKind::ForeignKey,
            "x" => ConstraintKind::Exclusion,
            _ => ConstraintKind::Check,
        }
    }
}

/// A constraint's parts. Column and table names are quoted as the server quotes them
/// (`quote_ident`, `format('%I.%I')`), so they compare with the catalog's keys.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ConstraintDef {
    pub(crate) kind: ConstraintKind,
    /// The constrained columns (`conkey`), in the key's order; a check's are those it reads.
    pub(crate) columns: Vec<String>,
    /// A foreign key's referenced table (`schema.table`) and columns.
    pub(crate) references: Option<(String, Vec<String>)>,
    /// `NOT VALID` until validated.
    pub(crate) validated: bool,
}

impl ConstraintDef {
    /// Reads the parts from a row's fields: `contype`, `conkey` names, the referenced table
    /// and its `confkey` names, `convalidated`.
    pub(crate) fn new(
        contype: &str,
        columns: Vec<String>,
        referenced: Option<String>,
        referenced_columns: Vec<String>,
        validated: bool,
    ) -> ConstraintDef {
        ConstraintDef {
            kind: ConstraintKind::from_contype(contype),
            columns,
            references: referenced.map(|table| (table, referenced_columns)),
            validated,
        }
    }

    /// A primary key or a unique constraint: what a foreign key may reference.
    pub(crate) fn is_key(&self) -> bool {
        matches!(
            self.kind,
            ConstraintKind::PrimaryKey | ConstraintKind::Unique
        )
    }

    pub(crate) fn is_foreign_key(&self) -> bool {
        self.kind == ConstraintKind::ForeignKey
    }

    pub(crate) fn is_check(&self) -> bool {
        self.kind == ConstraintKind::Check
    }

    /// Whether it is written inside a new table's `CREATE TABLE`: all but foreign keys (the
    /// table they reference may come later) and what is `NOT VALID` (not allowed there).
    pub(crate) fn inlined(&self) -> bool {
        !self.is_foreign_key() && self.validated
    }

    /// The columns, sorted: a key's identity for "the same columns" whatever their order.
    pub(crate) fn column_set(&self) -> Vec<String> {
        sorted(&self.columns)
    }

    /// The same constraint with every name passed through `rewrite` (what a rename does).
    pub(crate) fn rewritten(&self, rewrite: impl Fn(&str) -> String) -> ConstraintDef {
        ConstraintDef {
            kind: self.kind,
            columns: self.columns.iter().map(|c| rewrite(c)).collect(),
            references: self.references.as_ref().map(|(table, columns)| {
                (rewrite(table), columns.iter().map(|c| rewrite(c)).collect())
            }),
            validated: self.validated,
        }
    }

    /// The same constraint after `ALTER TABLE table RENAME COLUMN old TO new`; `own` tells
    /// whether the constraint is on `table`.
    pub(crate) fn renamed_column(&self, own: bool, table: &str, old: &str, new: &str) -> Self {
        let rename = |columns: &[String]| -> Vec<String> {
            columns
                .iter()
                .map(|c| if c == old { new.to_string() } else { c.clone() })
                .collect()
        };
        let mut renamed = self.clone();
        if own {
            renamed.columns = rename(&self.columns);
        }
        if let Some((referenced, columns)) = &mut renamed.references
            && referenced == table
        {
            *columns = rename(columns);
        }
        renamed
    }
}

/// An index's parts (`pg_index`), for the indexes that are objects of their own (not a key's).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct IndexDef {
    /// The table or materialized view it is on, `schema.table`.
    pub(crate) table: String,
    pub(crate) unique: bool,
    /// It has a `WHERE`: it does not serve a foreign key.
    pub(crate) partial: bool,
    /// The key columns, in order; `None` for an expression.
    pub(crate) columns: Vec<Option<String>>,
    /// Every column it reads, in its keys, expressions, INCLUDE list or predicate, as the
    /// server records them (`pg_depend`).
    pub(crate) reads: Vec<String>,
}

impl IndexDef {
    /// The key columns, sorted, when every one is a plain column: what a foreign key over
    /// those columns can use as its referenced key.
    pub(crate) fn column_set(&self) -> Option<Vec<String>> {
        let columns: Option<Vec<String>> = self.columns.iter().cloned().collect();
        columns.map(|c| sorted(&c))
    }

    /// A unique index without a predicate over plain columns: one a foreign key may reference.
    pub(crate) fn referenceable(&self) -> Option<Vec<String>> {
        if self.unique && !self.partial {
            self.column_set()
        } else {
            None
        }
    }

    /// Whether `column` (quoted) is one of its key columns or read by a key's expression.
    pub(crate) fn covers(&self, column: &str) -> bool {
        self.columns.iter().flatten().any(|c| c == column)
            || (self.columns.contains(&None) && self.reads.iter().any(|c| c == column))
    }

    /// The same index with every name passed through `rewrite` (what a rename does).
    pub(crate) fn rewritten(&self, rewrite: impl Fn(&str) -> String) -> IndexDef {
        IndexDef {
            table: rewrite(&self.table),
            unique: self.unique,
            partial: self.partial,
            columns: self
                .columns
                .iter()
                .map(|c| c.as_deref().map(&rewrite))
                .collect(),
            reads: self.reads.iter().map(|c| rewrite(c)).collect(),
        }
    }

    /// The same index after `ALTER TABLE table RENAME COLUMN old TO new`.
    pub(crate) fn renamed_column(&self, table: &str, old: &str, new: &str) -> IndexDef {
        let mut renamed = self.clone();
        if self.table == table {
            for c in renamed
                .columns
                .iter_mut()
                .flatten()
                .chain(&mut renamed.reads)
            {
                if c == old {
                    *c = new.to_string();
                }
            }
        }
        renamed
    }
}

/// The columns, sorted: a key's identity whatever their order.
pub(crate) fn sorted(columns: &[String]) -> Vec<String> {
    let mut columns = columns.to_vec();
    columns.sort_unstable();
    columns
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(contype: &str, columns: &[&str]) -> ConstraintDef {
        ConstraintDef::new(
            contype,
            columns.iter().map(|c| c.to_string()).collect(),
            None,
            Vec::new(),
            true,
        )
    }

    #[test]
    fn kinds_come_from_contype() {
        assert!(key("p", &["id"]).is_key());
        assert!(key("u", &["id"]).is_key());
        assert!(key("c", &["id"]).is_check());
        assert!(!key("x", &["id"]).is_key());
        let fk = ConstraintDef::new(
            "f",
            vec!["\"a) REFERENCES b(\"".into()],
            Some("public.\"Other\"".into()),
            vec!["id".into()],
            false,
        );
        assert!(fk.is_foreign_key() && !fk.inlined());
        assert_eq!(fk.references.as_ref().unwrap().0, "public.\"Other\"");
    }

    #[test]
    fn a_renamed_column_is_renamed_where_it_is_referenced_too() {
        let fk = ConstraintDef::new(
            "f",
            vec!["parent".into()],
            Some("public.t".into()),
            vec!["id".into()],
            true,
        );
        let own = fk.renamed_column(true, "public.t", "id", "key");
        assert_eq!(own.references.unwrap().1, vec!["key".to_string()]);
        let other = fk.renamed_column(false, "public.u", "id", "key");
        assert_eq!(other.references.unwrap().1, vec!["id".to_string()]);
    }

    #[test]
    fn an_expression_index_has_no_column_set() {
        let index = IndexDef {
            table: "public.t".into(),
            unique: true,
            partial: false,
            columns: vec![Some("b".into()), None],
            reads: vec!["b".into(), "c".into()],
        };
        assert_eq!(index.referenceable(), None);
        assert!(index.covers("b") && index.covers("c") && !index.covers("d"));
        let plain = IndexDef {
            columns: vec![Some("b".into()), Some("a".into())],
            ..index
        };
        assert_eq!(
            plain.referenceable(),
            Some(vec!["a".to_string(), "b".to_string()])
        );
    }
}
