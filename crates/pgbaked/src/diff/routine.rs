//! Functions, procedures and aggregates: replaced in place where `CREATE OR REPLACE` can,
//! dropped first where it cannot.

use super::catalog::{Catalog, Kind};
use super::change::*;
use super::name::*;

/// The routine `name` made as `def` declares it: dropped first when it exists in `from`,
/// was not dropped already (`dropped`), and cannot be replaced in place (an aggregate, or a
/// function whose result type changes).
pub(crate) fn replace_routine(
    from: &Catalog,
    name: &str,
    def: &str,
    dropped: &[String],
) -> Vec<Change> {
    let mut changes = Vec::new();
    if let Some(old) = from.get(Kind::Function, name)
        && !dropped.iter().any(|d| d == name)
        && collapse(old) != collapse(def)
        && needs_drop(old, def)
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

/// Whether `CREATE OR REPLACE` cannot turn routine `old` into `new`, which must be dropped
/// first: an aggregate, a changed result type, or changed parameters (a name, a default
/// removed, an OUT parameter: the signature line beyond the identity the key holds).
pub(crate) fn needs_drop(old: &str, new: &str) -> bool {
    let signature = |def: &str| def.split('\n').next().unwrap_or(def).trim().to_string();
    routine_kind(old) == "AGGREGATE"
        || routine_kind(new) == "AGGREGATE"
        || returns(old) != returns(new)
        || signature(old) != signature(new)
}

/// What a function definition returns: `pg_get_functiondef` writes it on the line after the
/// signature (` RETURNS …`), where a quoted name or a default on the first line cannot
/// reach.
pub(crate) fn returns(def: &str) -> Option<&str> {
    let start = def.find("\n RETURNS ")? + 10;
    let rest = &def[start..];
    Some(rest.split('\n').next().unwrap_or(rest).trim())
}

/// A function's definition up to a body in a string (`AS $function$…`), which the server reads
/// at each call: its name, arguments, result and attributes. A `BEGIN ATOMIC` body is parsed
/// at creation and depends on what it names, so it stays.
pub(crate) fn function_header(def: &str) -> &str {
    def.find("\nAS ").map_or(def, |i| &def[..i])
}
