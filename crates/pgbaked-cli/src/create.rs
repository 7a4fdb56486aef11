//! `migrate create`: the next migration file and its undo file, never overwriting.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use serde_json::json;

use crate::args::Format;

/// `app migrate create`: the next version (a timestamp if the set uses timestamps), refusing to
/// overwrite anything.
pub(crate) fn create(
    message: &str,
    no_undo: bool,
    timestamp: bool,
    dir: Option<&Path>,
    built_from: Option<&Path>,
    embedded: &[pgbaked::Migration],
    format: Format,
) -> anyhow::Result<ExitCode> {
    let slug = slugify(message);
    if slug.is_empty() {
        bail!("the message `{message}` has no letters or digits to name the file after");
    }
    let dir = migrations_dir(dir, built_from);
    refuse_stale(&dir, embedded, true)?;
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let root = dir.parent().unwrap_or(Path::new("."));
    let scan = pgbaked::source::scan(root, &dir).map_err(|problems| {
        let lines: Vec<String> = problems.iter().map(ToString::to_string).collect();
        anyhow::anyhow!("{} has bad files:\n  {}", dir.display(), lines.join("\n  "))
    })?;
    let highest = scan.migrations.iter().map(|m| m.version).max().unwrap_or(0);
    let version = version_now(highest, timestamp);
    let apply = dir.join(format!("V{version}__{slug}.sql"));
    let undo = dir.join(format!("U{version}__{slug}.sql"));
    let mut written = Vec::new();
    let header = |kind: &str| {
        format!(
            "-- {kind} V{version}: {message}\n-- Add `-- no-transaction` as the first line to run outside a transaction\n-- (for CREATE INDEX CONCURRENTLY); such a file holds exactly one statement.\n\n"
        )
    };
    write_new(&apply, &header("Applies"))?;
    written.push(apply);
    if !no_undo {
        write_new(&undo, &header("Undoes"))?;
        written.push(undo);
    }
    match format {
        Format::Json => out!(
            "{}",
            json!({ "version": version, "files": written.iter().map(|p| p.display().to_string()).collect::<Vec<_>>() })
        ),
        Format::Text => {
            for path in &written {
                out!("{}", path.display());
            }
            eprintln!(
                "next: write the migration{}, then `cargo run -- migrate up` (it rebuilds the binary with the new file)",
                if no_undo { "" } else { " and its undo" }
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The migrations directory `create` writes to: `--dir`, else `./sql`, else the one the binary
/// was built from.
pub(crate) fn migrations_dir(dir: Option<&Path>, built_from: Option<&Path>) -> PathBuf {
    match (dir, built_from) {
        (Some(dir), _) => dir.to_path_buf(),
        (None, _) if Path::new("sql").is_dir() => PathBuf::from("sql"),
        (None, Some(built_from)) => built_from.to_path_buf(),
        (None, None) => PathBuf::from("sql"),
    }
}

/// Refuses when the migration files in `dir` are not the set this binary embeds: a binary
/// built before the last `create` (or pointed at another directory) would number, plan or
/// check against a head that is not the files' head, and write a migration that repeats one
/// already written. A directory that does not exist (a deployed binary) is not compared.
///
/// `new_files_allowed`: files above the binary's head are no difference (plain `create`
/// numbers from the files, so two in a row need no build between them).
pub(crate) fn refuse_stale(
    dir: &Path,
    embedded: &[pgbaked::Migration],
    new_files_allowed: bool,
) -> anyhow::Result<()> {
    if !dir.is_dir() {
        return Ok(());
    }
    let root = dir.parent().unwrap_or(Path::new("."));
    let scan = pgbaked::source::scan(root, dir).map_err(|problems| {
        let lines: Vec<String> = problems.iter().map(ToString::to_string).collect();
        anyhow::anyhow!("{} has bad files:\n  {}", dir.display(), lines.join("\n  "))
    })?;
    let mut differences = Vec::new();
    for file in &scan.migrations {
        let name = format!("V{}__{}", file.version, file.description);
        let head = embedded.iter().map(|m| m.version()).max().unwrap_or(0);
        match embedded.iter().find(|m| m.version() == file.version) {
            None if new_files_allowed && file.version > head => {}
            None => differences.push(format!("{name} is not in this binary")),
            Some(m) if m.name() != file.description => differences.push(format!(
                "V{} is {} in this binary and {name} on disk",
                file.version,
                m.full_name()
            )),
            Some(m)
                if m.apply().sql != file.apply.sql
                    || m.undo().map(|u| u.sql.as_str())
                        != file.undo.as_ref().map(|u| u.sql.as_str()) =>
            {
                differences.push(format!("{name} was edited since this binary was built"))
            }
            Some(_) => {}
        }
    }
    for m in embedded {
        if !scan.migrations.iter().any(|f| f.version == m.version()) {
            differences.push(format!(
                "{} is in this binary but not in {}",
                m.full_name(),
                dir.display()
            ));
        }
    }
    if differences.is_empty() {
        return Ok(());
    }
    bail!(
        "{} is not the migration set this binary was built with:\n  {}\n\
         rebuild first, so the binary embeds the files (`cargo run -- migrate …` rebuilds and runs)",
        dir.display(),
        differences.join("\n  ")
    )
}

pub(crate) fn write_new(path: &Path, content: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .with_context(|| format!("refusing to overwrite {}", path.display()))?;
    file.write_all(content.as_bytes())
        .with_context(|| format!("writing {}", path.display()))
}

/// Versions of 12 digits or more (YYYYMMDDHHMM, YYYYMMDDHHMMSS) are timestamps.
const TIMESTAMP_FLOOR: i64 = 100_000_000_000;

/// The version a new migration takes now: [`next_version`], or a timestamp when `timestamp`
/// (`create --timestamp`) asks for one in a set still numbered 1, 2, 3.
pub(crate) fn version_now(highest: i64, timestamp: bool) -> i64 {
    let floor = if timestamp {
        highest.max(TIMESTAMP_FLOOR)
    } else {
        highest
    };
    next_version(floor, time::OffsetDateTime::now_utc())
}

/// `highest + 1`, or the current UTC time as `YYYYMMDDHHMMSS` when the set already uses
/// timestamps (and never below `highest + 1`).
pub(crate) fn next_version(highest: i64, now: time::OffsetDateTime) -> i64 {
    let next = highest.saturating_add(1);
    if highest < TIMESTAMP_FLOOR {
        return next;
    }
    let stamp = i64::from(now.year()) * 10_000_000_000
        + i64::from(u8::from(now.month())) * 100_000_000
        + i64::from(now.day()) * 1_000_000
        + i64::from(now.hour()) * 10_000
        + i64::from(now.minute()) * 100
        + i64::from(now.second());
    stamp.max(next)
}

/// The file's description: the message transliterated to ASCII (the seeds' teams write in
/// Russian), lowercased, with `_` between words, as the file-name grammar wants.
pub(crate) fn slugify(message: &str) -> String {
    slug::slugify(message).replace('-', "_")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_become_file_names() {
        assert_eq!(slugify("Add users email index"), "add_users_email_index");
        assert_eq!(
            slugify("  move tokens -> swagger_specs!  "),
            "move_tokens_swagger_specs"
        );
        assert_eq!(slugify("Добавить индекс"), "dobavit_indeks");
        assert_eq!(slugify("!!!"), "");
    }

    #[test]
    fn next_version_follows_the_set() {
        let now = time::macros::datetime!(2026-11-22 09:30:00 UTC);
        assert_eq!(next_version(0, now), 1);
        assert_eq!(next_version(2, now), 3);
        assert_eq!(next_version(20260101000000, now), 20261122093000);
        assert_eq!(next_version(20991231000000, now), 20991231000001);
    }
}
