//! The database: its settings, opening it, bringing its schema up to date,
//! and telling an outage from a bug.
//!
//! PostgreSQL is the shared store for a backend that runs as several
//! instances: they all see the same users (and, unless Redis holds them,
//! sessions). Start-up connects, creates the database when it is missing
//! (handy in development; in production the role simply lacks the right and
//! the error says so), and runs the migrations in `migrations/`. sqlx takes a
//! lock while migrating, so instances starting together do not collide.
//!
//! While the server is down, a request waits at most `DATABASE_TIMEOUT_MS`
//! for a connection and then answers 503; the pool reconnects by itself when
//! the server is back.
//!
//! Everything that depends on the choice of database is in this one file;
//! choosing SQLite at generation swaps it for another with the same names.

use std::{str::FromStr, time::Duration};

use anyhow::Context;
use sqlx::{
    migrate::MigrateDatabase,
    postgres::{PgConnectOptions, PgPoolOptions},
};

use crate::settings::{ConfigError, Env, parse_in_range, redact_url};

/// How to reach the database.
#[derive(Clone, Debug)]
pub struct Settings {
    /// `postgres://user[:password]@host[:port]/database` (`DATABASE_URL`).
    pub url: String,
    /// Upper bound of open connections (`DATABASE_MAX_CONNECTIONS`).
    pub max_connections: u32,
    /// How long a request waits for a connection before it fails with 503
    /// (`DATABASE_TIMEOUT_MS`): an outage answers fast instead of hanging.
    pub timeout: Duration,
}

impl Settings {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        Ok(Self {
            url: env
                .var(
                    "DATABASE_URL",
                    "postgres://postgres@127.0.0.1:5432/{{crate_name}}",
                )
                .parse_with(
                    parse_url,
                    "use postgres://user[:password]@host[:port]/database (created at start-up if missing)",
                )?,
            max_connections: env.var("DATABASE_MAX_CONNECTIONS", "10").parse_with(
                |v| parse_in_range(v, 1, 1000),
                "use a whole number from 1 to 1000, e.g. 10",
            )?,
            timeout: env.millis("DATABASE_TIMEOUT_MS", "3000", 100..=60_000)?,
        })
    }
}

/// Accepts a PostgreSQL URL that this build can connect with.
fn parse_url(value: &str) -> Result<String, String> {
    let url = url::Url::parse(value).map_err(|e| format!("not a URL ({e})"))?;
    if !matches!(url.scheme(), "postgres" | "postgresql") {
        return Err("not a PostgreSQL URL".to_owned());
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err("has no host".to_owned());
    }
    // sqlx is built without a TLS stack (see Cargo.toml): refuse up front a
    // URL that demands TLS instead of failing at the first connection.
    let tls_required = url.query_pairs().any(|(key, value)| {
        key == "sslmode" && matches!(&*value, "require" | "verify-ca" | "verify-full")
    });
    if tls_required {
        return Err("requires TLS, which this build leaves out; enable sqlx's \
                    `tls-rustls` feature in Cargo.toml, or drop sslmode"
            .to_owned());
    }
    Ok(value.to_owned())
}

/// The connection pool handlers query through.
pub type Pool = sqlx::PgPool;

/// PostgreSQL's error code for "database does not exist".
const INVALID_CATALOG_NAME: &str = "3D000";

pub async fn connect(config: &Settings) -> anyhow::Result<Pool> {
    let shown = redact_url(&config.url);
    let options = PgConnectOptions::from_str(&config.url)
        .with_context(|| format!("DATABASE_URL={shown:?} is not a valid PostgreSQL URL"))?;
    let pool_options = PgPoolOptions::new()
        .max_connections(config.max_connections)
        .acquire_timeout(config.timeout);

    let pool = match pool_options.clone().connect_with(options.clone()).await {
        Err(sqlx::Error::Database(err)) if err.code().as_deref() == Some(INVALID_CATALOG_NAME) => {
            // Another instance may be creating it at the same moment, so a
            // failed CREATE only matters if connecting still fails after it.
            let created = sqlx::Postgres::create_database(&config.url).await;
            let pool = pool_options.connect_with(options).await;
            match (&created, &pool) {
                (Ok(()), Ok(_)) => tracing::info!(database = %shown, "created the database"),
                (Err(err), Err(_)) => anyhow::bail!(
                    "the database in DATABASE_URL={shown:?} does not exist and cannot be \
                     created ({err}); create it (createdb) or grant the role CREATEDB"
                ),
                _ => {}
            }
            pool
        }
        other => other,
    }
    .with_context(|| {
        format!("cannot connect to PostgreSQL at DATABASE_URL={shown:?}; is the server running?")
    })?;

    sqlx::migrate!("./migrations")
        .run(&pool)
        .await
        .context("cannot apply the database migrations in migrations/")?;

    Ok(pool)
}

/// Whether an error means the database could not be reached or could not
/// answer in time (503, try again), rather than a bug or bad data (500).
///
/// Besides a pool that timed out or a broken connection, these are the
/// server's own "not now" answers: SQLSTATE class 08 (connection
/// exception), 53 (insufficient resources: too many connections, out of
/// memory or disk), 57P01-57P03 (shutting down, starting up) and 40001/40P01
/// (serialization failure, deadlock: retrying succeeds).
pub fn is_unavailable(err: &sqlx::Error) -> bool {
    match err {
        sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) => true,
        sqlx::Error::Database(err) => err.code().is_some_and(|code| {
            code.starts_with("08")
                || code.starts_with("53")
                || matches!(&*code, "57P01" | "57P02" | "57P03" | "40001" | "40P01")
        }),
        _ => false,
    }
}
