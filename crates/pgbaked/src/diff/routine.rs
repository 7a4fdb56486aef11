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

/// `routines` in an order the server accepts: each after the routines it calls in a parsed
/// body (`RETURN …`, `BEGIN ATOMIC`) or is built on (an aggregate's functions), as `catalog`
/// records them; `dependents_first` for dropping: each before those. Otherwise the order
/// they come in; a cycle (which the server cannot hold) keeps it too.
pub(crate) fn in_dependency_order<'d>(
    routines: Vec<&'d super::catalog::Difference>,
    catalog: &Catalog,
    dependents_first: bool,
) -> Vec<&'d super::catalog::Difference> {
    // Whether `a` needs `b` made first (or, dropping, gone after it).
    let needs = |a: &str, b: &str| {
        catalog
            .dependents(Kind::Function, b)
            .any(|(k, n)| k == Kind::Function && n == a)
    };
    let mut left = routines;
    let mut ordered = Vec::with_capacity(left.len());
    while !left.is_empty() {
        let ready = left.iter().position(|d| {
            left.iter().filter(|o| o.name != d.name).all(|o| {
                if dependents_first {
                    !needs(&o.name, &d.name)
                } else {
                    !needs(&d.name, &o.name)
                }
            })
        });
        ordered.push(left.remove(ready.unwrap_or(0)));
    }
    ordered
}
