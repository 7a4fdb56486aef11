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
use super::coverage::{self, USER_SCHEMAS, not_in_extension};
use super::table::{TableDef, TableTraits};
use crate::error::Error;

/// What kind of object a catalog entry is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// `CREATE EXTENSION`, with the schema that holds its objects.
    Extension,
    /// `CREATE SCHEMA`.
    Schema,
    /// An enum type, with its labels in order.
    Enum,
    /// A domain, with its base type.
    Domain,
    /// A composite type, with its attributes.
    Composite,
    /// A sequence not owned by a column.
    Sequence,
    /// The options of a sequence a column owns (a serial's, or one `OWNED BY` a column), which
    /// its column creates and drops: only its options are compared (`ALTER SEQUENCE … AS
    /// bigint`, `INCREMENT 10`).
    OwnedSequence,
    /// A table (its kind: plain or partitioned).
    Table,
    /// A table's storage parameters (`WITH (fillfactor = 70)`, autovacuum settings) and its
    /// replica identity, when either is not the default.
    Storage,
    /// A column: type, nullability, default, identity, generation.
    Column,
    /// A constraint: primary key, unique, foreign key, check, exclusion.
    Constraint,
    /// An index that backs no constraint.
    Index,
    /// A view or materialized view.
    View,
    /// A function, procedure or aggregate (an aggregate as the `CREATE AGGREGATE` that makes it).
    Function,
    /// A trigger.
    Trigger,
    /// A row-level security policy.
    Policy,
    /// A comment, named by what it is on (`COLUMN public.users.email`).
    Comment,
    /// The privileges one role holds on one object beyond its owner's, named
    /// `TABLE public.users TO reader` (read only with privileges, `--with-privileges`).
    Privilege,
    /// A rule on a table or view (`CREATE RULE`), named `schema.table.rule`.
    Rule,
    /// An extended statistics object (`CREATE STATISTICS`).
    Statistics,
    /// A setting of a table, column, trigger or view away from its default (FORCE ROW LEVEL
    /// SECURITY, a disabled trigger, a column's STORAGE, a view's options), named
    /// `KIND target ATTRIBUTE`, defined by the statement that sets it; the statement that
    /// resets it is kept beside ([`Catalog::reset`]).
    Setting,
    /// A collation (`CREATE COLLATION`).
    Collation,
    /// A range type (`CREATE TYPE … AS RANGE`), with its multirange.
    Range,
    /// An event trigger, with its enabled state.
    EventTrigger,
    /// A publication, with its tables, schemas and options.
    Publication,
    /// A cast between two types (`CREATE CAST`), named `(source AS target)`.
    Cast,
    /// An operator (`CREATE OPERATOR`), named `schema.op(left, right)`.
    Operator,
    /// A text search dictionary (`CREATE TEXT SEARCH DICTIONARY`), with its template and
    /// options.
    TextSearchDictionary,
    /// A text search configuration, with its parser and each token type's dictionaries.
    TextSearchConfiguration,
    /// An object of a kind the planner does not model (a cast, an operator, a publication, a
    /// foreign table, …), named as `pg_dump` names it, defined by what the catalog holds of it:
    /// read so that a difference in it is reported, never planned as nothing.
    Unmodelled,
}

impl Kind {
    /// The word printed before the object's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Extension => "extension",
            Kind::Schema => "schema",
            Kind::Enum => "enum",
            Kind::Domain => "domain",
            Kind::Composite => "type",
            Kind::Sequence => "sequence",
            Kind::OwnedSequence => "options of owned sequence",
            Kind::Table => "table",
            Kind::Storage => "storage of table",
            Kind::Column => "column",
            Kind::Constraint => "constraint",
            Kind::Index => "index",
            Kind::View => "view",
            Kind::Function => "function",
            Kind::Trigger => "trigger",
            Kind::Policy => "policy",
            Kind::Comment => "comment on",
            Kind::Privilege => "grant on",
            Kind::Rule => "rule",
            Kind::Statistics => "statistics",
            Kind::Setting => "setting",
            Kind::Collation => "collation",
            Kind::Range => "range type",
            Kind::EventTrigger => "event trigger",
            Kind::Publication => "publication",
            Kind::Cast => "cast",
            Kind::Operator => "operator",
            Kind::TextSearchDictionary => "text search dictionary",
            Kind::TextSearchConfiguration => "text search configuration",
            Kind::Unmodelled => "not modelled:",
        }
    }
}

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
    /// Each table's traits ([`Kind::Table`]'s definition is their [`TableDef::text`]).
    tables: BTreeMap<String, TableDef>,
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

/// Every sequence with its options (`type start S increment I min M max X cache C [cycle]`),
/// to be narrowed by a `WHERE`.
const SEQUENCES: &str = "SELECT format('%I.%I', n.nspname, c.relname), \
            format('%s start %s increment %s min %s max %s cache %s%s', \
                   format_type(s.seqtypid, NULL), s.seqstart, s.seqincrement, \
                   s.seqmin, s.seqmax, s.seqcache, \
                   CASE WHEN s.seqcycle THEN ' cycle' ELSE '' END) \
     FROM pg_sequence s JOIN pg_class c ON c.oid = s.seqrelid \
     JOIN pg_namespace n ON n.oid = c.relnamespace";

/// A routine's argument types as `DROP` and `COMMENT ON` name it: `*` for an aggregate over
/// no argument (`count(*)`-like).
const SIGNATURE: &str = "CASE WHEN p.prokind = 'a' AND p.pronargs = 0 THEN '*' \
     ELSE pg_get_function_identity_arguments(p.oid) END";

/// The aggregates, keyed like functions, each as the `CREATE AGGREGATE` that makes it again
/// (`pg_get_functiondef` refuses aggregates): the options `pg_dump` writes, each only where it
/// is not the default.
fn aggregates() -> String {
    let routine = |oid: &str| {
        format!(
            "(SELECT format('%I.%I', fn.nspname, f.proname) FROM pg_proc f \
              JOIN pg_namespace fn ON fn.oid = f.pronamespace WHERE f.oid = {oid})"
        )
    };
    let modify = |column: &str| {
        format!(
            "CASE {column} WHEN 'r' THEN 'READ_ONLY' WHEN 's' THEN 'SHAREABLE' ELSE 'READ_WRITE' END"
        )
    };
    format!(
        "SELECT format('%I.%I(%s)', n.nspname, p.proname, {SIGNATURE}), \
                format('CREATE AGGREGATE %I.%I(%s) (%s)', n.nspname, p.proname, \
                       CASE WHEN p.pronargs = 0 THEN '*' ELSE pg_get_function_arguments(p.oid) END, \
                       concat_ws(', ', \
                           'SFUNC = ' || {sfunc}, \
                           'STYPE = ' || format_type(a.aggtranstype, NULL), \
                           CASE WHEN a.aggtransspace <> 0 THEN 'SSPACE = ' || a.aggtransspace END, \
                           CASE WHEN a.aggfinalfn <> 0 THEN 'FINALFUNC = ' || {finalfunc} END, \
                           CASE WHEN a.aggfinalextra THEN 'FINALFUNC_EXTRA' END, \
                           CASE WHEN a.aggfinalmodify <> CASE a.aggkind WHEN 'n' THEN 'r' ELSE 'w' END \
                                THEN 'FINALFUNC_MODIFY = ' || {finalmodify} END, \
                           CASE WHEN a.aggcombinefn <> 0 THEN 'COMBINEFUNC = ' || {combinefunc} END, \
                           CASE WHEN a.aggserialfn <> 0 THEN 'SERIALFUNC = ' || {serialfunc} END, \
                           CASE WHEN a.aggdeserialfn <> 0 THEN 'DESERIALFUNC = ' || {deserialfunc} END, \
                           'INITCOND = ' || quote_literal(a.agginitval), \
                           CASE WHEN a.aggmtransfn <> 0 THEN 'MSFUNC = ' || {msfunc} || ', MINVFUNC = ' || {minvfunc} \
                                || ', MSTYPE = ' || format_type(a.aggmtranstype, NULL) END, \
                           CASE WHEN a.aggmtransspace <> 0 THEN 'MSSPACE = ' || a.aggmtransspace END, \
                           CASE WHEN a.aggmfinalfn <> 0 THEN 'MFINALFUNC = ' || {mfinalfunc} END, \
                           CASE WHEN a.aggmfinalextra THEN 'MFINALFUNC_EXTRA' END, \
                           CASE WHEN a.aggmtransfn <> 0 AND a.aggmfinalmodify <> CASE a.aggkind WHEN 'n' THEN 'r' ELSE 'w' END \
                                THEN 'MFINALFUNC_MODIFY = ' || {mfinalmodify} END, \
                           'MINITCOND = ' || quote_literal(a.aggminitval), \
                           CASE WHEN a.aggsortop <> 0 THEN (SELECT format('SORTOP = OPERATOR(%I.%s)', opn.nspname, o.oprname) \
                                FROM pg_operator o JOIN pg_namespace opn ON opn.oid = o.oprnamespace WHERE o.oid = a.aggsortop) END, \
                           CASE WHEN a.aggkind = 'h' THEN 'HYPOTHETICAL' END, \
                           CASE p.proparallel WHEN 's' THEN 'PARALLEL = SAFE' WHEN 'r' THEN 'PARALLEL = RESTRICTED' END)) \
         FROM pg_proc p JOIN pg_aggregate a ON a.aggfnoid = p.oid \
         JOIN pg_namespace n ON n.oid = p.pronamespace \
         WHERE p.prokind = 'a' AND {USER_SCHEMAS} AND {ext}",
        sfunc = routine("a.aggtransfn"),
        finalfunc = routine("a.aggfinalfn"),
        finalmodify = modify("a.aggfinalmodify"),
        combinefunc = routine("a.aggcombinefn"),
        serialfunc = routine("a.aggserialfn"),
        deserialfunc = routine("a.aggdeserialfn"),
        msfunc = routine("a.aggmtransfn"),
        minvfunc = routine("a.aggminvtransfn"),
        mfinalfunc = routine("a.aggmfinalfn"),
        mfinalmodify = modify("a.aggmfinalmodify"),
        ext = not_in_extension("p.oid"),
    )
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
        // at one moment, not as a mix of before and after.
        client
            .batch_execute("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY")
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
            "type" => held(&[Kind::Enum, Kind::Domain, Kind::Composite, Kind::Range]),
            "constraint" => Kind::Constraint,
            // A domain's check, keyed `schema.domain.check` under its domain's kind (a domain's
            // definition holds its checks).
            "domain_constraint" => Kind::Domain,
            "trigger" => Kind::Trigger,
            "policy" => Kind::Policy,
            "rule" => Kind::Rule,
            // A table in a publication, whose row filter or column list names its columns.
            "publication" => Kind::Publication,
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

/// The deparsed text with the one construct the server prints but does not read back as the
/// same expression: an IN list over `varchar` (or `char`) deparses as
/// `(col)::text = ANY ((ARRAY['a'::character varying, ...])::text[])`, and that cast of an
/// `ARRAY[...]`, read again, is pushed into every element
/// (`ARRAY[('a'::character varying)::text, ...]`): a different expression, so a check or a
/// partial index written back from the deparse would never compare equal to its source. The
/// cast is the implicit coercion that the operator's resolution added; without it the server
/// adds it again, and the expression comes back as it was.
///
/// Only the right operand of `ANY (` / `ALL (` is touched: elsewhere the same cast may be what
/// gives an expression its type.
pub(crate) fn reparseable(def: &str) -> String {
    if !def.contains("ARRAY[") {
        return def.to_string();
    }
    let mut out = String::with_capacity(def.len());
    let mut i = 0;
    let mut quoted = false;
    while i < def.len() {
        let rest = &def[i..];
        let c = rest.chars().next().unwrap_or_default();
        if c == '\'' {
            quoted = !quoted;
        }
        if !quoted
            && (rest.starts_with("ANY (") || rest.starts_with("ALL ("))
            && let Some((array, end)) = uncast_array(def, i + 5)
        {
            out.push_str(&def[i..i + 5]);
            out.push_str(array);
            i = end;
            continue;
        }
        out.push(c);
        i += c.len_utf8();
    }
    out
}

/// At `start`: `(ARRAY[...])::type[]` (how constraints and indexes deparse) or
/// `ARRAY[...]::type[]` (how views do), directly followed by the `)` that closes `ANY (`.
/// Returns the bare `ARRAY[...]` and where the cast ends.
fn uncast_array(def: &str, start: usize) -> Option<(&str, usize)> {
    let rest = &def[start..];
    let parenthesised = rest.starts_with("(ARRAY[");
    let open = if parenthesised { start + 1 } else { start };
    if !def[open..].starts_with("ARRAY[") {
        return None;
    }
    // The `]` that closes the array, past nested brackets and quoted literals.
    let mut depth = 0usize;
    let mut quoted = false;
    let mut close = None;
    for (k, c) in def[open..].char_indices() {
        match c {
            '\'' => quoted = !quoted,
            '[' if !quoted => depth += 1,
            ']' if !quoted => {
                depth -= 1;
                if depth == 0 {
                    close = Some(open + k);
                    break;
                }
            }
            _ => {}
        }
    }
    let close = close?;
    let array = &def[open..=close];
    let mut after = close + 1;
    if parenthesised {
        if !def[after..].starts_with(')') {
            return None;
        }
        after += 1;
    }
    let cast = def[after..].strip_prefix("::")?;
    // The type name, up to the `[]` of an array type, then the `)` closing ANY/ALL.
    let end_of_type = cast.find("[])")?;
    let type_name = &cast[..end_of_type];
    if type_name.is_empty() || type_name.contains(['(', ')', '\'', ',']) {
        return None;
    }
    Some((array, after + 2 + end_of_type + 2))
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

/// Each role's privileges on tables, views, sequences, schemas, functions, columns and types,
/// beyond the owner's: `TABLE public.users TO reader` and what it holds.
/// Every query the catalog is read with: the modelled objects, what `coverage` adds (whole
/// objects, rules, statistics, settings, the unmodelled), and the grants (see
/// [`Catalog::read_with`]).
fn catalog_queries(privileges: bool) -> Vec<(Kind, String)> {
    let ext_class = not_in_extension("c.oid");
    let mut queries = object_queries(&ext_class);
    queries.extend(coverage::whole_objects());
    queries.extend(coverage::rules_and_statistics());
    queries.extend(coverage::settings());
    queries.extend(coverage::unmodelled(privileges));
    if privileges {
        queries.push(coverage::default_privileges());
    }
    // Without them, each grant is still read, and one that differs is reported: two
    // databases whose privileges differ are never called equal.
    let grants = privileges_query(&ext_class);
    queries.push((Kind::Unmodelled, owner_privileges_query(&ext_class)));
    if privileges {
        queries.push((Kind::Privilege, grants));
    } else {
        queries.push((
            Kind::Unmodelled,
            // Only what differs from the server's defaults (PUBLIC's EXECUTE on a new
            // function is no grant of anyone's): a new object brings no report.
            format!(
                "SELECT 'GRANT ON ' || g.name, g.privileges FROM ({}) AS g(name, privileges)",
                grants.replace(
                    "WHERE a.grantee <> o.owner",
                    "WHERE a.grantee <> o.owner AND (a.grantee, a.privilege_type) NOT IN ( \
                       SELECT x.grantee, x.privilege_type FROM aclexplode(acldefault( \
                         CASE o.kind WHEN 'TABLE' THEN 'r' WHEN 'SEQUENCE' THEN 's' WHEN 'SCHEMA' THEN 'n' \
                                     WHEN 'TYPE' THEN 'T' WHEN 'COLUMN' THEN 'c' ELSE 'f' END::\"char\", o.owner)) x)"
                )
            ),
        ));
    }
    queries
}

/// The queries of the modelled kinds, one or more per [`Kind`], each row a qualified name and
/// a definition (a column's also its position, a setting's also its reset).
fn object_queries(ext_class: &str) -> Vec<(Kind, String)> {
    vec![
        (
            Kind::Extension,
            "SELECT quote_ident(x.extname), 'schema ' || quote_ident(n.nspname) FROM pg_extension x \
             JOIN pg_namespace n ON n.oid = x.extnamespace WHERE x.extname <> 'plpgsql'"
                .into(),
        ),
        (
            Kind::Schema,
            format!(
                "SELECT quote_ident(n.nspname), '' FROM pg_namespace n WHERE {USER_SCHEMAS} AND n.nspname <> 'public' AND {}",
                not_in_extension("n.oid")
            ),
        ),
        (
            Kind::Enum,
            format!(
                "SELECT format('%I.%I', n.nspname, t.typname), \
                        string_agg(quote_literal(e.enumlabel), ', ' ORDER BY e.enumsortorder) \
                 FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace \
                 JOIN pg_enum e ON e.enumtypid = t.oid \
                 WHERE {USER_SCHEMAS} AND {} GROUP BY 1",
                not_in_extension("t.oid")
            ),
        ),
        (
            Kind::Domain,
            format!(
                "SELECT format('%I.%I', n.nspname, t.typname), \
                        format_type(t.typbasetype, t.typtypmod) \
                        || CASE WHEN t.typcollation <> 0 AND t.typcollation <> (SELECT b.typcollation FROM pg_type b WHERE b.oid = t.typbasetype) \
                                THEN ' COLLATE ' || (SELECT format('%I.%I', cn.nspname, co.collname) FROM pg_collation co \
                                                     JOIN pg_namespace cn ON cn.oid = co.collnamespace WHERE co.oid = t.typcollation) \
                                ELSE '' END \
                        || CASE WHEN t.typnotnull THEN ' NOT NULL' ELSE '' END \
                        || coalesce(' DEFAULT ' || t.typdefault, '') \
                        || coalesce((SELECT string_agg(' CONSTRAINT ' || quote_ident(c.conname) || ' ' || pg_get_constraintdef(c.oid), '' ORDER BY c.conname) \
                                     FROM pg_constraint c WHERE c.contypid = t.oid), '') \
                 FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace \
                 WHERE t.typtype = 'd' AND {USER_SCHEMAS} AND {}",
                not_in_extension("t.oid")
            ),
        ),
        (
            Kind::Composite,
            format!(
                "SELECT format('%I.%I', n.nspname, t.typname), \
                        '(' || string_agg(format('%I %s', a.attname, format_type(a.atttypid, a.atttypmod)), \
                                          ', ' ORDER BY a.attnum) || ')' \
                 FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace \
                 JOIN pg_class c ON c.oid = t.typrelid AND c.relkind = 'c' \
                 JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped \
                 WHERE t.typtype = 'c' AND {USER_SCHEMAS} AND {} GROUP BY 1",
                not_in_extension("t.oid")
            ),
        ),
        (
            Kind::Sequence,
            format!(
                "{SEQUENCES} WHERE {USER_SCHEMAS} AND {ext_class} \
                   AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass \
                                   AND d.objid = c.oid AND d.deptype IN ('a', 'i') AND d.refobjsubid > 0)"
            ),
        ),
        (
            Kind::OwnedSequence,
            format!(
                "{SEQUENCES} WHERE {USER_SCHEMAS} AND {ext_class} \
                   AND EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = c.oid \
                               AND d.classid = 'pg_class'::regclass \
                               AND d.deptype = 'a' AND d.refobjsubid > 0) \
                   AND NOT EXISTS (SELECT 1 FROM pg_depend d JOIN pg_class t ON t.oid = d.refobjid \
                                   WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid \
                                     AND d.deptype = 'a' AND d.refobjsubid > 0 \
                                     AND t.relname = ANY($1))"
            ),
        ),
        (
            Kind::Table,
            // Each trait in a field of its own (see `TableDef`): a partition key's expression
            // or a bound's string may hold ` partition of ` or ` unlogged`.
            format!(
                "SELECT format('%I.%I', n.nspname, c.relname), NULL::text, \
                        CASE WHEN c.relkind = 'p' THEN pg_get_partkeydef(c.oid) END, \
                        c.relpersistence = 'u', c.relrowsecurity, \
                        (SELECT format('%I.%I', pn.nspname, p.relname) FROM pg_inherits i \
                         JOIN pg_class p ON p.oid = i.inhparent JOIN pg_namespace pn ON pn.oid = p.relnamespace \
                         WHERE i.inhrelid = c.oid AND c.relispartition), \
                        CASE WHEN c.relispartition THEN pg_get_expr(c.relpartbound, c.oid) END, \
                        (SELECT string_agg(format('%I.%I', pn.nspname, p.relname), ', ' ORDER BY i.inhseqno) \
                         FROM pg_inherits i JOIN pg_class p ON p.oid = i.inhparent \
                         JOIN pg_namespace pn ON pn.oid = p.relnamespace \
                         WHERE i.inhrelid = c.oid AND NOT c.relispartition) \
                 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
                 WHERE c.relkind IN ('r', 'p') AND {USER_SCHEMAS} AND {ext_class} \
                   AND NOT (c.relname = ANY($1))"
            ),
        ),
        (
            Kind::Storage,
            format!(
                "SELECT format('%I.%I', n.nspname, c.relname), \
                        concat_ws('; ', \
                            'with (' || nullif(concat_ws(', ', array_to_string(c.reloptions, ', '), \
                                (SELECT string_agg('toast.' || o, ', ') FROM pg_class tc, unnest(tc.reloptions) o \
                                 WHERE tc.oid = c.reltoastrelid)), '') || ')', \
                            CASE c.relreplident WHEN 'f' THEN 'replica identity full' \
                                                WHEN 'n' THEN 'replica identity nothing' \
                                                WHEN 'i' THEN 'replica identity using index ' || \
                                 (SELECT quote_ident(ic.relname) FROM pg_index x \
                                  JOIN pg_class ic ON ic.oid = x.indexrelid \
                                  WHERE x.indrelid = c.oid AND x.indisreplident) END) \
                 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
                 WHERE c.relkind IN ('r', 'p') AND {USER_SCHEMAS} AND {ext_class} \
                   AND NOT (c.relname = ANY($1)) \
                   AND (c.reloptions IS NOT NULL OR c.relreplident NOT IN ('d', 'p') \
                        OR EXISTS (SELECT 1 FROM pg_class tc WHERE tc.oid = c.reltoastrelid AND tc.reloptions IS NOT NULL))"
            ),
        ),
        (
            Kind::Column,
            // The parts of a column, each in a field of its own: never taken apart again from
            // a text, where a default's string could hold ` DEFAULT ` or ` COLLATE `.
            format!(
                "SELECT format('%I.%I.%I', n.nspname, c.relname, a.attname), NULL::text, \
                        a.attnum, format_type(a.atttypid, a.atttypmod), a.attnotnull, \
                        CASE a.attidentity WHEN 'a' THEN 'GENERATED ALWAYS AS IDENTITY' \
                                           WHEN 'd' THEN 'GENERATED BY DEFAULT AS IDENTITY' END, \
                        CASE WHEN a.attgenerated = 's' THEN pg_get_expr(d.adbin, d.adrelid) END, \
                        CASE WHEN a.attgenerated = '' THEN pg_get_expr(d.adbin, d.adrelid) END, \
                        CASE WHEN a.attcollation <> t.typcollation AND a.attcollation <> 0 \
                             THEN (SELECT quote_ident(collname) FROM pg_collation WHERE oid = a.attcollation) END \
                 FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid \
                 JOIN pg_namespace n ON n.oid = c.relnamespace \
                 JOIN pg_type t ON t.oid = a.atttypid \
                 LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum \
                 WHERE c.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT a.attisdropped \
                   AND (a.attislocal OR c.relispartition) \
                   AND {USER_SCHEMAS} AND {ext_class} AND NOT (c.relname = ANY($1))"
            ),
        ),
        (
            Kind::Constraint,
            format!(
                "SELECT format('%I.%I.%I', n.nspname, c.relname, con.conname), \
                        CASE WHEN con.contype IN ('p', 'u') AND ic.reloptions IS NOT NULL \
                             THEN regexp_replace(pg_get_constraintdef(con.oid), '( DEFERRABLE( INITIALLY DEFERRED)?)?$', \
                                                 ' WITH (' || array_to_string(ic.reloptions, ', ') || ')\\1') \
                             ELSE pg_get_constraintdef(con.oid) END \
                 FROM pg_constraint con JOIN pg_class c ON c.oid = con.conrelid \
                 JOIN pg_namespace n ON n.oid = c.relnamespace \
                 LEFT JOIN pg_class ic ON ic.oid = con.conindid \
                 WHERE {USER_SCHEMAS} AND {ext_class} AND NOT (c.relname = ANY($1)) \
                   AND con.conparentid = 0 AND con.coninhcount = 0 \
                   AND con.contype <> 't'"
            ),
        ),
        (
            Kind::Index,
            format!(
                "SELECT format('%I.%I', n.nspname, ic.relname), pg_get_indexdef(i.indexrelid) \
                        || CASE WHEN i.indisvalid THEN '' ELSE ' (INVALID)' END \
                 FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid \
                 JOIN pg_class c ON c.oid = i.indrelid \
                 JOIN pg_namespace n ON n.oid = ic.relnamespace \
                 WHERE {USER_SCHEMAS} AND {ext_class} AND NOT (c.relname = ANY($1)) \
                   AND NOT EXISTS (SELECT 1 FROM pg_constraint con WHERE con.conindid = i.indexrelid \
                                   AND con.contype IN ('p', 'u', 'x')) \
                   AND NOT EXISTS (SELECT 1 FROM pg_inherits ih WHERE ih.inhrelid = i.indexrelid)"
            ),
        ),
        (
            Kind::View,
            format!(
                "SELECT format('%I.%I', n.nspname, c.relname), \
                        CASE c.relkind WHEN 'm' THEN 'materialized ' ELSE '' END || pg_get_viewdef(c.oid, true) \
                 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
                 WHERE c.relkind IN ('v', 'm') AND {USER_SCHEMAS} AND {ext_class}"
            ),
        ),
        (
            Kind::Function,
            format!(
                "SELECT format('%I.%I(%s)', n.nspname, p.proname, pg_get_function_identity_arguments(p.oid)), \
                        pg_get_functiondef(p.oid) \
                 FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace \
                 WHERE p.prokind IN ('f', 'p') AND {USER_SCHEMAS} AND {} \
                   AND NOT EXISTS (SELECT 1 FROM pg_depend i WHERE i.classid = 'pg_proc'::regclass \
                                   AND i.objid = p.oid AND i.deptype = 'i')",
                not_in_extension("p.oid")
            ),
        ),
        (Kind::Function, aggregates()),
        (
            Kind::Trigger,
            format!(
                "SELECT format('%I.%I.%I', n.nspname, c.relname, t.tgname), pg_get_triggerdef(t.oid) \
                 FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid \
                 JOIN pg_namespace n ON n.oid = c.relnamespace \
                 WHERE NOT t.tgisinternal AND t.tgparentid = 0 AND {USER_SCHEMAS} AND {ext_class}"
            ),
        ),
        (
            Kind::Policy,
            "SELECT format('%I.%I.%I', schemaname, tablename, policyname), \
                    format('AS %s FOR %s TO %s', permissive, cmd, \
                           (SELECT string_agg(quote_ident(r), ', ' ORDER BY r) FROM unnest(roles) r)) \
                    || coalesce(' USING (' || qual || ')', '') \
                    || coalesce(' WITH CHECK (' || with_check || ')', '') \
             FROM pg_policies"
                .into(),
        ),
        (
            Kind::Comment,
            format!(
                "SELECT CASE WHEN d.objsubid = 0 THEN \
                            format('%s %I.%I', CASE c.relkind WHEN 'v' THEN 'VIEW' \
                                   WHEN 'm' THEN 'MATERIALIZED VIEW' WHEN 'i' THEN 'INDEX' \
                                   WHEN 'S' THEN 'SEQUENCE' ELSE 'TABLE' END, n.nspname, c.relname) \
                        ELSE format('COLUMN %I.%I.%I', n.nspname, c.relname, a.attname) END, \
                        d.description \
                 FROM pg_description d JOIN pg_class c ON d.classoid = 'pg_class'::regclass AND d.objoid = c.oid \
                 JOIN pg_namespace n ON n.oid = c.relnamespace \
                 LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = d.objsubid \
                 WHERE {USER_SCHEMAS} AND {ext_class} AND NOT (c.relname = ANY($1)) \
                 UNION ALL \
                 SELECT format('%s %I.%I(%s)', CASE p.prokind WHEN 'a' THEN 'AGGREGATE' WHEN 'p' THEN 'PROCEDURE' ELSE 'FUNCTION' END, \
                               n.nspname, p.proname, {signature}), d.description \
                 FROM pg_description d JOIN pg_proc p ON d.classoid = 'pg_proc'::regclass AND d.objoid = p.oid \
                 JOIN pg_namespace n ON n.oid = p.pronamespace WHERE {USER_SCHEMAS} AND {ext_proc} \
                 UNION ALL \
                 SELECT format('TYPE %I.%I', n.nspname, t.typname), d.description \
                 FROM pg_description d JOIN pg_type t ON d.classoid = 'pg_type'::regclass AND d.objoid = t.oid \
                 JOIN pg_namespace n ON n.oid = t.typnamespace WHERE {USER_SCHEMAS} AND {ext_type} \
                 UNION ALL \
                 SELECT format('SCHEMA %I', n.nspname), d.description \
                 FROM pg_description d JOIN pg_namespace n ON d.classoid = 'pg_namespace'::regclass AND d.objoid = n.oid \
                 WHERE {USER_SCHEMAS} AND n.nspname <> 'public' AND {ext_ns} \
                 UNION ALL \
                 SELECT format('CONSTRAINT %I ON %I.%I', con.conname, n.nspname, c.relname), d.description \
                 FROM pg_description d JOIN pg_constraint con ON d.classoid = 'pg_constraint'::regclass AND d.objoid = con.oid \
                 JOIN pg_class c ON c.oid = con.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace \
                 WHERE {USER_SCHEMAS} AND NOT (c.relname = ANY($1)) \
                 UNION ALL \
                 SELECT format('TRIGGER %I ON %I.%I', t.tgname, n.nspname, c.relname), d.description \
                 FROM pg_description d JOIN pg_trigger t ON d.classoid = 'pg_trigger'::regclass AND d.objoid = t.oid \
                 JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace \
                 WHERE {USER_SCHEMAS} \
                 UNION ALL \
                 SELECT format('POLICY %I ON %I.%I', p.polname, n.nspname, c.relname), d.description \
                 FROM pg_description d JOIN pg_policy p ON d.classoid = 'pg_policy'::regclass AND d.objoid = p.oid \
                 JOIN pg_class c ON c.oid = p.polrelid JOIN pg_namespace n ON n.oid = c.relnamespace \
                 WHERE {USER_SCHEMAS} \
                 UNION ALL \
                 SELECT format('RULE %I ON %I.%I', r.rulename, n.nspname, c.relname), d.description \
                 FROM pg_description d JOIN pg_rewrite r ON d.classoid = 'pg_rewrite'::regclass AND d.objoid = r.oid \
                 JOIN pg_class c ON c.oid = r.ev_class JOIN pg_namespace n ON n.oid = c.relnamespace \
                 WHERE r.rulename <> '_RETURN' AND {USER_SCHEMAS} \
                 UNION ALL \
                 {collations} UNION ALL \
                 {configurations} UNION ALL \
                 {dictionaries} UNION ALL \
                 SELECT format('EVENT TRIGGER %I', o.evtname), d.description \
                 FROM pg_description d JOIN pg_event_trigger o ON d.classoid = 'pg_event_trigger'::regclass AND d.objoid = o.oid \
                 WHERE {ext_event} \
                 UNION ALL \
                 SELECT format('PUBLICATION %I', o.pubname), d.description \
                 FROM pg_description d JOIN pg_publication o ON d.classoid = 'pg_publication'::regclass AND d.objoid = o.oid \
                 UNION ALL \
                 {statistics}",
                ext_proc = not_in_extension("p.oid"),
                ext_type = not_in_extension("t.oid"),
                ext_ns = not_in_extension("n.oid"),
                collations = comment_in_schema("COLLATION", "pg_collation", "collname", "collnamespace"),
                configurations = comment_in_schema("TEXT SEARCH CONFIGURATION", "pg_ts_config", "cfgname", "cfgnamespace"),
                dictionaries = comment_in_schema("TEXT SEARCH DICTIONARY", "pg_ts_dict", "dictname", "dictnamespace"),
                ext_event = not_in_extension("o.oid"),
                statistics = comment_in_schema("STATISTICS", "pg_statistic_ext", "stxname", "stxnamespace"),
                signature = SIGNATURE,
            ),
        ),
    ]
}

/// The comments on the objects of one catalog table that live in a schema, keyed `WORD
/// schema.name` as `COMMENT ON` names them: a piece of the comments' query.
fn comment_in_schema(word: &str, table: &str, name: &str, namespace: &str) -> String {
    format!(
        "SELECT format('{word} %I.%I', n.nspname, o.{name}), d.description \
         FROM pg_description d JOIN {table} o ON d.classoid = '{table}'::regclass AND d.objoid = o.oid \
         JOIN pg_namespace n ON n.oid = o.{namespace} WHERE {USER_SCHEMAS} AND {}",
        not_in_extension("o.oid")
    )
}

/// The objects whose owner holds other privileges than the server gives an owner (`REVOKE
/// DELETE ON t FROM` its owner), as `OWNER PRIVILEGES ON TABLE public.t` with what the owner
/// holds: not planned, but never called equal.
fn owner_privileges_query(ext_class: &str) -> String {
    let objects = privileged_objects(ext_class);
    let held = |acl: &str| {
        format!(
            "(SELECT string_agg(a.privilege_type || CASE WHEN a.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END, \
                                ', ' ORDER BY a.privilege_type) \
              FROM aclexplode({acl}) a WHERE a.grantee = o.owner)"
        )
    };
    let default = "acldefault(CASE o.kind WHEN 'TABLE' THEN 'r' WHEN 'SEQUENCE' THEN 's' \
                   WHEN 'SCHEMA' THEN 'n' WHEN 'TYPE' THEN 'T' ELSE 'f' END::\"char\", o.owner)";
    format!(
        "{objects} SELECT format('OWNER PRIVILEGES ON %s %s', o.kind, o.name), coalesce({}, 'none') \
         FROM objects o WHERE o.kind <> 'COLUMN' AND {} IS DISTINCT FROM {}",
        held("o.acl"),
        held("o.acl"),
        held(default),
    )
}

/// Each role's privileges on each object beyond its owner's, as `KIND name TO role` and what
/// it holds (see [`Catalog::read_with`]).
fn privileges_query(ext_class: &str) -> String {
    format!(
        "{} SELECT format('%s %s TO %s', o.kind, o.name, \
                       CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(pg_get_userbyid(a.grantee)) END), \
                string_agg(a.privilege_type || CASE WHEN a.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END, \
                           ', ' ORDER BY a.privilege_type) \
         FROM objects o, aclexplode(o.acl) a \
         WHERE a.grantee <> o.owner \
         GROUP BY 1",
        privileged_objects(ext_class)
    )
}

/// The objects privileges are granted on, with their ACL (the server's default where none
/// was set) and owner: `WITH objects AS (kind, name, acl, owner)`, for the queries above.
fn privileged_objects(ext_class: &str) -> String {
    format!(
        "WITH objects AS ( \
           SELECT CASE c.relkind WHEN 'S' THEN 'SEQUENCE' ELSE 'TABLE' END AS kind, \
                  format('%I.%I', n.nspname, c.relname) AS name, \
                  coalesce(c.relacl, acldefault(CASE c.relkind WHEN 'S' THEN 's' ELSE 'r' END::\"char\", c.relowner)) AS acl, \
                  c.relowner AS owner \
           FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
           WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f') \
             AND {USER_SCHEMAS} AND {ext_class} AND NOT (c.relname = ANY($1)) \
           UNION ALL \
           SELECT 'SCHEMA', quote_ident(n.nspname), coalesce(n.nspacl, acldefault('n', n.nspowner)), n.nspowner \
           FROM pg_namespace n WHERE {USER_SCHEMAS} AND {ext_ns} \
           UNION ALL \
           SELECT CASE p.prokind WHEN 'p' THEN 'PROCEDURE' ELSE 'FUNCTION' END, \
                  format('%I.%I(%s)', n.nspname, p.proname, pg_get_function_identity_arguments(p.oid)), \
                  coalesce(p.proacl, acldefault('f', p.proowner)), p.proowner \
           FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace \
           WHERE p.prokind IN ('f', 'p') AND {USER_SCHEMAS} AND {ext_proc} \
             AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_proc'::regclass \
                             AND d.objid = p.oid AND d.deptype = 'i') \
           UNION ALL \
           SELECT 'COLUMN', format('%I.%I(%I)', n.nspname, c.relname, a.attname), \
                  a.attacl, c.relowner \
           FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid \
           JOIN pg_namespace n ON n.oid = c.relnamespace \
           WHERE a.attacl IS NOT NULL AND a.attnum > 0 AND NOT a.attisdropped \
             AND c.relkind IN ('r', 'p', 'v', 'm', 'f') \
             AND {USER_SCHEMAS} AND {ext_class} AND NOT (c.relname = ANY($1)) \
           UNION ALL \
           SELECT 'LANGUAGE', quote_ident(l.lanname), coalesce(l.lanacl, acldefault('l', l.lanowner)), l.lanowner \
           FROM pg_language l WHERE l.lanpltrusted \
           UNION ALL \
           SELECT 'TYPE', format('%I.%I', n.nspname, t.typname), \
                  coalesce(t.typacl, acldefault('T', t.typowner)), t.typowner \
           FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace \
           WHERE t.typtype IN ('e', 'd', 'c', 'r') AND {USER_SCHEMAS} AND {ext_type} \
             AND (t.typtype <> 'c' OR EXISTS (SELECT 1 FROM pg_class r WHERE r.oid = t.typrelid AND r.relkind = 'c')) \
         )",
        ext_ns = not_in_extension("n.oid"),
        ext_proc = not_in_extension("p.oid"),
        ext_type = not_in_extension("t.oid"),
    )
}
