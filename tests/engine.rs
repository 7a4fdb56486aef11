//! The engine against a real PostgreSQL, with migration sets made up for each test.

use std::time::{Duration, Instant};

use pgbaked::{Error, Migration, Migrator, Options, Rev, Script, State};
use pgbaked_testing::TestDb;

mod common;
use common::{advisory_locks, bounded, versions};

fn migration(version: i64, name: &str, sql: &str, undo: Option<&str>) -> Migration {
    Migration::new(
        version,
        name,
        Script::new(format!("sql/V{version}__{name}.sql"), sql),
        undo.map(|u| Script::new(format!("sql/U{version}__{name}.sql"), u)),
    )
    .unwrap()
}

fn migrator(migrations: Vec<Migration>) -> Migrator {
    Migrator::new(
        migrations,
        Options {
            lock_wait: Duration::from_secs(10),
            ..Options::default()
        },
    )
}

/// A run up to head, failing the test (not hanging it) if it never ends, say on a lock.
async fn up(m: &Migrator, db: &TestDb) -> Result<pgbaked::Report, Error> {
    bounded("migrating up", m.up(db.pool(), &Rev::Head, &mut |_| {})).await
}

/// A run down to `target`, bounded like [`up`].
async fn down(m: &Migrator, db: &TestDb, target: &Rev) -> Result<pgbaked::Report, Error> {
    bounded("migrating down", m.down(db.pool(), target, &mut |_| {})).await
}

async fn table_exists(db: &TestDb, table: &str) -> bool {
    let client = db.pool().get().await.unwrap();
    client
        .query_one("SELECT to_regclass($1) IS NOT NULL", &[&table])
        .await
        .unwrap()
        .get(0)
}

fn broken_set() -> Vec<Migration> {
    vec![
        migration(1, "one", "CREATE TABLE one (id int);", None),
        migration(
            2,
            "broken",
            "-- a comment\nCREATE TABLE two (id int);\n  SELEC 1;\n",
            None,
        ),
        migration(3, "three", "CREATE TABLE three (id int);", None),
    ]
}

#[tokio::test]
async fn failing_migration_reports_file_line_and_column_and_keeps_earlier_ones() {
    let db = TestDb::empty().await.unwrap();
    let m = migrator(broken_set());
    let err = up(&m, &db).await.unwrap_err();
    let Error::MigrationFailed { migration, failure } = &err else {
        panic!("unexpected error: {err}");
    };
    assert_eq!(migration, "V2__broken");
    assert_eq!(failure.file, "sql/V2__broken.sql");
    assert_eq!((failure.line, failure.column), (Some(3), Some(3)));
    assert_eq!(failure.code.as_deref(), Some("42601"));
    assert_eq!(failure.message, "syntax error at or near \"SELEC\"");
    assert_eq!(failure.line_text.as_deref(), Some("  SELEC 1;"));
    assert!(
        err.to_string().starts_with(
            "migration V2__broken failed: sql/V2__broken.sql:3:3: syntax error at or near \"SELEC\" (SQLSTATE 42601)"
        ),
        "{err}"
    );
    // V1 is applied and recorded; nothing of V2 is left behind.
    assert_eq!(versions(&db).await, [1]);
    assert!(table_exists(&db, "one").await);
    assert!(!table_exists(&db, "two").await);
}

#[tokio::test]
async fn failed_run_releases_the_lock_so_the_next_run_fails_at_once() {
    let db = TestDb::empty().await.unwrap();
    let m = migrator(broken_set());
    up(&m, &db).await.unwrap_err();
    let started = Instant::now();
    let again = up(&m, &db).await.unwrap_err();
    assert!(matches!(again, Error::MigrationFailed { .. }), "{again}");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "the lock was leaked"
    );
    assert_eq!(advisory_locks(&db).await, 0);
}

#[tokio::test]
async fn lock_wait_is_bounded_and_names_the_holder() {
    let db = TestDb::empty().await.unwrap();
    let holder = db.pool().get().await.unwrap();
    let key = pgbaked::__private::lock_key(pgbaked::DEFAULT_TABLE);
    holder
        .batch_execute("SET application_name = 'the holder'")
        .await
        .unwrap();
    bounded(
        "taking the migration lock",
        holder.execute("SELECT pg_advisory_lock($1)", &[&key]),
    )
    .await
    .unwrap();
    let m = Migrator::new(
        vec![migration(1, "one", "CREATE TABLE one (id int);", None)],
        Options {
            lock_wait: Duration::from_millis(300),
            ..Options::default()
        },
    );
    let started = Instant::now();
    let err = up(&m, &db).await.unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(3));
    let text = err.to_string();
    assert!(text.starts_with("timed out after"), "{text}");
    assert!(
        text.contains("waiting for the migration lock, held by pid "),
        "{text}"
    );
    assert!(text.contains("the holder"), "{text}");
    assert!(versions(&db).await.is_empty());
}

#[tokio::test]
async fn cancelled_run_frees_the_lock() {
    let db = TestDb::empty().await.unwrap();
    let slow = migrator(vec![migration(1, "slow", "SELECT pg_sleep(30);", None)]);
    let cancelled = tokio::time::timeout(Duration::from_millis(500), up(&slow, &db)).await;
    assert!(cancelled.is_err(), "the run should still be going");
    // Dropping the future closed the connection, so the server freed the lock and rolled back.
    let quick = Migrator::new(
        vec![migration(1, "fast", "CREATE TABLE fast (id int);", None)],
        Options {
            lock_wait: Duration::from_secs(5),
            ..Options::default()
        },
    );
    let started = Instant::now();
    up(&quick, &db).await.unwrap();
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(versions(&db).await, [1]);
}

#[tokio::test]
async fn edited_applied_migration_is_an_error_naming_file_and_checksums() {
    let db = TestDb::empty().await.unwrap();
    let original = migrator(vec![migration(
        1,
        "one",
        "CREATE TABLE one (id int);",
        None,
    )]);
    up(&original, &db).await.unwrap();
    let edited_migration = migration(1, "one", "CREATE TABLE one (id bigint);", None);
    let new_checksum = edited_migration.checksum();
    let old_checksum = original.migrations()[0].checksum();
    let edited = migrator(vec![edited_migration]);
    let err = up(&edited, &db).await.unwrap_err().to_string();
    assert_eq!(
        err,
        format!(
            "migration V1__one (sql/V1__one.sql) was applied with checksum {old_checksum} but the file now hashes to {new_checksum}"
        )
    );
    let report = bounded("repairing", edited.repair(db.pool()))
        .await
        .unwrap();
    assert_eq!(report.steps.len(), 1);
    assert_eq!(report.steps[0].old_checksum, Some(old_checksum.to_string()));
    up(&edited, &db).await.unwrap();
}

#[tokio::test]
async fn unknown_versions_warn_and_strict_refuses() {
    let db = TestDb::empty().await.unwrap();
    let newer = migrator(vec![
        migration(1, "one", "CREATE TABLE one (id int);", None),
        migration(2, "two", "CREATE TABLE two (id int);", None),
    ]);
    up(&newer, &db).await.unwrap();
    let older = migrator(vec![migration(
        1,
        "one",
        "CREATE TABLE one (id int);",
        None,
    )]);
    let report = up(&older, &db).await.unwrap();
    assert_eq!(report.unknown, [2]);
    assert!(report.steps.is_empty());
    let strict = Migrator::new(
        older.migrations().to_vec(),
        Options {
            strict: true,
            ..Options::default()
        },
    );
    let err = up(&strict, &db).await.unwrap_err().to_string();
    assert!(
        err.starts_with("the database has versions this binary does not know: V2"),
        "{err}"
    );
}

#[tokio::test]
async fn grouped_run_is_all_or_nothing() {
    let db = TestDb::empty().await.unwrap();
    let grouped = Migrator::new(
        broken_set(),
        Options {
            grouped: true,
            ..Options::default()
        },
    );
    let err = up(&grouped, &db).await.unwrap_err();
    assert!(matches!(err, Error::MigrationFailed { .. }), "{err}");
    assert!(versions(&db).await.is_empty());
    assert!(!table_exists(&db, "one").await);

    let fine = Migrator::new(
        vec![
            migration(1, "one", "CREATE TABLE one (id int);", None),
            migration(2, "two", "CREATE TABLE two (id int);", None),
        ],
        Options {
            grouped: true,
            ..Options::default()
        },
    );
    let report = up(&fine, &db).await.unwrap();
    assert_eq!(report.steps.len(), 2);
    assert_eq!(versions(&db).await, [1, 2]);
}

#[tokio::test]
async fn concurrent_index_builds_under_the_lock_while_another_migrator_waits() {
    let db = TestDb::empty().await.unwrap();
    let set = vec![
        migration(
            1,
            "table",
            "CREATE TABLE t (id int); INSERT INTO t SELECT generate_series(1, 50000);",
            Some("DROP TABLE t;"),
        ),
        migration(
            2,
            "index",
            "-- no-transaction\nCREATE INDEX CONCURRENTLY t_id ON t (id);",
            Some("-- no-transaction\nDROP INDEX CONCURRENTLY t_id;"),
        ),
        migration(
            3,
            "after",
            "CREATE TABLE after (id int);",
            Some("DROP TABLE after;"),
        ),
    ];
    // A second migrator contends for the lock from a busy session during the whole run; a
    // waiter blocked in pg_advisory_lock would hold a snapshot that CONCURRENTLY waits for.
    let first = migrator(set.clone());
    let second = migrator(set);
    let (a, b) = tokio::join!(up(&first, &db), up(&second, &db));
    let steps = a.unwrap().steps.len() + b.unwrap().steps.len();
    assert_eq!(steps, 3);
    assert_eq!(versions(&db).await, [1, 2, 3]);
    let client = db.pool().get().await.unwrap();
    let valid: bool = client
        .query_one(
            "SELECT indisvalid FROM pg_index WHERE indexrelid = 't_id'::regclass",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert!(valid);
    down(&first, &db, &Rev::Base).await.unwrap();
    assert!(versions(&db).await.is_empty());
    assert!(!table_exists(&db, "t").await);
}

#[tokio::test]
async fn plain_refinery_and_this_engine_recognise_each_other() {
    let db = TestDb::empty().await.unwrap();
    let ours = migrator(vec![
        migration(1, "one", "CREATE TABLE one (id int);", None),
        migration(2, "two", "CREATE TABLE two (id int);", None),
    ]);
    // refinery applies V1 ...
    let refinery_set =
        vec![refinery::Migration::unapplied("V1__one", "CREATE TABLE one (id int);").unwrap()];
    {
        let mut client = db.pool().get().await.unwrap();
        bounded(
            "refinery applying V1",
            refinery::Runner::new(&refinery_set).run_async(&mut **client),
        )
        .await
        .unwrap();
    }
    // ... we see it applied with a matching checksum, and apply V2.
    let client = db.pool().get().await.unwrap();
    let history = ours.history(&client).await.unwrap();
    let status = ours.status(&history);
    assert_eq!(status.versions(State::Applied), [1]);
    assert_eq!(status.versions(State::Pending), [2]);
    drop(client);
    up(&ours, &db).await.unwrap();
    // refinery, given both files, finds nothing to do and no divergence.
    let both = vec![
        refinery::Migration::unapplied("V1__one", "CREATE TABLE one (id int);").unwrap(),
        refinery::Migration::unapplied("V2__two", "CREATE TABLE two (id int);").unwrap(),
    ];
    let mut client = db.pool().get().await.unwrap();
    let report = bounded(
        "refinery finding nothing to do",
        refinery::Runner::new(&both).run_async(&mut **client),
    )
    .await
    .unwrap();
    assert!(report.applied_migrations().is_empty());
    let applied = refinery::Runner::new(&both)
        .get_applied_migrations_async(&mut **client)
        .await
        .unwrap();
    assert_eq!(applied.len(), 2);
}

#[tokio::test]
async fn stamp_records_versions_without_running_sql() {
    let db = TestDb::empty().await.unwrap();
    let m = migrator(vec![
        migration(1, "one", "CREATE TABLE one (id int);", None),
        migration(2, "two", "CREATE TABLE two (id int);", None),
    ]);
    let report = bounded("stamping head", m.stamp(db.pool(), &Rev::Head))
        .await
        .unwrap();
    assert_eq!(report.steps.len(), 2);
    assert_eq!(versions(&db).await, [1, 2]);
    assert!(!table_exists(&db, "one").await);
    bounded("stamping 1", m.stamp(db.pool(), &Rev::Version(1)))
        .await
        .unwrap();
    assert_eq!(versions(&db).await, [1]);
    bounded("stamping base", m.stamp(db.pool(), &Rev::Base))
        .await
        .unwrap();
    assert!(versions(&db).await.is_empty());
}

#[tokio::test]
async fn downgrade_past_an_irreversible_migration_changes_nothing() {
    let db = TestDb::empty().await.unwrap();
    let m = migrator(vec![
        migration(
            1,
            "one",
            "CREATE TABLE one (id int);",
            Some("DROP TABLE one;"),
        ),
        migration(2, "two", "CREATE TABLE two (id int);", None),
        migration(
            3,
            "three",
            "CREATE TABLE three (id int);",
            Some("DROP TABLE three;"),
        ),
    ]);
    up(&m, &db).await.unwrap();
    let err = down(&m, &db, &Rev::Base).await.unwrap_err().to_string();
    assert_eq!(
        err,
        "migration V2__two has no undo file (U2__two.sql), so it cannot be reverted; nothing was changed"
    );
    assert_eq!(versions(&db).await, [1, 2, 3]);
    assert!(table_exists(&db, "three").await);
    let err = down(&m, &db, &Rev::Version(5))
        .await
        .unwrap_err()
        .to_string();
    assert_eq!(err, "no migration has version 5");
    down(&m, &db, &Rev::Relative(-1)).await.unwrap();
    assert_eq!(versions(&db).await, [1, 2]);
    let err = down(&m, &db, &Rev::Version(3))
        .await
        .unwrap_err()
        .to_string();
    assert_eq!(err, "cannot downgrade to 3: the database is at 2, below it");
}

#[tokio::test]
async fn a_failure_without_a_server_position_names_its_statement() {
    let db = TestDb::empty().await.unwrap();
    // 2BP01 (dependent objects) carries no position; the statement offsets say which one.
    let sql = "-- drops a column a view still reads\nCREATE TABLE a (id int, c int);\n\
               CREATE VIEW v AS SELECT c FROM a;\n\n  ALTER TABLE a\n    DROP COLUMN c;\n";
    let starts: Vec<usize> = ["CREATE TABLE", "CREATE VIEW", "ALTER TABLE"]
        .iter()
        .map(|s| sql.find(s).unwrap())
        .collect();
    let m = Migrator::new(
        vec![
            Migration::new(
                1,
                "dependent",
                Script::new("sql/V1__dependent.sql", sql).with_statements(&starts),
                None,
            )
            .unwrap(),
        ],
        Options::default(),
    );
    let err = up(&m, &db).await.unwrap_err();
    let Error::MigrationFailed { failure, .. } = &err else {
        panic!("{err}");
    };
    assert_eq!(failure.code.as_deref(), Some("2BP01"));
    assert_eq!((failure.line, failure.column), (Some(5), Some(3)), "{err}");
    assert_eq!(failure.line_text.as_deref(), Some("  ALTER TABLE a"));
    assert!(
        err.to_string()
            .contains("sql/V1__dependent.sql:5:3: cannot drop column c of table a because other objects depend on it"),
        "{err}"
    );
    // A server position inside a later statement is counted from the file's start.
    let sql = "CREATE TABLE b (id int);\nSELECT 1;\nSELECT nope FROM b;\n";
    let starts = [
        0,
        sql.find("SELECT 1").unwrap(),
        sql.find("SELECT nope").unwrap(),
    ];
    let m = Migrator::new(
        vec![
            Migration::new(
                1,
                "positioned",
                Script::new("sql/V1__positioned.sql", sql).with_statements(&starts),
                None,
            )
            .unwrap(),
        ],
        Options::default(),
    );
    let db = TestDb::empty().await.unwrap();
    let err = up(&m, &db).await.unwrap_err();
    assert!(
        err.to_string()
            .contains("sql/V1__positioned.sql:3:8: column \"nope\" does not exist"),
        "{err}"
    );
}

#[tokio::test]
async fn stamp_is_one_transaction() {
    let db = TestDb::empty().await.unwrap();
    let m = migrator(vec![
        migration(1, "one", "CREATE TABLE one (id int);", None),
        migration(2, "two", "CREATE TABLE two (id int);", None),
    ]);
    // A trigger that refuses the second row: the first must not stay recorded alone.
    let client = db.pool().get().await.unwrap();
    client
        .batch_execute(
            "CREATE TABLE refinery_schema_history(version int8 PRIMARY KEY, name VARCHAR(255), \
             applied_on VARCHAR(255), checksum VARCHAR(255));
             CREATE FUNCTION refuse_two() RETURNS trigger LANGUAGE plpgsql AS \
             $$ BEGIN IF NEW.version = 2 THEN RAISE EXCEPTION 'no'; END IF; RETURN NEW; END $$;
             CREATE TRIGGER refuse_two BEFORE INSERT ON refinery_schema_history \
             FOR EACH ROW EXECUTE FUNCTION refuse_two();",
        )
        .await
        .unwrap();
    bounded("stamp", m.stamp(db.pool(), &Rev::Head))
        .await
        .unwrap_err();
    assert_eq!(versions(&db).await, Vec::<i64>::new());
}

#[tokio::test]
async fn catalogs_compare_what_the_server_holds_not_how_it_was_written() {
    let one = TestDb::empty().await.unwrap();
    let two = TestDb::empty().await.unwrap();
    let read = async |db: &TestDb| {
        let client = db.pool().get().await.unwrap();
        pgbaked::diff::Catalog::read(&client, &[]).await.unwrap()
    };
    one.pool()
        .get()
        .await
        .unwrap()
        .batch_execute(
            "CREATE TABLE t (id bigserial PRIMARY KEY, name text NOT NULL, n int DEFAULT 1);
             CREATE INDEX t_name ON t (name);",
        )
        .await
        .unwrap();
    // Another spelling, another column order, the same schema.
    two.pool()
        .get()
        .await
        .unwrap()
        .batch_execute(
            "create table T (N integer default (1), ID BIGSERIAL, NAME TEXT not null);
             alter table t add constraint t_pkey primary key (id);
             create index T_NAME on t using btree (name);",
        )
        .await
        .unwrap();
    assert_eq!(read(&one).await.diff(&read(&two).await), vec![]);
    two.pool()
        .get()
        .await
        .unwrap()
        .batch_execute("ALTER TABLE t ALTER COLUMN n SET DEFAULT 2")
        .await
        .unwrap();
    let differences = read(&one).await.diff(&read(&two).await);
    assert_eq!(differences.len(), 1, "{differences:?}");
    assert_eq!(differences[0].name, "public.t.n");
    assert_eq!(differences[0].from.as_deref(), Some("integer DEFAULT 1"));
    assert_eq!(differences[0].to.as_deref(), Some("integer DEFAULT 2"));
}

/// Two branches both add V3; branch B's database applied its V3; after the merge B's file is
/// renumbered to V4. The database is brought to the merged head without B's old binary: its
/// V3 is named for what it is, reverted with the undo recorded when it was applied (the
/// merged binary's U3 is the other branch's), and the merged set applied.
#[tokio::test]
async fn a_renumbered_branch_is_reverted_with_its_recorded_undo_and_reapplied() {
    let db = TestDb::empty().await.unwrap();
    let base = || {
        vec![
            migration(
                1,
                "users",
                "CREATE TABLE users (id int);",
                Some("DROP TABLE users;"),
            ),
            migration(
                2,
                "email",
                "ALTER TABLE users ADD email text;",
                Some("ALTER TABLE users DROP email;"),
            ),
        ]
    };
    let bio = || {
        migration(
            3,
            "add_bio",
            "ALTER TABLE users ADD bio text;",
            Some("ALTER TABLE users DROP bio;"),
        )
    };
    let trace = |v: i64| {
        migration(
            v,
            "add_trace_id",
            "ALTER TABLE users ADD trace_id uuid;",
            Some("ALTER TABLE users DROP trace_id;"),
        )
    };
    let mut branch_b = base();
    branch_b.push(trace(3));
    up(&migrator(branch_b), &db).await.unwrap();

    let mut merged = base();
    merged.extend([bio(), trace(4)]);
    let merged = migrator(merged);
    // Not an edited file: the database's V3 is another migration, which the merged set has
    // as V4.
    let err = up(&merged, &db).await.unwrap_err();
    let text = err.to_string();
    assert!(
        matches!(err, Error::Mismatched { version: 3, .. })
            && text.contains("V3 in the database is add_trace_id, but this binary's V3 is add_bio (it has add_trace_id as V4)")
            && text.contains("`migrate down 2`"),
        "{text}"
    );
    let client = db.pool().get().await.unwrap();
    let status = merged.status(&merged.history(&client).await.unwrap());
    assert_eq!(status.versions(State::Mismatched), [3]);
    // repair would rename the row and claim add_bio ran: refused.
    let refused = bounded("repair", merged.repair(db.pool()))
        .await
        .unwrap_err();
    assert!(matches!(refused, Error::Mismatched { .. }), "{refused}");

    // Back to V2 with the recorded undo (the merged U3 would drop bio, which is not there).
    let report = down(&merged, &db, &Rev::Version(2)).await.unwrap();
    assert_eq!(report.steps.len(), 1);
    assert_eq!(report.steps[0].name, "add_trace_id");
    assert_eq!(versions(&db).await, [1, 2]);
    up(&merged, &db).await.unwrap();
    assert_eq!(versions(&db).await, [1, 2, 3, 4]);
    let columns: Vec<String> = client
        .query("SELECT attname::text FROM pg_attribute WHERE attrelid = 'users'::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(columns, ["id", "email", "bio", "trace_id"]);
}

/// An older binary reverts what a newer one applied, with the undo the newer one recorded;
/// a version applied without a record (plain refinery) is refused, and nothing changes.
#[tokio::test]
async fn an_older_binary_reverts_versions_it_does_not_know_with_their_recorded_undo() {
    let db = TestDb::empty().await.unwrap();
    let old = || {
        vec![migration(
            1,
            "users",
            "CREATE TABLE users (id int);",
            Some("DROP TABLE users;"),
        )]
    };
    let mut new = old();
    new.push(migration(
        2,
        "orders",
        "CREATE TABLE orders (id int);",
        Some("DROP TABLE orders;"),
    ));
    up(&migrator(new), &db).await.unwrap();
    let old = migrator(old());
    down(&old, &db, &Rev::Head).await.unwrap();
    assert_eq!(versions(&db).await, [1]);
    assert!(!table_exists(&db, "orders").await);
    assert!(table_exists(&db, "users").await);

    // A version from outside (no undo recorded) cannot be reverted by this binary.
    let client = db.pool().get().await.unwrap();
    client
        .batch_execute("CREATE TABLE extra (id int); INSERT INTO refinery_schema_history VALUES (2, 'extra', '2026-12-05T00:00:00Z', '1')")
        .await
        .unwrap();
    let err = down(&old, &db, &Rev::Head).await.unwrap_err();
    assert!(matches!(err, Error::NoRecordedUndo { .. }), "{err}");
    assert!(err.to_string().contains("V2__extra"), "{err}");
    assert_eq!(versions(&db).await, [1, 2]);
}

/// A rollback to the previous binary refuses to revert a contract step that dropped a column:
/// its recorded undo would bring the column back empty, which the previous release reads. The
/// newer binary refuses its own the same way, online and offline; `allow_data_loss` reverts
/// it.
#[tokio::test]
async fn a_contract_step_that_dropped_data_is_not_reverted_silently() {
    let db = TestDb::empty().await.unwrap();
    let old = || {
        vec![migration(
            1,
            "users",
            "CREATE TABLE users (id int, legacy text);",
            Some("DROP TABLE users;"),
        )]
    };
    let mut new = old();
    new.push(migration(
        2,
        "drop_legacy",
        "-- contract: release 1 reads legacy\nALTER TABLE users DROP COLUMN legacy;",
        Some("ALTER TABLE users ADD COLUMN legacy text;"),
    ));
    new.push(migration(
        3,
        "nick",
        "ALTER TABLE users ADD nick text;",
        Some("ALTER TABLE users DROP nick;"),
    ));
    up(&migrator(new.clone()), &db).await.unwrap();
    let old = migrator(old());
    let err = down(&old, &db, &Rev::Head).await.unwrap_err();
    assert!(matches!(err, Error::ContractDropped { .. }), "{err}");
    assert!(
        err.to_string().contains("V2__drop_legacy")
            && err.to_string().contains("DROP COLUMN legacy"),
        "{err}"
    );
    assert_eq!(versions(&db).await, [1, 2, 3]);
    // The newer binary's own: refused too, offline as well.
    let newer = migrator(new.clone());
    let err = down(&newer, &db, &Rev::Version(1)).await.unwrap_err();
    assert!(matches!(err, Error::ContractDropped { .. }), "{err}");
    assert!(
        newer
            .script(pgbaked::Direction::Down, &Rev::Head, &Rev::Version(1))
            .is_err()
    );
    // Above the contract step, a downgrade goes on as before.
    down(&newer, &db, &Rev::Version(2)).await.unwrap();
    assert_eq!(versions(&db).await, [1, 2]);
    // Asked for, it reverts.
    let allowed = migrator(new).with_options(|o| o.allow_data_loss = true);
    down(&allowed, &db, &Rev::Version(1)).await.unwrap();
    assert_eq!(versions(&db).await, [1]);
}

/// A `-- contract` migration (and what follows it) waits while a replica of an older release
/// is connected, and is applied once it is gone; without the guard it is applied at once.
#[tokio::test]
async fn a_contract_migration_waits_for_the_older_release_to_go() {
    let db = TestDb::empty().await.unwrap();
    let set = || {
        vec![
            migration(
                1,
                "users",
                "CREATE TABLE users (id int, legacy text);",
                None,
            ),
            migration(
                2,
                "drop_legacy",
                "-- contract: the previous release reads legacy\nALTER TABLE users DROP COLUMN legacy;",
                None,
            ),
            migration(3, "nick", "ALTER TABLE users ADD nick text;", None),
        ]
    };
    let guarded = Migrator::new(
        set(),
        Options {
            lock_wait: Duration::from_secs(10),
            contract_guard: Some("svc".into()),
            ..Options::default()
        },
    );
    bounded("V1", guarded.up(db.pool(), &Rev::Version(1), &mut |_| {}))
        .await
        .unwrap();
    // A replica of the release whose head is V1 serves from this database.
    let config = db
        .config()
        .clone()
        .with_application_name(&pgbaked::release_application_name("svc", Some(1)));
    let old_replica = pgbaked::pool(&config, 1).unwrap();
    let held_connection = old_replica.get().await.unwrap();
    let report = up(&guarded, &db).await.unwrap();
    assert_eq!(report.held, [2, 3]);
    assert!(report.steps.is_empty());
    assert_eq!(versions(&db).await, [1]);
    // A replica of the new release does not hold it back; the old one gone, it goes through.
    drop(held_connection);
    old_replica.close();
    // The server notices a closed connection a moment later.
    let client = db.pool().get().await.unwrap();
    let started = std::time::Instant::now();
    while client
        .query_one(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE 'svc head=%'",
            &[],
        )
        .await
        .unwrap()
        .get::<_, i64>(0)
        > 0
    {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the old replica never left"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let report = up(&guarded, &db).await.unwrap();
    assert!(report.held.is_empty());
    assert_eq!(versions(&db).await, [1, 2, 3]);
}
