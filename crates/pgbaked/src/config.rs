//! Connection settings: `DATABASE_URL` parsed once, shown only with the password removed.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use crate::tls::{SslMode, TlsSettings};

/// The default `DATABASE_URL`, the seed project's.
pub const DEFAULT_DATABASE_URL: &str = "postgres://postgres:postgres@localhost:5432/postgres";

/// A parsed `DATABASE_URL`. Its `Display` and `Debug` never show the password.
#[derive(Clone)]
pub struct DatabaseConfig {
    pg: tokio_postgres::Config,
    tls: TlsSettings,
    /// `?schema=NAME`: a schema-per-tenant target, whose history table and lock live in that
    /// schema and whose connections have `search_path` pinned to it.
    schema: Option<String>,
}

/// A `DATABASE_URL` that cannot be parsed. The message never repeats the URL, which may hold a
/// password.
#[derive(Debug, thiserror::Error)]
#[error("invalid database URL: {reason}")]
pub struct InvalidDatabaseUrl {
    reason: String,
}

impl FromStr for DatabaseConfig {
    type Err = InvalidDatabaseUrl;

    fn from_str(url: &str) -> Result<DatabaseConfig, InvalidDatabaseUrl> {
        let url = url.trim();
        // SQLAlchemy-style URLs (`postgresql+asyncpg://`), as the seed project's DATABASE_URL
        // uses, name a Python driver; the rest of the URL is the same.
        let url = match url.split_once("://") {
            Some((scheme, rest))
                if scheme.starts_with("postgresql+") || scheme.starts_with("postgres+") =>
            {
                format!("postgresql://{rest}")
            }
            _ => url.to_string(),
        };
        if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
            return Err(InvalidDatabaseUrl {
                reason: "it must start with postgres:// or postgresql://".into(),
            });
        }
        // tokio-postgres knows sslmode disable, prefer and require only, and no sslrootcert:
        // both are taken out here and handled by rustls (see crate::tls).
        let (url, tls, schema) = split_tls(&url)?;
        let mut pg = tokio_postgres::Config::from_str(&url).map_err(|err| InvalidDatabaseUrl {
            // tokio-postgres names the option at fault, never its value.
            reason: std::error::Error::source(&err)
                .map_or_else(|| err.to_string(), ToString::to_string),
        })?;
        if pg.get_hosts().is_empty() {
            return Err(InvalidDatabaseUrl {
                reason: "it names no host".into(),
            });
        }
        // `user:p@ss@host`: the credentials end at the first `@`, so the rest of the password
        // would be taken for the host, and shown wherever the target is named.
        if pg
            .get_hosts()
            .iter()
            .any(|h| matches!(h, tokio_postgres::config::Host::Tcp(name) if name.contains('@')))
        {
            return Err(InvalidDatabaseUrl {
                reason: "its host holds an `@`: percent-encode an `@` in the password as %40"
                    .into(),
            });
        }
        if pg.get_connect_timeout().is_none() {
            pg.connect_timeout(Duration::from_secs(10));
        }
        pg.ssl_mode(tls.mode.transport());
        if let Some(schema) = &schema {
            // Quoted, so the name is taken as written; after any `options` of the URL's own.
            let pin = format!("-c search_path=\"{schema}\"");
            let options = match pg.get_options() {
                Some(given) if !given.is_empty() => format!("{given} {pin}"),
                _ => pin,
            };
            pg.options(&options);
        }
        Ok(DatabaseConfig { pg, tls, schema })
    }
}

/// A `?schema=` value: letters, digits and underscores, not starting with a digit, at most 63
/// bytes, so that it needs no escaping in `search_path` or in a lock key's text.
fn valid_schema(name: &str) -> Result<String, InvalidDatabaseUrl> {
    let plain = !name.is_empty()
        && name.len() <= 63
        && !name.starts_with(|c: char| c.is_ascii_digit())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if plain {
        Ok(name.to_string())
    } else {
        Err(InvalidDatabaseUrl {
            reason: "`schema` must be letters, digits and underscores (at most 63), not starting with a digit".into(),
        })
    }
}

/// Takes `sslmode`, `sslrootcert` and `schema` (Prisma's name for it) out of a URL's query.
fn split_tls(url: &str) -> Result<(String, TlsSettings, Option<String>), InvalidDatabaseUrl> {
    let mut tls = TlsSettings::default();
    let mut schema = None;
    let Some((base, query)) = url.split_once('?') else {
        return Ok((url.to_string(), tls, schema));
    };
    let mut kept = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        match key {
            "sslmode" => {
                tls.mode = SslMode::parse(&percent_decode(value))
                    .map_err(|reason| InvalidDatabaseUrl { reason })?;
            }
            "sslrootcert" => tls.root_cert = Some(percent_decode(value).into()),
            "schema" => schema = Some(valid_schema(&percent_decode(value))?),
            _ => kept.push(pair),
        }
    }
    let url = if kept.is_empty() {
        base.to_string()
    } else {
        format!("{base}?{}", kept.join("&"))
    };
    Ok((url, tls, schema))
}

/// Decodes `%XX` escapes (`+` stays a plus, as in a URL's path: a file name may hold one).
fn percent_decode(value: &str) -> String {
    percent_encoding::percent_decode_str(value)
        .decode_utf8_lossy()
        .into_owned()
}

impl DatabaseConfig {
    /// The driver's configuration.
    pub fn pg(&self) -> &tokio_postgres::Config {
        &self.pg
    }

    /// `sslmode` and `sslrootcert`.
    pub fn tls(&self) -> &TlsSettings {
        &self.tls
    }

    /// The schema of a schema-per-tenant target (`?schema=NAME`).
    pub fn schema(&self) -> Option<&str> {
        self.schema.as_deref()
    }

    /// `table` in this target's schema when it names one (`tenant_7.refinery_schema_history`),
    /// so that its history and its lock key are its own.
    pub fn history_table(&self, table: &str) -> String {
        match &self.schema {
            // `public` is where an unqualified table is anyway: the same table, the same lock
            // as a run without `?schema=`.
            Some(schema) if !table.contains('.') && schema != "public" => {
                format!("{schema}.{table}")
            }
            _ => table.to_string(),
        }
    }

    /// Sets `application_name` unless the URL already does, so that `pg_stat_activity` (and a
    /// waiting replica's message) says who holds a connection.
    pub fn with_application_name(mut self, role: &str) -> DatabaseConfig {
        if self.pg.get_application_name().is_none() {
            let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
                .map(|h| h.trim().to_string())
                .unwrap_or_else(|_| "unknown".into());
            self.pg
                .application_name(format!("{role} ({host} pid {})", std::process::id()));
        }
        self
    }

    /// Connections that receive no NOTICE from the server (`client_min_messages = warning`):
    /// for the tool's own housekeeping (scratch databases, templates), whose `DROP DATABASE IF
    /// EXISTS … skipping` is no news to the user. Warnings and errors still arrive.
    pub fn without_notices(mut self) -> DatabaseConfig {
        let options = match self.pg.get_options() {
            Some(existing) if !existing.is_empty() => {
                format!("{existing} -c client_min_messages=warning")
            }
            _ => "-c client_min_messages=warning".to_string(),
        };
        self.pg.options(&options);
        self
    }

    /// The same server with another database.
    pub fn with_dbname(&self, dbname: &str) -> DatabaseConfig {
        let mut pg = self.pg.clone();
        pg.dbname(dbname);
        DatabaseConfig {
            pg,
            tls: self.tls.clone(),
            schema: self.schema.clone(),
        }
    }
}

impl fmt::Display for DatabaseConfig {
    /// `user@host:port/dbname`, never the password.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let host = match self.pg.get_hosts().first() {
            Some(tokio_postgres::config::Host::Tcp(h)) => h.clone(),
            #[cfg(unix)]
            Some(tokio_postgres::config::Host::Unix(p)) => p.display().to_string(),
            None => "?".into(),
        };
        let port = self.pg.get_ports().first().copied().unwrap_or(5432);
        write!(
            f,
            "{}@{host}:{port}/{}",
            self.pg.get_user().unwrap_or("?"),
            self.pg
                .get_dbname()
                .unwrap_or(self.pg.get_user().unwrap_or("?"))
        )?;
        match &self.schema {
            Some(schema) => write!(f, "?schema={schema}"),
            None => Ok(()),
        }
    }
}

impl fmt::Debug for DatabaseConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DatabaseConfig({self})")
    }
}

/// Parses a duration: `30s`, `500ms`, `2m`, or a bare number of seconds. `0` means zero.
///
/// # Errors
///
/// A message for clap when the text is neither.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    if let Ok(seconds) = text.parse::<u64>() {
        return Ok(Duration::from_secs(seconds));
    }
    humantime::parse_duration(text).map_err(|err| format!("{err} (examples: 30s, 500ms, 2m, 0)"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_parse_and_never_show_the_password() {
        let config: DatabaseConfig = "postgres://alice:s3cret@db.internal:6543/app"
            .parse()
            .unwrap();
        assert_eq!(config.to_string(), "alice@db.internal:6543/app");
        assert!(!format!("{config:?}").contains("s3cret"));
        let seed: DatabaseConfig = "postgresql+asyncpg://postgres:pw@localhost:5432/postgres"
            .parse()
            .unwrap();
        assert_eq!(seed.to_string(), "postgres@localhost:5432/postgres");
    }

    #[test]
    fn bad_urls_get_errors_without_the_password() {
        for url in [
            "mysql://root:s3cret@localhost/db",
            "postgres://u:s3cret@localhost:notaport/db",
            "postgres://u:s3cret@localhost/db?sslmode=sometimes",
            "postgres://u:s3cret@localhost/db?bogus=s3cret",
            "postgres://u:s3@cret@localhost/db",
            "postgres://u:s3cret@localhost/db?schema=s3cret;drop",
            "s3cret",
        ] {
            let err = url.parse::<DatabaseConfig>().unwrap_err().to_string();
            assert!(err.starts_with("invalid database URL: "), "{err}");
            assert!(!err.contains("s3cret"), "{url}: {err}");
        }
    }

    #[test]
    fn tls_options_are_taken_out_of_the_url() {
        let config: DatabaseConfig =
            "postgres://u@db/app?sslmode=verify-full&sslrootcert=%2Fetc%2Fca.pem&connect_timeout=3"
                .parse()
                .unwrap();
        assert_eq!(config.tls().mode, SslMode::VerifyFull);
        assert_eq!(
            config.tls().root_cert.as_deref(),
            Some(std::path::Path::new("/etc/ca.pem"))
        );
        assert_eq!(
            config.pg().get_connect_timeout(),
            Some(&Duration::from_secs(3))
        );
        // An escape at the very end is decoded too (the hand-written decoder missed it).
        let escaped: DatabaseConfig = "postgres://u@db/app?sslrootcert=%2Fca%2Bx.pe%6D"
            .parse()
            .unwrap();
        assert_eq!(
            escaped.tls().root_cert.as_deref(),
            Some(std::path::Path::new("/ca+x.pem"))
        );
        assert_eq!(
            config.pg().get_ssl_mode(),
            tokio_postgres::config::SslMode::Require
        );
        let plain: DatabaseConfig = "postgres://u@db/app".parse().unwrap();
        assert_eq!(plain.tls().mode, SslMode::Prefer);
    }

    #[test]
    fn a_schema_pins_search_path_and_names_the_history_table() {
        let config: DatabaseConfig =
            "postgres://u@db/app?schema=Tenant_7&options=-c%20work_mem%3D8MB"
                .parse()
                .unwrap();
        assert_eq!(config.schema(), Some("Tenant_7"));
        assert_eq!(
            config.pg().get_options(),
            Some("-c work_mem=8MB -c search_path=\"Tenant_7\"")
        );
        assert_eq!(config.to_string(), "u@db:5432/app?schema=Tenant_7");
        assert_eq!(
            config.history_table("refinery_schema_history"),
            "Tenant_7.refinery_schema_history"
        );
        // A table the service qualified itself stays as it is.
        assert_eq!(config.history_table("ops.history"), "ops.history");
        // public is where the table is without a schema: the same table and lock.
        let public: DatabaseConfig = "postgres://u@db/app?schema=public".parse().unwrap();
        assert_eq!(public.history_table("h"), "h");
        let plain: DatabaseConfig = "postgres://u@db/app".parse().unwrap();
        assert_eq!(plain.history_table("h"), "h");
        assert_eq!(plain.pg().get_options(), None);
    }

    #[test]
    fn durations_parse() {
        assert_eq!(parse_duration("0"), Ok(Duration::ZERO));
        assert_eq!(parse_duration("30"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert!(parse_duration("soon").is_err());
    }
}
