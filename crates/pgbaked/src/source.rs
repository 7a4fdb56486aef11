//! The migrations directory: every file read, named by the grammar, checked, and paired with
//! its undo file. Every problem is collected, so that one failed build names every bad file.

use std::collections::BTreeMap;
use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};

use crate::grammar::{
    FileKind, FileName, NO_TRANSACTION_MARKER, is_no_transaction, line_col, parse_file_name,
    split_statements,
};

/// One file read from the migrations directory.
#[derive(Clone, Debug)]
pub struct SourceFile {
    /// The absolute path, for `include_str!`.
    pub path: PathBuf,
    /// The path relative to the project root, for messages (`sql/V1__initial.sql`).
    pub display: String,
    /// The parsed file name.
    pub name: FileName,
    /// The file's content.
    pub sql: String,
    /// Where each statement starts, in bytes after a byte-order mark: as a PostgreSQL parser
    /// found them, or, when no parser ran or it could not parse the file, as
    /// [`split_statements`] finds them (psql's rules).
    pub statements: Vec<usize>,
}

/// A `V` file with its optional `U` file.
#[derive(Clone, Debug)]
pub struct SourceMigration {
    /// The version shared by both files.
    pub version: i64,
    /// The description shared by both files.
    pub description: String,
    /// The `V` file.
    pub apply: SourceFile,
    /// The `U` file, if there is one.
    pub undo: Option<SourceFile>,
}

/// One reason the build must fail, tied to a file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// The offending file, relative to the project root; with `:line` when a line is known.
    pub location: String,
    /// What is wrong.
    pub message: String,
    /// How to fix it.
    pub hint: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {} (hint: {})",
            self.location, self.message, self.hint
        )
    }
}

/// What a scan found besides the migrations: files that were skipped.
#[derive(Debug, Default)]
pub struct Scan {
    /// The migrations, sorted by version.
    pub migrations: Vec<SourceMigration>,
    /// Files that are not `.sql` and were therefore ignored, relative to the project root.
    pub ignored: Vec<String>,
}

/// Scans `dir` (recursively) for migration files and validates the whole set.
///
/// `root` is the directory that file paths in messages are shown relative to.
///
/// # Errors
///
/// Returns every problem found, not only the first, so that one failed build names every bad file.
pub fn scan(root: &Path, dir: &Path) -> Result<Scan, Vec<Problem>> {
    scan_with(root, dir, &|_| None)
}

/// [`scan`], finding statements with `parse`, which returns the byte offset where each
/// statement starts, or `None` when it cannot parse the text; `build.rs` passes a real
/// PostgreSQL parser where it has one.
///
/// # Errors
///
/// As for [`scan`].
pub fn scan_with(
    root: &Path,
    dir: &Path,
    parse: &dyn Fn(&str) -> Option<Vec<usize>>,
) -> Result<Scan, Vec<Problem>> {
    let mut problems = Vec::new();
    let mut files = Vec::new();
    let mut ignored = Vec::new();
    // Every parsed version counts, even of a file rejected for its content, so that the
    // hint for a duplicate never suggests a version that is already taken.
    let mut highest = 0i64;
    let show = |path: &Path| {
        path.strip_prefix(root)
            .unwrap_or(path)
            .to_string_lossy()
            .replace('\\', "/")
    };

    // Sorted so that the generated code does not depend on directory order.
    for entry in walkdir::WalkDir::new(dir).sort_by_file_name() {
        let entry = match entry {
            Ok(entry) => entry,
            Err(err) => {
                let path = err.path().unwrap_or(dir).to_path_buf();
                problems.push(Problem {
                    location: show(&path),
                    message: format!("cannot be read: {err}"),
                    hint: "check the permissions of sql/ and the files in it".into(),
                });
                continue;
            }
        };
        if !entry.file_type().is_file() {
            continue;
        }
        let path = entry.path();
        let file_name = entry.file_name().to_string_lossy();
        if file_name.starts_with('.') || !file_name.ends_with(".sql") {
            ignored.push(show(path));
            continue;
        }
        let name = match parse_file_name(&file_name) {
            Ok(name) => name,
            Err(err) => {
                problems.push(Problem {
                    location: show(path),
                    message: format!("malformed migration file name: {err}"),
                    hint: "name it V{version}__{description}.sql (or U… for its undo), \
                           for example V3__add_users.sql"
                        .into(),
                });
                continue;
            }
        };
        highest = highest.max(name.version);
        match read_file(path, show(path), name, parse) {
            Ok(file) => files.push(file),
            Err(problem) => problems.push(problem),
        }
    }

    let migrations = pair_files(files, highest, &mut problems);

    if problems.is_empty() {
        Ok(Scan {
            migrations,
            ignored,
        })
    } else {
        Err(problems)
    }
}

/// Reads one migration file named `name` and finds its statements: the problem that rejects it
/// (unreadable, not UTF-8, empty, a no-transaction file of several statements), if any.
fn read_file(
    path: &Path,
    display: String,
    name: FileName,
    parse: &dyn Fn(&str) -> Option<Vec<usize>>,
) -> Result<SourceFile, Problem> {
    let bytes = fs::read(path).map_err(|err| Problem {
        location: display.clone(),
        message: format!("cannot be read: {err}"),
        hint: "check the file's permissions".into(),
    })?;
    let sql = String::from_utf8(bytes).map_err(|err| {
        let offset = err.utf8_error().valid_up_to();
        let line = 1 + err.as_bytes()[..offset]
            .iter()
            .filter(|&&b| b == b'\n')
            .count();
        Problem {
            location: format!("{display}:{line}"),
            message: format!("is not valid UTF-8 (invalid byte at offset {offset})"),
            hint: "save the file as UTF-8".into(),
        }
    })?;
    if sql.trim().is_empty() {
        return Err(Problem {
            location: display.clone(),
            message: "is empty".into(),
            hint: "write the migration's SQL, or delete the file".into(),
        });
    }
    // A byte-order mark is not SQL: the engine strips it before sending the text.
    let text = sql.strip_prefix('\u{feff}').unwrap_or(&sql);
    // Without a parser (or where it cannot parse), the splitter finds the same
    // statements, so that a failure names its line whether or not the build lints.
    let statements =
        parse(text).unwrap_or_else(|| split_statements(text).iter().map(|s| s.start).collect());
    if is_no_transaction(text) {
        let statements: Vec<usize> = statements.iter().map(|&at| line_col(text, at).0).collect();
        if statements.len() > 1 {
            return Err(Problem {
                location: format!("{display}:{}", statements[1]),
                message: format!(
                    "a `{NO_TRANSACTION_MARKER}` file must hold exactly one statement, \
                     but this one holds {}",
                    statements.len()
                ),
                hint: "move the other statements into a migration of their own".into(),
            });
        }
    }
    Ok(SourceFile {
        path: path.to_path_buf(),
        display,
        name,
        statements,
        sql,
    })
}

/// Pairs each version's V file with its U file, reporting duplicate versions, duplicate undos,
/// undos named unlike their V file and undos without one. `highest` is the highest version
/// any file name holds, for the hint that suggests a free one.
fn pair_files(
    files: Vec<SourceFile>,
    highest: i64,
    problems: &mut Vec<Problem>,
) -> Vec<SourceMigration> {
    let mut applies: BTreeMap<i64, Vec<SourceFile>> = BTreeMap::new();
    let mut undos: BTreeMap<i64, Vec<SourceFile>> = BTreeMap::new();
    for file in files {
        let by_version = match file.name.kind {
            FileKind::Apply => &mut applies,
            FileKind::Undo => &mut undos,
        };
        by_version.entry(file.name.version).or_default().push(file);
    }
    let next_free = highest.saturating_add(1);

    let mut migrations = Vec::new();
    for (version, mut group) in applies {
        if group.len() > 1 {
            let names: Vec<&str> = group.iter().map(|f| f.display.as_str()).collect();
            for file in &group[1..] {
                problems.push(Problem {
                    location: file.display.clone(),
                    message: format!(
                        "duplicate version {version}: {} share it",
                        names.join(" and ")
                    ),
                    hint: format!(
                        "renumber this file (and its undo) to the next free version, V{next_free}: \
                         `migrate renumber {}` moves both with their headers (run it with a binary \
                         built before the merge: this build cannot finish)",
                        file.display
                            .rsplit('/')
                            .next()
                            .unwrap_or_default()
                            .trim_end_matches(".sql")
                    ),
                });
            }
            // Its undo file is neither matched nor an orphan: the duplicate is the problem.
            undos.remove(&version);
            continue;
        }
        let apply = group.remove(0);
        let undo = match undos.remove(&version) {
            None => None,
            Some(mut undo_group) => {
                if undo_group.len() > 1 {
                    for file in &undo_group[1..] {
                        problems.push(Problem {
                            location: file.display.clone(),
                            message: format!("duplicate undo for version {version}"),
                            hint: "keep one U file per version".into(),
                        });
                    }
                }
                let undo = undo_group.remove(0);
                if undo.name.description != apply.name.description {
                    problems.push(Problem {
                        location: undo.display.clone(),
                        message: format!(
                            "undo file has no matching V file: {} is named `{}`",
                            apply.display, apply.name.description
                        ),
                        hint: format!("rename it to U{version}__{}.sql", apply.name.description),
                    });
                }
                Some(undo)
            }
        };
        migrations.push(SourceMigration {
            version,
            description: apply.name.description.clone(),
            apply,
            undo,
        });
    }
    for (version, group) in undos {
        for file in group {
            problems.push(Problem {
                location: file.display.clone(),
                message: format!("undo file has no matching V file (no V{version}__*.sql)"),
                hint: format!(
                    "add V{version}__{}.sql, or delete this file",
                    file.name.description
                ),
            });
        }
    }
    migrations
}

#[cfg(test)]
mod tests {
    use super::*;

    struct TempDir(PathBuf);

    impl TempDir {
        fn new(files: &[(&str, &[u8])]) -> TempDir {
            use std::sync::atomic::{AtomicUsize, Ordering};
            static NEXT: AtomicUsize = AtomicUsize::new(0);
            let dir = std::env::temp_dir().join(format!(
                "app-source-test-{}-{}",
                std::process::id(),
                NEXT.fetch_add(1, Ordering::Relaxed)
            ));
            let _ = fs::remove_dir_all(&dir);
            fs::create_dir_all(dir.join("sql")).unwrap();
            for (name, content) in files {
                let path = dir.join("sql").join(name);
                fs::create_dir_all(path.parent().unwrap()).unwrap();
                fs::write(path, content).unwrap();
            }
            TempDir(dir)
        }

        fn scan(&self) -> Result<Scan, Vec<Problem>> {
            scan(&self.0, &self.0.join("sql"))
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    #[test]
    fn scan_pairs_undo_files_and_sorts_by_version() {
        let dir = TempDir::new(&[
            ("V10__ten.sql", b"SELECT 10;"),
            ("V2__two.sql", b"SELECT 2;"),
            ("U2__two.sql", b"SELECT -2;"),
            ("nested/V3__three.sql", b"SELECT 3;"),
            ("README.md", b"notes"),
        ]);
        let scan = dir.scan().unwrap();
        let versions: Vec<i64> = scan.migrations.iter().map(|m| m.version).collect();
        assert_eq!(versions, [2, 3, 10]);
        assert_eq!(
            scan.migrations[0].undo.as_ref().unwrap().display,
            "sql/U2__two.sql"
        );
        assert!(scan.migrations[1].undo.is_none());
        assert_eq!(scan.migrations[1].apply.display, "sql/nested/V3__three.sql");
        assert_eq!(scan.ignored, ["sql/README.md"]);
    }

    #[test]
    fn scan_reports_every_bad_file_at_once() {
        let dir = TempDir::new(&[
            ("V1__one.sql", b"SELECT 1;"),
            ("__nothing.sql", b"SELECT 1;"),
            ("Vabc__x.sql", b"SELECT 1;"),
            ("V4__first.sql", b"SELECT 4;"),
            ("V4__second.sql", b"SELECT 4;"),
            // The undo of a duplicated version is not reported a second time as an orphan.
            ("U4__second.sql", b"SELECT -4;"),
            ("U9__orphan.sql", b"SELECT 9;"),
            ("U1__wrong_name.sql", b"SELECT 1;"),
            ("V5__empty.sql", b"  \n"),
            ("V6__latin1.sql", b"SELECT 'caf\xe9';"),
            (
                "V7__two_statements.sql",
                b"-- no-transaction\nCREATE INDEX CONCURRENTLY a ON t (x);\nSELECT 1;",
            ),
        ]);
        let problems = dir.scan().unwrap_err();
        let rendered: Vec<String> = problems.iter().map(ToString::to_string).collect();
        let expect = [
            "sql/__nothing.sql: malformed migration file name: the file name does not start with V or U",
            "sql/Vabc__x.sql: malformed migration file name: the version `abc` is not a number",
            "sql/V5__empty.sql: is empty",
            "sql/V6__latin1.sql:1: is not valid UTF-8 (invalid byte at offset 11)",
            "sql/V7__two_statements.sql:3: a `-- no-transaction` file must hold exactly one statement, but this one holds 2",
            "sql/V4__second.sql: duplicate version 4: sql/V4__first.sql and sql/V4__second.sql share it (hint: renumber this file (and its undo) to the next free version, V10: `migrate renumber V4__second` moves both with their headers (run it with a binary built before the merge: this build cannot finish))",
            "sql/U1__wrong_name.sql: undo file has no matching V file: sql/V1__one.sql is named `one` (hint: rename it to U1__one.sql)",
            "sql/U9__orphan.sql: undo file has no matching V file (no V9__*.sql) (hint: add V9__orphan.sql, or delete this file)",
        ];
        assert_eq!(problems.len(), expect.len(), "{rendered:#?}");
        for want in expect {
            assert!(
                rendered.iter().any(|got| got.starts_with(want)),
                "missing {want:?} in {rendered:#?}"
            );
        }
    }
}
