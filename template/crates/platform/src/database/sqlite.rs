//! SQLite: the embedded default, which must work on a fresh clone with
//! nothing else installed. The file and its folder are created when
//! missing.
//!
//! One instance owns the file: SQLite is not shared between machines, so a
//! backend that runs as several instances uses PostgreSQL (and sessions in
//! it or in Redis).

use std::{str::FromStr, time::Duration};

use anyhow::Context;
use sqlx::{
    Sqlite, SqlitePool,
    error::DatabaseError,
    sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous},
};
use time::OffsetDateTime;

use super::{Engine, SessionRow};
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
    /// Reads the settings; `default_url` is the application's default
    /// `DATABASE_URL`.
    pub fn from_env(env: &Env, default_url: &str) -> Result<Self, ConfigError> {
        Ok(Self {
            url: env.var("DATABASE_URL", default_url).parse_with(
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

/// Opens the database, creating the file and its folder when missing.
pub async fn connect(settings: &Settings) -> anyhow::Result<SqlitePool> {
    let database_url = &settings.url;
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

    SqlitePoolOptions::new()
        .max_connections(settings.max_connections)
        .acquire_timeout(settings.timeout)
        .connect_with(options)
        .await
        .with_context(|| format!("cannot open the database at DATABASE_URL={database_url:?}"))
}

/// SQLite's "busy" and "locked" results: another connection held the file
/// for longer than the busy timeout. The database is overloaded, not wrong.
/// Their extended codes keep the primary code in the low byte.
pub(super) fn is_busy(err: &dyn DatabaseError) -> bool {
    const SQLITE_BUSY: i64 = 5;
    const SQLITE_LOCKED: i64 = 6;
    err.try_downcast_ref::<sqlx::sqlite::SqliteError>()
        .and_then(|err| err.code())
        .and_then(|code| code.parse::<i64>().ok())
        .is_some_and(|code| matches!(code & 0xff, SQLITE_BUSY | SQLITE_LOCKED))
}

/// Claims the next due mail (see `Engine::claim_mail`).
#[cfg(feature = "mail")]
const CLAIM_MAIL: &str = "UPDATE mail_outbox SET attempts = attempts + 1, next_attempt_at = $2 \
     WHERE id = (SELECT id FROM mail_outbox WHERE sent_at IS NULL AND next_attempt_at <= $1 \
     ORDER BY next_attempt_at, id LIMIT 1) \
     RETURNING id, recipient, subject, body, attempts";

impl Engine for Sqlite {
    #[cfg(feature = "sql-sessions")]
    type LibraryStore = tower_sessions_sqlx_store::SqliteStore;

    #[cfg(feature = "sql-sessions")]
    fn library_store(pool: SqlitePool) -> Self::LibraryStore {
        tower_sessions_sqlx_store::SqliteStore::new(pool)
    }

    #[cfg(feature = "sql-sessions")]
    async fn migrate_sessions(
        pool: &SqlitePool,
        library: &Self::LibraryStore,
    ) -> anyhow::Result<()> {
        library
            .migrate()
            .await
            .context("cannot create the session table")?;
        let (present,): (bool,) = sqlx::query_as(
            "SELECT COUNT(*) > 0 FROM pragma_table_info('tower_sessions') WHERE name = 'user_id'",
        )
        .fetch_one(pool)
        .await?;
        if !present {
            sqlx::query(
                "ALTER TABLE tower_sessions \
                 ADD COLUMN user_id INTEGER REFERENCES users (id) ON DELETE CASCADE",
            )
            .execute(pool)
            .await
            .context("cannot add the user column to the session table")?;
        }
        sqlx::query("CREATE INDEX IF NOT EXISTS sessions_by_user ON tower_sessions (user_id)")
            .execute(pool)
            .await?;
        Ok(())
    }

    async fn insert_session(pool: &SqlitePool, row: SessionRow<'_>) -> Result<(), sqlx::Error> {
        sqlx::query(
            "INSERT INTO tower_sessions (id, data, expiry_date, user_id) VALUES ($1, $2, $3, $4)",
        )
        .bind(row.id)
        .bind(row.data)
        .bind(row.expiry_date)
        .bind(row.user_id)
        .execute(pool)
        .await
        .map(drop)
    }

    async fn update_live_session(
        pool: &SqlitePool,
        row: SessionRow<'_>,
        now: OffsetDateTime,
    ) -> Result<u64, sqlx::Error> {
        let done = sqlx::query(
            "UPDATE tower_sessions SET data = $1, expiry_date = $2, user_id = $3 \
             WHERE id = $4 AND expiry_date > $5",
        )
        .bind(row.data)
        .bind(row.expiry_date)
        .bind(row.user_id)
        .bind(row.id)
        .bind(now)
        .execute(pool)
        .await?;
        Ok(done.rows_affected())
    }

    async fn live_sessions_of(
        pool: &SqlitePool,
        user_id: i64,
        now: OffsetDateTime,
    ) -> Result<Vec<String>, sqlx::Error> {
        sqlx::query_scalar("SELECT id FROM tower_sessions WHERE user_id = $1 AND expiry_date > $2")
            .bind(user_id)
            .bind(now)
            .fetch_all(pool)
            .await
    }

    async fn delete_sessions_of(pool: &SqlitePool, user_id: i64) -> Result<(), sqlx::Error> {
        sqlx::query("DELETE FROM tower_sessions WHERE user_id = $1")
            .bind(user_id)
            .execute(pool)
            .await
            .map(drop)
    }

    async fn is_known_device(
        pool: &SqlitePool,
        digest: &str,
        user_id: i64,
        since: OffsetDateTime,
    ) -> Result<bool, sqlx::Error> {
        let row: Option<i64> = sqlx::query_scalar(super::IS_KNOWN_DEVICE)
            .bind(digest)
            .bind(user_id)
            .bind(since)
            .fetch_optional(pool)
            .await?;
        Ok(row.is_some())
    }

    async fn remember_device(
        pool: &SqlitePool,
        digest: &str,
        user_id: i64,
        now: OffsetDateTime,
        forget_before: OffsetDateTime,
        keep: i64,
    ) -> Result<(), sqlx::Error> {
        sqlx::query(super::REMEMBER_DEVICE)
            .bind(digest)
            .bind(user_id)
            .bind(now)
            .execute(pool)
            .await?;
        sqlx::query(super::FORGET_OLD_DEVICES)
            .bind(user_id)
            .bind(forget_before)
            .bind(keep)
            .execute(pool)
            .await
            .map(drop)
    }

    #[cfg(feature = "mail")]
    super::mail_statements!(
        claim: CLAIM_MAIL,
        begin: "BEGIN IMMEDIATE",
        one_recipient_at_a_time: None
    );
}
