//! The targets of a fleet run: `--targets FILE|-` lines, or `--targets-query` rows.

use super::*;

/// The targets of `--targets FILE|-` or `--targets-query`: blank lines and `#` comments
/// skipped; a line that is not a URL, or names a target already named, is kept as a failure of
/// its own, so the run reports it and goes on as `--on-error` says.
pub(super) async fn read_targets(
    args: &FleetArgs,
    settings: &Settings,
    role: &str,
) -> anyhow::Result<Vec<Target>> {
    let (lines, source): (Vec<(String, String)>, String) = if let Some(path) = &args.targets {
        let text = if path == Path::new("-") {
            let mut text = String::new();
            std::io::stdin()
                .read_to_string(&mut text)
                .context("reading --targets from standard input")?;
            text
        } else {
            std::fs::read_to_string(path)
                .with_context(|| format!("reading --targets {}", path.display()))?
        };
        let lines = text
            .lines()
            .enumerate()
            .map(|(i, line)| (format!("line {}", i + 1), line.to_string()))
            .collect();
        (lines, format!("--targets {}", path.display()))
    } else if let Some(sql) = &args.targets_query {
        let config = settings.database_url.parse()?.with_application_name(role);
        let pool = pgbaked::pool(&config, 1)?;
        let client = pool
            .get()
            .await
            .map_err(|err| anyhow::anyhow!(pgbaked::pool_error_text(&err)))
            .with_context(|| format!("connecting to {config} for --targets-query"))?;
        let rows = client
            .simple_query(sql)
            .await
            .map_err(|err| anyhow::anyhow!(pgbaked::error_chain(&err)))
            .context("running --targets-query")?;
        drop(client);
        pool.close();
        let lines = rows
            .iter()
            .filter_map(|message| match message {
                pgbaked::tokio_postgres::SimpleQueryMessage::Row(row) => {
                    Some(row.get(0).unwrap_or_default().to_string())
                }
                _ => None,
            })
            .enumerate()
            .map(|(i, url)| (format!("row {}", i + 1), url))
            .collect();
        (lines, "--targets-query".to_string())
    } else {
        bail!("no --targets or --targets-query");
    };
    let mut seen: HashMap<String, String> = HashMap::new();
    let mut targets = Vec::new();
    for (origin, line) in lines {
        // A `#` after a space starts a comment (a URL has no use for one there).
        let line = line.split(" #").next().unwrap_or_default().trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let config = match line.parse::<DatabaseConfig>() {
            // The parse error never repeats the URL, which may hold a password.
            Err(err) => Err(err.to_string()),
            Ok(config) => match seen.get(&config.to_string()) {
                Some(first) => Err(format!("a duplicate of {first}")),
                None => {
                    seen.insert(config.to_string(), origin.clone());
                    Ok(config)
                }
            },
        };
        targets.push(Target { origin, config });
    }
    if targets.is_empty() {
        bail!("{source} names no target");
    }
    Ok(targets)
}
