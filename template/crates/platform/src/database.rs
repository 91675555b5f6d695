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
}

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
