//! The build-script half of `pgbaked`: checks a directory of SQL migrations and embeds it.
//!
//! ```no_run
//! // build.rs, in its `fn main()`:
//! pgbaked_build::Embed::new("sql").run();
//! ```
//!
//! ```ignore
//! // src/main.rs
//! static MIGRATIONS: &[pgbaked::EmbeddedMigration] = pgbaked::include_migrations!();
//! ```
//!
//! The build fails, naming every bad file at once with a hint, when a file name is malformed, a
//! version is duplicated, an undo file has no migration, a file is empty or not UTF-8, a
//! `-- no-transaction` file holds more than one statement, or (with the default `lint`
//! feature) a file does not parse or needs `-- no-transaction` and lacks it. Lint findings are
//! warnings. Adding, renaming, editing or deleting a file re-runs the build script.
#![warn(missing_docs)]

mod codegen;
#[cfg(feature = "lint")]
mod lint;

use std::path::{Path, PathBuf};

use pgbaked::source::{Problem, Scan, SourceMigration, scan};

/// What the lint does with its findings.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Lint {
    /// Syntax errors fail the build; rule findings are warnings.
    #[default]
    Warn,
    /// Every finding fails the build (for CI).
    Strict,
    /// No parsing and no rules: only the file grammar and the directory are checked.
    Off,
}

/// Embeds a migrations directory: the builder a `build.rs` calls.
#[derive(Clone, Debug)]
pub struct Embed {
    dir: PathBuf,
    lint: Lint,
    lint_baseline: i64,
    out_file: String,
}

impl Embed {
    /// Embeds `dir`, relative to the package root (`CARGO_MANIFEST_DIR`) unless absolute.
    pub fn new(dir: impl Into<PathBuf>) -> Embed {
        Embed {
            dir: dir.into(),
            lint: Lint::Warn,
            lint_baseline: 0,
            out_file: "migrations.rs".into(),
        }
    }

    /// What to do with lint findings; [`Lint::Warn`] by default.
    pub fn lint(mut self, lint: Lint) -> Embed {
        self.lint = lint;
        self
    }

    /// Lints only versions above `version`: a history adopted from elsewhere ran in production
    /// long ago, and findings on it are noise. Syntax is still checked in every file.
    pub fn lint_baseline(mut self, version: i64) -> Embed {
        self.lint_baseline = version;
        self
    }

    /// The file written in `OUT_DIR`; `migrations.rs` by default, which
    /// `pgbaked::include_migrations!()` includes.
    pub fn out_file(mut self, name: impl Into<String>) -> Embed {
        self.out_file = name.into();
        self
    }

    /// Scans, checks and writes `OUT_DIR/<out_file>`, printing `cargo::` lines: an error for
    /// each bad file (which fails the build), a warning for each lint finding, and
    /// `rerun-if-changed` for the directory and every file in it.
    ///
    /// # Panics
    ///
    /// Outside a build script, where Cargo's `CARGO_MANIFEST_DIR` and `OUT_DIR` are unset, or
    /// when `OUT_DIR` cannot be written.
    pub fn run(self) {
        let root = PathBuf::from(
            std::env::var_os("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR: run from build.rs"),
        );
        let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("OUT_DIR: run from build.rs"));
        for line in self.lines(&root, &out) {
            println!("{line}");
        }
    }

    /// What [`Embed::run`] prints, computed without printing: for tests and for build scripts
    /// that post-process the lines.
    pub fn lines(&self, root: &Path, out: &Path) -> Vec<String> {
        let dir = root.join(&self.dir);
        // A directory makes Cargo compare the mtime of every file under it, so adding,
        // renaming, deleting or editing a migration re-runs the script (refinery#309,
        // sqlx#1101).
        let mut lines = vec![format!("cargo::rerun-if-changed={}", dir.display())];
        if !dir.is_dir() {
            lines.push(format!(
                "cargo::error={}: the migrations directory does not exist; create it with at least one V1__description.sql",
                dir.display()
            ));
            return lines;
        }
        let parse = self.lint != Lint::Off;
        match scan_dir(root, &dir, parse) {
            Ok(found) => {
                for file in &found.ignored {
                    lines.push(format!(
                        "cargo::warning={file}: ignored, migration files end in .sql"
                    ));
                }
                for m in &found.migrations {
                    for file in std::iter::once(&m.apply).chain(m.undo.as_ref()) {
                        lines.push(format!("cargo::rerun-if-changed={}", file.path.display()));
                    }
                }
                if parse {
                    lines.extend(check(
                        &found.migrations,
                        self.lint == Lint::Strict,
                        self.lint_baseline,
                    ));
                }
                let code = codegen::render(&found.migrations);
                if let Err(err) = codegen::write_if_changed(&out.join(&self.out_file), &code) {
                    lines.push(format!(
                        "cargo::error=writing {}: {err}",
                        out.join(&self.out_file).display()
                    ));
                }
            }
            Err(problems) => {
                lines.extend(problems.iter().map(|p| format!("cargo::error={p}")));
            }
        }
        lines
    }
}

/// Parses a declared schema (`schema/`: ordinary `CREATE` statements) so that a syntax error
/// fails the build at file:line:column, as in the migrations; prints `cargo::` lines and
/// `rerun-if-changed` for the directory. A missing directory is no error: a project may have
/// none. Without the `lint` feature only the directory is watched.
///
/// # Panics
///
/// Outside a build script, where `CARGO_MANIFEST_DIR` is unset.
pub fn check_schema(dir: impl AsRef<Path>) {
    let root = PathBuf::from(
        std::env::var_os("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR: run from build.rs"),
    );
    for line in schema_lines(&root, dir.as_ref()) {
        println!("{line}");
    }
}

/// What [`check_schema`] prints.
pub fn schema_lines(root: &Path, dir: &Path) -> Vec<String> {
    let dir = root.join(dir);
    let mut lines = vec![format!("cargo::rerun-if-changed={}", dir.display())];
    if !dir.is_dir() {
        return lines;
    }
    for entry in walkdir::WalkDir::new(&dir).sort_by_file_name() {
        let entry = match entry {
            Ok(entry) => entry,
            Err(err) => {
                lines.push(format!("cargo::error={}: {err}", dir.display()));
                continue;
            }
        };
        let name = entry.file_name().to_string_lossy();
        if !entry.file_type().is_file() || !name.ends_with(".sql") || name.starts_with('.') {
            continue;
        }
        let display = entry
            .path()
            .strip_prefix(root)
            .unwrap_or(entry.path())
            .display()
            .to_string();
        lines.push(format!(
            "cargo::rerun-if-changed={}",
            entry.path().display()
        ));
        match std::fs::read_to_string(entry.path()) {
            Ok(sql) => {
                let _ = &sql;
                #[cfg(feature = "lint")]
                for finding in lint::check(
                    &display,
                    sql.trim_start_matches('\u{feff}'),
                    false,
                    false,
                    false,
                ) {
                    lines.push(format!("cargo::error={}", finding.message));
                }
            }
            Err(err) => lines.push(format!("cargo::error={display}: cannot be read: {err}")),
        }
    }
    lines
}

/// Scans with the PostgreSQL grammar's statement split when linting is on; the engine then
/// sends each statement on its own, so that a failure names its line.
fn scan_dir(root: &Path, dir: &Path, parse: bool) -> Result<Scan, Vec<Problem>> {
    #[cfg(feature = "lint")]
    if parse {
        return pgbaked::source::scan_with(root, dir, &lint::statement_starts);
    }
    let _ = parse;
    scan(root, dir)
}

/// Parses every file and lints every `V` file above `baseline`, as `cargo::` lines.
#[cfg(feature = "lint")]
fn check(migrations: &[SourceMigration], strict: bool, baseline: i64) -> Vec<String> {
    let mut lines = Vec::new();
    for m in migrations {
        let lint_apply = m.version > baseline;
        let files =
            std::iter::once((&m.apply, lint_apply)).chain(m.undo.iter().map(|u| (u, false)));
        for (file, lint_rules) in files {
            let sql = file.sql.strip_prefix('\u{feff}').unwrap_or(&file.sql);
            let in_transaction = !pgbaked::grammar::is_no_transaction(sql);
            for finding in lint::check(&file.display, sql, lint_rules, in_transaction, strict) {
                let kind = match finding.severity {
                    lint::Severity::Error => "error",
                    lint::Severity::Warning => "warning",
                };
                lines.push(format!("cargo::{kind}={}", finding.message));
            }
        }
    }
    lines
}

#[cfg(not(feature = "lint"))]
fn check(_migrations: &[SourceMigration], _strict: bool, _baseline: i64) -> Vec<String> {
    Vec::new()
}
