//! Renames declared in `schema/` (`-- renamed from: old`), planned as `ALTER … RENAME`
//! rather than a drop and a create.

use super::catalog::{Catalog, Kind};
use super::change::*;
use super::name::*;
use super::plan::plan;

/// A rename declared in a schema file: `-- renamed from: old_name` above (or at the end of)
/// a `CREATE TABLE` line renames the table; on a column's line, or the line above it, the
/// column. Without it a renamed object is planned as dropped and created, which loses data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Rename {
    /// `ALTER TABLE from RENAME TO to`; both qualified as the catalog writes them.
    Table {
        /// The old name.
        from: String,
        /// The new name.
        to: String,
    },
    /// `ALTER TABLE table RENAME COLUMN from TO to`.
    Column {
        /// The table (qualified, new name).
        table: String,
        /// The old column name.
        from: String,
        /// The new column name.
        to: String,
    },
}

pub(crate) const RENAMED_FROM: &str = "-- renamed from:";

/// The renames declared in `sql` (one schema file).
pub fn declared_renames(sql: &str) -> Vec<Rename> {
    let qualify = |name: &str| {
        let name = name.trim().trim_end_matches(['(', ';']).trim();
        if name.contains('.') {
            name.to_string()
        } else {
            format!("public.{name}")
        }
    };
    let mut renames = Vec::new();
    let mut pending: Option<String> = None;
    let mut table: Option<String> = None;
    for line in sql.lines() {
        let (code, annotation) = match line.find(RENAMED_FROM) {
            Some(i) => (
                &line[..i],
                Some(line[i + RENAMED_FROM.len()..].trim().to_string()),
            ),
            None => (line, None),
        };
        let words: Vec<&str> = code.split_whitespace().collect();
        let upper: Vec<String> = words.iter().map(|w| w.to_ascii_uppercase()).collect();
        if upper.first().is_some_and(|w| w == "CREATE") && upper.iter().any(|w| w == "TABLE") {
            let at = upper.iter().position(|w| w == "TABLE").unwrap_or(0) + 1;
            let at = if upper.get(at).is_some_and(|w| w == "IF") {
                at + 3
            } else {
                at
            };
            if let Some(name) = words.get(at) {
                let name = qualify(name.split('(').next().unwrap_or(name));
                if let Some(old) = annotation.or(pending.take()) {
                    renames.push(Rename::Table {
                        from: qualify(&old),
                        to: name.clone(),
                    });
                }
                table = Some(name);
            }
            continue;
        }
        if code.trim_start().starts_with(')') {
            table = None;
            pending = None;
            continue;
        }
        match (words.first(), &table) {
            (None, _) if annotation.is_some() => {
                pending = annotation;
            }
            (Some(first), Some(table))
                if !upper[0].starts_with("CONSTRAINT") && !upper[0].starts_with("PRIMARY") =>
            {
                if let Some(old) = annotation.or(pending.take()) {
                    renames.push(Rename::Column {
                        table: table.clone(),
                        from: old,
                        to: first.trim_end_matches(',').to_string(),
                    });
                }
            }
            _ => {}
        }
    }
    renames
}

/// The renames that undo `renames`, in the order that undoes them.
pub fn invert_renames(renames: &[Rename]) -> Vec<Rename> {
    renames
        .iter()
        .rev()
        .map(|rename| match rename {
            Rename::Table { from, to } => Rename::Table {
                from: to.clone(),
                to: from.clone(),
            },
            Rename::Column { table, from, to } => Rename::Column {
                table: table.clone(),
                from: to.clone(),
                to: from.clone(),
            },
        })
        .collect()
}

impl Catalog {
    /// The statements that turn this schema into `to`, renaming what `renames` declares
    /// instead of dropping and creating it.
    pub fn plan_with_renames(&self, to: &Catalog, renames: &[Rename]) -> Vec<Change> {
        let mut from = self.clone();
        let mut changes = Vec::new();
        for rename in renames {
            match rename {
                Rename::Table { from: old, to: new } => {
                    if from.get(Kind::Table, old).is_none() || to.get(Kind::Table, old).is_some() {
                        continue;
                    }
                    let bare = |n: &str| parts(n).last().map(|p| p.to_string()).unwrap_or_default();
                    let (old_bare, new_bare) = (bare(old), bare(new));
                    changes.push(Change::hazard(
                        format!("ALTER TABLE {old} RENAME TO {new_bare}"),
                        &[HazardKind::BreaksClients],
                        "running clients of the previous release lose the old name",
                    ));
                    // Objects named after the table (serial sequences, keys, indexes) follow
                    // it when the declared schema names them after the new one.
                    let prefixed: Vec<(Kind, String)> = from
                        .objects()
                        .filter(|(kind, name, _)| {
                            matches!(kind, Kind::Index | Kind::Constraint)
                                && bare(name).starts_with(&format!("{old_bare}_"))
                        })
                        .map(|(kind, name, _)| (kind, name.to_string()))
                        .collect();
                    let mut extra = Vec::new();
                    for (kind, name) in prefixed {
                        let old_object = bare(&name);
                        let new_object = format!("{new_bare}{}", &old_object[old_bare.len()..]);
                        let renamed = name.replace(old, new).replace(&old_object, &new_object);
                        if to.get(kind, &renamed).is_some() {
                            extra.push(match kind {
                                Kind::Constraint => format!(
                                    "ALTER TABLE {new} RENAME CONSTRAINT {old_object} TO {new_object}"
                                ),
                                _ => format!("ALTER INDEX {name} RENAME TO {new_object}"),
                            });
                            from =
                                from.rewritten(|text| replace_word(text, &old_object, &new_object));
                        }
                    }
                    from = from.rewritten(|text| {
                        replace_word(
                            &text
                                .replace(&format!("{old}."), &format!("{new}."))
                                .replace(&format!("{old} "), &format!("{new} ")),
                            &old_bare,
                            &new_bare,
                        )
                    });
                    for (_, name, def) in to
                        .objects()
                        .filter(|(k, n, _)| *k == Kind::Column && n.starts_with(&format!("{new}.")))
                    {
                        let column_name = split_last(name).1;
                        let old_seq = format!("{old_bare}_{column_name}_seq");
                        let new_seq = format!("{new_bare}_{column_name}_seq");
                        if def.contains(&format!("'{new_seq}'")) {
                            extra.push(format!("ALTER SEQUENCE {old_seq} RENAME TO {new_seq}"));
                            from = from.rewritten(|text| {
                                text.replace(&format!("'{old_seq}'"), &format!("'{new_seq}'"))
                            });
                        }
                    }
                    changes.extend(extra.into_iter().map(Change::plain));
                }
                Rename::Column {
                    table,
                    from: old,
                    to: new,
                } => {
                    let old_key = format!("{table}.{old}");
                    if from.get(Kind::Column, &old_key).is_none()
                        || to.get(Kind::Column, &old_key).is_some()
                    {
                        continue;
                    }
                    changes.push(Change::hazard(
                        format!("ALTER TABLE {table} RENAME COLUMN {old} TO {new}"),
                        &[HazardKind::BreaksClients],
                        "running clients of the previous release lose the old name",
                    ));
                    let table = table.clone();
                    let (old, new) = (old.clone(), new.clone());
                    from = from.renamed_column(&table, &old, &new);
                }
            }
        }
        changes.extend(plan(&from, to));
        changes
    }
}
