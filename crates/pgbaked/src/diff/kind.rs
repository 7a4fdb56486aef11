//! What kind of object a catalog entry is, and the word the diff prints for it.

use serde::Serialize;

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
    /// resets it is kept beside it in the catalog.
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
    /// The kinds of type a `TYPE` names (a table's or a view's row type aside).
    pub(crate) const TYPES: [Kind; 4] = [Kind::Enum, Kind::Domain, Kind::Composite, Kind::Range];

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
