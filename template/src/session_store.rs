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

#[async_trait]
impl SessionStore for Table {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        self.library.create(record).await
    }

    /// Updates the session if it is still there and unexpired; otherwise
    /// does nothing (it was deleted by a logout or a rotation meanwhile).
    async fn save(&self, record: &Record) -> session_store::Result<()> {
        let data = rmp_serde::to_vec(record)
            .map_err(|err| session_store::Error::Encode(err.to_string()))?;
        let updated = sqlx::query(&format!(
            "UPDATE {TABLE} SET data = $1, expiry_date = $2 WHERE id = $3 AND expiry_date > $4"
        ))
        .bind(data)
        .bind(record.expiry_date)
        .bind(record.id.to_string())
        .bind(OffsetDateTime::now_utc())
        .execute(&self.db)
        .await
        .map_err(|err| session_store::Error::Backend(err.to_string()))?;
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
