//! The squawk rules a generated migration file trips on purpose, each allowed in the file
//! with the reason beside it.

use super::change::Change;
use super::name::Unquoted;
use crate::quote::unquote;

/// The squawk rules a generated file may trip on purpose, each with the reason written beside
/// it in the file's `-- lint: allow` line: what `--allow-data-loss` allowed, and steps that are
/// safe as generated (a view dropped and re-created in one transaction) or that `schema/`
/// declares (a view or constraint removed, a column's type changed).
pub(crate) fn lint_allowances(changes: &[Change]) -> Vec<(&'static str, String)> {
    let mut allowed = Vec::new();
    renames_and_dropped_tables(changes, &mut allowed);
    retyped_and_dropped_dependents(changes, &mut allowed);
    redeclared(changes, &mut allowed);
    allowed
}

/// Whether a statement carrying a hazard holds `what`.
fn hazard_has(changes: &[Change], what: &str) -> bool {
    changes
        .iter()
        .any(|c| c.hazard.is_some() && c.sql.contains(what))
}

/// A dropped column or table, and renames declared in `schema/`.
fn renames_and_dropped_tables(changes: &[Change], allowed: &mut Vec<(&'static str, String)>) {
    if hazard_has(changes, " DROP COLUMN ") {
        allowed.push((
            "ban-drop-column",
            "deletes data, as the hazard below says".to_string(),
        ));
    }
    if hazard_has(changes, " RENAME COLUMN ") {
        allowed.push((
            "renaming-column",
            "declared in schema/ (`-- renamed from:`); running clients of the previous release \
             lose the old name, as the hazard below says"
                .to_string(),
        ));
    }
    if changes.iter().any(|c| {
        c.hazard.is_some() && c.sql.starts_with("ALTER TABLE ") && c.sql.contains(" RENAME TO ")
    }) {
        allowed.push((
            "renaming-table",
            "declared in schema/ (`-- renamed from:`); running clients of the previous release \
             lose the old name, as the hazard below says"
                .to_string(),
        ));
    }
    if changes.iter().any(|c| {
        c.sql.contains(" RENAME CONSTRAINT ")
            || ((c.sql.starts_with("ALTER INDEX ") || c.sql.starts_with("ALTER SEQUENCE "))
                && c.sql.contains(" RENAME TO "))
    }) {
        allowed.push((
            "renaming-object",
            "follows the renamed table, as schema/ names it".to_string(),
        ));
    }
    if hazard_has(changes, "DROP TABLE ") {
        allowed.push((
            "ban-drop-table",
            "deletes data, as the hazard below says".to_string(),
        ));
    }
}

/// A retyped column, and the views, constraints, defaults and sequences dropped around a
/// change or gone from `schema/`.
fn retyped_and_dropped_dependents(changes: &[Change], allowed: &mut Vec<(&'static str, String)>) {
    let retypes = changes.iter().any(|c| {
        (c.sql.contains(" ALTER COLUMN ") || c.sql.contains(" ALTER ATTRIBUTE "))
            && c.sql.contains(" TYPE ")
    });
    if retypes {
        let why = if hazard_has(changes, " TYPE ") {
            "deletes data, as the hazard below says"
        } else {
            "schema/ changes the type; a table is rewritten under an ACCESS EXCLUSIVE lock"
        };
        allowed.push(("changing-column-type", why.to_string()));
    }
    let dropped_views: Vec<&str> = changes
        .iter()
        .filter_map(|c| {
            c.sql
                .strip_prefix("DROP VIEW ")
                .or_else(|| c.sql.strip_prefix("DROP MATERIALIZED VIEW "))
        })
        .collect();
    if !dropped_views.is_empty() {
        let recreated = dropped_views.iter().all(|v| {
            changes.iter().any(|c| {
                c.sql.starts_with(&format!("CREATE VIEW {v} "))
                    || c.sql.starts_with(&format!("CREATE MATERIALIZED VIEW {v} "))
            })
        });
        let why = if recreated {
            "re-created below, in the same transaction"
        } else {
            "schema/ no longer declares it; a view holds no data"
        };
        allowed.push(("ban-drop-view", why.to_string()));
    }
    let dropped_constraints: Vec<&str> = changes
        .iter()
        .filter_map(|c| {
            c.sql
                .split_once_unquoted(" DROP CONSTRAINT ")
                .map(|(_, name)| name)
        })
        .collect();
    if !dropped_constraints.is_empty() {
        let helpers = dropped_constraints.iter().all(|name| {
            changes
                .iter()
                .any(|c| c.sql.ends_with(&format!(" VALIDATE CONSTRAINT {name}")))
                && unquote(name).contains("_not_null")
        });
        let why = if helpers {
            "the validated check only spared SET NOT NULL its scan"
        } else {
            "schema/ drops or changes it"
        };
        allowed.push(("ban-drop-constraint", why.to_string()));
    }
    let dropped_defaults: Vec<&str> = changes
        .iter()
        .filter_map(|c| c.sql.strip_suffix(" DROP DEFAULT"))
        .collect();
    if !dropped_defaults.is_empty() {
        let restored = dropped_defaults.iter().all(|column| {
            changes
                .iter()
                .any(|c| c.sql.starts_with(&format!("{column} SET DEFAULT ")))
        });
        let why = if restored {
            "set again below, after the type change"
        } else {
            "schema/ declares the column without a default"
        };
        allowed.push(("ban-drop-default", why.to_string()));
    }
    if changes.iter().any(|c| c.sql.starts_with("DROP SEQUENCE ")) {
        allowed.push((
            "ban-drop-sequence",
            "schema/ no longer declares it (a serial column became an identity)".to_string(),
        ));
    }
}

/// Identities, domain checks and generated columns as `schema/` declares them again.
fn redeclared(changes: &[Change], allowed: &mut Vec<(&'static str, String)>) {
    let identity = |c: &Change| {
        c.sql.contains(" ALTER COLUMN ")
            && [" ADD GENERATED ", " SET GENERATED ", " DROP IDENTITY"]
                .iter()
                .any(|what| c.sql.contains(what))
    };
    if changes.iter().any(identity) {
        allowed.push((
            "ban-alter-identity",
            "schema/ declares the column's identity".to_string(),
        ));
    }
    if changes
        .iter()
        .any(|c| c.sql.starts_with("ALTER DOMAIN ") && c.sql.contains(" ADD CONSTRAINT "))
    {
        allowed.push((
            "ban-alter-domain-with-add-constraint",
            "schema/ declares the check; added NOT VALID, validated in a file of its own"
                .to_string(),
        ));
    }
    if changes
        .iter()
        .any(|c| c.sql.starts_with("CREATE DOMAIN ") && c.sql.contains(" CHECK "))
    {
        allowed.push((
            "ban-create-domain-with-constraint",
            "schema/ declares the domain with its check".to_string(),
        ));
    }
    if changes
        .iter()
        .any(|c| c.sql.contains(" ADD COLUMN ") && c.sql.contains(") STORED"))
    {
        allowed.push((
            "adding-field-with-default",
            "schema/ declares a stored generated column, which PostgreSQL computes for every \
             row: the table is rewritten under an ACCESS EXCLUSIVE lock"
                .to_string(),
        ));
    }
    if changes.iter().any(|c| c.sql.ends_with(" DROP EXPRESSION")) {
        allowed.push((
            "ban-drop-generated-expression",
            "schema/ declares a plain column; its values stay".to_string(),
        ));
    }
}
