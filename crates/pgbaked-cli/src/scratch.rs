//! Scratch databases on the dev server, the schemas `diff`, `check` and `drift` build in them
//! (a database read in place, SQL files loaded, the migrations replayed), and `migrate clean`,
//! which drops what runs and tests leave there.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use pgbaked::deadpool_postgres::Pool;
use pgbaked::diff::Difference;
use pgbaked::{Migrator, Rev, Scratch};

use crate::Service;
use crate::args::{Settings, parse_rev};

/// A schema to compare: a database, SQL files, or the migrations replayed.
pub(crate) enum Source {
    /// A live database, read where it is (nothing is written to it); boxed, its settings
    /// being large beside the other sides.
    Database(Box<pgbaked::DatabaseConfig>),
    /// A directory or file of SQL, loaded into a scratch database.
    Files(PathBuf),
    /// The embedded migrations replayed to a revision in a scratch database.
    Migrations(Rev),
}

impl Source {
    pub(crate) fn parse(text: &str) -> anyhow::Result<Source> {
        if text.contains("://") {
            return Ok(Source::Database(Box::new(text.parse()?)));
        }
        if text == "migrations" {
            return Ok(Source::Migrations(Rev::Head));
        }
        if let Some(rev) = text.strip_prefix("migrations@") {
            return Ok(Source::Migrations(parse_rev(rev)?));
        }
        let path = PathBuf::from(text);
        if !path.exists() {
            bail!(
                "`{text}` is neither a database URL, `migrations`, `migrations@REV`, nor an existing file or directory"
            );
        }
        Ok(Source::Files(path))
    }

    /// Whether it is built in a scratch database rather than read in place.
    pub(crate) fn needs_scratch(&self) -> bool {
        !matches!(self, Source::Database(_))
    }

    /// Its catalog; `scratch` is the database to build it in when it must be built.
    pub(crate) async fn catalog(
        &self,
        scratch: Option<&Scratch>,
        migrator: &Migrator,
        table: &str,
        privileges: bool,
    ) -> Result<pgbaked::diff::Catalog, pgbaked::Error> {
        let scratch = || {
            scratch.ok_or_else(|| pgbaked::Error::Scratch {
                reason: "no scratch database for this side".into(),
            })
        };
        match self {
            Source::Database(config) => {
                let pool = pgbaked::pool(config, 1).map_err(|err| pgbaked::Error::Scratch {
                    reason: err.to_string(),
                })?;
                let client = pool.get().await.map_err(pgbaked::Error::Pool)?;
                pgbaked::diff::Catalog::read_with(
                    &client,
                    &pgbaked::history_tables(table),
                    privileges,
                )
                .await
            }
            Source::Files(path) => {
                scratch()?.load(path).await?;
                scratch()?.catalog(table).await
            }
            Source::Migrations(rev) => {
                scratch()?.replay(migrator.migrations(), rev, table).await?;
                scratch()?.catalog(table).await
            }
        }
    }
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            // The config's Display: never the password.
            Source::Database(config) => write!(f, "{config}"),
            Source::Files(path) => write!(f, "{}", path.display()),
            Source::Migrations(rev) => write!(f, "migrations@{rev}"),
        }
    }
}

/// The history table as scratch databases and catalogs name it: bare. A `?schema=` target
/// keeps its history in its schema, which a scratch database does not have, and catalogs
/// leave history tables out by their bare name.
pub(crate) fn scratch_table(migrator: &Migrator) -> String {
    let table = &migrator.options().table;
    table
        .rsplit_once('.')
        .map_or_else(|| table.clone(), |(_, bare)| bare.to_string())
}

/// The declared schema: `--schema`, else `./schema`, else the one the binary was built from.
pub(crate) fn schema_dir(explicit: Option<&Path>, service: &Service) -> Option<PathBuf> {
    if let Some(dir) = explicit {
        return Some(dir.to_path_buf());
    }
    let local = Path::new("schema");
    if local.is_dir() {
        return Some(local.to_path_buf());
    }
    service.schema_dir.clone().filter(|dir| dir.is_dir())
}

/// The local server, tried after the environment's URLs, as the test harness does.
const LOCAL_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// Where scratch databases go: `--dev-url` (`APP_DEV_DATABASE_URL`), else `TEST_DATABASE_URL`,
/// else the target's own server unless `beside_target` is false (`drift` reads production and
/// never builds there), else the local server if it answers. The test harness's order, so a
/// replay is cloned from the template its tests already built.
async fn scratch_server(
    settings: &Settings,
    beside_target: bool,
) -> anyhow::Result<(pgbaked::DatabaseConfig, Pool)> {
    let named = match &settings.dev_url {
        Some(url) => Some(url.parse()?),
        None => match std::env::var("TEST_DATABASE_URL") {
            Ok(url) => Some(url.parse::<pgbaked::DatabaseConfig>()?),
            Err(_) => None,
        },
    };
    let given = match named {
        Some(config) => Some(config),
        None if beside_target => Some(settings.database_url.parse()?),
        None => None,
    };
    if let Some(config) = given {
        let pool = pgbaked::pool(&config, 2)?;
        return Ok((config, pool));
    }
    // The local server is a guess: used when it answers, unless the service's own server
    // takes precedence (its choice: `app` forces its development cluster in its tests).
    let local: pgbaked::DatabaseConfig = LOCAL_URL.parse()?;
    let local_pool = pgbaked::pool(&local, 2)?;
    let answers = matches!(
        tokio::time::timeout(std::time::Duration::from_secs(2), local_pool.get()).await,
        Ok(Ok(_))
    );
    if let Some(start) = settings.dev_server {
        let started = tokio::task::spawn_blocking(move || start(answers))
            .await
            .context("starting the development cluster")??;
        if let Some(url) = started {
            let config: pgbaked::DatabaseConfig = url.parse()?;
            let pool = pgbaked::pool(&config, 2)?;
            return Ok((config, pool));
        }
    }
    if answers {
        return Ok((local, local_pool));
    }
    bail!(
        "no dev server for scratch databases: `drift` never builds its replay on the database it \
         inspects, and nothing answers at {LOCAL_URL}; set --dev-url (APP_DEV_DATABASE_URL) or \
         TEST_DATABASE_URL"
    )
}

/// Names `count` scratch databases on the dev server (see [`scratch_server`]), runs `work` on
/// them, and drops them whatever happened. A replay in one is a clone of the server's cached
/// template of that migration set.
pub(crate) async fn with_scratch<T>(
    settings: &Settings,
    beside_target: bool,
    count: usize,
    work: impl AsyncFnOnce(&[Scratch]) -> Result<T, pgbaked::Error>,
) -> anyhow::Result<T> {
    if count == 0 {
        return Ok(work(&[]).await?);
    }
    let (config, _) = scratch_server(settings, beside_target).await?;
    // The scratch work's own notices (`… does not exist, skipping`) are not shown.
    let config = config.without_notices();
    let pool = pgbaked::pool(&config, 2)?;
    let mut scratches = Vec::with_capacity(count);
    for _ in 0..count {
        match Scratch::create(&pool, &config).await {
            Ok(scratch) => scratches.push(scratch.with_privileges(settings.with_privileges)),
            // Name the server, which may be the dev server rather than the target.
            Err(err) => {
                return Err(anyhow::Error::new(err).context(format!(
                    "creating a scratch database on {config} (see --dev-url)"
                )));
            }
        }
    }
    let outcome = work(&scratches).await;
    for scratch in scratches {
        if let Err(err) = scratch.drop().await {
            tracing::warn!(error = %err, "dropping a scratch database");
        }
    }
    pool.close();
    Ok(outcome?)
}

/// The name patterns (`LIKE`) of what the tool and its test harness leave on a dev server:
/// templates, scratch databases of killed runs, the harness's spare clones and the databases
/// failed tests keep for inspection.
const LEFTOVERS: [&str; 4] = [
    "pgm\\_tpl\\_%",
    "pgm\\_scratch\\_%",
    "app\\_spare\\_%",
    "app\\_test\\_%",
];

/// `migrate clean`: drops the leftovers on the dev server, skipping (and naming) any in use.
pub(crate) async fn clean(
    settings: &Settings,
    dry_run: bool,
    format: crate::args::Format,
) -> anyhow::Result<ExitCode> {
    let (config, _) = scratch_server(settings, true).await?;
    let config = config.without_notices();
    let pool = pgbaked::pool(&config, 1)?;
    let client = pool.get().await.context("connecting to the dev server")?;
    // The database this connection is on is never a candidate.
    let rows = client
        .query(
            "SELECT datname::text, datistemplate FROM pg_database \
             WHERE datname LIKE ANY ($1) AND datname <> current_database() ORDER BY datname",
            &[&LEFTOVERS.to_vec()],
        )
        .await
        .context("listing the dev server's databases")?;
    let (mut dropped, mut skipped) = (Vec::new(), Vec::new());
    for row in rows {
        let (name, template): (String, bool) = (row.get(0), row.get(1));
        if dry_run {
            dropped.push(name);
            continue;
        }
        let result = if template {
            pgbaked::drop_template(&client, &name)
                .await
                .map_err(|e| e.to_string())
        } else {
            client
                .batch_execute(&format!(
                    "DROP DATABASE {}",
                    pgbaked::__private::quote_identifier(&name)
                ))
                .await
                .map_err(|e| pgbaked::error_chain(&e))
        };
        match result {
            Ok(()) => dropped.push(name),
            Err(reason) => skipped.push((name, reason)),
        }
    }
    match format {
        crate::args::Format::Json => out!(
            "{}",
            serde_json::json!({
                "server": config.to_string(),
                "dry_run": dry_run,
                "dropped": dropped,
                "skipped": skipped.iter().map(|(n, r)| serde_json::json!({"database": n, "reason": r})).collect::<Vec<_>>(),
            })
        ),
        crate::args::Format::Text => {
            let verb = if dry_run { "would drop" } else { "dropped" };
            for name in &dropped {
                out!("{verb} {name}");
            }
            for (name, reason) in &skipped {
                out!("skipped {name}: {reason}");
            }
            out!(
                "{} database(s) {verb} on {config}, {} skipped",
                dropped.len(),
                skipped.len()
            );
        }
    }
    Ok(if skipped.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// What differs from the migrations' head to the declared schema in `dir`.
pub(crate) async fn declared_differences(
    settings: &Settings,
    migrator: &Migrator,
    dir: &Path,
) -> anyhow::Result<Vec<Difference>> {
    let table = scratch_table(migrator);
    with_scratch(settings, true, 2, async |scratch: &[Scratch]| {
        scratch[0]
            .replay(migrator.migrations(), &Rev::Head, &table)
            .await?;
        scratch[1].load(dir).await?;
        let head = scratch[0].catalog(&table).await?;
        let declared = scratch[1].catalog(&table).await?;
        Ok(head.diff(&declared))
    })
    .await
    .with_context(|| format!("comparing {} with the migrations", dir.display()))
}

/// What differs from a replay of the database's applied versions to the database itself.
pub(crate) async fn drift(
    settings: &Settings,
    pool: &Pool,
    migrator: &Migrator,
) -> anyhow::Result<Vec<Difference>> {
    let client = pool.get().await.context("connecting to the database")?;
    let history = migrator.history(&client).await?;
    let status = migrator.status(&history);
    status.verify_checksums()?;
    status.verify_names()?;
    let unknown = status.versions(pgbaked::State::Unknown);
    if !unknown.is_empty() {
        return Err(pgbaked::Error::Unknown { versions: unknown }.into());
    }
    let applied: Vec<_> = status
        .entries
        .iter()
        .filter(|e| e.state.is_applied())
        .filter_map(|e| e.migration.cloned())
        .collect();
    let table = scratch_table(migrator);
    let live = pgbaked::diff::Catalog::read_with(
        &client,
        &pgbaked::history_tables(&table),
        settings.with_privileges,
    )
    .await?;
    drop(client);
    with_scratch(settings, false, 1, async |scratch: &[Scratch]| {
        scratch[0].replay(&applied, &Rev::Head, &table).await?;
        Ok(scratch[0].catalog(&table).await?.diff(&live))
    })
    .await
    .context("replaying the applied migrations")
}
