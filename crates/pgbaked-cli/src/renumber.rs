//! `migrate renumber`: a migration moved to another version, its undo and headers with it.
//! The merge of two branches that both added the same version, which the build refuses
//! (`duplicate version`): what `alembic merge` is to Alembic users.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use pgbaked::grammar::{FileKind, FileName, parse_file_name};
use serde_json::json;

use crate::args::Format;
use crate::create::{migrations_dir, next_version};

/// Every migration file under `dir` whose name follows the grammar, with its parsed name.
/// Unlike the build's scan this accepts a set with duplicate versions: that is what it mends.
fn files(dir: &Path) -> anyhow::Result<Vec<(PathBuf, FileName)>> {
    let mut files = Vec::new();
    for entry in walkdir::WalkDir::new(dir).sort_by_file_name() {
        let entry = entry.with_context(|| format!("reading {}", dir.display()))?;
        let name = entry.file_name().to_string_lossy();
        if let (true, Ok(parsed)) = (entry.file_type().is_file(), parse_file_name(&name)) {
            files.push((entry.path().to_path_buf(), parsed));
        }
    }
    Ok(files)
}

/// The header lines `create` writes (`-- Applies V14: …`, `-- Undoes V14: …`), moved to the
/// new version; the rest of the file is left as it is.
fn renumbered_text(text: &str, from: i64, to: i64) -> String {
    let mut out = String::with_capacity(text.len());
    for line in text.split_inclusive('\n') {
        let moved = ["-- Applies V", "-- Undoes V"].iter().find_map(|prefix| {
            let rest = line.strip_prefix(prefix)?;
            let rest = rest.strip_prefix(&from.to_string())?;
            // `V14:` or `V14 ` or the line's end, never `V140`.
            (!rest.starts_with(|c: char| c.is_ascii_digit())).then(|| format!("{prefix}{to}{rest}"))
        });
        out.push_str(moved.as_deref().unwrap_or(line));
    }
    out
}

/// `app migrate renumber V14__add_trace_id [--to N]`: moves the V file and its U file to
/// version N (default: the next free version, a timestamp if the set uses them), rewriting
/// their headers; refuses to overwrite, and leaves nothing half-moved.
pub(crate) fn renumber(
    migration: &str,
    to: Option<i64>,
    dir: Option<&Path>,
    built_from: Option<&Path>,
    format: Format,
) -> anyhow::Result<ExitCode> {
    let dir = migrations_dir(dir, built_from);
    if !dir.is_dir() {
        bail!("{} is not a directory (use --dir)", dir.display());
    }
    let files = files(&dir)?;
    // `V14__add_trace_id`, with or without `.sql` or a directory.
    let wanted = Path::new(migration)
        .file_name()
        .map(|n| n.to_string_lossy().trim_end_matches(".sql").to_string())
        .unwrap_or_default();
    let wanted = wanted
        .strip_prefix('U')
        .map_or(wanted.clone(), |w| format!("V{w}"));
    let matches: Vec<&(PathBuf, FileName)> = files
        .iter()
        .filter(|(_, f)| {
            f.kind == FileKind::Apply && format!("V{}__{}", f.version, f.description) == wanted
        })
        .collect();
    let (apply_path, name) = match matches.as_slice() {
        [one] => (one.0.clone(), one.1.clone()),
        [] => {
            let close: Vec<String> = files
                .iter()
                .filter(|(_, f)| {
                    f.kind == FileKind::Apply && wanted.starts_with(&format!("V{}", f.version))
                })
                .map(|(_, f)| format!("V{}__{}", f.version, f.description))
                .collect();
            bail!(
                "no migration {wanted} in {}{}; name it as V<version>__<description>",
                dir.display(),
                if close.is_empty() {
                    String::new()
                } else {
                    format!(" (there is {})", close.join(", "))
                }
            );
        }
        _ => bail!("{wanted} names more than one file in {}", dir.display()),
    };
    let undo_path = files
        .iter()
        .find(|(_, f)| {
            f.kind == FileKind::Undo
                && f.version == name.version
                && f.description == name.description
        })
        .map(|(p, _)| p.clone());
    let highest = files.iter().map(|(_, f)| f.version).max().unwrap_or(0);
    let version = match to {
        Some(v) if v <= 0 => bail!("--to must be a positive version"),
        Some(v) => v,
        None => next_version(highest, time::OffsetDateTime::now_utc()),
    };
    if version == name.version {
        bail!("{wanted} is already V{version}");
    }
    if let Some((taken, _)) = files
        .iter()
        .find(|(_, f)| f.version == version && f.kind == FileKind::Apply)
    {
        bail!("V{version} is taken by {}", taken.display());
    }
    let moves: Vec<(PathBuf, PathBuf)> = [Some(apply_path), undo_path]
        .into_iter()
        .flatten()
        .map(|path| {
            let file = path.file_name().unwrap_or_default().to_string_lossy();
            let prefix = if file.starts_with('U') { 'U' } else { 'V' };
            let target =
                path.with_file_name(format!("{prefix}{version}__{}.sql", name.description));
            (path, target)
        })
        .collect();
    // Written as new files first, then the old ones removed: a failure half-way leaves the
    // old files in place and removes what was written.
    let mut written: Vec<&Path> = Vec::new();
    for (from, target) in &moves {
        let text =
            std::fs::read_to_string(from).with_context(|| format!("reading {}", from.display()))?;
        if let Err(err) =
            crate::create::write_new(target, &renumbered_text(&text, name.version, version))
        {
            for done in &written {
                let _ = std::fs::remove_file(done);
            }
            return Err(err);
        }
        written.push(target);
    }
    for (from, _) in &moves {
        std::fs::remove_file(from).with_context(|| format!("removing {}", from.display()))?;
    }
    match format {
        Format::Json => out!(
            "{}",
            json!({
                "from": name.version,
                "to": version,
                "files": moves.iter().map(|(_, t)| t.display().to_string()).collect::<Vec<_>>(),
            })
        ),
        Format::Text => {
            for (_, target) in &moves {
                out!("{}", target.display());
            }
            let below = files
                .iter()
                .map(|(_, f)| f.version)
                .filter(|v| *v < name.version)
                .max()
                .map_or_else(|| "base".to_string(), |v| v.to_string());
            eprintln!(
                "next: rebuild (`cargo run -- migrate up`). A database that applied {wanted} holds it as V{}: \
                 there, `migrate down {below}` reverts it with the undo recorded when it was applied, then `migrate up`",
                name.version,
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_move_and_nothing_else() {
        let text = "-- no-transaction\n-- Applies V14: add trace id\nSELECT 'V14';\n-- Applies V140: other\n";
        assert_eq!(
            renumbered_text(text, 14, 15),
            "-- no-transaction\n-- Applies V15: add trace id\nSELECT 'V14';\n-- Applies V140: other\n"
        );
        assert_eq!(
            renumbered_text("-- Undoes V3: x\n", 3, 20261205093000),
            "-- Undoes V20261205093000: x\n"
        );
    }
}
