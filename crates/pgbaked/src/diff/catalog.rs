//! A schema as PostgreSQL's catalog describes it, and the differences between two of them: what
//! `check` (declared schema against migrations) and `drift` (a live database against its
//! recorded history) compare.
//!
//! Every object is read back through the server's own deparsers (`format_type`,
//! `pg_get_constraintdef`, `pg_get_indexdef`, `pg_get_viewdef`, `pg_get_functiondef`,
//! `pg_get_triggerdef`), so two schemas built by different SQL compare equal when the server
//! holds the same thing. Column order is not compared (a migration can only append columns),
//! nor are objects that extensions own, nor the history tables.

use std::collections::BTreeMap;
use std::fmt;

use serde::Serialize;
use tokio_postgres::Client;
use tokio_postgres::types::Type;

use super::column::{Column, ColumnDef};
use super::constraint::{ConstraintDef, IndexDef};
use super::coverage;
use super::deparse::reparseable;
pub use super::kind::Kind;
use super::queries::catalog_queries;
use super::table::{TableDef, TableTraits};
use crate::error::Error;

/// Every object of a database's schema, by kind and qualified name, with its definition.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Catalog {
    /// The definition as the server deparsed it (to write it back), and with its whitespace
    /// collapsed (to compare it: layout is no difference).
    objects: BTreeMap<(Kind, String), (String, String)>,
    /// Each column's place in its table (`attnum`): not compared (a migration can only
    /// append), but new tables and added columns are written in the order they are declared.
    positions: BTreeMap<String, i16>,
    /// Each column's parts ([`Kind::Column`]'s definition is their [`ColumnDef::text`]).
    columns: BTreeMap<String, ColumnDef>,
    /// Each function's and procedure's parameters (names, modes, defaults) and result, as the
    /// server prints them: what `CREATE OR REPLACE` cannot change.
    signatures: BTreeMap<String, (String, Option<String>)>,
    /// Each table's traits ([`Kind::Table`]'s definition is their [`TableDef::text`]).
    tables: BTreeMap<String, TableDef>,
    /// Each constraint's parts (its definition stays the server's deparse, to write it back).
    constraints: BTreeMap<String, ConstraintDef>,
    /// Each index's parts (those of [`Kind::Index`]: not a key's, nor a partition's).
    indexes: BTreeMap<String, IndexDef>,
    /// For each [`Kind::Setting`], the statement that puts it back to its default.
    resets: BTreeMap<String, String>,
    /// What depends on what, as the server records it (`pg_depend`): (dependency, dependent),
    /// ordered so that an object's dependents are one range of the set.
    depends: std::collections::BTreeSet<(Key, Key)>,
}

/// An object's key in the catalog: its kind and qualified name.
pub(crate) type Key = (Kind, String);

/// One object that differs between two catalogs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Difference {
    /// The object's kind.
    pub kind: Kind,
    /// Its qualified name (`schema.table.column` for a column).
    pub name: String,
    /// Its definition on the `from` side, `None` when it exists only on the `to` side.
    pub from: Option<String>,
    /// Its definition on the `to` side, `None` when it exists only on the `from` side.
    pub to: Option<String>,
}

impl fmt::Display for Difference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = self.kind.as_str();
        match (&self.from, &self.to) {
            (None, Some(to)) => write!(f, "+ {kind} {}: {to}", self.name),
            (Some(from), None) => write!(f, "- {kind} {}: {from}", self.name),
            (Some(from), Some(to)) => write!(
                f,
                "~ {kind} {}\n    from: {from}\n    to:   {to}",
                self.name
            ),
            (None, None) => write!(f, "? {kind} {}", self.name),
        }
    }
}

impl Catalog {
    /// Reads the schema of the database `client` is connected to, leaving out the history
    /// tables named in `exclude` (unqualified names).
    ///
    /// # Errors
    ///
    /// The server's error.
    pub async fn read(client: &Client, exclude: &[String]) -> Result<Catalog, Error> {
        Catalog::read_with(client, exclude, false).await
    }

    /// [`Catalog::read`], with the privileges granted on tables, views, sequences, schemas,
    /// functions and types when `privileges` is true: each role's beyond the owner's, as
    /// [`Kind::Privilege`] entries. An object never granted on holds the server's defaults
    /// (`acldefault`: EXECUTE on a function and USAGE on a type for PUBLIC), so a first GRANT,
    /// which spells them out, changes nothing else.
    ///
    /// # Errors
    ///
    /// The server's error.
    pub async fn read_with(
        client: &Client,
        exclude: &[String],
        privileges: bool,
    ) -> Result<Catalog, Error> {
        let queries = catalog_queries(privileges);
        // One snapshot for every query: a schema changing while it is read is read as it was
        // at one moment, not as a mix of before and after. No parallel workers: starting them
        // costs more than the small catalog scans they would share, and the two sides of a
        // diff are read at once already.
        client
            .batch_execute(
                "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY;                  SET LOCAL max_parallel_workers_per_gather = 0",
            )
            .await
            .map_err(Error::db("reading the catalog"))?;
        let catalog = Catalog::read_in_snapshot(client, exclude, &queries).await;
        let end = client.batch_execute("ROLLBACK").await;
        let catalog = catalog?;
        end.map_err(Error::db("reading the catalog"))?;
        Ok(catalog)
    }

    /// The objects, then what depends on what, inside the snapshot the caller opened.
    async fn read_in_snapshot(
        client: &Client,
        exclude: &[String],
        queries: &[(Kind, String)],
    ) -> Result<Catalog, Error> {
        let mut catalog = Catalog::read_queries(client, exclude, queries).await?;
        // The planner misjudges the size of the keys and loops over them per dependency; hash
        // joins read a thousand-table catalog in milliseconds (reset with the transaction).
        client
            .batch_execute("SET LOCAL enable_nestloop = off")
            .await
            .map_err(Error::db("reading the catalog"))?;
        let rows = client
            .query_typed(&coverage::dependencies(), &[])
            .await
            .map_err(Error::db("reading the catalog's dependencies"))?;
        for row in rows {
            let (dependent, dependency): (String, String) = (row.get(0), row.get(1));
            if let (Some(a), Some(b)) = (catalog.key(&dependent), catalog.key(&dependency)) {
                catalog.depends.insert((b, a));
            }
        }
        Ok(catalog)
    }

    async fn read_queries(
        client: &Client,
        exclude: &[String],
        queries: &[(Kind, String)],
    ) -> Result<Catalog, Error> {
        let reads = queries.iter().map(|(kind, sql)| async move {
            let rows = if sql.contains("$1") {
                client
                    .query_typed(sql, &[(&exclude, Type::TEXT_ARRAY)])
                    .await
            } else {
                client.query_typed(sql, &[]).await
            };
            rows.map(|rows| (*kind, rows))
        });
        let mut catalog = Catalog::default();
        for result in futures_util::future::join_all(reads).await {
            let (kind, rows) = result.map_err(Error::db("reading the catalog"))?;
            for row in rows {
                let name: String = row.get(0);
                let mut definition: String = row.get::<_, Option<String>>(1).unwrap_or_default();
                // A function's body is its author's text, not a deparse.
                if !matches!(kind, Kind::Function | Kind::Comment) {
                    definition = reparseable(&definition);
                }
                // A routine's body is compared as written: pg_dump shows a change in its
                // whitespace, so the plan must carry it.
                if kind == Kind::Column {
                    let column = ColumnDef {
                        data_type: row.get(3),
                        not_null: row.get(4),
                        identity: row.get(5),
                        generated: row
                            .get::<_, Option<String>>(6)
                            .map(|e| format!("GENERATED ALWAYS AS ({}) STORED", reparseable(&e))),
                        default: row.get::<_, Option<String>>(7).map(|e| reparseable(&e)),
                        collate: row.get(8),
                    };
                    definition = column.text();
                    catalog.positions.insert(name.clone(), row.get(2));
                    catalog.columns.insert(name.clone(), column);
                }
                if kind == Kind::Function
                    && let Ok(arguments) = row.try_get::<_, String>(2)
                {
                    catalog
                        .signatures
                        .insert(name.clone(), (arguments, row.get(3)));
                }
                if kind == Kind::Table {
                    let partition_of = match (row.get::<_, Option<String>>(5), row.get(6)) {
                        (Some(parent), Some(bound)) => Some((parent, bound)),
                        _ => None,
                    };
                    let table = TableDef {
                        kind: row
                            .get::<_, Option<String>>(2)
                            .map_or("table".into(), |key| format!("partitioned by {key}")),
                        unlogged: row.get(3),
                        row_level_security: row.get(4),
                        partition_of,
                        inherits: row.get(7),
                    };
                    definition = table.text();
                    catalog.tables.insert(name.clone(), table);
                }
                if kind == Kind::Constraint {
                    let constraint = ConstraintDef::new(
                        row.get(2),
                        row.get(3),
                        row.get(4),
                        row.get(5),
                        row.get(6),
                    );
                    catalog.constraints.insert(name.clone(), constraint);
                }
                if kind == Kind::Index {
                    let index = IndexDef {
                        table: row.get(2),
                        unique: row.get(3),
                        partial: row.get(4),
                        columns: row.get(5),
                        reads: row.get(6),
                    };
                    catalog.indexes.insert(name.clone(), index);
                }
                let compared = compared(kind, &definition);
                if kind == Kind::Setting
                    && let Ok(reset) = row.try_get::<_, String>(2)
                {
                    catalog.resets.insert(name.clone(), reset);
                }
                catalog.objects.insert((kind, name), (definition, compared));
            }
        }
        Ok(catalog)
    }

    /// Every object: kind, qualified name, definition.
    pub fn objects(&self) -> impl Iterator<Item = (Kind, &str, &str)> {
        self.objects
            .iter()
            .map(|((kind, name), (def, _))| (*kind, name.as_str(), def.as_str()))
    }

    /// The catalog key of a `kind name` that the dependency query writes; a type or a sequence
    /// is found under the kind it is held as.
    fn key(&self, typed: &str) -> Option<Key> {
        let (word, name) = typed.split_once(' ')?;
        let held = |kinds: &[Kind]| {
            kinds
                .iter()
                .copied()
                .find(|k| self.get(*k, name).is_some())
                .unwrap_or(kinds[0])
        };
        let kind = match word {
            "column" => Kind::Column,
            "table" => Kind::Table,
            "view" => Kind::View,
            "index" => Kind::Index,
            "sequence" => held(&[Kind::Sequence, Kind::OwnedSequence]),
            "function" => Kind::Function,
            "type" => held(&Kind::TYPES),
            "constraint" => Kind::Constraint,
            // A domain's check, keyed `schema.domain.check` under its domain's kind (a domain's
            // definition holds its checks).
            "domain_constraint" => Kind::Domain,
            "trigger" => Kind::Trigger,
            "policy" => Kind::Policy,
            "rule" => Kind::Rule,
            // A table in a publication, whose row filter or column list names its columns.
            "publication" => Kind::Publication,
            // Made of routines (an operator's function, a cast's): made again with them.
            "operator" => Kind::Operator,
            "cast" => Kind::Cast,
            _ => return None,
        };
        Some((kind, name.to_string()))
    }

    /// What depends on the object `kind name` directly, as the server records it.
    pub(crate) fn dependents<'a>(
        &'a self,
        kind: Kind,
        name: &'a str,
    ) -> impl Iterator<Item = (Kind, &'a str)> + 'a {
        let start = ((kind, name.to_string()), (Kind::Extension, String::new()));
        self.depends
            .range(start..)
            .take_while(move |((k, n), _)| *k == kind && n == name)
            .map(|(_, (k, n))| (*k, n.as_str()))
    }

    /// Whether the catalog knows any dependency (a catalog built by hand, or read from a
    /// server, knows none).
    pub(crate) fn has_dependencies(&self) -> bool {
        !self.depends.is_empty()
    }

    /// The statement that puts the [`Kind::Setting`] `name` back to its default.
    pub(crate) fn reset(&self, name: &str) -> Option<&str> {
        self.resets.get(name).map(String::as_str)
    }

    /// The definition of one object.
    pub fn get(&self, kind: Kind, name: &str) -> Option<&str> {
        self.objects
            .get(&(kind, name.to_string()))
            .map(|(def, _)| def.as_str())
    }

    /// The catalog with every name and definition passed through `rewrite`: what a rename
    /// does to the server's deparsed text, for planning what is left after it.
    pub(crate) fn rewritten(&self, rewrite: impl Fn(&str) -> String) -> Catalog {
        Catalog {
            objects: self
                .objects
                .iter()
                .map(|((kind, name), (def, _))| {
                    let def = match kind {
                        Kind::Column if self.columns.contains_key(name) => {
                            self.columns[name].rewritten(&rewrite).text()
                        }
                        Kind::Table if self.tables.contains_key(name) => {
                            self.tables[name].rewritten(&rewrite).text()
                        }
                        _ => rewrite(def),
                    };
                    ((*kind, rewrite(name)), (def.clone(), compared(*kind, &def)))
                })
                .collect(),
            positions: self.positions.clone(),
            columns: self
                .columns
                .iter()
                .map(|(name, column)| (rewrite(name), column.rewritten(&rewrite)))
                .collect(),
            tables: self
                .tables
                .iter()
                .map(|(name, table)| (rewrite(name), table.rewritten(&rewrite)))
                .collect(),
            constraints: self
                .constraints
                .iter()
                .map(|(name, c)| (rewrite(name), c.rewritten(&rewrite)))
                .collect(),
            indexes: self
                .indexes
                .iter()
                .map(|(name, i)| (rewrite(name), i.rewritten(&rewrite)))
                .collect(),
            signatures: self
                .signatures
                .iter()
                .map(|(name, (arguments, result))| {
                    (
                        rewrite(name),
                        (rewrite(arguments), result.as_deref().map(&rewrite)),
                    )
                })
                .collect(),
            resets: self.resets.clone(),
            depends: self
                .depends
                .iter()
                .map(|((ka, a), (kb, b))| ((*ka, rewrite(a)), (*kb, rewrite(b))))
                .collect(),
        }
    }

    /// The catalog after `ALTER TABLE table RENAME COLUMN old TO new`, as far as the names of
    /// the table's column and the definitions on that table tell.
    pub(crate) fn renamed_column(&self, table: &str, old: &str, new: &str) -> Catalog {
        let old_key = format!("{table}.{old}");
        let new_key = format!("{table}.{new}");
        Catalog {
            objects: self
                .objects
                .iter()
                .map(|((kind, name), (def, compared))| {
                    let on_table = match kind {
                        Kind::Constraint | Kind::Trigger => name.starts_with(&format!("{table}.")),
                        Kind::Index => def.contains(&format!(" ON {table} ")),
                        _ => false,
                    };
                    if *kind == Kind::Column && *name == old_key {
                        ((*kind, new_key.clone()), (def.clone(), compared.clone()))
                    } else if on_table {
                        let def = super::name::replace_word(def, old, new);
                        (
                            (*kind, name.clone()),
                            (def.clone(), self::compared(*kind, &def)),
                        )
                    } else {
                        ((*kind, name.clone()), (def.clone(), compared.clone()))
                    }
                })
                .collect(),
            positions: self.positions.clone(),
            columns: self
                .columns
                .iter()
                .map(|(name, column)| {
                    let name = if *name == old_key { &new_key } else { name };
                    (name.clone(), column.clone())
                })
                .collect(),
            tables: self.tables.clone(),
            constraints: self
                .constraints
                .iter()
                .map(|(name, c)| {
                    let own = name.starts_with(&format!("{table}."));
                    (name.clone(), c.renamed_column(own, table, old, new))
                })
                .collect(),
            indexes: self
                .indexes
                .iter()
                .map(|(name, i)| (name.clone(), i.renamed_column(table, old, new)))
                .collect(),
            signatures: self.signatures.clone(),
            resets: self.resets.clone(),
            depends: self
                .depends
                .iter()
                .map(|(a, b)| {
                    let rename = |(k, n): &Key| {
                        if *k == Kind::Column && *n == old_key {
                            (*k, new_key.clone())
                        } else {
                            (*k, n.clone())
                        }
                    };
                    (rename(a), rename(b))
                })
                .collect(),
        }
    }

    /// The column `schema.table.column`, in its parts.
    pub(crate) fn column(&self, name: &str) -> Option<Column<'_>> {
        self.columns.get(name).map(ColumnDef::view)
    }

    /// Whether the routine `routine` takes or returns the type `name` (an enum, a domain, a
    /// composite, a range, or a table's or view's row type, or an array of one), or reads it
    /// in a `BEGIN ATOMIC` body, as the server records it: never found by its name in the
    /// routine's text, where a parameter or a setting may be called the same.
    pub(crate) fn routine_uses(&self, routine: &str, name: &str) -> bool {
        let dependent = (Kind::Function, routine.to_string());
        [Kind::Table, Kind::View]
            .into_iter()
            .chain(Kind::TYPES)
            .any(|kind| {
                self.depends
                    .contains(&((kind, name.to_string()), dependent.clone()))
            })
    }

    /// The constraint `schema.table.constraint`, in its parts.
    pub(crate) fn constraint(&self, name: &str) -> Option<&ConstraintDef> {
        self.constraints.get(name)
    }

    /// The index `schema.index`, in its parts (`None` for a key's or a partition's index).
    pub(crate) fn index(&self, name: &str) -> Option<&IndexDef> {
        self.indexes.get(name)
    }

    /// Every constraint, by qualified name, in its parts.
    pub(crate) fn constraints(&self) -> impl Iterator<Item = (&str, &ConstraintDef)> {
        self.constraints.iter().map(|(n, c)| (n.as_str(), c))
    }

    /// Every index of its own, by qualified name, in its parts.
    pub(crate) fn indexes(&self) -> impl Iterator<Item = (&str, &IndexDef)> {
        self.indexes.iter().map(|(n, i)| (n.as_str(), i))
    }

    /// The routine `name`'s parameters and result (`None` for a procedure); `None` for an
    /// aggregate.
    pub(crate) fn signature(&self, name: &str) -> Option<(&str, Option<&str>)> {
        self.signatures
            .get(name)
            .map(|(arguments, result)| (arguments.as_str(), result.as_deref()))
    }

    /// The table `schema.table`'s traits: kind, partition key, parent and bound, parents.
    pub(crate) fn table(&self, name: &str) -> Option<TableTraits<'_>> {
        self.tables.get(name).map(TableDef::view)
    }

    /// The tables that inherit from `table` or are its partitions, and theirs in turn.
    pub(crate) fn descendants(&self, table: &str) -> Vec<String> {
        let mut found: Vec<String> = Vec::new();
        let mut next = vec![table.to_string()];
        while let Some(parent) = next.pop() {
            for (name, child) in &self.tables {
                let child = child.view();
                let under = child.partition_of.is_some_and(|(p, _)| p == parent)
                    || child.parents().contains(&parent.as_str());
                if under && !found.contains(name) {
                    found.push(name.clone());
                    next.push(name.clone());
                }
            }
        }
        found
    }

    /// Every column, by qualified name, in its parts.
    pub(crate) fn columns(&self) -> impl Iterator<Item = (&str, Column<'_>)> {
        self.columns
            .iter()
            .map(|(name, column)| (name.as_str(), column.view()))
    }

    /// A column's place in its table (`schema.table.column`); last when not known.
    pub(crate) fn position(&self, column: &str) -> i16 {
        self.positions.get(column).copied().unwrap_or(i16::MAX)
    }

    /// Whether the catalog holds nothing.
    pub fn is_empty(&self) -> bool {
        self.objects.is_empty()
    }

    /// How many objects it holds.
    pub fn len(&self) -> usize {
        self.objects.len()
    }

    /// What differs from `self` to `to`, by kind then name.
    pub fn diff(&self, to: &Catalog) -> Vec<Difference> {
        let mut differences = Vec::new();
        for ((kind, name), (from, compared)) in &self.objects {
            match to.objects.get(&(*kind, name.clone())) {
                None => differences.push(Difference {
                    kind: *kind,
                    name: name.clone(),
                    from: Some(from.clone()),
                    to: None,
                }),
                Some((other, other_compared)) if other_compared != compared => {
                    differences.push(Difference {
                        kind: *kind,
                        name: name.clone(),
                        from: Some(from.clone()),
                        to: Some(other.clone()),
                    })
                }
                Some(_) => {}
            }
        }
        for ((kind, name), (definition, _)) in &to.objects {
            if !self.objects.contains_key(&(*kind, name.clone())) {
                differences.push(Difference {
                    kind: *kind,
                    name: name.clone(),
                    from: None,
                    to: Some(definition.clone()),
                });
            }
        }
        differences.sort_by(|a, b| (a.kind, &a.name).cmp(&(b.kind, &b.name)));
        differences
    }
}

/// The form of a definition that is compared: a routine's as written (pg_dump shows a change
/// in its body's whitespace, so the plan must carry it); any other deparse on one line.
fn compared(kind: Kind, definition: &str) -> String {
    if kind == Kind::Function {
        definition.to_string()
    } else {
        normalise(definition)
    }
}

/// One line, single spaces: deparsed bodies differ only in layout otherwise.
fn normalise(definition: &str) -> String {
    definition.split_whitespace().collect::<Vec<_>>().join(" ")
}
