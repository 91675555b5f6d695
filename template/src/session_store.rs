//! Where sessions are kept: a table in the application database.
//!
//! One database for users and sessions is the simplest thing that works, for
//! one instance or (with PostgreSQL) for several. The store deletes nothing by
//! itself, so a background task removes expired sessions; it logs and carries
//! on through database errors instead of ending at the first one, as the
//! library's own `continuously_delete_expired` would.
//!
//! `tower-sessions-sqlx-store` saves with an upsert. A request that read a
//! session before a logout (or before the id rotation at login) and saves it
//! after would then write the deleted session back, alive again, on any
//! instance. [`Table`] wraps the library's store and saves with a plain
//! `UPDATE` of a live row instead: a deleted or expired session stays
//! deleted. (Redis saves with `SET XX`, which has the same effect.)
//!
//! A signed-in session's row also names its user in a `user_id` column,
//! which this module adds to the library's table with a foreign key to
//! `users` (`ON DELETE CASCADE`): deleting an account deletes its sessions
//! in the same statement, whoever deletes it. Sessions carry a copy of their
//! user (`session.rs`), and this is what keeps the copy from outliving the
//! account.
//!
{%- if database == "sqlite" %}
//! One instance owns a SQLite file, so the sessions it reads are kept in
//! memory in front of the table (`session_cache.rs`, which says why that
//! stays correct).
{%- else %}
//! Several instances may share this database, so no instance keeps sessions
//! in memory: a logout on one must end the session on all at once (see
//! `session_cache.rs` in a SQLite project for why a cache is right there).
{%- endif %}

use std::time::Duration;

use anyhow::Context;
use async_trait::async_trait;
use tower_sessions::{
    SessionStore,
    cookie::time::OffsetDateTime,
    session::{Id, Record},
    session_store::{self, ExpiredDeletion},
};
use tower_sessions_sqlx_store::{% if database == "postgres" %}PostgresStore as LibraryStore{% else %}SqliteStore as LibraryStore{% endif %};

use crate::{
    database::Pool,
    session,
    settings::{ConfigError, Env},
};

/// The library's session table, which [`Table::save`] updates directly.
const TABLE: &str = {% if database == "postgres" %}r#""tower_sessions"."session""#{% else %}"tower_sessions"{% endif %};

{%- if database == "sqlite" %}
/// The session store: the table, behind an in-memory cache.
pub type Store = crate::session_cache::Cached<Table>;
{%- else %}
/// The session store: the table, read on every request.
pub type Store = Table;
{%- endif %}

/// The session table: the library's store, except that saving never
/// re-creates a session that is gone.
#[derive(Clone, Debug)]
pub struct Table {
    library: LibraryStore,
    db: Pool,
}

impl Table {
    /// Deletes every session of `user_id`.
    async fn delete_user_sessions(&self, user_id: i64) -> session_store::Result<()> {
        sqlx::query(&format!("DELETE FROM {TABLE} WHERE user_id = $1"))
            .bind(user_id)
            .execute(&self.db)
            .await
            .map_err(backend)?;
        Ok(())
    }
}

#[async_trait]
impl SessionStore for Table {
    /// Inserts the session under a fresh id, with its user. Inserting for an
    /// account deleted meanwhile fails (the foreign key), so a login racing
    /// the account's deletion cannot leave a session behind.
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        loop {
            let inserted = sqlx::query(&format!(
                "INSERT INTO {TABLE} (id, data, expiry_date, user_id) VALUES ($1, $2, $3, $4)"
            ))
            .bind(record.id.to_string())
            .bind(encode(record)?)
            .bind(record.expiry_date)
            .bind(session::user_id_of(record))
            .execute(&self.db)
            .await;
            match inserted {
                // Ids are 128 random bits, so this is as good as never.
                Err(sqlx::Error::Database(err)) if err.is_unique_violation() => {
                    record.id = Id::default();
                }
                other => return other.map(drop).map_err(backend),
            }
        }
    }

    /// Updates the session if it is still there and unexpired; otherwise
    /// does nothing (it was deleted by a logout or a rotation meanwhile).
    async fn save(&self, record: &Record) -> session_store::Result<()> {
        let updated = sqlx::query(&format!(
            "UPDATE {TABLE} SET data = $1, expiry_date = $2, user_id = $3 \
             WHERE id = $4 AND expiry_date > $5"
        ))
        .bind(encode(record)?)
        .bind(record.expiry_date)
        .bind(session::user_id_of(record))
        .bind(record.id.to_string())
        .bind(OffsetDateTime::now_utc())
        .execute(&self.db)
        .await
        .map_err(backend)?;
        if updated.rows_affected() == 0 {
            tracing::debug!("not saving a session that was deleted meanwhile");
        }
        Ok(())
    }

    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        self.library.load(id).await
    }

    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        self.library.delete(id).await
    }
}

#[async_trait]
impl ExpiredDeletion for Table {
    async fn delete_expired(&self) -> session_store::Result<()> {
        self.library.delete_expired().await
    }
}

/// The library's encoding of a record, which its `load` reads.
fn encode(record: &Record) -> session_store::Result<Vec<u8>> {
    rmp_serde::to_vec(record).map_err(|err| session_store::Error::Encode(err.to_string()))
}

fn backend(err: sqlx::Error) -> session_store::Error {
    session_store::Error::Backend(err.to_string())
}

/// The store lives in the application database, so it has no settings of
/// its own (the Redis store has its server's address and a timeout).
#[derive(Clone, Debug)]
pub struct Settings;

impl Settings {
    pub fn from_env(_env: &Env) -> Result<Self, ConfigError> {
        Ok(Self)
    }
}

/// How often expired sessions are deleted.
const CLEANUP_PERIOD: Duration = Duration::from_secs(60);

/// Opens the store on the application database and creates its table
/// (idempotent).
pub async fn open(_settings: &Settings, db: &Pool) -> anyhow::Result<Store> {
    let library = LibraryStore::new(db.clone());
    library
        .migrate()
        .await
        .context("cannot create the session table")?;
    add_user_column(db)
        .await
        .context("cannot add the user column to the session table")?;
    let table = Table {
        library,
        db: db.clone(),
    };
{%- if database == "sqlite" %}
    Ok(Store::new(table))
{%- else %}
    Ok(table)
{%- endif %}
}

/// Ends every session of `user_id`, whose account was just deleted: on every
/// instance at once, as they all read this table.
{%- if database == "sqlite" %}
/// The rows went with the account (the foreign key); deleting by `user_id`
/// again costs one indexed query and holds where the key is missing (a table
/// copied without it). Then the cache of this instance, the only one, is
/// emptied.
pub async fn end_sessions_of(store: &Store, user_id: i64) -> session_store::Result<()> {
    let deleted = store.inner().delete_user_sessions(user_id).await;
    store.forget_all();
    deleted
}
{%- else %}
/// The rows went with the account (the foreign key); deleting by `user_id`
/// again costs one indexed query and holds where the key is missing (a table
/// copied without it).
pub async fn end_sessions_of(store: &Store, user_id: i64) -> session_store::Result<()> {
    store.delete_user_sessions(user_id).await
}
{%- endif %}

/// Adds the `user_id` column and its index to the library's table, once.
async fn add_user_column(db: &Pool) -> Result<(), sqlx::Error> {
{%- if database == "postgres" %}
    sqlx::query(&format!(
        "ALTER TABLE {TABLE} ADD COLUMN IF NOT EXISTS \
         user_id BIGINT REFERENCES users (id) ON DELETE CASCADE"
    ))
    .execute(db)
    .await?;
{%- else %}
    let (present,): (bool,) = sqlx::query_as(&format!(
        "SELECT COUNT(*) > 0 FROM pragma_table_info('{TABLE}') WHERE name = 'user_id'"
    ))
    .fetch_one(db)
    .await?;
    if !present {
        sqlx::query(&format!(
            "ALTER TABLE {TABLE} ADD COLUMN user_id INTEGER REFERENCES users (id) ON DELETE CASCADE"
        ))
        .execute(db)
        .await?;
    }
{%- endif %}
    sqlx::query(&format!(
        "CREATE INDEX IF NOT EXISTS sessions_by_user ON {TABLE} (user_id)"
    ))
    .execute(db)
    .await?;
    Ok(())
}

/// Starts deleting expired sessions every minute, for as long as the process
/// runs.
pub fn spawn_cleanup(store: &Store) -> Option<tokio::task::JoinHandle<()>> {
    Some(spawn_cleanup_every(store.clone(), CLEANUP_PERIOD))
}

/// The clean-up loop with its period as a parameter (tests use a short one).
pub fn spawn_cleanup_every(store: Store, period: Duration) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut interval = tokio::time::interval(period);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            interval.tick().await;
            if let Err(err) = store.delete_expired().await {
                tracing::warn!(error = %err, "deleting expired sessions failed; retrying next period");
            }
        }
    })
}
