//! `cargo bench --bench test_db`: how long a test waits for its database through
//! `pgbaked_testing::TestDb`, against creating a database and migrating it (what sqlx's test macro
//! does), for 50 and 300 generated migrations, in one run on one server.
//!
//! Prints, per size: `test_db n=<N> acquire_ms=<median> migrate_ms=<median> speedup=<ratio>`,
//! then the spread and the cost of an acquisition when no spare clone is ready.

use std::time::{Duration, Instant};

use pgbaked::{Migration, Migrator, Options, Rev, Script};
use pgbaked_testing::TestDb;

/// N small migrations, each a table, an index and ten rows (the shape used in BENCHMARKS.md).
fn generated(n: i64, tag: &str) -> Vec<Migration> {
    (1..=n)
        .map(|v| {
            let sql = format!(
                "CREATE TABLE {tag}_t{v} (id bigserial PRIMARY KEY, name text NOT NULL, created timestamptz DEFAULT now());\n\
                 CREATE INDEX {tag}_t{v}_name ON {tag}_t{v} (name);\n\
                 INSERT INTO {tag}_t{v} (name) SELECT 'n' || g FROM generate_series(1, 10) g;\n"
            );
            Migration::new(v, &format!("t{v}"), Script::new(format!("V{v}__t{v}.sql"), sql), None)
                .expect("generated names are valid")
        })
        .collect()
}

fn median(samples: &mut [f64]) -> f64 {
    samples.sort_by(f64::total_cmp);
    let mid = samples.len() / 2;
    if samples.len().is_multiple_of(2) {
        (samples[mid - 1] + samples[mid]) / 2.0
    } else {
        samples[mid]
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

async fn bench(n: i64, rounds: usize) -> anyhow::Result<()> {
    // A tag of its own per run, so the template is built here and not found from a former run.
    let tag = format!("b{}", std::process::id());
    let set = generated(n, &tag);

    // Reference: an empty database, migrated.
    let mut migrate = Vec::new();
    for _ in 0..rounds {
        let started = Instant::now();
        let db = TestDb::empty().await?;
        Migrator::new(set.clone(), Options::default())
            .up(db.pool(), &Rev::Head, &mut |_| {})
            .await?;
        migrate.push(ms(started.elapsed()));
    }

    // Cold: no spare ready, so the clone is made on demand (CREATE DATABASE ... TEMPLATE).
    TestDb::warm(set.clone(), 0).await?;
    let mut cold = Vec::new();
    for _ in 0..rounds.min(5) {
        let started = Instant::now();
        let db = TestDb::at_cold(set.clone()).await?;
        cold.push(ms(started.elapsed()));
        drop(db);
    }

    // Warm: spares prepared ahead of demand, as in a test run after its first acquisition.
    TestDb::warm(set.clone(), rounds).await?;
    let mut acquire = Vec::new();
    let mut held = Vec::new();
    for _ in 0..rounds {
        let started = Instant::now();
        let db = TestDb::with_migrations(set.clone()).await?;
        acquire.push(ms(started.elapsed()));
        held.push(db);
    }
    drop(held);
    TestDb::discard(set).await?;

    let (acquire_min, acquire_max) = (
        acquire.iter().copied().fold(f64::MAX, f64::min),
        acquire.iter().copied().fold(0.0, f64::max),
    );
    let (migrate_min, migrate_max) = (
        migrate.iter().copied().fold(f64::MAX, f64::min),
        migrate.iter().copied().fold(0.0, f64::max),
    );
    let acquire_median = median(&mut acquire);
    let migrate_median = median(&mut migrate);
    println!(
        "test_db n={n} acquire_ms={acquire_median:.2} migrate_ms={migrate_median:.1} speedup={:.0}",
        migrate_median / acquire_median
    );
    println!(
        "  detail n={n} rounds={rounds} acquire_ms min-max {acquire_min:.2}-{acquire_max:.2}; \
         migrate_ms min-max {migrate_min:.1}-{migrate_max:.1}; cold clone (no spare ready) median_ms={:.1}",
        median(&mut cold)
    );
    Ok(())
}

fn main() -> anyhow::Result<()> {
    // `cargo bench` passes --bench; `cargo test --benches` runs this as a smoke test.
    let quick = !std::env::args().any(|a| a == "--bench");
    let rounds = if quick { 2 } else { 15 };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        bench(50, rounds).await?;
        bench(300, rounds).await
    })
}
