//! Functions, procedures and aggregates: replaced in place where `CREATE OR REPLACE` can,
//! dropped first where it cannot.

use super::catalog::{Catalog, Kind};
use super::change::*;
use super::name::*;

/// The routine `name` made as `def` declares it: dropped first when it exists in `from`,
/// was not dropped already (`dropped`), and cannot be replaced in place (an aggregate, or a
/// function whose result type changes).
pub(crate) fn replace_routine(
    (from, to): (&Catalog, &Catalog),
    name: &str,
    def: &str,
    dropped: &[String],
) -> Vec<Change> {
    let mut changes = Vec::new();
    if let Some(old) = from.get(Kind::Function, name)
        && !dropped.iter().any(|d| d == name)
        && collapse(old) != collapse(def)
        && needs_drop(from, to, name)
    {
        changes.push(Change::plain(format!("DROP {} {name}", routine_kind(old))));
    }
    changes.push(Change::plain(def));
    changes
}

/// What `DROP` calls a routine, from its definition's first words (a body may hold any):
/// `FUNCTION`, `PROCEDURE` or `AGGREGATE`.
pub(crate) fn routine_kind(def: &str) -> &'static str {
    if def.starts_with("CREATE AGGREGATE") {
        "AGGREGATE"
    } else if def.starts_with("CREATE OR REPLACE PROCEDURE") {
        "PROCEDURE"
    } else {
        "FUNCTION"
    }
}

/// Whether `CREATE OR REPLACE` cannot turn routine `name` of `from` into that of `to`, which
/// must be dropped first: an aggregate, another kind of routine, a changed result type, or
/// changed parameters (a name, a default removed, an OUT parameter), read from the catalog's
/// fields (`pg_get_function_arguments`, `pg_get_function_result`), not from the text.
pub(crate) fn needs_drop(from: &Catalog, to: &Catalog, name: &str) -> bool {
    let kind = |c: &Catalog| routine_kind(c.get(Kind::Function, name).unwrap_or_default());
    kind(from) == "AGGREGATE"
        || kind(to) == "AGGREGATE"
        || kind(from) != kind(to)
        || from.signature(name) != to.signature(name)
}
