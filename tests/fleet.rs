//! Fleets: `app migrate … --targets` over many databases on private clusters, with a conflict,
//! a canary, a kill in the middle of a run, and schema-per-tenant targets.

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use pgbaked_testing::PrivateCluster;

mod common;
use common::{Spawned, output, stderr, stdout};

const APP: &str = env!("CARGO_BIN_EXE_app");

/// Never in any output: every target line carries it (trust auth ignores it).
const PASSWORD: &str = "fleet-secret-pw";

fn cluster() -> PrivateCluster {
    PrivateCluster::start(&[], |_| Ok(())).unwrap()
}

fn connect(url: &str) -> postgres::Client {
    postgres::Client::connect(url, postgres::NoTls).unwrap()
}

/// Creates `prefix_0` … on `cluster`; returns their names.
fn databases(cluster: &PrivateCluster, prefix: &str, count: usize) -> Vec<String> {
    let mut admin = connect(&cluster.url("postgres"));
    (0..count)
        .map(|i| {
            let name = format!("{prefix}_{i}");
            admin
                .batch_execute(&format!("CREATE DATABASE {name}"))
                .unwrap();
            name
        })
        .collect()
}

/// The URL of `db` on `cluster`, with a password in it.
fn target(cluster: &PrivateCluster, db: &str) -> String {
    format!(
        "postgres://postgres:{PASSWORD}@127.0.0.1:{}/{db}",
        cluster.port()
    )
}

/// How the output names a target: no password.
fn shown(cluster: &PrivateCluster, db: &str) -> String {
    format!("postgres@127.0.0.1:{}/{db}", cluster.port())
}

/// A targets file with a comment and a blank line among `lines`.
fn targets_file(name: &str, lines: &[String]) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("app-fleet-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("targets.txt");
    let text = format!("# the tenants\n\n{}\n", lines.join("\n"));
    std::fs::write(&path, text).unwrap();
    path
}

fn app(args: &[&str]) -> Command {
    let mut command = Command::new(APP);
    command
        .args(args)
        .env_remove("DATABASE_URL")
        .env_remove("APP_MIGRATE")
        .env("RUST_LOG", "warn");
    command
}

/// Neither stream holds the password.
fn no_password(out: &Output) {
    assert!(!stdout(out).contains(PASSWORD), "{}", stdout(out));
    assert!(!stderr(out).contains(PASSWORD), "{}", stderr(out));
}

/// The versions recorded in `table` of `url`'s database, none when it does not exist.
fn versions_in(url: &str, table: &str) -> Vec<i64> {
    let mut client = connect(url);
    let exists: bool = client
        .query_one("SELECT to_regclass($1) IS NOT NULL", &[&table])
        .unwrap()
        .get(0);
    if !exists {
        return Vec::new();
    }
    client
        .query(
            &format!("SELECT version::int8 FROM {table} ORDER BY version"),
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect()
}

fn versions(url: &str) -> Vec<i64> {
    versions_in(url, "refinery_schema_history")
}

/// What the recorded versions say the schema is, checked against the tables: V1 made
/// api_tokens, V2 dropped it and added swagger_specs.jwt_token. Returns the versions.
fn consistent(url: &str) -> Vec<i64> {
    let recorded = versions(url);
    let mut client = connect(url);
    let exists = |client: &mut postgres::Client, sql: &str| -> bool {
        client.query_one(sql, &[]).unwrap().get(0)
    };
    let users = exists(&mut client, "SELECT to_regclass('users') IS NOT NULL");
    let tokens = exists(&mut client, "SELECT to_regclass('api_tokens') IS NOT NULL");
    let jwt = exists(
        &mut client,
        "SELECT EXISTS (SELECT 1 FROM information_schema.columns \
         WHERE table_name = 'swagger_specs' AND column_name = 'jwt_token')",
    );
    let expected = match recorded.as_slice() {
        [] => (false, false, false),
        [1] => (true, true, false),
        [1, 2] => (true, false, true),
        other => panic!("{url}: recorded {other:?}"),
    };
    assert_eq!(
        (users, tokens, jwt),
        expected,
        "{url}: recorded {recorded:?}"
    );
    recorded
}

/// Each target's `state` in a fleet's JSON document, in target order.
fn states(doc: &serde_json::Value) -> Vec<&str> {
    doc["targets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["state"].as_str().unwrap())
        .collect()
}

/// Samples the migrating connections (`application_name` `app migrate …`) of each server every
/// few milliseconds while a fleet runs, and keeps the peak of each.
struct Sampler {
    stop: Arc<AtomicBool>,
    threads: Vec<std::thread::JoinHandle<i64>>,
}

impl Sampler {
    fn start(servers: &[String]) -> Sampler {
        let stop = Arc::new(AtomicBool::new(false));
        let threads = servers
            .iter()
            .map(|url| {
                let (url, stop) = (url.clone(), stop.clone());
                std::thread::spawn(move || {
                    let mut client = connect(&url);
                    let mut peak = 0;
                    while !stop.load(Ordering::Relaxed) {
                        let now: i64 = client
                            .query_one(
                                "SELECT count(*) FROM pg_stat_activity \
                                 WHERE application_name LIKE 'app migrate%'",
                                &[],
                            )
                            .unwrap()
                            .get(0);
                        peak = peak.max(now);
                        std::thread::sleep(Duration::from_millis(2));
                    }
                    peak
                })
            })
            .collect();
        Sampler { stop, threads }
    }

    fn peaks(self) -> Vec<i64> {
        self.stop.store(true, Ordering::Relaxed);
        self.threads
            .into_iter()
            .map(|t| t.join().unwrap())
            .collect()
    }
}

#[test]
fn a_fleet_over_two_clusters_names_a_conflict_by_file_and_line_and_a_rerun_finishes() {
    let (a, b) = (cluster(), cluster());
    let mut urls = Vec::new();
    let mut lines = Vec::new();
    for (cluster, prefix) in [(&a, "tenant_a"), (&b, "tenant_b")] {
        for db in databases(cluster, prefix, 30) {
            urls.push((cluster.url(&db), shown(cluster, &db)));
            lines.push(target(cluster, &db));
        }
    }
    // A conflicting object in one database of the second cluster: V1 creates users.
    connect(&b.url("tenant_b_7"))
        .batch_execute("CREATE TABLE users (legacy int)")
        .unwrap();
    let file = targets_file("two-clusters", &lines);
    let file = file.to_str().unwrap();

    let sampler = Sampler::start(&[a.url("postgres"), b.url("postgres")]);
    let out = output(&mut app(&[
        "migrate",
        "up",
        "--targets",
        file,
        "--on-error",
        "continue",
        "--parallel",
        "8",
    ]));
    let peaks = sampler.peaks();
    eprintln!("peak migrating connections per server: {peaks:?}");
    no_password(&out);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let failing = shown(&b, "tenant_b_7");
    let summary = format!(
        "60 targets: 59 migrated, 1 failed ({failing}: migration V1__initial failed: \
         sql/V1__initial.sql:5:1: relation \"users\" already exists (SQLSTATE 42P07)"
    );
    assert!(stdout(&out).contains(&summary), "{}", stdout(&out));
    for (url, name) in &urls {
        if *name == failing {
            // Its own users table is all it holds: V1 rolled back whole.
            assert_eq!(versions(url), Vec::<i64>::new());
        } else {
            assert_eq!(consistent(url), [1, 2], "{name}");
        }
    }
    // At most --parallel migrating connections to either server (N+1 is the bound).
    assert!(peaks.iter().all(|&p| (1..=9).contains(&p)), "{peaks:?}");

    // Fixed, and run again: the one left behind is migrated, nothing else is touched.
    connect(&b.url("tenant_b_7"))
        .batch_execute("DROP TABLE users")
        .unwrap();
    let again = output(&mut app(&["migrate", "up", "--targets", file]));
    no_password(&again);
    assert!(again.status.success(), "{}", stdout(&again));
    assert!(
        stdout(&again).contains("60 targets: 1 migrated, 59 already at head"),
        "{}",
        stdout(&again)
    );
    for (url, _) in &urls {
        assert_eq!(consistent(url), [1, 2]);
    }

    // The fleet's status, as a script reads it.
    let check = output(&mut app(&[
        "migrate",
        "check",
        "--targets",
        file,
        "--format",
        "json",
    ]));
    no_password(&check);
    assert!(check.status.success(), "{}", stdout(&check));
    let doc: serde_json::Value = serde_json::from_slice(&check.stdout).unwrap();
    let states = states(&doc);
    assert_eq!(states, vec!["in_sync"; 60]);
    assert_eq!(doc["summary"]["in_sync"], 60);
}

#[test]
fn a_fleet_run_killed_mid_way_resumes_and_applies_nothing_twice() {
    let cluster = cluster();
    let names = databases(&cluster, "killed", 40);
    let lines: Vec<String> = names.iter().map(|db| target(&cluster, db)).collect();
    let file = targets_file("killed", &lines);
    // Hold one target's migration lock, so the run is provably still in flight when killed.
    let mut holder = connect(&cluster.url("killed_20"));
    let key = pgbaked::__private::lock_key(pgbaked::DEFAULT_TABLE);
    holder
        .execute("SELECT pg_advisory_lock($1)", &[&key])
        .unwrap();
    let mut run = Spawned::spawn(
        app(&[
            "migrate",
            "up",
            "--targets",
            file.to_str().unwrap(),
            "--parallel",
            "2",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped()),
    );
    let at_head = |names: &[String]| {
        names
            .iter()
            .filter(|db| versions(&cluster.url(db)) == [1, 2])
            .count()
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    while at_head(&names) < 10 {
        assert!(Instant::now() < deadline, "the fleet made no progress");
        assert!(run.try_wait().is_none(), "the fleet ended before the kill");
        std::thread::sleep(Duration::from_millis(20));
    }
    run.kill(); // SIGKILL
    let done: usize = names
        .iter()
        .filter(|db| consistent(&cluster.url(db)) == [1, 2])
        .count();
    assert!(done < names.len(), "the kill landed after the run");
    drop(holder);

    let again = output(&mut app(&[
        "migrate",
        "up",
        "--targets",
        file.to_str().unwrap(),
    ]));
    assert!(again.status.success(), "{}", stdout(&again));
    assert!(
        stdout(&again).contains("40 targets: "),
        "{}",
        stdout(&again)
    );
    for db in &names {
        // Exactly two rows each: nothing was applied twice.
        assert_eq!(consistent(&cluster.url(db)), [1, 2], "{db}");
    }
}

#[test]
fn a_failing_canary_starts_no_other_target() {
    let cluster = cluster();
    let names = databases(&cluster, "canary", 10);
    connect(&cluster.url("canary_1"))
        .batch_execute("CREATE TABLE users (legacy int)")
        .unwrap();
    let lines: Vec<String> = names.iter().map(|db| target(&cluster, db)).collect();
    let file = targets_file("canary", &lines);
    let out = output(&mut app(&[
        "migrate",
        "up",
        "--targets",
        file.to_str().unwrap(),
        "--canary",
        "2",
        "--on-error",
        "continue",
        "--format",
        "json",
    ]));
    no_password(&out);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let states = states(&doc);
    let mut expected = vec!["migrated", "failed"];
    expected.extend(["not_started"; 8]);
    assert_eq!(states, expected);
    assert!(
        doc["targets"][1]["error"]
            .as_str()
            .unwrap()
            .contains("sql/V1__initial.sql:5:1"),
        "{doc:#}"
    );
    for db in &names[2..] {
        assert_eq!(versions(&cluster.url(db)), Vec::<i64>::new(), "{db}");
    }
    // Every target read, nine pending: check exits as one database's check would (3).
    let check = output(&mut app(&[
        "migrate",
        "check",
        "--targets",
        file.to_str().unwrap(),
    ]));
    assert_eq!(check.status.code(), Some(3), "{}", stdout(&check));
    assert!(
        stdout(&check).contains("10 targets: 1 in sync, 9 pending"),
        "{}",
        stdout(&check)
    );
    // `down` (-1) and `up +1` are relative to each target: refused over a fleet, where a rerun
    // would move the targets that had succeeded once more.
    for args in [&["migrate", "down"][..], &["migrate", "up", "+1"][..]] {
        let mut args = args.to_vec();
        args.extend(["--targets", file.to_str().unwrap()]);
        let refused = output(&mut app(&args));
        assert_eq!(refused.status.code(), Some(1), "{}", stderr(&refused));
        assert!(
            stderr(&refused).contains("is relative to each target's version"),
            "{}",
            stderr(&refused)
        );
    }
    assert_eq!(versions(&cluster.url(&names[0])), [1, 2]);
}

#[test]
fn schema_per_tenant_targets_keep_their_own_history_and_lock() {
    let cluster = cluster();
    databases(&cluster, "shared", 1);
    let url = cluster.url("shared_0");
    let tenants = ["tenant_a", "tenant_b", "tenant_c"];
    let lines: Vec<String> = tenants
        .iter()
        .map(|t| format!("{}?schema={t}", target(&cluster, "shared_0")))
        .collect();
    let file = targets_file("schemas", &lines);
    // tenant_a's lock is taken: only tenant_a waits, the others do not share its key.
    let mut holder = connect(&url);
    let key = pgbaked::__private::lock_key("tenant_a.refinery_schema_history");
    holder
        .execute("SELECT pg_advisory_lock($1)", &[&key])
        .unwrap();
    let out = output(
        app(&[
            "migrate",
            "up",
            "--targets",
            file.to_str().unwrap(),
            "--on-error",
            "continue",
            "--lock-timeout",
            "1s",
        ])
        .env("RUST_LOG", "info"),
    );
    no_password(&out);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    // Each target's steps are in its result, not one log line per step per target.
    assert!(
        !stderr(&out).contains("applied migration"),
        "{}",
        stderr(&out)
    );
    assert!(
        stdout(&out).contains("2 migrated, 1 failed (postgres@127.0.0.1:")
            && stdout(&out).contains("/shared_0?schema=tenant_a: timed out after 1")
            && stdout(&out).contains("waiting for the migration lock, held by pid"),
        "{}",
        stdout(&out)
    );
    assert_eq!(
        versions_in(&url, "tenant_a.refinery_schema_history"),
        Vec::<i64>::new()
    );
    for tenant in &tenants[1..] {
        assert_eq!(
            versions_in(&url, &format!("{tenant}.refinery_schema_history")),
            [1, 2]
        );
    }
    drop(holder);
    let again = output(&mut app(&[
        "migrate",
        "up",
        "--targets",
        file.to_str().unwrap(),
    ]));
    assert!(again.status.success(), "{}", stdout(&again));
    let mut client = connect(&url);
    for tenant in tenants {
        assert_eq!(
            versions_in(&url, &format!("{tenant}.refinery_schema_history")),
            [1, 2]
        );
        let tables: i64 = client
            .query_one(
                "SELECT count(*) FROM pg_tables WHERE schemaname = $1 AND tablename = 'users'",
                &[&tenant],
            )
            .unwrap()
            .get(0);
        assert_eq!(tables, 1, "{tenant}");
    }
    // The offline script of a tenant pins search_path too: run by psql, it fills tenant_d.
    let script = output(
        app(&["migrate", "up", "--sql"]).env("DATABASE_URL", format!("{url}?schema=tenant_d")),
    );
    assert!(script.status.success(), "{}", stderr(&script));
    let psql = common::psql(&url, &stdout(&script));
    assert!(psql.status.success(), "{}", stderr(&psql));
    assert_eq!(
        versions_in(&url, "tenant_d.refinery_schema_history"),
        [1, 2]
    );
    // Nothing landed in public: search_path was pinned to each tenant's schema.
    assert_eq!(versions(&url), Vec::<i64>::new());
    let public: i64 = client
        .query_one(
            "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(public, 0);
    // history over the fleet lists each tenant's versions, not only where it stands.
    let history = output(&mut app(&[
        "migrate",
        "history",
        "--targets",
        file.to_str().unwrap(),
    ]));
    assert!(history.status.success(), "{}", stderr(&history));
    let text = stdout(&history);
    assert!(
        text.starts_with("TARGET") && text.contains("  HISTORY"),
        "{text}"
    );
    assert_eq!(text.matches("V1–V2 applied").count(), 3, "{text}");
}

#[test]
fn targets_from_a_query_or_stdin_report_bad_lines_each_and_go_on() {
    let cluster = cluster();
    let names = databases(&cluster, "listed", 3);
    let mut admin = connect(&cluster.url("postgres"));
    admin
        .batch_execute("CREATE TABLE tenants (id serial, url text)")
        .unwrap();
    let rows = [
        target(&cluster, &names[0]),
        format!("mysql://root:{PASSWORD}@127.0.0.1/{}", names[1]),
        target(&cluster, &names[1]),
        // The same database again, with another password: a duplicate.
        target(&cluster, &names[0]).replace(PASSWORD, "another-pw"),
        target(&cluster, "missing_db"),
        format!("postgres://postgres:{PASSWORD}@127.0.0.1:1/{}", names[2]),
    ];
    for row in &rows {
        admin
            .execute("INSERT INTO tenants (url) VALUES ($1)", &[row])
            .unwrap();
    }
    // With --on-error stop (the default), the bad rows stop the run before anything changes.
    let stopped = output(
        app(&[
            "migrate",
            "up",
            "--targets-query",
            "SELECT url FROM tenants ORDER BY id",
        ])
        .env("DATABASE_URL", cluster.url("postgres")),
    );
    no_password(&stopped);
    assert_eq!(stopped.status.code(), Some(1), "{}", stderr(&stopped));
    assert!(
        stdout(&stopped).contains("6 targets: 2 failed (row 2, row 4), 4 not started"),
        "{}",
        stdout(&stopped)
    );
    assert_eq!(versions(&cluster.url(&names[0])), Vec::<i64>::new());

    let out = output(
        app(&[
            "migrate",
            "up",
            "--targets-query",
            "SELECT url FROM tenants ORDER BY id",
            "--on-error",
            "continue",
        ])
        .env("DATABASE_URL", cluster.url("postgres")),
    );
    no_password(&out);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let text = stdout(&out);
    for expected in [
        "row 2  ",
        "failed: invalid database URL: it must start with postgres:// or postgresql://",
        "failed: a duplicate of row 1",
        "/missing_db",
        "database \"missing_db\" does not exist",
        "postgres@127.0.0.1:1/listed_2",
        "unreachable: ",
        "6 targets: 2 migrated, 3 failed (",
        ", 1 unreachable (postgres@127.0.0.1:1/listed_2: ",
    ] {
        assert!(text.contains(expected), "{expected:?} in {text}");
    }
    assert!(!text.contains("another-pw"), "{text}");

    // The same list on standard input, read by `current`: a status table.
    let mut list = rows.join("\n");
    list.push('\n');
    let mut child = Spawned::spawn(
        app(&["migrate", "current", "--targets", "-"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped()),
    );
    {
        use std::io::Write as _;
        let mut stdin = child.stdin();
        stdin.write_all(list.as_bytes()).unwrap();
    }
    let current = child.wait_within(common::LIMIT);
    no_password(&current);
    assert_eq!(current.status.code(), Some(1), "{}", stderr(&current));
    let table = stdout(&current);
    assert!(table.starts_with("TARGET"), "{table}");
    let row = |db: &str| {
        table
            .lines()
            .find(|l| l.starts_with(&shown(&cluster, db)))
            .unwrap_or_else(|| panic!("{db} in {table}"))
            .split_whitespace()
            .skip(1)
            .collect::<Vec<_>>()
            .join(" ")
    };
    assert_eq!(row(&names[0]), "2 0 in sync");
    assert_eq!(row(&names[1]), "2 0 in sync");
    assert!(table.contains("6 targets: 2 in sync, 3 failed"), "{table}");
}

#[test]
fn a_wrong_password_fails_that_target_alone() {
    // Passwords checked over TCP (scram), trust on the socket the test sets them through.
    let cluster = PrivateCluster::start(&[], |data| {
        std::fs::write(
            data.join("pg_hba.conf"),
            "local all all trust\nhost all all 127.0.0.1/32 scram-sha-256\n",
        )?;
        Ok(())
    })
    .unwrap();
    let socket = cluster.data_dir().parent().unwrap().to_path_buf();
    let mut admin = postgres::Config::new()
        .host_path(&socket)
        .port(cluster.port())
        .user("postgres")
        .dbname("postgres")
        .connect(postgres::NoTls)
        .unwrap();
    for sql in [
        format!("ALTER ROLE postgres PASSWORD '{PASSWORD}'"),
        "CREATE DATABASE right_pw".into(),
        "CREATE DATABASE wrong_pw".into(),
    ] {
        admin.batch_execute(&sql).unwrap();
    }
    let lines = [
        target(&cluster, "right_pw"),
        target(&cluster, "wrong_pw").replace(PASSWORD, "not-the-password"),
    ];
    let file = targets_file("passwords", &lines);
    let out = output(&mut app(&[
        "migrate",
        "up",
        "--targets",
        file.to_str().unwrap(),
        "--on-error",
        "continue",
    ]));
    no_password(&out);
    assert!(
        !stdout(&out).contains("not-the-password"),
        "{}",
        stdout(&out)
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains(&format!(
            "2 targets: 1 migrated, 1 failed ({}: ",
            shown(&cluster, "wrong_pw")
        )) && text.contains("password authentication failed for user \"postgres\""),
        "{text}"
    );
}

#[test]
fn read_only_fleet_commands_do_not_offer_on_error_or_canary() {
    for command in ["current", "history", "check"] {
        let out = output(&mut app(&[
            "migrate",
            command,
            "--targets",
            "-",
            "--canary",
            "1",
        ]));
        assert_eq!(out.status.code(), Some(2), "{command}: {}", stderr(&out));
        let help = output(&mut app(&["migrate", command, "--help"]));
        assert!(
            !stdout(&help).contains("--on-error") && stdout(&help).contains("--targets"),
            "{command}: {}",
            stdout(&help)
        );
    }
    let up = output(&mut app(&["migrate", "up", "--help"]));
    assert!(stdout(&up).contains("--canary"), "{}", stdout(&up));
}
