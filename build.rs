//! Embeds `sql/` into the binary. The grammar and the checks live in `src/migrate/source.rs`,
//! which the library compiles too, so they are unit-tested there.

#[path = "src/migrate/source.rs"]
#[allow(dead_code)]
mod source;

#[cfg(feature = "sql-lint")]
#[path = "src/migrate/lint.rs"]
#[allow(dead_code)]
mod lint;

use std::path::PathBuf;

fn main() {
    // Cargo sets both variables for every build script.
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("OUT_DIR"));
    // APP_SQL_DIR embeds another directory (relative to the project root), for benchmarks
    // and for services that keep their migrations elsewhere.
    println!("cargo::rerun-if-env-changed=APP_SQL_DIR");
    let dir = match std::env::var_os("APP_SQL_DIR") {
        Some(custom) => root.join(custom),
        None => root.join("sql"),
    };

    // A directory makes Cargo compare the mtime of every file under it, so adding, renaming,
    // deleting or editing a migration re-runs this script (refinery#309, sqlx#1101).
    println!("cargo::rerun-if-changed={}", dir.display());
    println!("cargo::rerun-if-changed=src/migrate/source.rs");
    println!("cargo::rerun-if-changed=build.rs");

    if !dir.is_dir() {
        println!(
            "cargo::error={}: the migrations directory does not exist; create it with at least one V1__description.sql",
            dir.display()
        );
        return;
    }
    // APP_SQL_LINT=strict turns lint warnings into errors (for CI); APP_SQL_LINT=off skips the
    // SQL checks (syntax and lint) altogether.
    println!("cargo::rerun-if-env-changed=APP_SQL_LINT");
    let lint_mode = std::env::var("APP_SQL_LINT").unwrap_or_default();
    // APP_SQL_LINT_BASELINE=N lints only versions above N: a history adopted from elsewhere
    // ran in production long ago, and its findings are noise. Syntax is still checked.
    println!("cargo::rerun-if-env-changed=APP_SQL_LINT_BASELINE");
    let baseline = match std::env::var("APP_SQL_LINT_BASELINE") {
        Ok(value) if !value.trim().is_empty() => match value.trim().parse::<i64>() {
            Ok(version) => version,
            Err(_) => {
                println!(
                    "cargo::error=APP_SQL_LINT_BASELINE=`{value}` is not a version number (set it in .cargo/config.toml's [env])"
                );
                return;
            }
        },
        _ => 0,
    };
    match scan(&root, &dir, lint_mode != "off") {
        Ok(scan) => {
            for file in &scan.ignored {
                println!("cargo::warning={file}: ignored, migration files end in .sql");
            }
            if lint_mode != "off" {
                check_sql(&scan.migrations, lint_mode == "strict", baseline);
            }
            let code = source::render(&scan.migrations);
            source::write_if_changed(&out.join("migrations.rs"), &code)
                .expect("writing OUT_DIR/migrations.rs");
        }
        Err(problems) => {
            for problem in problems {
                println!("cargo::error={problem}");
            }
        }
    }
}

/// Scans with the PostgreSQL grammar's statement split when the `sql-lint` feature is on; the
/// engine then sends each statement on its own, so a failure names its line.
fn scan(
    root: &std::path::Path,
    dir: &std::path::Path,
    parse: bool,
) -> Result<source::Scan, Vec<source::Problem>> {
    #[cfg(feature = "sql-lint")]
    if parse {
        return source::scan_with(root, dir, &lint::statement_starts);
    }
    let _ = parse;
    source::scan(root, dir)
}

/// Parses every file and lints every `V` file above `baseline`, printing findings as
/// `cargo::` lines.
#[cfg(feature = "sql-lint")]
fn check_sql(migrations: &[source::SourceMigration], strict: bool, baseline: i64) {
    for m in migrations {
        let lint_apply = m.version > baseline;
        let files =
            std::iter::once((&m.apply, lint_apply)).chain(m.undo.iter().map(|u| (u, false)));
        for (file, lint_rules) in files {
            let sql = file.sql.strip_prefix('\u{feff}').unwrap_or(&file.sql);
            let in_transaction = !source::is_no_transaction(sql);
            for finding in lint::check(&file.display, sql, lint_rules, in_transaction, strict) {
                let kind = match finding.severity {
                    lint::Severity::Error => "error",
                    lint::Severity::Warning => "warning",
                };
                println!("cargo::{kind}={}", finding.message);
            }
        }
    }
}

#[cfg(not(feature = "sql-lint"))]
fn check_sql(_migrations: &[source::SourceMigration], _strict: bool, _baseline: i64) {}
