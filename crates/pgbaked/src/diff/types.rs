//! Enums, domains and composite types: altered in place where PostgreSQL allows it, rebuilt
//! (renamed aside, created anew, columns converted through text) where it does not.

use super::catalog::{Catalog, Difference, Kind};
use super::change::*;
use super::name::*;
use super::routine::*;
use crate::quote::{quote_identifier, unquote};

/// The attributes of a composite type's definition, `(a integer, b numeric(12,2))`, as
/// (name, type) pairs.
pub(crate) fn attributes<'a>(def: &'a str) -> Vec<(&'a str, &'a str)> {
    let inner = def
        .trim()
        .strip_prefix('(')
        .and_then(|d| d.strip_suffix(')'))
        .unwrap_or(def);
    // The name is the first word, quoted (a doubled quote stays inside) or not.
    let pair = |piece: &'a str| {
        let (name, ty) = first_word(piece.trim());
        (!name.is_empty() && !ty.is_empty()).then(|| (name, ty.trim()))
    };
    let mut out = Vec::new();
    let (mut depth, mut start, mut quoted) = (0i32, 0usize, false);
    for (i, c) in inner.char_indices() {
        match c {
            // A doubled quote toggles twice: it stays inside.
            '"' => quoted = !quoted,
            _ if quoted => {}
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                out.extend(pair(&inner[start..i]));
                start = i + 1;
            }
            _ => {}
        }
    }
    out.extend(pair(&inner[start..]));
    out
}

/// `ALTER TYPE … DROP/ADD/ALTER ATTRIBUTE` from one composite definition to another, or `None`
/// when the attributes kept would end up in another order (ADD appends). With `cascade`, each
/// action reaches the tables typed by it (`CREATE TABLE … OF`), which refuse it otherwise.
pub(crate) fn alter_composite(name: &str, from: &str, to: &str, cascade: bool) -> Option<Change> {
    let (old, new) = (attributes(from), attributes(to));
    let kept_order: Vec<&str> = old
        .iter()
        .filter(|(a, _)| new.iter().any(|(b, _)| a == b))
        .map(|(a, _)| *a)
        .chain(
            new.iter()
                .filter(|(b, _)| !old.iter().any(|(a, _)| a == b))
                .map(|(b, _)| *b),
        )
        .collect();
    if kept_order != new.iter().map(|(b, _)| *b).collect::<Vec<_>>() {
        return None;
    }
    let mut actions = Vec::new();
    for (attr, _) in old.iter().filter(|(a, _)| !new.iter().any(|(b, _)| a == b)) {
        actions.push(format!("DROP ATTRIBUTE {attr}"));
    }
    for (attr, ty) in &new {
        match old.iter().find(|(a, _)| a == attr) {
            Some((_, old_ty)) if old_ty != ty => {
                actions.push(format!("ALTER ATTRIBUTE {attr} TYPE {ty}"))
            }
            Some(_) => {}
            None => actions.push(format!("ADD ATTRIBUTE {attr} {ty}")),
        }
    }
    if cascade {
        for action in &mut actions {
            action.push_str(" CASCADE");
        }
    }
    let sql = format!("ALTER TYPE {name} {}", actions.join(", "));
    let drops = actions.iter().any(|a| a.starts_with("DROP "));
    // A retyped attribute rewrites each typed table under ACCESS EXCLUSIVE, and a narrower
    // type fails on a value that does not fit.
    let rewrites = cascade && actions.iter().any(|a| a.starts_with("ALTER "));
    Some(match (drops, rewrites) {
        (true, false) => Change::hazard(
            sql,
            &[HazardKind::DeletesData],
            "deletes the attribute's data wherever the type is stored",
        ),
        (false, true) => Change::hazard(
            sql,
            &[HazardKind::RewritesTable],
            "rewrites the tables typed by it; fails on a value the new type cannot hold",
        ),
        (true, true) => Change::hazard(
            sql,
            &[HazardKind::DeletesData, HazardKind::RewritesTable],
            "deletes the attribute's data wherever the type is stored, and rewrites the \
             tables typed by it",
        ),
        (false, false) => Change::plain(sql),
    })
}

/// Whether an enum going from labels `from` to `to` (as the catalog lists them) is rebuilt
/// rather than extended: a label removed, or the old ones in another order.
pub(crate) fn enum_rebuilt(from: &str, to: &str) -> bool {
    let (old, new) = (split_unquoted(from, ", "), split_unquoted(to, ", "));
    let kept: Vec<&str> = new.iter().copied().filter(|l| old.contains(l)).collect();
    kept != old
}

/// The tables with a column of an enum or composite type that is made again: their columns
/// change type (to the new one), so the views over them are rebuilt too.
pub(crate) fn enum_rebuilt_tables(from: &Catalog, differences: &[Difference]) -> Vec<String> {
    let rebuilt: Vec<&str> = differences
        .iter()
        .filter(|d| match (d.kind, &d.from, &d.to) {
            (Kind::Enum, Some(a), Some(b)) => enum_rebuilt(a, b),
            // A composite is made again where ALTER TYPE cannot reach: a reordered or
            // retyped attribute (a column of it stands on every table that has one).
            (Kind::Composite, Some(a), Some(b)) => alter_composite(&d.name, a, b, false)
                .is_none_or(|change| change.sql.contains(" ALTER ATTRIBUTE ")),
            _ => false,
        })
        .map(|d| d.name.as_str())
        .collect();
    if rebuilt.is_empty() {
        return Vec::new();
    }
    from.columns()
        .filter(|(_, c)| {
            rebuilt.iter().any(|e| {
                let t = c.data_type.strip_suffix("[]").unwrap_or(c.data_type);
                t == *e || Some(t) == parts(e).last().copied()
            })
        })
        .map(|(name, _)| split_last(name).0)
        .collect()
}

/// A domain's definition as the catalog writes it, taken apart: base type, NOT NULL, default,
/// and its named constraints (`name CHECK (…)`).
pub(crate) fn domain(def: &str) -> (&str, bool, Option<&str>, Vec<(&str, &str)>) {
    // Quoted names and literals may hold " CONSTRAINT " or " DEFAULT " themselves.
    let pieces = split_unquoted(def, " CONSTRAINT ");
    let head = pieces[0];
    let constraints = pieces[1..]
        .iter()
        .filter(|c| !c.is_empty())
        .map(|c| first_word(c))
        .collect();
    let (head, default) = match split_unquoted(head, " DEFAULT ").as_slice() {
        [base, ..] if base.len() < head.len() => (*base, Some(&head[base.len() + 9..])),
        _ => (head, None),
    };
    match head.strip_suffix(" NOT NULL") {
        Some(base) => (base, true, default, constraints),
        None => (head, false, default, constraints),
    }
}

/// The checks of domain `name` that its new definition no longer holds as they are, dropped:
/// in the plan's first phase, before the routines they may call are dropped (a check calling
/// `ok(int)` holds it; the server refuses to drop it first). None when the base type changed
/// (the change is reported, not planned).
pub(crate) fn dropped_domain_checks(name: &str, from: &str, to: &str) -> Vec<Change> {
    let (old, new) = (domain(from), domain(to));
    if old.0 != new.0 {
        return Vec::new();
    }
    old.3
        .iter()
        .filter(|c| !new.3.contains(c))
        .map(|(constraint, _)| {
            Change::plain(format!("ALTER DOMAIN {name} DROP CONSTRAINT {constraint}"))
        })
        .collect()
}

/// The steps from one definition of domain `name` to another, or `None` when its base type
/// changed; the checks it lets go of are dropped earlier ([`dropped_domain_checks`]). New
/// checks go to `validations`: added `NOT VALID` once every routine they may call exists,
/// and validated with the other validations, so that the columns of the domain are scanned
/// without blocking writes.
pub(crate) fn alter_domain(
    name: &str,
    from: &str,
    to: &str,
    validations: &mut Vec<Change>,
) -> Option<Vec<Change>> {
    let (old, new) = (domain(from), domain(to));
    if old.0 != new.0 {
        return None;
    }
    let mut changes = Vec::new();
    if old.2 != new.2 {
        changes.push(Change::plain(match new.2 {
            Some(default) => format!("ALTER DOMAIN {name} SET DEFAULT {default}"),
            None => format!("ALTER DOMAIN {name} DROP DEFAULT"),
        }));
    }
    match (old.1, new.1) {
        (false, true) => changes.push(Change::plain(format!("ALTER DOMAIN {name} SET NOT NULL"))),
        (true, false) => changes.push(Change::plain(format!("ALTER DOMAIN {name} DROP NOT NULL"))),
        _ => {}
    }
    for (constraint, check) in &new.3 {
        if !old.3.contains(&(constraint, check)) {
            // Declared NOT VALID, it stays so; otherwise validated after, with the others.
            let (check, declared_not_valid) = match check.strip_suffix(" NOT VALID") {
                Some(check) => (check, true),
                None => (*check, false),
            };
            validations.push(Change::plain(format!(
                "ALTER DOMAIN {name} ADD CONSTRAINT {constraint} {check} NOT VALID"
            )));
            if !declared_not_valid {
                validations.push(Change::plain(format!(
                    "ALTER DOMAIN {name} VALIDATE CONSTRAINT {constraint}"
                )));
            }
        }
    }
    Some(changes)
}

/// Whether a column of `catalog` holds the type `name` inside another: as the element of an
/// array, or as an attribute of a composite type that a column holds (at any depth).
pub(crate) fn stored_inside(catalog: &Catalog, name: &str) -> bool {
    // A type in `public` reads unqualified (it is on the default search_path).
    let is = |ty: &str, name: &str| {
        let (ty_parts, name_parts) = (parts(ty), parts(name));
        ty == name
            || (ty_parts.len() == 1
                && name_parts.len() == 2
                && name_parts[0] == "public"
                && ty_parts[0] == name_parts[1])
    };
    let columns: Vec<&str> = catalog.columns().map(|(_, c)| c.data_type).collect();
    if columns.iter().any(|t| {
        t.strip_suffix("[]")
            .is_some_and(|element| is(element, name))
    }) {
        return true;
    }
    // The composites holding it, then those holding them, until none is new.
    let mut holders: Vec<String> = Vec::new();
    let mut held = vec![name.to_string()];
    while let Some(inner) = held.pop() {
        for (kind, composite, def) in catalog.objects() {
            if kind == Kind::Composite
                && !holders.iter().any(|h| h == composite)
                && attributes(def)
                    .iter()
                    .any(|(_, ty)| is(ty.strip_suffix("[]").unwrap_or(ty), &inner))
            {
                holders.push(composite.to_string());
                held.push(composite.to_string());
            }
        }
    }
    columns.iter().any(|t| {
        let t = t.strip_suffix("[]").unwrap_or(t);
        holders.iter().any(|h| is(t, h))
    })
}

/// Labels removed or reordered: the enum is renamed aside, created anew, each column of it
/// converted through text (its default dropped and set again), and the old one dropped. Only
/// when nothing else names the type (a view, a function, a constraint, an index expression, a
/// domain, an array column), which would keep the old type alive or fail the conversion:
/// `None` then.
pub(crate) fn rebuild_enum(
    from: &Catalog,
    to: &Catalog,
    name: &str,
    labels: &str,
    removed: &[&str],
    rebuilt_views: &[String],
) -> Option<Vec<Change>> {
    let hazard = (!removed.is_empty()).then(|| {
        format!(
            "fails if a row holds a removed label ({}); rewrites the table",
            removed.join(", ")
        )
    });
    rebuild_type(
        from,
        to,
        name,
        &format!("CREATE TYPE {name} AS ENUM ({labels})"),
        hazard,
        rebuilt_views,
    )
}

/// A type that cannot change in place while columns hold it (an enum losing labels, a
/// composite type whose attributes change): renamed aside, created anew by `create`, each
/// column of it (or of an array of it) converted through text, its default dropped and set
/// again, and the old type dropped. `hazard` marks each conversion. `None` when something else
/// names the type and stays (see [`rebuild_enum`]).
pub(crate) fn rebuild_type(
    from: &Catalog,
    to: &Catalog,
    name: &str,
    create: &str,
    hazard: Option<String>,
    rebuilt_views: &[String],
) -> Option<Vec<Change>> {
    let p = parts(name);
    let bare = *p.last()?;
    let is_type = |t: &str| {
        let t = t.strip_suffix("[]").unwrap_or(t);
        t == name || t == bare
    };
    let mut columns = Vec::new();
    // What stays and names the type in an expression (a check, an index's predicate, a
    // policy, a trigger's WHEN) or in its signature (a routine nothing else uses): dropped
    // before the type is renamed aside, created again from `to` after the conversion.
    let (mut before, mut after) = (Vec::new(), Vec::new());
    for (kind, object, def) in from.objects() {
        // In deparsed expressions an enum's labels are casts: `'done'::status`.
        let cast = def.contains(&format!("::{bare}")) || def.contains(&format!("::{name}"));
        // What the plan drops before the types change (and creates again after, from `to`)
        // holds on to nothing.
        let dropped_before = match kind {
            Kind::View => rebuilt_views.iter().any(|v| v == object),
            // A column the plan drops (or whose table it drops) goes in its first phase.
            Kind::Column => to.column(object).is_none(),
            Kind::Function | Kind::Index | Kind::Constraint | Kind::Policy | Kind::Trigger => {
                to.get(kind, object).map(collapse) != Some(collapse(def))
                    && (kind != Kind::Function || to.get(kind, object).is_none())
            }
            _ => false,
        };
        if dropped_before {
            continue;
        }
        let uses = match kind {
            Kind::Enum | Kind::Composite if object == name => false,
            // A partition key's column cannot change type: the table would have to be made
            // again with its partitions.
            Kind::Column if is_type(from.column(object).unwrap_or_default().data_type) => {
                let (table, column_name) = split_last(object);
                let in_key = from
                    .table(&table)
                    .and_then(|t| t.partition_key())
                    .is_some_and(|key| mentions(key, column_name));
                columns.push(object.to_string());
                in_key
            }
            // A column (or an index, a view) of the same name as the type is no use of it.
            Kind::Column => {
                cast || mentions(from.column(object).unwrap_or_default().data_type, name)
            }
            Kind::Index | Kind::Constraint | Kind::View | Kind::Policy | Kind::Trigger => cast,
            // Its own comment and grants are put back on the new type (below); others are on
            // other objects.
            Kind::Comment | Kind::Privilege => false,
            Kind::Unmodelled if own_annotation(object, name).is_some() => false,
            // A function depends on the types of its signature; its body is read at each call.
            Kind::Function => from.routine_uses(object, name),
            _ => mentions(def, name),
        };
        if uses {
            let target = to.get(kind, object)?;
            let (table, own) = split_last(object);
            let unused = || from.dependents(kind, object).next().is_none();
            let (drop, create) = match kind {
                Kind::Constraint => (
                    format!("ALTER TABLE {table} DROP CONSTRAINT {own}"),
                    format!("ALTER TABLE {table} ADD CONSTRAINT {own} {target}"),
                ),
                Kind::Index => (format!("DROP INDEX {object}"), target.to_string()),
                Kind::Policy => (
                    format!("DROP POLICY {own} ON {table}"),
                    format!("CREATE POLICY {own} ON {table} {target}"),
                ),
                Kind::Trigger => (format!("DROP TRIGGER {own} ON {table}"), target.to_string()),
                Kind::Function if from.has_dependencies() && unused() => (
                    format!("DROP {} {object}", routine_kind(def)),
                    target.to_string(),
                ),
                _ => return None,
            };
            before.push(Change::plain(drop));
            after.push(Change::plain(create));
        }
    }
    let schema = p[..p.len() - 1].join(".");
    let aside = quote_identifier(&aside_name(from, to, &p, bare));
    let aside_name = if schema.is_empty() {
        aside.clone()
    } else {
        format!("{schema}.{aside}")
    };
    let mut changes = before;
    changes.extend([
        Change::plain(format!("ALTER TYPE {name} RENAME TO {aside}")),
        Change::plain(create.to_string()),
    ]);
    for object in columns {
        let (table, column_name) = split_last(&object);
        let alter = |what: String| format!("ALTER TABLE {table} ALTER COLUMN {column_name} {what}");
        let old_default = from.column(&object).and_then(|c| c.default);
        let new_default = to.column(&object).map_or(old_default, |c| c.default);
        if old_default.is_some() {
            changes.push(Change::plain(alter("DROP DEFAULT".into())));
        }
        let array = from
            .column(&object)
            .is_some_and(|c| c.data_type.ends_with("[]"));
        let new_type = if array {
            format!("{name}[]")
        } else {
            name.to_string()
        };
        let convert = alter(format!(
            "TYPE {new_type} USING {column_name}::text::{new_type}"
        ));
        match &hazard {
            None => changes.push(Change::plain(convert)),
            Some(hazard) => changes.push(Change::hazard(
                convert,
                &[HazardKind::RewritesTable, HazardKind::DeletesData],
                hazard.clone(),
            )),
        }
        if let Some(default) = new_default {
            changes.push(Change::plain(alter(format!("SET DEFAULT {default}"))));
        }
    }
    changes.push(Change::plain(format!("DROP TYPE {aside_name}")));
    changes.extend(after);
    changes.extend(annotations_again(to, name));
    Some(changes)
}

/// What an entry keyed `object` is on the type `name` itself: a comment (`TYPE s.t`,
/// `DOMAIN s.t`) or a grant (`TYPE s.t TO role`, read as a privilege or, without them, as
/// `GRANT ON TYPE s.t TO role`); the grantee for a grant.
fn own_annotation<'a>(object: &'a str, name: &str) -> Option<Option<&'a str>> {
    let object = object.strip_prefix("GRANT ON ").unwrap_or(object);
    let (word, rest) = object.split_once(' ')?;
    if !matches!(word, "TYPE" | "DOMAIN") {
        return None;
    }
    if rest == name {
        return Some(None);
    }
    rest.strip_prefix(name)?.strip_prefix(" TO ").map(Some)
}

/// The comment and grants `to` holds on the type `name`, for a type made again (its
/// successor starts with none, and with the server's USAGE for PUBLIC).
fn annotations_again(to: &Catalog, name: &str) -> Vec<Change> {
    let mut changes = Vec::new();
    let mut public = false;
    let privileges_read = to.objects().any(|(kind, _, _)| kind == Kind::Privilege);
    for (kind, object, def) in to.objects() {
        match (kind, own_annotation(object, name)) {
            (Kind::Comment, Some(None)) => changes.push(Change::plain(format!(
                "COMMENT ON {object} IS {}",
                crate::quote::quote_literal(def)
            ))),
            (Kind::Privilege | Kind::Unmodelled, Some(Some(grantee))) => {
                public |= grantee == "PUBLIC";
                // A type's one privilege is USAGE, perhaps with the grant option.
                let (privilege, option) = match def.strip_suffix(" WITH GRANT OPTION") {
                    Some(privilege) => (privilege, " WITH GRANT OPTION"),
                    None => (def, ""),
                };
                changes.push(Change::plain(format!(
                    "GRANT {privilege} ON TYPE {name} TO {grantee}{option}"
                )));
            }
            _ => {}
        }
    }
    if privileges_read && !public {
        changes.push(Change::plain(format!(
            "REVOKE ALL ON TYPE {name} FROM PUBLIC"
        )));
    }
    changes
}

/// The name a type is renamed aside under while its successor is made: `<type>__pgm_old`, or
/// with a number, free among every type and relation of its schema (`parts`) on both sides
/// (a relation's row type takes its name among the types), after the server's 63-byte cut.
fn aside_name(from: &Catalog, to: &Catalog, parts_of_name: &[&str], bare: &str) -> String {
    let kinds: Vec<Kind> = Kind::TYPES
        .into_iter()
        .chain([
            Kind::Table,
            Kind::View,
            Kind::Sequence,
            Kind::OwnedSequence,
            Kind::Index,
        ])
        .collect();
    super::name::free_name(&format!("{}__pgm_old", unquote(bare)), |candidate| {
        [from, to].iter().any(|c| {
            c.objects().any(|(kind, object, _)| {
                let q = parts(object);
                kinds.contains(&kind)
                    && q.len() == 2
                    && parts_of_name.len() == 2
                    && unquote(q[1]) == candidate
                    && unquote(q[0]) == unquote(parts_of_name[0])
            })
        })
    })
}

#[cfg(test)]
mod domain_tests {
    use super::*;

    #[test]
    fn quoted_constraint_names_and_literals_stay_whole() {
        let def = r#"text NOT NULL DEFAULT 'a CONSTRAINT b' CONSTRAINT "c 1" CHECK (VALUE <> ' CONSTRAINT x') CONSTRAINT "dc;" CHECK (length(VALUE) > 1)"#;
        let (base, not_null, default, constraints) = domain(def);
        assert_eq!(
            (base, not_null, default),
            ("text", true, Some("'a CONSTRAINT b'"))
        );
        assert_eq!(
            constraints,
            [
                (r#""c 1""#, "CHECK (VALUE <> ' CONSTRAINT x')"),
                (r#""dc;""#, "CHECK (length(VALUE) > 1)")
            ]
        );
    }
}
