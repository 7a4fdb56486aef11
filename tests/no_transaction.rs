//! `-- no-transaction` migrations on a busy database: CREATE INDEX CONCURRENTLY waits out older
//! transactions, and a run interrupted inside such a script is recognised and repaired by the
//! next one.

use std::time::Duration;

use pgbaked::{Error, Migration, Migrator, Options, Rev, Script};
use pgbaked_testing::TestDb;

mod common;
use common::{bounded, versions};

fn migration(version: i64, name: &str, sql: &str, undo: Option<&str>) -> Migration {
    Migration::new(
        version,
        name,
        Script::new(format!("sql/V{version}__{name}.sql"), sql),
        undo.map(|u| Script::new(format!("sql/U{version}__{name}.sql"), u)),
    )
    .unwrap()
}

/// A table with rows, and a concurrent index on it.
fn set(index_sql: &str) -> Vec<Migration> {
    vec![
        migration(
            1,
            "items",
            "CREATE TABLE items (id int PRIMARY KEY, code int);\n\
             INSERT INTO items SELECT g, g % 10 FROM generate_series(1, 1000) g;",
            None,
        ),
        migration(
            2,
            "items_code",
            &format!("-- no-transaction\n{index_sql}"),
            Some("-- no-transaction\nDROP INDEX CONCURRENTLY items_code;"),
        ),
    ]
}

fn migrator(migrations: Vec<Migration>, options: Options) -> Migrator {
    Migrator::new(
        migrations,
        Options {
            lock_wait: Duration::from_secs(10),
            ..options
        },
    )
}

/// `(valid)` for each index called `items_code`.
async fn index_states(db: &TestDb) -> Vec<bool> {
    let client = db.pool().get().await.unwrap();
    client
        .query(
            "SELECT i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid \
             WHERE c.relname = 'items_code'",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect()
}

/// Waits until a session runs `CREATE INDEX CONCURRENTLY` and waits on a lock, i.e. for the
/// older transaction to end.
async fn wait_for_waiting_build(db: &TestDb) {
    let client = db.pool().get().await.unwrap();
    bounded("waiting for the index build to wait", async {
        loop {
            let waiting: bool = client
                .query_one(
                    "SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE datname = current_database() \
                     AND query ILIKE '%INDEX CONCURRENTLY%' AND wait_event_type = 'Lock' \
                     AND pid <> pg_backend_pid())",
                    &[],
                )
                .await
                .unwrap()
                .get(0);
            if waiting {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
}

#[tokio::test]
async fn concurrent_index_waits_out_an_older_transaction_despite_the_default_lock_timeout() {
    let db = TestDb::empty().await.unwrap();
    // A lock timeout far below the older transaction's life, as the default 3 s is below a
    // 15 s report: it bounds transactional migrations, never the concurrent build.
    let options = Options {
        lock_timeout: Some(Duration::from_millis(200)),
        ..Options::default()
    };
    let m = migrator(
        set("CREATE INDEX CONCURRENTLY items_code ON items (code);"),
        options,
    );
    bounded("V1", m.up(db.pool(), &Rev::Version(1), &mut |_| {}))
        .await
        .unwrap();
    let mut reader = db.pool().get().await.unwrap();
    let report = open_report(&mut reader).await;
    let run = tokio::spawn({
        let pool = db.pool().clone();
        async move { m.up(&pool, &Rev::Head, &mut |_| {}).await }
    });
    wait_for_waiting_build(&db).await;
    // Well past the 200 ms lock timeout, the build still waits; then the reader finishes.
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert!(
        !run.is_finished(),
        "the build gave up while the reader was open"
    );
    report.commit().await.unwrap();
    bounded("the build", run).await.unwrap().unwrap();
    assert_eq!(versions(&db).await, [1, 2]);
    assert_eq!(index_states(&db).await, [true]);
}

#[tokio::test]
async fn an_explicit_lock_timeout_bounds_the_build_and_the_rerun_repairs_its_invalid_index() {
    let db = TestDb::empty().await.unwrap();
    let bounded_build = Options {
        no_transaction_lock_timeout: Some(Duration::from_millis(300)),
        ..Options::default()
    };
    let sql = "CREATE INDEX CONCURRENTLY items_code ON items (code);";
    let m = migrator(set(sql), bounded_build);
    bounded("V1", m.up(db.pool(), &Rev::Version(1), &mut |_| {}))
        .await
        .unwrap();
    let mut reader = db.pool().get().await.unwrap();
    let report = open_report(&mut reader).await;
    let err = bounded(
        "the bounded build",
        m.up(db.pool(), &Rev::Head, &mut |_| {}),
    )
    .await
    .unwrap_err();
    assert!(
        err.to_string()
            .contains("sql/V2__items_code.sql:2:1: canceling statement due to lock timeout"),
        "{err}"
    );
    // What PostgreSQL leaves behind: an INVALID index, which a plain rerun trips over.
    assert_eq!(index_states(&db).await, [false]);
    report.commit().await.unwrap();

    let rerun = migrator(set(sql), Options::default());
    let done = bounded("the rerun", rerun.up(db.pool(), &Rev::Head, &mut |_| {}))
        .await
        .unwrap();
    assert_eq!(done.steps.len(), 1);
    assert_eq!(versions(&db).await, [1, 2]);
    assert_eq!(index_states(&db).await, [true]);

    // And the way back: the undo's DROP INDEX CONCURRENTLY is marked and recorded too.
    bounded("down", rerun.down(db.pool(), &Rev::Version(1), &mut |_| {}))
        .await
        .unwrap();
    assert_eq!(index_states(&db).await, Vec::<bool>::new());
    assert_eq!(unfinished_marks(&db).await, 0);
}

#[tokio::test]
async fn a_run_stopped_inside_the_build_is_repaired_by_the_next_run() {
    let db = TestDb::empty().await.unwrap();
    let sql = "CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS items_code ON items (id, code);";
    let m = migrator(set(sql), Options::default());
    bounded("V1", m.up(db.pool(), &Rev::Version(1), &mut |_| {}))
        .await
        .unwrap();
    let mut reader = db.pool().get().await.unwrap();
    let report = open_report(&mut reader).await;
    // A signal while the build waits: the statement is cancelled, the lock released.
    let waiting = wait_for_waiting_build(&db);
    let err = bounded(
        "the interrupted build",
        m.up_until(db.pool(), &Rev::Head, &mut |_| {}, waiting),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, Error::Interrupted { .. }), "{err}");
    report.commit().await.unwrap();
    // The cancel lands asynchronously; wait for the index it leaves to settle as INVALID.
    bounded("the cancelled build to end", async {
        while index_states(&db).await != [false] {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    assert_eq!(versions(&db).await, [1]);
    assert_eq!(unfinished_marks(&db).await, 1);

    // IF NOT EXISTS would keep the INVALID index and record success; the rerun drops it first.
    bounded("the rerun", m.up(db.pool(), &Rev::Head, &mut |_| {}))
        .await
        .unwrap();
    assert_eq!(versions(&db).await, [1, 2]);
    assert_eq!(index_states(&db).await, [true]);
    assert_eq!(unfinished_marks(&db).await, 0);
}

#[tokio::test]
async fn a_build_that_finished_before_the_run_died_is_recorded_not_rebuilt() {
    let db = TestDb::empty().await.unwrap();
    let m = migrator(
        set("CREATE INDEX CONCURRENTLY items_code ON items (code);"),
        Options::default(),
    );
    bounded("V1", m.up(db.pool(), &Rev::Version(1), &mut |_| {}))
        .await
        .unwrap();
    // What a run killed between the build and its history row leaves: the mark and the index.
    let client = db.pool().get().await.unwrap();
    mark_unfinished(&client, 2).await;
    client
        .batch_execute("CREATE INDEX items_code ON items (code);")
        .await
        .unwrap();
    let oid_before: u32 = client
        .query_one("SELECT 'items_code'::regclass::oid", &[])
        .await
        .unwrap()
        .get(0);
    bounded("the rerun", m.up(db.pool(), &Rev::Head, &mut |_| {}))
        .await
        .unwrap();
    let oid_after: u32 = client
        .query_one("SELECT 'items_code'::regclass::oid", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(oid_before, oid_after, "the finished index was rebuilt");
    assert_eq!(versions(&db).await, [1, 2]);
    assert_eq!(unfinished_marks(&db).await, 0);
}

#[tokio::test]
async fn an_unrecognised_unfinished_script_is_reported_with_what_to_do_and_repair_clears_it() {
    let db = TestDb::empty().await.unwrap();
    let m = migrator(
        vec![
            migration(1, "items", "CREATE TABLE items (id int);", None),
            migration(2, "vacuum", "-- no-transaction\nVACUUM items;", None),
        ],
        Options::default(),
    );
    bounded("V1", m.up(db.pool(), &Rev::Version(1), &mut |_| {}))
        .await
        .unwrap();
    let client = db.pool().get().await.unwrap();
    mark_unfinished(&client, 2).await;
    let err = bounded("the run", m.up(db.pool(), &Rev::Head, &mut |_| {}))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("migration V2__vacuum (sql/V2__vacuum.sql) was started at "),
        "{err}"
    );
    assert!(
        err.contains("the catalog cannot tell whether it took effect"),
        "{err}"
    );
    assert!(!err.contains("already exists"), "{err}");
    assert_eq!(versions(&db).await, [1]);

    let repaired = bounded("repair", m.repair(db.pool())).await.unwrap();
    assert_eq!(repaired.steps.len(), 1);
    assert_eq!(unfinished_marks(&db).await, 0);
    bounded(
        "the run after repair",
        m.up(db.pool(), &Rev::Head, &mut |_| {}),
    )
    .await
    .unwrap();
    assert_eq!(versions(&db).await, [1, 2]);
}

/// What a run that died inside the `-- no-transaction` script of `version` leaves: its mark,
/// in the table the engine creates for marks.
async fn mark_unfinished(client: &deadpool_postgres::Object, version: i64) {
    client
        .batch_execute(&format!(
            "CREATE TABLE refinery_schema_history_unfinished (version int8 PRIMARY KEY, \
             direction text NOT NULL, started_on timestamptz NOT NULL DEFAULT clock_timestamp(), \
             pid int4 NOT NULL DEFAULT pg_backend_pid());
             INSERT INTO refinery_schema_history_unfinished (version, direction) VALUES ({version}, 'apply');"
        ))
        .await
        .unwrap();
}

/// The rows of the table where `-- no-transaction` scripts mark themselves started.
async fn unfinished_marks(db: &TestDb) -> i64 {
    let client = db.pool().get().await.unwrap();
    match client
        .query_one(
            "SELECT count(*) FROM refinery_schema_history_unfinished",
            &[],
        )
        .await
    {
        Ok(row) => row.get(0),
        Err(_) => 0,
    }
}

/// A transaction that holds a snapshot, as a long report does: CREATE INDEX CONCURRENTLY must
/// wait for it to end.
async fn open_report(client: &mut deadpool_postgres::Object) -> deadpool_postgres::Transaction<'_> {
    let report = client
        .build_transaction()
        .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
        .start()
        .await
        .unwrap();
    report
        .query("SELECT count(*) FROM items", &[])
        .await
        .unwrap();
    report
}
