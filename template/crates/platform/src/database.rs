//! The application's database: opening it, and telling an outage from a
//! bug.
//!
//! Each engine has a module of its own (`sqlite`, `postgres`, behind the
//! features of those names) with its settings (`DATABASE_URL`,
//! `DATABASE_MAX_CONNECTIONS`, `DATABASE_TIMEOUT_MS`) and its `connect`.
//! Migrations are the application's (its `migrations/` folder, embedded by
//! `sqlx::migrate!` in the application crate), so `connect` opens the
//! database and the application brings its schema up to date.
//!
//! What the session table and the device cookies need from an engine is the
//! [`Engine`] trait: the few statements whose text differs between SQLite
//! and PostgreSQL (table names, DDL), each written out in the engine's
//! module, so no SQL is assembled at run time.

#[cfg(feature = "postgres")]
pub mod postgres;
#[cfg(feature = "sqlite")]
pub mod sqlite;

use std::future::Future;

use time::OffsetDateTime;

/// Whether an error means the database could not be reached or could not
/// answer in time (503, try again), rather than a bug or bad data (500).
/// Each engine's own "not now" answers are listed in its module.
pub fn is_unavailable(err: &sqlx::Error) -> bool {
    match err {
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Io(_)
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(err) => {
            #[cfg(feature = "sqlite")]
            if sqlite::is_busy(err.as_ref()) {
                return true;
            }
            #[cfg(feature = "postgres")]
            if postgres::is_not_now(err.as_ref()) {
                return true;
            }
            let _ = err;
            false
        }
        _ => false,
    }
}

/// Now, to the microsecond: what both engines store, so a timestamp reads
/// back exactly as it was written.
pub fn now() -> OffsetDateTime {
    let now = OffsetDateTime::now_utc();
    now.replace_nanosecond(now.nanosecond() / 1_000 * 1_000)
        .unwrap_or(now)
}

/// The statements the session table ([`crate::session_store::Table`]) and
/// the device cookies run, for one engine. Every statement is a constant
/// string in the engine's module; only values are bound.
pub trait Engine: sqlx::Database {
    /// tower-sessions' store for this engine, which creates the session
    /// table and loads and deletes its rows.
    #[cfg(feature = "sql-sessions")]
    type LibraryStore: tower_sessions::SessionStore
        + tower_sessions::session_store::ExpiredDeletion
        + Clone
        + std::fmt::Debug;

    #[cfg(feature = "sql-sessions")]
    fn library_store(pool: sqlx::Pool<Self>) -> Self::LibraryStore;

    /// Creates the session table (the library's `migrate`), then adds its
    /// `user_id` column, with a foreign key to `users (id) ON DELETE
    /// CASCADE`, and the index on it. Idempotent.
    #[cfg(feature = "sql-sessions")]
    fn migrate_sessions(
        pool: &sqlx::Pool<Self>,
        library: &Self::LibraryStore,
    ) -> impl Future<Output = anyhow::Result<()>> + Send;

    /// Inserts a session row.
    fn insert_session(
        pool: &sqlx::Pool<Self>,
        row: SessionRow<'_>,
    ) -> impl Future<Output = Result<(), sqlx::Error>> + Send;

    /// Updates a live (unexpired) session row; the number of rows changed.
    fn update_live_session(
        pool: &sqlx::Pool<Self>,
        row: SessionRow<'_>,
        now: OffsetDateTime,
    ) -> impl Future<Output = Result<u64, sqlx::Error>> + Send;

    /// The ids of the live sessions of `user_id`.
    fn live_sessions_of(
        pool: &sqlx::Pool<Self>,
        user_id: i64,
        now: OffsetDateTime,
    ) -> impl Future<Output = Result<Vec<String>, sqlx::Error>> + Send;

    /// Deletes every session of `user_id`.
    fn delete_sessions_of(
        pool: &sqlx::Pool<Self>,
        user_id: i64,
    ) -> impl Future<Output = Result<(), sqlx::Error>> + Send;

    /// Whether the device with `digest` was remembered for `user_id` after
    /// `since` (the `known_devices` table).
    fn is_known_device(
        pool: &sqlx::Pool<Self>,
        digest: &str,
        user_id: i64,
        since: OffsetDateTime,
    ) -> impl Future<Output = Result<bool, sqlx::Error>> + Send;

    /// Remembers a device for `user_id`, and forgets that user's devices
    /// remembered before `forget_before` and all but the newest `keep`.
    fn remember_device(
        pool: &sqlx::Pool<Self>,
        digest: &str,
        user_id: i64,
        now: OffsetDateTime,
        forget_before: OffsetDateTime,
        keep: i64,
    ) -> impl Future<Output = Result<(), sqlx::Error>> + Send;

    /// Queues `mail` in `mail_outbox`, and stores `token` with it, in one
    /// transaction, unless the recipient was sent `cap` mails since
    /// `recent_since`; whether it was queued.
    #[cfg(feature = "mail")]
    fn queue_mail(
        pool: &sqlx::Pool<Self>,
        mail: MailRow<'_>,
        token: Option<TokenRow<'_>>,
        recent_since: i64,
        cap: i64,
    ) -> impl Future<Output = Result<bool, sqlx::Error>> + Send;

    /// Claims the next mail due at `now`: counts the attempt and holds it
    /// until `lease_until`, when it is due again if it was neither sent nor
    /// rescheduled (the instance sending it died).
    #[cfg(feature = "mail")]
    fn claim_mail(
        pool: &sqlx::Pool<Self>,
        now: i64,
        lease_until: i64,
    ) -> impl Future<Output = Result<Option<QueuedMail>, sqlx::Error>> + Send;

    /// Marks a mail sent (kept a day, for the per-address cap).
    #[cfg(feature = "mail")]
    fn mail_sent(
        pool: &sqlx::Pool<Self>,
        id: i64,
        now: i64,
    ) -> impl Future<Output = Result<(), sqlx::Error>> + Send;

    /// Makes a mail due again `at`.
    #[cfg(feature = "mail")]
    fn retry_mail(
        pool: &sqlx::Pool<Self>,
        id: i64,
        at: i64,
    ) -> impl Future<Output = Result<(), sqlx::Error>> + Send;

    /// Deletes the mail `id` (given up on), and the mails sent before
    /// `sent_before`.
    #[cfg(feature = "mail")]
    fn forget_mail(
        pool: &sqlx::Pool<Self>,
        id: Option<i64>,
        sent_before: i64,
    ) -> impl Future<Output = Result<(), sqlx::Error>> + Send;

    /// Deletes the unexpired token with `digest` for `purpose` and returns
    /// its user and address: a token works once.
    #[cfg(feature = "mail")]
    fn take_token(
        pool: &sqlx::Pool<Self>,
        digest: &str,
        purpose: &str,
        now: i64,
    ) -> impl Future<Output = Result<Option<(i64, String)>, sqlx::Error>> + Send;

    /// Deletes every token of `user_id` (its password or address changed),
    /// and every expired one.
    #[cfg(feature = "mail")]
    fn void_tokens(
        pool: &sqlx::Pool<Self>,
        user_id: i64,
        now: i64,
    ) -> impl Future<Output = Result<(), sqlx::Error>> + Send;
}

/// A mail to queue in `mail_outbox` ([`crate::mail`]).
#[cfg(feature = "mail")]
pub struct MailRow<'a> {
    pub recipient: &'a str,
    pub subject: &'a str,
    pub body: &'a str,
    /// Unix seconds.
    pub now: i64,
}

/// A one-time token to store in `account_tokens` ([`crate::account_tokens`]).
#[cfg(feature = "mail")]
pub struct TokenRow<'a> {
    pub digest: &'a str,
    pub user_id: i64,
    pub purpose: &'a str,
    /// The address the token was sent to: it is void once the account has
    /// another.
    pub email: &'a str,
    /// Unix seconds.
    pub expires_at: i64,
}

/// A queued mail, claimed for sending.
#[cfg(feature = "mail")]
#[derive(Debug)]
pub struct QueuedMail {
    pub id: i64,
    pub recipient: String,
    pub subject: String,
    pub body: String,
    /// Attempts so far, this one included.
    pub attempts: i32,
}

/// The statements on `mail_outbox` and `account_tokens`, which read the same
/// on both engines but for two. Claiming the next mail: PostgreSQL skips the
/// rows another instance is claiming at that moment (`FOR UPDATE SKIP
/// LOCKED`); SQLite has one writer. And queueing, which counts a
/// recipient's recent mail before adding one, so that two queueings for one
/// recipient must not run side by side: SQLite's transaction takes the write
/// lock at once (`BEGIN IMMEDIATE`), PostgreSQL's takes a lock on the
/// recipient (`pg_advisory_xact_lock`). Expanded inside each engine's `impl
/// Engine` with those statements.
#[cfg(feature = "mail")]
macro_rules! mail_statements {
    (claim: $claim:expr, begin: $begin:expr, one_recipient_at_a_time: $lock:expr) => {
        async fn queue_mail(
            pool: &sqlx::Pool<Self>,
            mail: $crate::database::MailRow<'_>,
            token: Option<$crate::database::TokenRow<'_>>,
            recent_since: i64,
            cap: i64,
        ) -> Result<bool, sqlx::Error> {
            let mut tx = pool.begin_with($begin).await?;
            let lock: Option<&str> = $lock;
            if let Some(lock) = lock {
                sqlx::query(lock)
                    .bind(mail.recipient)
                    .execute(&mut *tx)
                    .await?;
            }
            let recent: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM mail_outbox WHERE recipient = $1 AND created_at > $2",
            )
            .bind(mail.recipient)
            .bind(recent_since)
            .fetch_one(&mut *tx)
            .await?;
            if recent >= cap {
                return Ok(false);
            }
            if let Some(token) = token {
                sqlx::query(
                    "INSERT INTO account_tokens (digest, user_id, purpose, email, expires_at) \
                     VALUES ($1, $2, $3, $4, $5)",
                )
                .bind(token.digest)
                .bind(token.user_id)
                .bind(token.purpose)
                .bind(token.email)
                .bind(token.expires_at)
                .execute(&mut *tx)
                .await?;
            }
            sqlx::query(
                "INSERT INTO mail_outbox (recipient, subject, body, created_at, next_attempt_at) \
                 VALUES ($1, $2, $3, $4, $4)",
            )
            .bind(mail.recipient)
            .bind(mail.subject)
            .bind(mail.body)
            .bind(mail.now)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok(true)
        }

        async fn claim_mail(
            pool: &sqlx::Pool<Self>,
            now: i64,
            lease_until: i64,
        ) -> Result<Option<$crate::database::QueuedMail>, sqlx::Error> {
            let claimed: Option<(i64, String, String, String, i32)> = sqlx::query_as($claim)
                .bind(now)
                .bind(lease_until)
                .fetch_optional(pool)
                .await?;
            Ok(claimed.map(|(id, recipient, subject, body, attempts)| {
                $crate::database::QueuedMail {
                    id,
                    recipient,
                    subject,
                    body,
                    attempts,
                }
            }))
        }

        async fn mail_sent(pool: &sqlx::Pool<Self>, id: i64, now: i64) -> Result<(), sqlx::Error> {
            sqlx::query("UPDATE mail_outbox SET sent_at = $2 WHERE id = $1")
                .bind(id)
                .bind(now)
                .execute(pool)
                .await
                .map(drop)
        }

        async fn retry_mail(pool: &sqlx::Pool<Self>, id: i64, at: i64) -> Result<(), sqlx::Error> {
            sqlx::query("UPDATE mail_outbox SET next_attempt_at = $2 WHERE id = $1")
                .bind(id)
                .bind(at)
                .execute(pool)
                .await
                .map(drop)
        }

        async fn forget_mail(
            pool: &sqlx::Pool<Self>,
            id: Option<i64>,
            sent_before: i64,
        ) -> Result<(), sqlx::Error> {
            sqlx::query(
                "DELETE FROM mail_outbox WHERE id = $1 OR (sent_at IS NOT NULL AND sent_at < $2)",
            )
            .bind(id)
            .bind(sent_before)
            .execute(pool)
            .await
            .map(drop)
        }

        async fn take_token(
            pool: &sqlx::Pool<Self>,
            digest: &str,
            purpose: &str,
            now: i64,
        ) -> Result<Option<(i64, String)>, sqlx::Error> {
            sqlx::query_as(
                "DELETE FROM account_tokens WHERE digest = $1 AND purpose = $2 AND expires_at > $3 \
                 RETURNING user_id, email",
            )
            .bind(digest)
            .bind(purpose)
            .bind(now)
            .fetch_optional(pool)
            .await
        }

        async fn void_tokens(
            pool: &sqlx::Pool<Self>,
            user_id: i64,
            now: i64,
        ) -> Result<(), sqlx::Error> {
            sqlx::query("DELETE FROM account_tokens WHERE user_id = $1 OR expires_at <= $2")
                .bind(user_id)
                .bind(now)
                .execute(pool)
                .await
                .map(drop)
        }
    };
}
#[cfg(feature = "mail")]
pub(crate) use mail_statements;

// The statements on `known_devices` read the same on both engines.
#[cfg(any(feature = "sqlite", feature = "postgres"))]
const IS_KNOWN_DEVICE: &str = "SELECT user_id FROM known_devices \
     WHERE token_digest = $1 AND user_id = $2 AND created_at > $3";
#[cfg(any(feature = "sqlite", feature = "postgres"))]
const REMEMBER_DEVICE: &str =
    "INSERT INTO known_devices (token_digest, user_id, created_at) VALUES ($1, $2, $3)";
#[cfg(any(feature = "sqlite", feature = "postgres"))]
const FORGET_OLD_DEVICES: &str = "DELETE FROM known_devices WHERE user_id = $1 \
     AND (created_at <= $2 OR token_digest NOT IN (SELECT token_digest FROM known_devices \
     WHERE user_id = $1 ORDER BY created_at DESC LIMIT $3))";

/// One row of the session table, as written.
#[derive(Clone, Copy, Debug)]
pub struct SessionRow<'a> {
    pub id: &'a str,
    /// The record, in the library store's own encoding (MessagePack).
    pub data: &'a [u8],
    pub expiry_date: OffsetDateTime,
    /// The signed-in user, if any.
    pub user_id: Option<i64>,
}
