//! The real `build.rs`, run by a real `cargo build` on a small fixture crate: bad files fail
//! the build, all named at once, and a new file is embedded without `cargo clean`.
//!
//! The fixture holds this project's `build.rs`, depends on `pgbaked-build` (and on
//! `pgbaked` without its runtime) by path, and has a `main.rs` that prints what was
//! embedded, so a build takes seconds, not minutes.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

struct Fixture {
    dir: PathBuf,
}

impl Fixture {
    fn new(name: &str) -> Fixture {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("build-fixture-{name}"));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(dir.join("src")).unwrap();
        fs::create_dir_all(dir.join("sql")).unwrap();
        // The app's own build.rs, which uses pgbaked-build as any service would.
        fs::copy(Path::new(ROOT).join("build.rs"), dir.join("build.rs")).unwrap();
        fs::copy(Path::new(ROOT).join("Cargo.lock"), dir.join("Cargo.lock")).unwrap();
        for entry in fs::read_dir(Path::new(ROOT).join("sql")).unwrap() {
            let entry = entry.unwrap();
            fs::copy(entry.path(), dir.join("sql").join(entry.file_name())).unwrap();
        }
        // A name of its own: Cargo hashes path packages by name and version, not by path, so
        // fixtures sharing a target directory would otherwise share build-script state.
        fs::write(
            dir.join("Cargo.toml"),
            format!(
                "[package]\nname = \"build-fixture-{name}\"\nversion = \"0.0.0\"\nedition = \"2024\"\n\n\
                 [features]\ndefault = [\"sql-lint\"]\nsql-lint = [\"pgbaked-build/lint\"]\n\n\
                 [dependencies]\npgbaked = {{ path = {engine:?}, default-features = false }}\n\n\
                 [build-dependencies]\npgbaked-build = {{ path = {build:?}, default-features = false }}\n\n[workspace]\n",
                engine = Path::new(ROOT).join("crates/pgbaked"),
                build = Path::new(ROOT).join("crates/pgbaked-build"),
            ),
        )
        .unwrap();
        fs::write(
            dir.join("src/main.rs"),
            r#"static MIGRATIONS: &[pgbaked::EmbeddedMigration] = pgbaked::include_migrations!();
fn main() {
    for m in MIGRATIONS {
        if std::env::var_os("FIXTURE_STATEMENTS").is_some() {
            println!("{} {} {} {:?}", m.version, m.description, m.undo_path.is_some(), m.statements);
        } else {
            println!("{} {} {}", m.version, m.description, m.undo_path.is_some());
        }
    }
}
"#,
        )
        .unwrap();
        Fixture { dir }
    }

    fn write(&self, name: &str, content: &str) {
        fs::write(self.dir.join("sql").join(name), content).unwrap();
    }

    fn cargo(&self, command: &str) -> Output {
        self.cargo_with(command, &[])
    }

    fn cargo_with(&self, command: &str, env: &[(&str, &str)]) -> Output {
        Command::new(env!("CARGO"))
            .args([command, "--offline"])
            .envs(env.iter().copied())
            .current_dir(&self.dir)
            // One target directory for every fixture, so walkdir is compiled once.
            .env(
                "CARGO_TARGET_DIR",
                Path::new(env!("CARGO_TARGET_TMPDIR")).join("build-fixture-target"),
            )
            .env_remove("RUSTFLAGS")
            .output()
            .unwrap()
    }

    fn embedded(&self) -> String {
        self.embedded_with(&[])
    }

    fn embedded_with(&self, env: &[(&str, &str)]) -> String {
        let mut env = env.to_vec();
        env.push(("CARGO_TERM_QUIET", "true"));
        let out = self.cargo_with("run", &env);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            let _ = fs::remove_dir_all(&self.dir);
        }
    }
}

#[test]
fn four_bad_files_fail_one_build_that_names_all_four() {
    let fixture = Fixture::new("bad-files");
    fixture.write("V__no_version.sql", "SELECT 1;");
    fixture.write("Vtwo__not_a_number.sql", "SELECT 1;");
    fixture.write("V2__duplicate.sql", "SELECT 1;");
    fixture.write("U7__orphan.sql", "SELECT 1;");
    let out = fixture.cargo("build");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    let expected = [
        "@0.0.0: sql/V__no_version.sql: malformed migration file name: the file name has no version",
        "@0.0.0: sql/Vtwo__not_a_number.sql: malformed migration file name: the version `two` is not a number",
        "@0.0.0: sql/V2__move_tokens_to_swagger_specs.sql: duplicate version 2: sql/V2__duplicate.sql and sql/V2__move_tokens_to_swagger_specs.sql share it (hint: renumber this file (and its undo) to the next free version, V8: `migrate renumber V2__move_tokens_to_swagger_specs` moves both with their headers (run it with a binary built before the merge: this build cannot finish))",
        "@0.0.0: sql/U7__orphan.sql: undo file has no matching V file (no V7__*.sql) (hint: add V7__orphan.sql, or delete this file)",
    ];
    for line in expected {
        assert!(stderr.contains(line), "missing {line:?} in:\n{stderr}");
    }
}

#[test]
fn added_renamed_and_deleted_files_are_seen_without_cargo_clean() {
    let fixture = Fixture::new("rerun");
    assert_eq!(
        fixture.embedded(),
        "1 initial true\n2 move_tokens_to_swagger_specs true\n"
    );

    fixture.write("V3__x.sql", "CREATE TABLE x (id int);");
    assert!(fixture.embedded().ends_with("3 x false\n"));

    fs::rename(
        fixture.dir.join("sql/V3__x.sql"),
        fixture.dir.join("sql/V3__renamed.sql"),
    )
    .unwrap();
    fixture.write("U3__renamed.sql", "DROP TABLE x;");
    assert!(fixture.embedded().ends_with("3 renamed true\n"));

    fs::remove_file(fixture.dir.join("sql/V3__renamed.sql")).unwrap();
    fs::remove_file(fixture.dir.join("sql/U3__renamed.sql")).unwrap();
    assert!(
        fixture
            .embedded()
            .ends_with("2 move_tokens_to_swagger_specs true\n")
    );
}

#[test]
fn no_transaction_file_with_two_statements_fails_at_its_second_statement() {
    let fixture = Fixture::new("no-transaction");
    fixture.write(
        "V3__index.sql",
        "-- no-transaction\nCREATE INDEX CONCURRENTLY a ON users (email);\n\nDROP TABLE users;\n",
    );
    let out = fixture.cargo("build");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("@0.0.0: sql/V3__index.sql:4: a `-- no-transaction` file must hold exactly one statement, but this one holds 2"),
        "{stderr}"
    );
}

#[test]
fn syntax_error_fails_the_build_at_its_line() {
    let fixture = Fixture::new("syntax");
    fixture.write(
        "V3__typo.sql",
        "-- a migration with a typo\nCREATE TABLE t (id bigint);\nSELEC 1;\n",
    );
    let out = fixture.cargo("build");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("@0.0.0: sql/V3__typo.sql:3:1: syntax error at or near `SELEC`: expected command, found IDENT"),
        "{stderr}"
    );
}

#[test]
fn lint_warns_with_the_rule_and_the_allow_comment_silences_it() {
    let fixture = Fixture::new("lint");
    fixture.write(
        "V3__email_index.sql",
        "CREATE INDEX users_email ON users (email);\n",
    );
    let out = fixture.cargo("build");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("warning: build-fixture-lint@0.0.0: sql/V3__email_index.sql:1:1: require-concurrent-index-creation: "),
        "{stderr}"
    );

    let strict = fixture.cargo_with("build", &[("APP_SQL_LINT", "strict")]);
    let stderr = String::from_utf8_lossy(&strict.stderr);
    assert!(!strict.status.success());
    assert!(
        stderr.contains("error: build-fixture-lint@0.0.0: sql/V3__email_index.sql:1:1: require-concurrent-index-creation: "),
        "{stderr}"
    );

    fixture.write(
        "V3__email_index.sql",
        "-- lint: allow require-concurrent-index-creation\nCREATE INDEX users_email ON users (email);\n",
    );
    let out = fixture.cargo("build");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        !stderr.contains("require-concurrent-index-creation"),
        "{stderr}"
    );
}

#[test]
fn no_transaction_statements_are_counted_by_the_parser() {
    let fixture = Fixture::new("parser-split");
    // A SQL-standard function body holds semicolons outside any quotes: one statement.
    fixture.write(
        "V3__function.sql",
        "-- no-transaction\nCREATE FUNCTION one() RETURNS int LANGUAGE sql\nBEGIN ATOMIC SELECT 1; END;\n",
    );
    let out = fixture.cargo("build");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn statements_refused_in_a_transaction_fail_the_build_without_the_marker() {
    let fixture = Fixture::new("outside-transaction");
    // From a real history: an undo file that drops an index concurrently, unmarked.
    fixture.write(
        "V3__email_index.sql",
        "-- no-transaction\nCREATE INDEX CONCURRENTLY users_email ON users (email);\n",
    );
    fixture.write(
        "U3__email_index.sql",
        "-- undo\nDROP INDEX CONCURRENTLY users_email;\n",
    );
    let out = fixture.cargo("build");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains("error: build-fixture-outside-transaction@0.0.0: sql/U3__email_index.sql:2:1: DROP INDEX CONCURRENTLY cannot run inside a transaction block, and this file runs in one; add `-- no-transaction` as its first line"),
        "{stderr}"
    );
    fixture.write(
        "U3__email_index.sql",
        "-- no-transaction\nDROP INDEX CONCURRENTLY users_email;\n",
    );
    let out = fixture.cargo("build");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn lint_baseline_silences_old_versions_and_statement_offsets_are_embedded() {
    let fixture = Fixture::new("baseline");
    fixture.write(
        "V3__old_index.sql",
        "\u{feff}-- ran in production long ago\nCREATE INDEX users_email ON users (email);\nSELECT 1;\n",
    );
    fixture.write(
        "V4__new_index.sql",
        "CREATE INDEX users_name ON users (name);\n",
    );
    let out = fixture.cargo_with("build", &[("APP_SQL_LINT_BASELINE", "3")]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(!stderr.contains("sql/V3__old_index.sql"), "{stderr}");
    assert!(
        stderr.contains("sql/V4__new_index.sql:1:1: require-concurrent-index-creation"),
        "{stderr}"
    );
    // Offsets count from after the byte-order mark, as the engine sends the text.
    let embedded = fixture.embedded_with(&[("FIXTURE_STATEMENTS", "1")]);
    assert!(
        embedded.contains("3 old_index false [30, 73]"),
        "{embedded}"
    );
    // Without the lint no parser runs, and the engine's splitter finds the same statements:
    // a failure's line does not depend on the lint switch.
    let unlinted = fixture.embedded_with(&[("FIXTURE_STATEMENTS", "1"), ("APP_SQL_LINT", "off")]);
    assert!(
        unlinted.contains("3 old_index false [30, 73]"),
        "{unlinted}"
    );

    let bad = fixture.cargo_with("build", &[("APP_SQL_LINT_BASELINE", "three")]);
    assert!(!bad.status.success());
    assert!(
        String::from_utf8_lossy(&bad.stderr)
            .contains("APP_SQL_LINT_BASELINE=`three` is not a version number"),
    );
}
