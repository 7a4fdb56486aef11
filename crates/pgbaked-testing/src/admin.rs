//! The database work behind [`super::TestDb`], on threads of their own with the synchronous
//! client: a test's Tokio runtime ends with the test, and `Drop` must not block one.
//!
//! Acquisition is fast because clones are prepared ahead of demand. `CREATE DATABASE ...
//! TEMPLATE` costs 100 ms and more at a few hundred tables, even on tmpfs without fsync, so a
//! refill thread keeps a few spare clones of the template ready, and a test claims one with
//! `ALTER DATABASE ... RENAME`, which takes about a millisecond and is atomic across processes.

use std::collections::HashMap;
use std::sync::mpsc;
use std::sync::{Mutex, OnceLock};
use std::thread;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::Context;

use super::server::TestServer;
use pgbaked::__private::quote_identifier;
use pgbaked::{DEFAULT_TABLE, EmbeddedMigration, Migration};

/// Prefix of every per-test database, so stale ones can be found and swept.
pub const TEST_DB_PREFIX: &str = "app_test_";
/// Prefix of template databases; the rest of the name is the migration set's hash.
pub use pgbaked::{TEMPLATE_PREFIX, migration_set_hash};
/// Prefix of prepared clones waiting to be claimed.
pub const SPARE_PREFIX: &str = "app_spare_";
/// How many spare clones to keep ready (`APP_TEST_SPARES` overrides).
const DEFAULT_SPARES: usize = 4;
/// Per-test databases older than this were left by dead processes and are swept.
const STALE_AFTER: Duration = Duration::from_secs(6 * 3600);

/// A request to the admin thread.
enum Request {
    Acquire {
        /// The migrations to apply, or `None` for an empty database.
        migrations: Option<Vec<Migration>>,
        /// Whether to claim (and keep) spare clones of this set.
        spares: bool,
        reply: mpsc::Sender<anyhow::Result<String>>,
    },
    Warm {
        migrations: Vec<Migration>,
        count: usize,
        reply: mpsc::Sender<anyhow::Result<()>>,
    },
    Drop {
        name: String,
        reply: mpsc::Sender<anyhow::Result<()>>,
    },
    Discard {
        migrations: Vec<Migration>,
        reply: mpsc::Sender<anyhow::Result<()>>,
    },
}

/// The process's link to its admin thread.
pub struct Admin {
    server: TestServer,
    requests: Mutex<mpsc::Sender<Request>>,
}

static ADMIN: OnceLock<anyhow::Result<Admin>> = OnceLock::new();

/// The process-wide admin, started on first use. Blocking: call it off any Tokio runtime.
pub fn admin() -> anyhow::Result<&'static Admin> {
    ADMIN
        .get_or_init(|| {
            let server = TestServer::discover()?;
            let client = server.connect_blocking()?;
            let (sender, receiver) = mpsc::channel();
            let thread_server = server.clone();
            thread::Builder::new()
                .name("testing-admin".into())
                .spawn(move || serve(thread_server, client, receiver))?;
            Ok(Admin {
                server,
                requests: Mutex::new(sender),
            })
        })
        .as_ref()
        .map_err(|e| anyhow::anyhow!("{e:#}"))
}

impl Admin {
    /// The server.
    pub fn server(&self) -> &TestServer {
        &self.server
    }

    fn send(&self, request: Request) -> anyhow::Result<()> {
        self.requests
            .lock()
            .map_err(|_| anyhow::anyhow!("the testing admin thread panicked"))?
            .send(request)
            .map_err(|_| anyhow::anyhow!("the testing admin thread stopped"))
    }

    /// A new database with `migrations` applied (empty when `None`), from a spare clone when
    /// `spares` and one is ready. Blocking.
    ///
    /// # Errors
    ///
    /// The server's error.
    pub fn acquire(
        &self,
        migrations: Option<Vec<Migration>>,
        spares: bool,
    ) -> anyhow::Result<String> {
        let (reply, answer) = mpsc::channel();
        self.send(Request::Acquire {
            migrations,
            spares,
            reply,
        })?;
        answer
            .recv()
            .map_err(|_| anyhow::anyhow!("the testing admin thread stopped"))?
    }

    /// Builds the template of `migrations` and makes `count` spare clones of it now. Blocking.
    ///
    /// # Errors
    ///
    /// The server's error.
    pub fn warm(&self, migrations: Vec<Migration>, count: usize) -> anyhow::Result<()> {
        let (reply, answer) = mpsc::channel();
        self.send(Request::Warm {
            migrations,
            count,
            reply,
        })?;
        answer
            .recv()
            .map_err(|_| anyhow::anyhow!("the testing admin thread stopped"))?
    }

    /// Drops the template of `migrations` and its spares. Blocking.
    ///
    /// # Errors
    ///
    /// The server's error.
    pub fn discard(&self, migrations: Vec<Migration>) -> anyhow::Result<()> {
        let (reply, answer) = mpsc::channel();
        self.send(Request::Discard { migrations, reply })?;
        answer
            .recv()
            .map_err(|_| anyhow::anyhow!("the testing admin thread stopped"))?
    }

    /// Drops a test's database. Blocking.
    ///
    /// # Errors
    ///
    /// The server's error.
    pub fn drop_database(&self, name: &str) -> anyhow::Result<()> {
        let (reply, answer) = mpsc::channel();
        self.send(Request::Drop {
            name: name.to_string(),
            reply,
        })?;
        answer
            .recv()
            .map_err(|_| anyhow::anyhow!("the testing admin thread stopped"))?
    }
}

/// The admin thread: answers requests one at a time on one connection.
fn serve(server: TestServer, mut client: postgres::Client, requests: mpsc::Receiver<Request>) {
    let mut refills: HashMap<String, mpsc::Sender<()>> = HashMap::new();
    // Templates this thread knows exist: an acquisition of a known set goes straight to its
    // spares, without a connection of its own to ask whether the template is there.
    let mut built: std::collections::HashSet<String> = std::collections::HashSet::new();
    let mut swept = false;
    for request in requests {
        match request {
            Request::Acquire {
                migrations,
                spares,
                reply,
            } => {
                // The first migrated acquisition names the set this process works on, whose
                // templates the sweep keeps.
                if let (false, Some(set)) = (swept, &migrations) {
                    sweep(&mut client, set);
                    swept = true;
                }
                let result = acquire(
                    &server,
                    &mut client,
                    migrations,
                    spares,
                    &mut refills,
                    &mut built,
                );
                let _ = reply.send(result);
            }
            Request::Warm {
                migrations,
                count,
                reply,
            } => {
                let result = template(&server, &migrations)
                    .and_then(|template| top_up(&mut client, &template, count));
                let _ = reply.send(result);
            }
            Request::Discard { migrations, reply } => {
                let template = pgbaked::template_name(&migrations, DEFAULT_TABLE);
                // Stop refilling first, so no new spare appears behind the sweep.
                refills.remove(&template);
                let _ = reply.send(discard(&mut client, &template));
            }
            Request::Drop { name, reply } => {
                let sql = format!(
                    "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                    quote_identifier(&name)
                );
                let _ = reply.send(client.batch_execute(&sql).map_err(Into::into));
            }
        }
    }
}

fn acquire(
    server: &TestServer,
    client: &mut postgres::Client,
    migrations: Option<Vec<Migration>>,
    spares: bool,
    refills: &mut HashMap<String, mpsc::Sender<()>>,
    built: &mut std::collections::HashSet<String>,
) -> anyhow::Result<String> {
    let name = unique_name(TEST_DB_PREFIX);
    let Some(migrations) = migrations else {
        client.batch_execute(&format!("CREATE DATABASE {}", quote_identifier(&name)))?;
        return Ok(name);
    };
    let set = pgbaked::template_name(&migrations, DEFAULT_TABLE);
    if !built.contains(&set) {
        template(server, &migrations)?;
        built.insert(set.clone());
    }
    if spares {
        let refill = refills
            .entry(set.clone())
            .or_insert_with(|| start_refill(server.clone(), set.clone()));
        let claimed = claim(client, &set, &name);
        let _ = refill.send(());
        if claimed? {
            return Ok(name);
        }
    }
    if create_from(client, &set, &name).is_err() {
        // Dropped since (`migrate clean`, a prune of old templates): built again, once.
        built.remove(&set);
        template(server, &migrations)?;
        built.insert(set.clone());
        create_from(client, &set, &name)?;
    }
    Ok(name)
}

/// Claims a spare clone by renaming it. Another process may claim the same one first; the
/// rename then fails and the next is tried.
fn claim(client: &mut postgres::Client, template: &str, name: &str) -> anyhow::Result<bool> {
    let pattern = format!("{}\\_%", spare_prefix(template).replace('_', "\\_"));
    let spares = client.query(
        "SELECT datname::text FROM pg_database WHERE datname LIKE $1 ORDER BY random() LIMIT 8",
        &[&pattern],
    )?;
    for row in spares {
        let spare: String = row.get(0);
        let rename = format!(
            "ALTER DATABASE {} RENAME TO {}",
            quote_identifier(&spare),
            quote_identifier(name)
        );
        if client.batch_execute(&rename).is_ok() {
            return Ok(true);
        }
    }
    Ok(false)
}

fn create_from(client: &mut postgres::Client, template: &str, name: &str) -> anyhow::Result<()> {
    client
        .batch_execute(&format!(
            "CREATE DATABASE {} TEMPLATE {}",
            quote_identifier(name),
            quote_identifier(template)
        ))
        .with_context(|| format!("creating test database {name} from {template}"))
}

fn spare_prefix(template: &str) -> String {
    format!(
        "{SPARE_PREFIX}{}",
        template.strip_prefix(TEMPLATE_PREFIX).unwrap_or(template)
    )
}

/// The refill thread: after every claim, tops the spare clones of `template` back up.
fn start_refill(server: TestServer, template: String) -> mpsc::Sender<()> {
    let (sender, wakeups) = mpsc::channel::<()>();
    let target = std::env::var("APP_TEST_SPARES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(DEFAULT_SPARES);
    let _ = thread::Builder::new()
        .name("testing-refill".into())
        .spawn(move || {
            let Ok(mut client) = server.connect_blocking() else {
                return;
            };
            while wakeups.recv().is_ok() {
                while wakeups.try_recv().is_ok() {}
                if top_up(&mut client, &template, target).is_err() {
                    return;
                }
            }
        });
    sender
}

/// Drops `template` and every spare clone of it.
fn discard(client: &mut postgres::Client, template: &str) -> anyhow::Result<()> {
    let pattern = format!("{}\\_%", spare_prefix(template).replace('_', "\\_"));
    let spares = client.query(
        "SELECT datname::text FROM pg_database WHERE datname LIKE $1",
        &[&pattern],
    )?;
    for row in spares {
        let name: String = row.get(0);
        client.batch_execute(&format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            quote_identifier(&name)
        ))?;
    }
    drop_template(client, template)
}

/// Drops a database that may be a template. Two statements: DROP DATABASE cannot run in the
/// implicit transaction of a multi-statement query.
fn drop_template(client: &mut postgres::Client, name: &str) -> anyhow::Result<()> {
    let quoted = quote_identifier(name);
    let _ = client.batch_execute(&format!("ALTER DATABASE {quoted} WITH IS_TEMPLATE false"));
    client.batch_execute(&format!("DROP DATABASE IF EXISTS {quoted} WITH (FORCE)"))?;
    Ok(())
}

/// Creates spare clones of `template` until there are `target`.
fn top_up(client: &mut postgres::Client, template: &str, target: usize) -> anyhow::Result<()> {
    let pattern = format!("{}\\_%", spare_prefix(template).replace('_', "\\_"));
    loop {
        let count: i64 = client
            .query_one(
                "SELECT count(*) FROM pg_database WHERE datname LIKE $1",
                &[&pattern],
            )?
            .get(0);
        if usize::try_from(count).unwrap_or(0) >= target {
            return Ok(());
        }
        let spare = unique_name(&format!("{}_", spare_prefix(template)));
        create_from(client, template, &spare)?;
    }
}

/// The migrations of `set` up to `upto`.
pub fn embedded(set: &[EmbeddedMigration], upto: Option<i64>) -> anyhow::Result<Vec<Migration>> {
    Ok(Migration::from_embedded_set(set)?
        .into_iter()
        .filter(|m| upto.is_none_or(|v| m.version() <= v))
        .collect())
}

/// The template holding `migrations` (built once per migration set by the engine, which
/// `migrate diff`/`check`/`create --autogenerate` clone too), and its name.
///
/// A runtime and a connection of their own: asked only for a set this thread has not seen
/// built.
fn template(server: &TestServer, migrations: &[Migration]) -> anyhow::Result<String> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let admin = pgbaked::pool(server.config(), 1)?;
        let name = pgbaked::template(&admin, server.config(), migrations, DEFAULT_TABLE)
            .await
            .context("building the template database")?;
        admin.close();
        anyhow::Ok(name)
    })
}

/// Drops per-test databases left by processes long gone, and spares and templates of migration
/// sets that nobody uses any more. Failures are ignored: sweeping is housekeeping.
fn sweep(client: &mut postgres::Client, migrations: &[Migration]) {
    let current = migration_set_hash(migrations);
    // Templates of every prefix of the current set stay: `TestDb::at(version)` uses them.
    let wanted: Vec<String> = (0..=migrations.len())
        .map(|n| pgbaked::template_name(&migrations[..n], DEFAULT_TABLE))
        .collect();
    let now = unix_seconds();
    let Ok(rows) = client.query(
        "SELECT datname::text, datistemplate FROM pg_database \
         WHERE datname LIKE 'app\\_test\\_%' OR datname LIKE 'app\\_spare\\_%' OR datname LIKE 'pgm\\_tpl\\_%' \
         OR datname LIKE 'app\\_tpl\\_%'",
        &[],
    ) else {
        return;
    };
    for row in rows {
        let name: String = row.get(0);
        let stale = if let Some(rest) = name.strip_prefix(TEST_DB_PREFIX) {
            // app_test_{created}_{pid}_{n}_{random}
            rest.split('_')
                .next()
                .and_then(|s| s.parse::<u64>().ok())
                .is_some_and(|created| now.saturating_sub(created) > STALE_AFTER.as_secs())
        } else if name.ends_with("_building") {
            false // another process is building this template right now
        } else {
            // Spares and templates of other migration sets may belong to a run going on now
            // (another checkout, a benchmark): only those untouched for an hour go.
            let other_set = match name.strip_prefix(SPARE_PREFIX) {
                Some(rest) => !rest.starts_with(&current),
                None => !wanted.contains(&name),
            };
            other_set && untouched_for_an_hour(client, &name)
        };
        if stale {
            let _ = drop_template(client, &name);
        }
    }
}

/// Whether a database's directory has not changed for an hour. Reading it needs superuser or
/// pg_read_server_files; without them nothing is swept.
fn untouched_for_an_hour(client: &mut postgres::Client, name: &str) -> bool {
    client
        .query_one(
            "SELECT (pg_stat_file('base/' || oid)).modification < now() - interval '1 hour' \
             FROM pg_database WHERE datname = $1",
            &[&name],
        )
        .map(|row| row.get::<_, bool>(0))
        .unwrap_or(false)
}

fn unix_seconds() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn unique_name(prefix: &str) -> String {
    use std::hash::{BuildHasher, Hasher};
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let random = std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish();
    format!(
        "{prefix}{}_{}_{}_{:04x}",
        unix_seconds(),
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed),
        random & 0xffff
    )
}
