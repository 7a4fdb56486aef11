//! Databases this engine did not create: a history table made by plain refinery with its default
//! features (int4 versions, i32 checksums), and files checked out with other line endings.

use std::hash::{Hash, Hasher};
use std::time::Duration;

use pgbaked::{Migration, Migrator, Options, Rev, Script, State};
use pgbaked_testing::TestDb;

mod common;
use common::bounded;

/// refinery-core 0.10's `Migration::unapplied` with default features, written out here rather
/// than taken from the crate: this crate turns on refinery's `int8-versions`, and feature
/// unification would hide the difference a default-featured refinery makes.
fn default_refinery_checksum(name: &str, version: i32, sql: &str) -> u64 {
    let mut hasher = siphasher::sip::SipHasher13::new();
    name.hash(&mut hasher);
    version.hash(&mut hasher);
    sql.hash(&mut hasher);
    hasher.finish()
}

const V1: &str = "CREATE TABLE one (id int);\n";
const V2: &str = "CREATE TABLE two (id int);\n";
const V3: &str = "CREATE TABLE three (id int);\n";

fn migrator(files: &[(i64, &str, &str)]) -> Migrator {
    let migrations = files
        .iter()
        .map(|(version, name, sql)| {
            Migration::new(
                *version,
                name,
                Script::new(format!("sql/V{version}__{name}.sql"), *sql),
                None,
            )
            .unwrap()
        })
        .collect();
    Migrator::new(
        migrations,
        Options {
            lock_wait: Duration::from_secs(10),
            ..Options::default()
        },
    )
}

/// The table exactly as refinery 0.10 creates it without `int8-versions`, with V1 and V2
/// recorded the way it records them.
async fn refinery_default_database(db: &TestDb) {
    let client = db.pool().get().await.unwrap();
    client
        .batch_execute(&format!(
            "CREATE TABLE refinery_schema_history(version INT4 PRIMARY KEY, name VARCHAR(255), \
             applied_on VARCHAR(255), checksum VARCHAR(255));
             {V1}{V2}
             INSERT INTO refinery_schema_history VALUES
               (1, 'one', '2026-01-01T00:00:00Z', '{}'),
               (2, 'two', '2026-01-01T00:00:00Z', '{}');",
            default_refinery_checksum("one", 1, V1),
            default_refinery_checksum("two", 2, V2),
        ))
        .await
        .unwrap();
}

#[tokio::test]
async fn a_database_migrated_by_default_refinery_is_in_sync_and_stays_readable_by_it() {
    let db = TestDb::empty().await.unwrap();
    refinery_default_database(&db).await;
    let m = migrator(&[(1, "one", V1), (2, "two", V2), (3, "three", V3)]);

    let client = db.pool().get().await.unwrap();
    let history = m.history(&client).await.unwrap();
    let status = m.status(&history);
    assert_eq!(status.versions(State::Divergent), Vec::<i64>::new());
    assert_eq!(status.versions(State::Applied), [1, 2]);
    assert_eq!(status.versions(State::Pending), [3]);

    bounded("up", m.up(db.pool(), &Rev::Head, &mut |_| {}))
        .await
        .unwrap();
    // V3's row is what default refinery would have written, so refinery goes on with it.
    let row = client
        .query_one(
            "SELECT checksum, pg_typeof(version)::text FROM refinery_schema_history WHERE version = 3",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(
        row.get::<_, String>(0),
        default_refinery_checksum("three", 3, V3).to_string()
    );
    assert_eq!(row.get::<_, String>(1), "integer");

    // stamp and repair write the same i32 checksums.
    bounded("down", m.stamp(db.pool(), &Rev::Version(1)))
        .await
        .unwrap();
    bounded("stamp", m.stamp(db.pool(), &Rev::Head))
        .await
        .unwrap();
    let history = m.history(&client).await.unwrap();
    assert_eq!(m.status(&history).versions(State::Applied), [1, 2, 3]);
}

#[tokio::test]
async fn a_version_too_large_for_an_int4_table_is_refused_with_the_fix() {
    let db = TestDb::empty().await.unwrap();
    refinery_default_database(&db).await;
    let m = migrator(&[
        (1, "one", V1),
        (2, "two", V2),
        (20261122093000, "stamped", V3),
    ]);
    let err = bounded("up", m.up(db.pool(), &Rev::Head, &mut |_| {}))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("V20261122093000__stamped has a version above 2147483647"),
        "{err}"
    );
    assert!(err.contains("ALTER COLUMN version TYPE int8"), "{err}");
}

#[tokio::test]
async fn a_crlf_checkout_reads_as_the_same_migration() {
    let db = TestDb::empty().await.unwrap();
    let unix = migrator(&[(1, "one", "CREATE TABLE one (id int);\nSELECT 1;\n")]);
    bounded("up", unix.up(db.pool(), &Rev::Head, &mut |_| {}))
        .await
        .unwrap();
    // The same file checked out on Windows with git's autocrlf, and with a byte-order mark.
    for text in [
        "CREATE TABLE one (id int);\r\nSELECT 1;\r\n",
        "\u{feff}CREATE TABLE one (id int);\nSELECT 1;\n",
    ] {
        let windows = migrator(&[(1, "one", text)]);
        let client = db.pool().get().await.unwrap();
        let history = windows.history(&client).await.unwrap();
        assert_eq!(
            windows.status(&history).versions(State::Applied),
            [1],
            "{text:?}"
        );
    }
    // A file that really changed is still an edit.
    let edited = migrator(&[(1, "one", "CREATE TABLE one (id bigint);\nSELECT 1;\n")]);
    let client = db.pool().get().await.unwrap();
    let history = edited.history(&client).await.unwrap();
    assert_eq!(edited.status(&history).versions(State::Divergent), [1]);
}

#[tokio::test]
async fn a_byte_order_mark_never_reaches_the_server() {
    let db = TestDb::empty().await.unwrap();
    // The server would read a BOM as part of the first token: `\u{feff}CREATE` is no keyword.
    let m = migrator(&[(1, "one", "\u{feff}CREATE TABLE one (id int);")]);
    bounded("up", m.up(db.pool(), &Rev::Head, &mut |_| {}))
        .await
        .unwrap();
}
