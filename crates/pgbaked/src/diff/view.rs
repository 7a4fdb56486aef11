//! Views dropped and created again around the changes under them, in an order their
//! references allow.

use super::catalog::{Catalog, Difference, Kind};
use super::name::*;
use super::types::*;

/// The views of `from` to drop and create again: the changed and removed ones, those that
/// read a table whose columns are dropped, renamed or retyped, and, transitively, the views
/// that read any of them.
pub(crate) fn views_to_rebuild(
    from: &Catalog,
    to: &Catalog,
    differences: &[Difference],
    pinned: &[String],
) -> Vec<String> {
    let touched_columns: Vec<&str> = differences
        .iter()
        .filter(|d| d.kind == Kind::Column && d.from.is_some())
        .filter(|d| match (&d.from, &d.to) {
            (Some(_), Some(_)) => {
                let (a, b) = (
                    from.column(&d.name).unwrap_or_default(),
                    to.column(&d.name).unwrap_or_default(),
                );
                a.data_type != b.data_type || (b.generated.is_some() && a.generated != b.generated)
            }
            _ => true,
        })
        .map(|d| d.name.as_str())
        .collect();
    let dropped_tables: Vec<String> = differences
        .iter()
        .filter(|d| d.kind == Kind::Table && d.to.is_none())
        .map(|d| d.name.clone())
        .collect();
    let enum_tables = enum_rebuilt_tables(from, differences);
    let touched_tables: Vec<String> = touched_columns
        .iter()
        .map(|c| split_last(c).0)
        .chain(dropped_tables.iter().cloned())
        .chain(enum_tables.iter().cloned())
        .collect();
    // A child's or a partition's column of the same name changes with its parent's (the
    // catalog holds an inherited column under its parent only).
    let inherited_columns: Vec<String> = touched_columns
        .iter()
        .flat_map(|c| {
            let (table, column) = split_last(c);
            from.descendants(&table)
                .into_iter()
                .map(move |child| format!("{child}.{column}"))
        })
        .collect();
    // Which view reads what: the server's record of it when the catalog has one (a view that
    // reads other columns of a changed table is left alone), else the names in its text.
    let reads_touched = |view: &str, def: &str| {
        if !from.has_dependencies() {
            return touched_tables.iter().any(|t| mentions(def, t));
        }
        let reads_inherited = inherited_columns.iter().any(|c| {
            from.dependents(Kind::Column, c)
                .any(|(k, n)| k == Kind::View && n == view)
        });
        if reads_inherited {
            return true;
        }
        from.objects().any(|(kind, name, _)| {
            let touched = match kind {
                Kind::Column => {
                    touched_columns.contains(&name) || dropped_tables.contains(&split_last(name).0)
                }
                Kind::Table => dropped_tables.iter().any(|t| t == name),
                _ => false,
            };
            touched
                && from
                    .dependents(kind, name)
                    .any(|(k, n)| k == Kind::View && n == view)
        }) || enum_tables.iter().any(|t| mentions(def, t))
    };
    let views: Vec<(&str, &str)> = from
        .objects()
        .filter(|(kind, _, _)| *kind == Kind::View)
        .map(|(_, name, def)| (name, def))
        .collect();
    let mut rebuilt: Vec<String> = views
        .iter()
        .filter(|(name, def)| {
            to.get(Kind::View, name).map(collapse) != Some(collapse(def))
                || reads_touched(name, def)
        })
        .map(|(name, _)| name.to_string())
        .chain(pinned.iter().cloned())
        .collect();
    rebuilt.sort();
    rebuilt.dedup();
    loop {
        let more: Vec<String> = views
            .iter()
            .filter(|(name, def)| {
                !rebuilt.iter().any(|r| r == name)
                    && rebuilt.iter().any(|r| reads_view(from, name, r, def))
            })
            .map(|(name, _)| name.to_string())
            .collect();
        if more.is_empty() {
            break;
        }
        rebuilt.extend(more);
    }
    rebuilt.sort();
    rebuilt
}

/// `views` ordered so that a view comes after the views it reads (`dependents_first`: before).
pub(crate) fn order_by_reference(
    views: &[String],
    catalog: &Catalog,
    dependents_first: bool,
) -> Vec<String> {
    let mut left: Vec<String> = views.to_vec();
    let mut ordered = Vec::with_capacity(left.len());
    while !left.is_empty() {
        let reads = |view: &str, other: &str| {
            let def = catalog.get(Kind::View, view).unwrap_or_default();
            reads_view(catalog, view, other, def)
        };
        // Ready: reads none of the others still left (for creation), or is read by none of
        // them (for dropping).
        let ready: Vec<String> = left
            .iter()
            .filter(|v| {
                left.iter().filter(|o| o != v).all(|o| {
                    if dependents_first {
                        !reads(o, v)
                    } else {
                        !reads(v, o)
                    }
                })
            })
            .cloned()
            .collect();
        // No cycle among the server's records; without them, a cycle of mentions (a name in a
        // string, say): take the rest in name order.
        let ready = if ready.is_empty() {
            left.clone()
        } else {
            ready
        };
        left.retain(|v| !ready.contains(v));
        ordered.extend(ready);
    }
    ordered
}

/// Whether the view `view` (defined by `def`) of `catalog` reads the view `other`: the
/// server's record of it (`pg_rewrite`'s dependencies), or, for a catalog read without them,
/// `other`'s name in its text, which a string or a column of that name also holds.
fn reads_view(catalog: &Catalog, view: &str, other: &str, def: &str) -> bool {
    if catalog.has_dependencies() {
        catalog
            .dependents(Kind::View, other)
            .any(|(k, n)| k == Kind::View && n == view)
    } else {
        mentions(def, other)
    }
}
