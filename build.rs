//! Checks and embeds `sql/` with `pgbaked-build`, as any service would.

fn main() {
    // APP_SQL_DIR embeds another directory (relative to the project root), for benchmarks
    // and trials on other histories.
    println!("cargo::rerun-if-env-changed=APP_SQL_DIR");
    let dir = std::env::var("APP_SQL_DIR").unwrap_or_else(|_| "sql".into());
    // APP_SQL_LINT=strict turns lint warnings into errors (for CI); =off skips the SQL checks.
    println!("cargo::rerun-if-env-changed=APP_SQL_LINT");
    let lint = match std::env::var("APP_SQL_LINT").as_deref() {
        Ok("strict") => pgbaked_build::Lint::Strict,
        Ok("off") => pgbaked_build::Lint::Off,
        _ => pgbaked_build::Lint::Warn,
    };
    // APP_SQL_LINT_BASELINE=N lints only versions above N; set it in .cargo/config.toml's
    // [env] when adopting a history that ran in production long ago.
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
    pgbaked_build::Embed::new(dir)
        .lint(lint)
        .lint_baseline(baseline)
        .run();
    // The declared schema (`app migrate check` compares it with the migrations): a syntax
    // error in it fails the build too.
    if lint != pgbaked_build::Lint::Off {
        pgbaked_build::check_schema("schema");
    }
}
