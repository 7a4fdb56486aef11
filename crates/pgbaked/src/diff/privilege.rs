//! GRANT and REVOKE, once every object exists.

use super::catalog::{Catalog, Difference, Kind};
use super::change::*;
use super::name::{Unquoted, split_unquoted};

/// `GRANT`/`REVOKE` last, once every object exists: revoked where a role's privileges changed
/// or went (not on what the plan drops: that takes its grants along), granted where they are
/// new or changed, and granted again on what the plan dropped and re-created (a view over a
/// changed column, a function whose result type changed).
pub(crate) fn privileges(differences: &[&Difference], to: &Catalog, changes: &mut Vec<Change>) {
    let dropped = |what: &str, object: &str| remade(changes, what, object);
    let mut out = Vec::new();
    for d in differences {
        let Some((what, object, grantee)) = split(&d.name) else {
            continue;
        };
        if d.from.is_some() && !dropped(what, object) {
            let (all, on) = grant_target(what, object, &["ALL"]);
            out.push(Change::plain(format!(
                "REVOKE {all} ON {on} FROM {grantee}"
            )));
        }
    }
    // Without `--with-privileges` the grants are read only to be compared (`GRANT ON …`);
    // what the plan drops and creates again still gets them back.
    let regranted = to
        .objects()
        .filter_map(|(kind, name, def)| match kind {
            Kind::Privilege => Some((name, def)),
            Kind::Unmodelled => name.strip_prefix("GRANT ON ").map(|name| (name, def)),
            _ => None,
        })
        .filter(|(name, _)| {
            !differences.iter().any(|d| d.name == *name)
                && split(name).is_some_and(|(what, object, _)| dropped(what, object))
        });
    let granted = differences
        .iter()
        .filter_map(|d| Some((d.name.as_str(), d.to.as_deref()?)))
        .chain(regranted);
    for (key, def) in granted {
        let Some((what, object, grantee)) = split(key) else {
            continue;
        };
        let (with_option, plain): (Vec<&str>, Vec<&str>) = def
            .split(", ")
            .partition(|p| p.ends_with(" WITH GRANT OPTION"));
        if !plain.is_empty() {
            let (privileges, on) = grant_target(what, object, &plain);
            out.push(Change::plain(format!(
                "GRANT {privileges} ON {on} TO {grantee}"
            )));
        }
        if !with_option.is_empty() {
            let privileges: Vec<&str> = with_option
                .iter()
                .map(|p| p.trim_end_matches(" WITH GRANT OPTION"))
                .collect();
            let (privileges, on) = grant_target(what, object, &privileges);
            out.push(Change::plain(format!(
                "GRANT {privileges} ON {on} TO {grantee} WITH GRANT OPTION"
            )));
        }
    }
    out.extend(owner_privileges_again(to, &dropped));
    out.extend(public_taken_back_again(to, &dropped));
    changes.extend(out);
}

/// A privilege's key cut in three: `TABLE public.users TO reader` → ("TABLE", "public.users",
/// "reader"). Names are quoted where they hold ` TO ` or `(`: each cut is made outside quotes.
fn split(key: &str) -> Option<(&str, &str, &str)> {
    let (what, rest) = key.split_once(' ')?;
    let pieces = split_unquoted(rest, " TO ");
    let grantee = *pieces.last().filter(|_| pieces.len() > 1)?;
    let object = &rest[..rest.len() - grantee.len() - " TO ".len()];
    Some((what, object, grantee))
}

/// A column's privileges (`COLUMN public.users(email) TO reader`) are granted on its table:
/// ("public.users", Some("email")).
fn target(object: &str) -> (&str, Option<&str>) {
    let table = split_unquoted(object, "(")[0];
    match object
        .strip_suffix(')')
        .and_then(|o| o.get(table.len() + 1..))
    {
        Some(column) => (table, Some(column)),
        None => (object, None),
    }
}

/// What a GRANT or REVOKE names: `SELECT, UPDATE` on a column is `SELECT (email), UPDATE
/// (email)` on its table.
fn grant_target(what: &str, object: &str, privileges: &[&str]) -> (String, String) {
    match target(object) {
        (table, Some(column)) if what == "COLUMN" => (
            privileges
                .iter()
                .map(|p| format!("{p} ({column})"))
                .collect::<Vec<_>>()
                .join(", "),
            format!("TABLE {table}"),
        ),
        _ => (privileges.join(", "), format!("{what} {object}")),
    }
}

/// Whether `changes` drop (or drop and make again) `what object`, taking its grants along.
fn remade(changes: &[Change], what: &str, object: &str) -> bool {
    // A routine's signature ends in `)` too: only a COLUMN names a column.
    let (object, column) = if what == "COLUMN" {
        target(object)
    } else {
        (object, None)
    };
    // A column's sequence is made again by a serial or identity column changing over
    // (`DROP SEQUENCE t_id_seq`, `ADD GENERATED … AS IDENTITY` on its table): a GRANT
    // again where none was lost changes nothing.
    if what == "SEQUENCE" && sequence_remade(changes, object) {
        return true;
    }
    changes.iter().any(|c| {
        (c.sql.starts_with("DROP ")
            && (c.sql.ends_with(&format!(" {object}"))
                || c.sql.contains(&format!(" {object}, "))
                || c.sql.contains(&format!(", {object},"))
                || c.sql.ends_with(&format!(", {object}"))))
            || column
                .is_some_and(|column| c.sql == format!("ALTER TABLE {object} DROP COLUMN {column}"))
    })
}

/// Whether `changes` drop or create the sequence `object`, or change its table's column to or
/// from an identity (which makes the column's sequence again).
fn sequence_remade(changes: &[Change], object: &str) -> bool {
    let sequence = super::name::bare_name(object);
    let names = |rest: &str| {
        let rest = rest.strip_prefix("IF NOT EXISTS ").unwrap_or(rest);
        super::name::bare_name(super::name::first_word(rest).0) == sequence
    };
    changes.iter().any(|c| {
        c.sql.strip_prefix("DROP SEQUENCE ").is_some_and(names)
            || c.sql.strip_prefix("CREATE SEQUENCE ").is_some_and(names)
            || c.sql.strip_prefix("ALTER TABLE ").is_some_and(|rest| {
                (rest.contains(" AS IDENTITY") || rest.ends_with(" DROP IDENTITY"))
                    && super::name::first_word(rest)
                        .0
                        .rsplit('.')
                        .next()
                        .is_some_and(|table| {
                            sequence.starts_with(&format!("{}_", table.trim_matches('"')))
                        })
            })
    })
}

/// A routine or type made again gets the server's default, EXECUTE or USAGE for PUBLIC: taken
/// back where the target has revoked it (only known when privileges are read).
fn public_taken_back_again(to: &Catalog, dropped: &dyn Fn(&str, &str) -> bool) -> Vec<Change> {
    if !to.objects().any(|(kind, _, _)| kind == Kind::Privilege) {
        return Vec::new();
    }
    let mut out = Vec::new();
    for (kind, name, def) in to.objects() {
        let what = match kind {
            Kind::Function => super::routine::routine_kind(def),
            k if Kind::TYPES.contains(&k) => "TYPE",
            _ => continue,
        };
        if !matches!(what, "FUNCTION" | "PROCEDURE" | "TYPE") || !dropped(what, name) {
            continue;
        }
        let public = format!("{what} {name} TO PUBLIC");
        if to.get(Kind::Privilege, &public).is_none() {
            out.push(Change::plain(format!(
                "REVOKE ALL ON {what} {name} FROM PUBLIC"
            )));
        }
    }
    out
}

/// What an owner took from itself on an object the plan made again (a view rebuilt around a
/// column change), taken again: the new object's owner, the role running the plan, holds
/// everything.
fn owner_privileges_again(to: &Catalog, dropped: &dyn Fn(&str, &str) -> bool) -> Vec<Change> {
    let mut out = Vec::new();
    for (kind, key, held) in to.objects() {
        let Some((what, object)) = key
            .strip_prefix("OWNER PRIVILEGES ON ")
            .and_then(|rest| rest.split_once(' '))
        else {
            continue;
        };
        if kind != Kind::Unmodelled || !dropped(what, object) {
            continue;
        }
        out.push(Change::plain(format!(
            "REVOKE ALL ON {what} {object} FROM CURRENT_USER"
        )));
        if held != "none" {
            let (with_option, plain): (Vec<&str>, Vec<&str>) = held
                .split(", ")
                .partition(|p| p.ends_with(" WITH GRANT OPTION"));
            let with_option: Vec<&str> = with_option
                .iter()
                .map(|p| p.trim_end_matches(" WITH GRANT OPTION"))
                .collect();
            for (privileges, option) in [(plain, ""), (with_option, " WITH GRANT OPTION")] {
                if !privileges.is_empty() {
                    out.push(Change::plain(format!(
                        "GRANT {} ON {what} {object} TO CURRENT_USER{option}",
                        privileges.join(", ")
                    )));
                }
            }
        }
    }
    out
}

/// What the default privileges in force gave the objects the plan creates, taken back before
/// their own grants (`to`'s, granted next): a new table under `ALTER DEFAULT PRIVILEGES …
/// GRANT SELECT ON TABLES TO reader` holds SELECT for reader as soon as it is made, which the
/// target may have revoked. Only with privileges read; a REVOKE of what was not granted
/// changes nothing.
pub(crate) fn defaults_taken_back(
    from: &Catalog,
    to: &Catalog,
    differences: &[Difference],
) -> Vec<Change> {
    if !to.objects().any(|(kind, _, _)| kind == Kind::Privilege) {
        return Vec::new();
    }
    // `DEFAULT_PRIVILEGES FOR ROLE r [IN SCHEMA s] ON TABLES TO g GRANTS`.
    let defaults: Vec<(Option<&str>, &str, &str)> = from
        .objects()
        .filter(|(kind, _, _)| *kind == Kind::Setting)
        .filter_map(|(_, name, _)| {
            let rest = name.strip_prefix("DEFAULT_PRIVILEGES FOR ROLE ")?;
            let rest = rest.strip_suffix(" GRANTS")?;
            let (head, grantee) = rest.rsplit_once_unquoted(" TO ")?;
            let (head, objects) = head.rsplit_once_unquoted(" ON ")?;
            let schema = head.split_once_unquoted(" IN SCHEMA ").map(|(_, s)| s);
            Some((schema, objects, grantee))
        })
        .collect();
    let mut out = Vec::new();
    for d in differences.iter().filter(|d| d.from.is_none()) {
        let (objects, what) = match d.kind {
            Kind::Table | Kind::View => ("TABLES", "TABLE"),
            Kind::Sequence | Kind::OwnedSequence => ("SEQUENCES", "SEQUENCE"),
            Kind::Function => (
                "FUNCTIONS",
                super::routine::routine_kind(d.to.as_deref().unwrap_or_default()),
            ),
            Kind::Enum | Kind::Domain | Kind::Composite | Kind::Range => ("TYPES", "TYPE"),
            Kind::Schema => ("SCHEMAS", "SCHEMA"),
            _ => continue,
        };
        if what == "AGGREGATE" {
            continue;
        }
        // The server's own default, PUBLIC's EXECUTE on a routine and USAGE on a type, which
        // the target's object does not hold (revoked by hand, or by default privileges
        // in force when it was made, which the plan takes back around its creations).
        let public_default = matches!(objects, "FUNCTIONS" | "TYPES");
        if public_default
            && to
                .get(Kind::Privilege, &format!("{what} {} TO PUBLIC", d.name))
                .is_none()
        {
            out.push(Change::plain(format!(
                "REVOKE ALL ON {what} {} FROM PUBLIC",
                d.name
            )));
        }
        let schema = super::name::parts(&d.name).first().copied();
        for (in_schema, on, grantee) in &defaults {
            let applies = *on == objects && (in_schema.is_none() || *in_schema == schema);
            if applies {
                out.push(Change::plain(format!(
                    "REVOKE ALL ON {what} {} FROM {grantee}",
                    d.name
                )));
            }
        }
    }
    out
}
