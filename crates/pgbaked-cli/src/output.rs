//! What the commands print: results on stdout (text columns or JSON), never logs.

use std::process::ExitCode;

use pgbaked::diff::Difference;
use pgbaked::{Direction, Migration, Migrator, Report, Rev, State, Status, Step};
use serde_json::json;

use crate::args::Format;

/// Exit code of `check` when migrations are pending.
pub const EXIT_PENDING: u8 = 3;
/// Exit code of `check` when an applied file was edited.
pub const EXIT_DIVERGENT: u8 = 4;
/// Exit code of `check` when the database has unknown versions.
pub const EXIT_UNKNOWN: u8 = 5;
/// Exit code of `check` when the declared schema differs from what the migrations build.
pub const EXIT_SCHEMA: u8 = 6;
/// Exit code of `drift` when the database differs from what its history builds.
pub const EXIT_DRIFT: u8 = 7;
/// Exit code of `diff` when part of the plan cannot be generated (an object of a kind not
/// modelled, a change not generated yet): the script is printed, with what is missing as
/// `-- unsupported:` comments.
pub const EXIT_UNSUPPORTED: u8 = 8;

/// Writes a line of results to stdout. When the reader has gone (`app migrate history | head
/// -1`), the process ends quietly with success, as ripgrep does, instead of panicking.
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        if let Err(err) = writeln!(std::io::stdout().lock(), $($arg)*) {
            $crate::output::stdout_failed(&err);
        }
    }};
}

pub(crate) fn stdout_failed(err: &std::io::Error) -> ! {
    if err.kind() == std::io::ErrorKind::BrokenPipe {
        std::process::exit(0);
    }
    eprintln!("error: writing to stdout: {err}");
    std::process::exit(1);
}

/// The offline script; for a schema-per-tenant URL (`?schema=NAME`) it first pins
/// `search_path` to that schema, as an online run's connections are.
pub(crate) fn print_script(
    migrator: &Migrator,
    schema: Option<&str>,
    direction: Direction,
    from: &Rev,
    to: &Rev,
) -> anyhow::Result<ExitCode> {
    let script = migrator.script(direction, from, to)?;
    if let Some(schema) = schema {
        out!("-- The tenant's schema, as online runs pin it.\nSET search_path TO \"{schema}\";");
    }
    out!("{}", script.trim_end_matches('\n'));
    Ok(ExitCode::SUCCESS)
}

/// Prints each step as it commits, so a long run shows progress and a failed run shows what
/// did finish.
pub(crate) fn step_printer(format: Format, done: &mut Vec<Step>) -> impl FnMut(&Step) + Send + '_ {
    move |step: &Step| {
        done.push(step.clone());
        if format == Format::Text {
            use std::io::Write as _;
            // A closed stdout must not stop a run half way: the progress is lost, the run
            // goes on, and its outcome is the exit code.
            let retried = match step.retries {
                0 => String::new(),
                1 => ", run again once after a lock timeout".to_string(),
                n => format!(", run again {n} times after lock timeouts"),
            };
            let _ = writeln!(
                std::io::stdout().lock(),
                "{:<9} {:<5} {}  ({} ms{retried})",
                step.action.as_str(),
                format!("V{}", step.version),
                step.name,
                step.elapsed_ms
            );
        }
    }
}

/// The steps a failed run committed before it failed: they stay applied and recorded, and the
/// error says so (and `--format json` lists them).
#[derive(Debug)]
pub struct Committed(pub Vec<Step>);

impl std::fmt::Display for Committed {
    /// One short clause however long the run: `142 migrations reverted (V212 … V71)`; the
    /// whole list is in `--format json`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (Some(first), Some(last)) = (self.0.first(), self.0.last()) else {
            return f.write_str("nothing committed before the failure");
        };
        let count = self.0.len();
        let noun = if count == 1 {
            "migration"
        } else {
            "migrations"
        };
        let verb = first.action.as_str();
        let names = match count {
            1 => format!("V{}__{}", first.version, first.name),
            2 => format!("V{}, V{}", first.version, last.version),
            _ => format!("V{} … V{}", first.version, last.version),
        };
        write!(
            f,
            "{count} {noun} {verb} ({names}), committed before the failure"
        )
    }
}

pub(crate) fn with_committed(
    result: Result<Report, pgbaked::Error>,
    done: Vec<Step>,
) -> anyhow::Result<Report> {
    match result {
        Ok(report) => Ok(report),
        Err(err) if done.is_empty() => Err(err.into()),
        Err(err) => Err(anyhow::Error::new(err).context(Committed(done))),
    }
}

pub(crate) fn finish_report(report: &Report, format: Format) {
    match format {
        Format::Json => out!("{}", json!(report)),
        Format::Text if report.steps.is_empty() => {
            tracing::info!(current = ?report.to, "nothing to do");
        }
        Format::Text => {}
    }
}

/// Prints a stamp or repair report.
pub(crate) fn print_report(report: &Report, format: Format) {
    match format {
        Format::Json => out!("{}", json!(report)),
        Format::Text => {
            for step in &report.steps {
                let version = format!("V{}", step.version);
                match (&step.old_checksum, &step.new_checksum) {
                    (Some(old), Some(new)) => out!(
                        "{:<9} {version:<5} {}  checksum {old} -> {new}",
                        step.action.as_str(),
                        step.name,
                    ),
                    _ => out!("{:<9} {version:<5} {}", step.action.as_str(), step.name),
                }
            }
            if report.steps.is_empty() {
                tracing::info!("nothing to do");
            }
        }
    }
}

pub(crate) fn version_text(version: Option<i64>) -> String {
    version.map_or_else(|| "base".into(), |v| v.to_string())
}

pub(crate) fn print_current(status: &Status<'_>, format: Format) -> anyhow::Result<ExitCode> {
    match format {
        Format::Text => out!("{}", version_text(status.current())),
        Format::Json => out!(
            "{}",
            json!({ "current": status.current(), "head": status.head() })
        ),
    }
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn print_history(
    status: &Status<'_>,
    verbose: bool,
    format: Format,
) -> anyhow::Result<ExitCode> {
    let entries: Vec<serde_json::Value> = status
        .entries
        .iter()
        .map(|e| {
            let mut value = json!({
                "version": e.version,
                "name": e.name,
                "state": e.state,
                "applied_on": e.row.as_ref().map(|r| &r.applied_on),
                // The name the history records, beside the file's (they differ when mismatched).
                "recorded_name": e.row.as_ref().map(|r| &r.name),
            });
            if verbose {
                value["checksum"] = json!(e.migration.map(|m| m.checksum().to_string()));
                value["applied_checksum"] = json!(e.row.as_ref().map(|r| &r.checksum));
                value["file"] = json!(e.migration.map(|m| &m.apply().path));
                value["undo_file"] = json!(e.migration.and_then(|m| m.undo()).map(|u| &u.path));
                value["transaction"] = json!(e.migration.map(|m| !m.apply().no_transaction));
            }
            value
        })
        .collect();
    if format == Format::Json {
        out!("{}", serde_json::Value::Array(entries));
        return Ok(ExitCode::SUCCESS);
    }
    let name_width = status
        .entries
        .iter()
        .map(|e| e.name.len())
        .max()
        .unwrap_or(0);
    let version_width = status
        .entries
        .iter()
        .map(|e| e.version.to_string().len() + 1)
        .max()
        .unwrap_or(0);
    // `mismatched` widens the column only when it is there.
    let state_width = status
        .entries
        .iter()
        .map(|e| e.state.as_str().len())
        .max()
        .unwrap_or(0)
        .max(9);
    for e in &status.entries {
        // A version the database holds as another migration shows both names.
        let recorded = match (&e.row, e.state) {
            (Some(row), State::Mismatched) => {
                format!("  (the database's V{}: {})", e.version, row.name)
            }
            _ => String::new(),
        };
        let mut line = format!(
            "{:<state_width$} {:<version_width$}  {:<name_width$}  {}{recorded}",
            e.state.as_str(),
            format!("V{}", e.version),
            e.name,
            e.row.as_ref().map_or("", |r| r.applied_on.as_str())
        );
        if verbose {
            let checksum = e
                .migration
                .map_or_else(|| "-".into(), |m| m.checksum().to_string());
            let file = e.migration.map_or("-", |m| m.apply().path.as_str());
            let undo = e
                .migration
                .and_then(|m| m.undo())
                .map_or("-", |u| u.path.as_str());
            line = format!(
                "{:<state_width$} {:<version_width$}  {:<name_width$}  {:<27}  {checksum:<20}  {file}  {undo}{recorded}",
                e.state.as_str(),
                format!("V{}", e.version),
                e.name,
                e.row.as_ref().map_or("", |r| r.applied_on.as_str()),
            );
        }
        out!("{}", line.trim_end());
    }
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn print_show(
    status: &Status<'_>,
    m: &Migration,
    format: Format,
) -> anyhow::Result<ExitCode> {
    let entry = status.entries.iter().find(|e| e.version == m.version());
    let state = entry.map_or(State::Pending, |e| e.state);
    let applied_on = entry
        .and_then(|e| e.row.as_ref())
        .map(|r| r.applied_on.clone());
    if format == Format::Json {
        out!(
            "{}",
            json!({
                "version": m.version(),
                "name": m.name(),
                "state": state,
                "checksum": m.checksum().to_string(),
                "applied_on": applied_on,
                "file": m.apply().path,
                "transaction": !m.apply().no_transaction,
                "sql": m.apply().sql,
                "undo_file": m.undo().map(|u| &u.path),
                "undo_sql": m.undo().map(|u| &u.sql),
            })
        );
        return Ok(ExitCode::SUCCESS);
    }
    out!("version:     {}", m.version());
    out!("name:        {}", m.name());
    out!("state:       {}", state.as_str());
    out!("applied on:  {}", applied_on.as_deref().unwrap_or("-"));
    out!("checksum:    {}", m.checksum());
    out!(
        "transaction: {}",
        if m.apply().no_transaction {
            "no"
        } else {
            "yes"
        }
    );
    out!("file:        {}", m.apply().path);
    out!(
        "undo file:   {}",
        m.undo().map_or("- (irreversible)", |u| u.path.as_str())
    );
    out!("\n-- {}\n{}", m.apply().path, m.apply().sql.trim_end());
    if let Some(undo) = m.undo() {
        out!("\n-- {}\n{}", undo.path, undo.sql.trim_end());
    }
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn check(
    status: &Status<'_>,
    declared: Option<(&std::path::Path, Vec<Difference>)>,
    format: Format,
) -> ExitCode {
    let divergent = status.versions(State::Divergent);
    let unknown = status.versions(State::Unknown);
    let pending = status.versions(State::Pending);
    let list = |v: &[i64]| {
        v.iter()
            .map(|v| format!("V{v}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mismatched = status.versions(State::Mismatched);
    let (code, state, reason) = if let Err(err) = status.verify_names() {
        (EXIT_DIVERGENT, "mismatched", err.to_string())
    } else if !divergent.is_empty() {
        (
            EXIT_DIVERGENT,
            "divergent",
            format!(
                "applied migrations were edited since: {} (see `{} migrate repair`)",
                list(&divergent),
                program()
            ),
        )
    } else if !unknown.is_empty() {
        (
            EXIT_UNKNOWN,
            "unknown",
            format!(
                "the database has versions this binary does not know: {}",
                list(&unknown)
            ),
        )
    } else if !pending.is_empty() {
        (
            EXIT_PENDING,
            "pending",
            format!("migrations are pending: {}", list(&pending)),
        )
    } else if let Some((dir, differences)) = declared.as_ref().filter(|(_, d)| !d.is_empty()) {
        (
            EXIT_SCHEMA,
            "schema_differs",
            format!(
                "{} differs from what the migrations build ({} difference(s); from: the migrations' head, to: {}); write a migration, or update {}",
                dir.display(),
                differences.len(),
                dir.display(),
                dir.display()
            ),
        )
    } else {
        (
            0,
            "in_sync",
            format!("in sync at {}", version_text(status.current())),
        )
    };
    match format {
        Format::Json => out!(
            "{}",
            json!({
                "state": state,
                "reason": reason,
                "current": status.current(),
                "head": status.head(),
                "pending": pending,
                "divergent": divergent,
                "mismatched": mismatched,
                "unknown": unknown,
                "schema": declared.as_ref().map(|(dir, _)| dir.display().to_string()),
                "schema_differences": declared.as_ref().map(|(_, d)| d),
                // What schema/ was compared with: the migrations' head, never the database
                // (`drift` compares that).
                "schema_compared_with": declared.as_ref().map(|_| "the migrations' head"),
            })
        ),
        Format::Text => {
            out!("{reason}");
            if code == EXIT_SCHEMA {
                for difference in declared.iter().flat_map(|(_, d)| d) {
                    out!("{difference}");
                }
            }
        }
    }
    ExitCode::from(code)
}

/// Prints the SQL that turns one schema into another (hazards as comments), or, in JSON, each
/// statement with its hazard and the differences it answers.
pub(crate) fn print_plan(
    changes: &[pgbaked::diff::Change],
    differences: &[Difference],
    sides: (&str, &str),
    format: Format,
) {
    match format {
        Format::Json => out!(
            "{}",
            json!({ "from": sides.0, "to": sides.1, "changes": changes, "differences": differences })
        ),
        Format::Text if changes.is_empty() => {
            out!("-- no differences from {} to {}", sides.0, sides.1)
        }
        Format::Text => {
            out!("-- from {} to {}", sides.0, sides.1);
            // Definitions are deparsed relative to the default search_path, and the plan's
            // own names qualified: the script says which path it assumes, so psql runs it as
            // planned whatever the session's own.
            out!("SET search_path TO \"$user\", public;");
            out!("{}", pgbaked::diff::render_changes(changes).trim_end());
        }
    }
}

/// Prints catalog differences; `code` when there are any, else success.
pub(crate) fn print_differences(
    differences: &[Difference],
    what: &str,
    sides: (&str, &str),
    in_sync: &str,
    code: u8,
    format: Format,
) -> ExitCode {
    match format {
        Format::Json => out!(
            "{}",
            json!({
                "state": if differences.is_empty() { "in_sync" } else { what },
                "from": sides.0,
                "to": sides.1,
                "differences": differences,
            })
        ),
        Format::Text if differences.is_empty() => out!("{in_sync}"),
        Format::Text => {
            out!(
                "{what}: {} difference(s) (from: {}, to: {})",
                differences.len(),
                sides.0,
                sides.1
            );
            for difference in differences {
                out!("{difference}");
            }
        }
    }
    if differences.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(code)
    }
}

/// `error: …` on stderr; with `--format json`, also one JSON document on stdout.
pub(crate) fn report_error(err: &anyhow::Error, format: Format) {
    eprintln!("error: {err:#}");
    if let Some(hint) = hint(err) {
        eprintln!("  hint: {hint}");
    }
    if format == Format::Json {
        let failure = err
            .chain()
            .find_map(|e| e.downcast_ref::<pgbaked::Error>())
            .and_then(|e| match e {
                pgbaked::Error::MigrationFailed { migration, failure } => {
                    Some(serde_json::json!({ "migration": migration, "failure": failure }))
                }
                _ => None,
            });
        let committed = err.downcast_ref::<Committed>().map(|c| &c.0);
        // A reader that has gone cannot be told anything more; the exit code still says it.
        use std::io::Write as _;
        let _ = writeln!(
            std::io::stdout().lock(),
            "{}",
            serde_json::json!({
                "error": format!("{err:#}"),
                "migration_failure": failure,
                "committed": committed,
            })
        );
    }
}

/// The running binary's name, for hints that name a command.
pub(crate) fn program() -> String {
    std::env::args()
        .next()
        .and_then(|arg0| {
            std::path::Path::new(&arg0)
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
        })
        .unwrap_or_else(|| "app".into())
}

/// What to do next, in this command line's words: the engine's errors carry data only.
pub(crate) fn hint(err: &anyhow::Error) -> Option<String> {
    let program = program();
    let rev = err
        .chain()
        .find_map(|e| match e.downcast_ref::<pgbaked::Error>() {
            Some(pgbaked::Error::Rev(rev)) => Some(rev),
            _ => e.downcast_ref::<pgbaked::RevError>(),
        });
    if let Some(rev) = rev {
        return match rev {
            pgbaked::RevError::NoSuchVersion(_) => Some(format!("see `{program} migrate history`")),
            pgbaked::RevError::UpgradeBelowCurrent { target, .. } => {
                Some(format!("use `{program} migrate down {target}`"))
            }
            pgbaked::RevError::DowngradeAboveCurrent { target, .. } => {
                Some(format!("use `{program} migrate up {target}`"))
            }
            _ => None,
        };
    }
    match err
        .chain()
        .find_map(|e| e.downcast_ref::<pgbaked::Error>())?
    {
        pgbaked::Error::Divergent { .. } => Some(format!(
            "restore the file, or run `{program} migrate repair` after review"
        )),
        pgbaked::Error::Unfinished { version, .. } => Some(format!(
            "check whether it took effect: if it did, record that with `{program} migrate stamp {version}` \
             (after an undo, stamp the version below it); if not, `{program} migrate repair` clears the \
             mark so that the next run runs it again"
        )),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_run_is_summarised_in_one_clause() {
        let step = |version: i64| Step {
            action: pgbaked::Action::Reverted,
            version,
            name: format!("m{version}"),
            elapsed_ms: 1,
            old_checksum: None,
            new_checksum: None,
            retries: 0,
        };
        let many = Committed((71..=212).rev().map(step).collect());
        assert_eq!(
            many.to_string(),
            "142 migrations reverted (V212 … V71), committed before the failure"
        );
        let one = Committed(vec![step(3)]);
        assert_eq!(
            one.to_string(),
            "1 migration reverted (V3__m3), committed before the failure"
        );
    }
}
