//! Sessions in a table of the application's database (SQLite or
//! PostgreSQL).
//!
//! `tower-sessions-sqlx-store` saves with an upsert. A request that read a
//! session before a logout (or before the id rotation at login) and saves it
//! after would then write the deleted session back, alive again, on any
//! instance. [`Table`] wraps the library's store and saves with a plain
//! `UPDATE` of a live row instead: a deleted or expired session stays
//! deleted. (Redis saves with `SET XX`, which has the same effect.)
//!
//! A signed-in session's row also names its user in a `user_id` column,
//! which [`Table::open`] adds to the library's table with a foreign key to
//! `users (id) ON DELETE CASCADE`: deleting an account deletes its sessions
//! in the same statement, whoever deletes it. The statements themselves are
//! the engine's ([`crate::database::Engine`]).
//!
//! The store deletes nothing by itself: run
//! [`spawn_cleanup`](super::spawn_cleanup) beside it.

use async_trait::async_trait;
use tower_sessions::{
    SessionStore,
    cookie::time::OffsetDateTime,
    session::{Id, Record},
    session_store::{self, ExpiredDeletion},
};

use super::UserSessions;
use crate::{
    database::{Engine, SessionRow},
    session,
};

/// The session table: the library's store, except that saving never
/// re-creates a session that is gone, and rows carry their user.
pub struct Table<E: Engine> {
    library: E::LibraryStore,
    db: sqlx::Pool<E>,
}

impl<E: Engine> Clone for Table<E> {
    fn clone(&self) -> Self {
        Self {
            library: self.library.clone(),
            db: self.db.clone(),
        }
    }
}

impl<E: Engine> std::fmt::Debug for Table<E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Table")
            .field("library", &self.library)
            .finish()
    }
}

impl<E: Engine> Table<E> {
    /// Opens the store on the application database and creates its table,
    /// with the `user_id` column (idempotent). The `users` table must exist:
    /// run the application's migrations first.
    pub async fn open(db: &sqlx::Pool<E>) -> anyhow::Result<Self> {
        let library = E::library_store(db.clone());
        E::migrate_sessions(db, &library).await?;
        Ok(Self {
            library,
            db: db.clone(),
        })
    }
}

#[async_trait]
impl<E: Engine> SessionStore for Table<E> {
    /// Inserts the session under a fresh id, with its user. Inserting for an
    /// account deleted meanwhile fails (the foreign key), so a login racing
    /// the account's deletion cannot leave a session behind.
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        loop {
            let data = encode(record)?;
            let id = record.id.to_string();
            let inserted = E::insert_session(&self.db, row(record, &id, &data)).await;
            match inserted {
                // Ids are 128 random bits, so this is as good as never.
                Err(sqlx::Error::Database(err)) if err.is_unique_violation() => {
                    record.id = Id::default();
                }
                other => return other.map_err(backend),
            }
        }
    }

    /// Updates the session if it is still there and unexpired; otherwise
    /// does nothing (it was deleted by a logout or a rotation meanwhile).
    async fn save(&self, record: &Record) -> session_store::Result<()> {
        let data = encode(record)?;
        let id = record.id.to_string();
        let updated =
            E::update_live_session(&self.db, row(record, &id, &data), OffsetDateTime::now_utc())
                .await
                .map_err(backend)?;
        if updated == 0 {
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
impl<E: Engine> ExpiredDeletion for Table<E> {
    async fn delete_expired(&self) -> session_store::Result<()> {
        self.library.delete_expired().await
    }
}

#[async_trait]
impl<E: Engine> UserSessions for Table<E> {
    async fn sessions_of(&self, user_id: i64) -> session_store::Result<Vec<Id>> {
        let ids = E::live_sessions_of(&self.db, user_id, OffsetDateTime::now_utc())
            .await
            .map_err(backend)?;
        Ok(ids.iter().filter_map(|id| id.parse().ok()).collect())
    }

    /// The rows went with the account already (the foreign key); deleting by
    /// `user_id` again costs one indexed query and holds where the key is
    /// missing (a table copied without it).
    async fn end_sessions_of(&self, user_id: i64) -> session_store::Result<()> {
        E::delete_sessions_of(&self.db, user_id)
            .await
            .map_err(backend)
    }
}

fn row<'a>(record: &Record, id: &'a str, data: &'a [u8]) -> SessionRow<'a> {
    SessionRow {
        id,
        data,
        expiry_date: record.expiry_date,
        user_id: session::user_id_of(record),
    }
}

/// The library's encoding of a record, which its `load` reads.
fn encode(record: &Record) -> session_store::Result<Vec<u8>> {
    rmp_serde::to_vec(record).map_err(|err| session_store::Error::Encode(err.to_string()))
}

fn backend(err: sqlx::Error) -> session_store::Error {
    session_store::Error::Backend(err.to_string())
}
