//! The database: its settings, opening it, bringing its schema up to date,
//! and telling an outage from a bug.
//!
//! The embedded SQLite default must work on a fresh clone with nothing else
//! installed: the file and its folder are created when missing, and the
//! migrations in `migrations/` run at every start-up (already-applied ones
//! are skipped).
//!
//! Everything that depends on the choice of database is in this one file;
//! choosing PostgreSQL at generation swaps it for another with the same
//! names.

use std::{str::FromStr, time::Duration};

use anyhow::Context;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

use crate::settings::{ConfigError, Env, parse_in_range};

/// How to reach the database.
#[derive(Clone, Debug)]
pub struct Settings {
    /// `sqlite://path/to/file.db` (`DATABASE_URL`).
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
            url: env.var("DATABASE_URL", "sqlite://data/app.db").parse_with(
                |v| {
                    if v.starts_with("sqlite:") {
                        Ok(v.to_owned())
                    } else {
                        Err("not a SQLite URL".to_owned())
                    }
                },
                "use sqlite://path/to/file.db (the file is created if missing)",
            )?,
            max_connections: env.var("DATABASE_MAX_CONNECTIONS", "10").parse_with(
                |v| parse_in_range(v, 1, 1000),
                "use a whole number from 1 to 1000, e.g. 10",
            )?,
            timeout: env.millis("DATABASE_TIMEOUT_MS", "3000", 100..=60_000)?,
        })
    }
}

/// SQLite's page cache per connection, in KiB.
const CACHE_KIB: u32 = 512;

/// The connection pool handlers query through.
pub type Pool = sqlx::SqlitePool;

pub async fn connect(config: &Settings) -> anyhow::Result<Pool> {
    let database_url = &config.url;
    let options = SqliteConnectOptions::from_str(database_url)
        .with_context(|| format!("DATABASE_URL={database_url:?} is not a valid SQLite URL"))?
        .create_if_missing(true)
        // WAL lets readers run while a writer commits; NORMAL sync is the
        // documented safe pairing for WAL.
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .busy_timeout(Duration::from_secs(5))
        .foreign_keys(true)
        // Each pooled connection keeps its own page cache (2 MiB by default),
        // so memory grew with the pool as requests touched more of the file:
        // 29 MiB with 10 connections reading 10,000 sessions. Pages not
        // cached here are still in the operating system's file cache.
        .pragma("cache_size", format!("-{CACHE_KIB}"));

    if let Some(dir) = options
        .get_filename()
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
    {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create the database folder {}", dir.display()))?;
    }

    let pool = SqlitePoolOptions::new()
        .max_connections(config.max_connections)
        .acquire_timeout(config.timeout)
        .connect_with(options)
        .await
        .with_context(|| format!("cannot open the database at DATABASE_URL={database_url:?}"))?;

    sqlx::migrate!("./migrations")
        .run(&pool)
        .await
        .context("cannot apply the database migrations in migrations/")?;

    Ok(pool)
}

/// Whether an error means the database could not be reached or could not
/// answer in time (503, try again), rather than a bug or bad data (500).
///
/// SQLite's "busy" and "locked" results mean another connection held the
/// file for longer than the busy timeout: the database is overloaded, not
/// wrong. Their extended codes keep the primary code in the low byte.
pub fn is_unavailable(err: &sqlx::Error) -> bool {
    const SQLITE_BUSY: i64 = 5;
    const SQLITE_LOCKED: i64 = 6;
    match err {
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Io(_)
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(err) => err
            .code()
            .and_then(|code| code.parse::<i64>().ok())
            .is_some_and(|code| matches!(code & 0xff, SQLITE_BUSY | SQLITE_LOCKED)),
        _ => false,
    }
}
