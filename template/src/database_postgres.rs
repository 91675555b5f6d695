//! Opening the database and bringing its schema up to date.
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

use std::str::FromStr;

use anyhow::Context;
use sqlx::{
    migrate::MigrateDatabase,
    postgres::{PgConnectOptions, PgPoolOptions},
};

use crate::config::{DatabaseConfig, redact_url};

/// The connection pool handlers query through.
pub type Pool = sqlx::PgPool;

/// PostgreSQL's error code for "database does not exist".
const INVALID_CATALOG_NAME: &str = "3D000";

pub async fn connect(config: &DatabaseConfig) -> anyhow::Result<Pool> {
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
