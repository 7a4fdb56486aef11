//! Objects that stand alone and are planned whole from the statement that makes them: casts,
//! operators, text search dictionaries and configurations. A changed dictionary or
//! configuration is altered in place (columns, indexes and views name them by OID, so a drop
//! would take those along); a changed cast or operator is dropped and made again.

use super::catalog::{Difference, Kind};
use super::change::{Change, unsupported};
use crate::diff::name::Unquoted;

/// What goes or changes, once the views, columns and indexes that could use it are gone and
/// before the routines and types it is made of go.
pub(crate) fn drops(differences: &[Difference]) -> Vec<Change> {
    let mut changes = Vec::new();
    let gone = |kind: Kind| {
        differences
            .iter()
            .filter(move |d| d.kind == kind && d.from.is_some() && d.to.is_none())
    };
    let replaced = |kind: Kind| {
        differences
            .iter()
            .filter(move |d| d.kind == kind && d.from.is_some() && d.to.is_some())
    };
    for d in gone(Kind::Cast).chain(replaced(Kind::Cast)) {
        changes.push(Change::plain(format!("DROP CAST {}", d.name)));
    }
    for d in gone(Kind::Operator).chain(replaced(Kind::Operator)) {
        changes.push(Change::plain(format!("DROP OPERATOR {}", d.name)));
    }
    // Configurations before the dictionaries they map to.
    for d in gone(Kind::TextSearchConfiguration) {
        changes.push(Change::plain(format!(
            "DROP TEXT SEARCH CONFIGURATION {}",
            d.name
        )));
    }
    for d in gone(Kind::TextSearchDictionary) {
        changes.push(Change::plain(format!(
            "DROP TEXT SEARCH DICTIONARY {}",
            d.name
        )));
    }
    changes
}

/// Text search dictionaries and configurations, new or changed: once the schemas and
/// extensions they live in and take their templates from exist, before the columns, indexes
/// and routines that name them.
pub(crate) fn text_search(differences: &[Difference]) -> Vec<Change> {
    let mut changes = Vec::new();
    for kind in [Kind::TextSearchDictionary, Kind::TextSearchConfiguration] {
        for d in differences.iter().filter(|d| d.kind == kind) {
            let Some(to) = d.to.as_deref() else { continue };
            match (kind, d.from.as_deref()) {
                (_, None) => changes.push(Change::plain(to)),
                (Kind::TextSearchDictionary, Some(from)) => {
                    match alter_dictionary(&d.name, from, to) {
                        Some(alter) => changes.push(Change::plain(alter)),
                        None => changes.push(unsupported(
                            d,
                            "a text search dictionary's template changed",
                        )),
                    }
                }
                (_, Some(from)) => match alter_configuration(&d.name, from, to) {
                    Some(alters) => changes.extend(alters.into_iter().map(Change::plain)),
                    None => changes.push(unsupported(
                        d,
                        "a text search configuration's parser changed",
                    )),
                },
            }
        }
    }
    changes
}

/// Casts and operators, new or changed: once the routines and types they are made of exist.
pub(crate) fn creations(differences: &[Difference]) -> Vec<Change> {
    differences
        .iter()
        .filter(|d| matches!(d.kind, Kind::Cast | Kind::Operator))
        .filter_map(|d| d.to.as_deref().map(Change::plain))
        .collect()
}

/// `(TEMPLATE = t, a = 'x', b = 'y')` as its template and its options, each `(key, value)`:
/// split at the commas outside quotes.
fn dictionary_options(def: &str) -> Option<(&str, Vec<(String, String)>)> {
    let body = def
        .split_once_unquoted(" (TEMPLATE = ")?
        .1
        .strip_suffix(')')?;
    let mut parts = Vec::new();
    let (mut start, mut quoted) = (0, false);
    for (i, c) in body.char_indices() {
        match c {
            '\'' | '"' => quoted = !quoted,
            ',' if !quoted => {
                parts.push(&body[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&body[start..]);
    let template = parts.remove(0).trim();
    let options = parts
        .into_iter()
        .map(|p| {
            let (key, value) = p.split_once('=').unwrap_or((p, ""));
            (key.trim().to_string(), value.trim().to_string())
        })
        .collect();
    Some((template, options))
}

/// `ALTER TEXT SEARCH DICTIONARY` to the options of `to` (an option left out of `to` is
/// named without a value, which removes it); `None` when the template changes.
fn alter_dictionary(name: &str, from: &str, to: &str) -> Option<String> {
    let (old_template, old) = dictionary_options(from)?;
    let (new_template, new) = dictionary_options(to)?;
    if old_template != new_template {
        return None;
    }
    let mut items: Vec<String> = new.iter().map(|(k, v)| format!("{k} = {v}")).collect();
    items.extend(
        old.iter()
            .filter(|(k, _)| !new.iter().any(|(n, _)| n.eq_ignore_ascii_case(k)))
            .map(|(k, _)| k.clone()),
    );
    Some(format!(
        "ALTER TEXT SEARCH DICTIONARY {name} ({})",
        items.join(", ")
    ))
}

/// A configuration's definition as its `CREATE` and its mappings, each `(token type,
/// dictionaries)`.
fn mappings<'a>(name: &str, def: &'a str) -> (&'a str, Vec<(&'a str, &'a str)>) {
    let separator = format!("; ALTER TEXT SEARCH CONFIGURATION {name} ADD MAPPING FOR ");
    let mut parts = def.split(separator.as_str());
    let create = parts.next().unwrap_or_default();
    let maps = parts
        .filter_map(|p| p.split_once_unquoted(" WITH "))
        .collect();
    (create, maps)
}

/// The mappings of `from` changed to those of `to`, one token type at a time; `None` when
/// the parser changes.
fn alter_configuration(name: &str, from: &str, to: &str) -> Option<Vec<String>> {
    let (old_create, old) = mappings(name, from);
    let (new_create, new) = mappings(name, to);
    if old_create != new_create {
        return None;
    }
    let alter = format!("ALTER TEXT SEARCH CONFIGURATION {name}");
    let mut statements = Vec::new();
    for (token, _) in old.iter().filter(|(t, _)| !new.iter().any(|(n, _)| n == t)) {
        statements.push(format!("{alter} DROP MAPPING FOR {token}"));
    }
    for (token, dictionaries) in &new {
        match old.iter().find(|(t, _)| t == token) {
            None => statements.push(format!(
                "{alter} ADD MAPPING FOR {token} WITH {dictionaries}"
            )),
            Some((_, was)) if was != dictionaries => statements.push(format!(
                "{alter} ALTER MAPPING FOR {token} WITH {dictionaries}"
            )),
            Some(_) => {}
        }
    }
    Some(statements)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dictionary_options_are_set_and_removed() {
        let from = "CREATE TEXT SEARCH DICTIONARY public.d (TEMPLATE = pg_catalog.simple, stopwords = 'english', accept = 'false')";
        let to = "CREATE TEXT SEARCH DICTIONARY public.d (TEMPLATE = pg_catalog.simple, stopwords = 'a, b')";
        assert_eq!(
            alter_dictionary("public.d", from, to).unwrap(),
            "ALTER TEXT SEARCH DICTIONARY public.d (stopwords = 'a, b', accept)"
        );
        let other = "CREATE TEXT SEARCH DICTIONARY public.d (TEMPLATE = pg_catalog.snowball, language = 'english')";
        assert_eq!(alter_dictionary("public.d", from, other), None);
    }

    #[test]
    fn configuration_mappings_change_one_token_type_at_a_time() {
        let create = "CREATE TEXT SEARCH CONFIGURATION public.c (PARSER = pg_catalog.\"default\")";
        let map = |t: &str, d: &str| {
            format!("; ALTER TEXT SEARCH CONFIGURATION public.c ADD MAPPING FOR {t} WITH {d}")
        };
        let from = format!(
            "{create}{}{}",
            map("asciiword", "simple"),
            map("word", "simple")
        );
        let to = format!(
            "{create}{}{}",
            map("asciiword", "english_stem"),
            map("email", "simple")
        );
        assert_eq!(
            alter_configuration("public.c", &from, &to).unwrap(),
            [
                "ALTER TEXT SEARCH CONFIGURATION public.c DROP MAPPING FOR word",
                "ALTER TEXT SEARCH CONFIGURATION public.c ALTER MAPPING FOR asciiword WITH english_stem",
                "ALTER TEXT SEARCH CONFIGURATION public.c ADD MAPPING FOR email WITH simple",
            ]
        );
    }
}
