//! Embeds `sql/` into the binary. The grammar and the checks live in `src/migrate/source.rs`,
//! which the library compiles too, so they are unit-tested there.

#[path = "src/migrate/source.rs"]
#[allow(dead_code)]
mod source;

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
    match source::scan(&root, &dir) {
        Ok(scan) => {
            for file in &scan.ignored {
                println!("cargo::warning={file}: ignored, migration files end in .sql");
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
