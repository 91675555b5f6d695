//! PostgreSQL: the shared database for a backend that runs as several
//! instances: they all see the same users (and, unless Redis holds them,
//! sessions). `connect` creates the database when it is missing (handy in
//! development; in production the role simply lacks the right and the error
//! says so). sqlx takes a lock while migrating, so instances starting
//! together do not collide.
//!
//! While the server is down, a request waits at most `DATABASE_TIMEOUT_MS`
//! for a connection and then answers 503; the pool reconnects by itself when
//! the server is back.

use std::{str::FromStr, time::Duration};

use anyhow::Context;
use sqlx::{
    PgPool, Postgres,
    error::DatabaseError,
    migrate::MigrateDatabase,
    postgres::{PgConnectOptions, PgPoolOptions},
};
use time::OffsetDateTime;

use super::{Engine, SessionRow};
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
    /// Reads the settings; `default_url` is the application's default
    /// `DATABASE_URL`.
    pub fn from_env(env: &Env, default_url: &str) -> Result<Self, ConfigError> {
        Ok(Self {
            url: env
                .var("DATABASE_URL", default_url)
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

/// PostgreSQL's error code for "database does not exist".
const INVALID_CATALOG_NAME: &str = "3D000";

/// Connects, creating the database when it is missing.
pub async fn connect(config: &Settings) -> anyhow::Result<PgPool> {
    let shown = redact_url(&config.url);
    let options = PgConnectOptions::from_str(&config.url)
        .with_context(|| format!("DATABASE_URL={shown:?} is not a valid PostgreSQL URL"))?;
    let pool_options = PgPoolOptions::new()
        .max_connections(config.max_connections)
        .acquire_timeout(config.timeout);

    match pool_options.clone().connect_with(options.clone()).await {
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
    })
}

/// The server's own "not now" answers: SQLSTATE class 08 (connection
/// exception), 53 (insufficient resources: too many connections, out of
/// memory or disk), 57P01-57P03 (shutting down, starting up) and 40001/40P01
/// (serialization failure, deadlock: retrying succeeds).
pub(super) fn is_not_now(err: &dyn DatabaseError) -> bool {
    err.try_downcast_ref::<sqlx::postgres::PgDatabaseError>()
        .map(|err| err.code())
        .is_some_and(|code| {
            code.starts_with("08")
                || code.starts_with("53")
                || matches!(code, "57P01" | "57P02" | "57P03" | "40001" | "40P01")
        })
}

/// Claims the next due mail (see `Engine::claim_mail`), skipping any another instance is claiming.
#[cfg(feature = "mail")]
const CLAIM_MAIL: &str = "UPDATE mail_outbox SET attempts = attempts + 1, next_attempt_at = $2 \
     WHERE id = (SELECT id FROM mail_outbox WHERE sent_at IS NULL AND next_attempt_at <= $1 \
     ORDER BY next_attempt_at, id LIMIT 1 FOR UPDATE SKIP LOCKED) \
     RETURNING id, recipient, subject, body, attempts";

impl Engine for Postgres {
    #[cfg(feature = "sql-sessions")]
    type LibraryStore = tower_sessions_sqlx_store::PostgresStore;

    #[cfg(feature = "sql-sessions")]
    fn library_store(pool: PgPool) -> Self::LibraryStore {
        tower_sessions_sqlx_store::PostgresStore::new(pool)
    }

    #[cfg(feature = "sql-sessions")]
    async fn migrate_sessions(pool: &PgPool, library: &Self::LibraryStore) -> anyhow::Result<()> {
        library
            .migrate()
            .await
            .context("cannot create the session table")?;
        sqlx::query(
            r#"ALTER TABLE "tower_sessions"."session" ADD COLUMN IF NOT EXISTS
               user_id BIGINT REFERENCES users (id) ON DELETE CASCADE"#,
        )
        .execute(pool)
        .await
        .context("cannot add the user column to the session table")?;
        sqlx::query(
            r#"CREATE INDEX IF NOT EXISTS sessions_by_user ON "tower_sessions"."session" (user_id)"#,
        )
        .execute(pool)
        .await?;
        Ok(())
    }

    async fn insert_session(pool: &PgPool, row: SessionRow<'_>) -> Result<(), sqlx::Error> {
        sqlx::query(
            r#"INSERT INTO "tower_sessions"."session" (id, data, expiry_date, user_id)
               VALUES ($1, $2, $3, $4)"#,
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
        pool: &PgPool,
        row: SessionRow<'_>,
        now: OffsetDateTime,
    ) -> Result<u64, sqlx::Error> {
        let done = sqlx::query(
            r#"UPDATE "tower_sessions"."session" SET data = $1, expiry_date = $2, user_id = $3
               WHERE id = $4 AND expiry_date > $5"#,
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
        pool: &PgPool,
        user_id: i64,
        now: OffsetDateTime,
    ) -> Result<Vec<String>, sqlx::Error> {
        sqlx::query_scalar(
            r#"SELECT id FROM "tower_sessions"."session" WHERE user_id = $1 AND expiry_date > $2"#,
        )
        .bind(user_id)
        .bind(now)
        .fetch_all(pool)
        .await
    }

    async fn delete_sessions_of(pool: &PgPool, user_id: i64) -> Result<(), sqlx::Error> {
        sqlx::query(r#"DELETE FROM "tower_sessions"."session" WHERE user_id = $1"#)
            .bind(user_id)
            .execute(pool)
            .await
            .map(drop)
    }

    async fn is_known_device(
        pool: &PgPool,
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
        pool: &PgPool,
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
        begin: "BEGIN",
        one_recipient_at_a_time: Some("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
    );
}
