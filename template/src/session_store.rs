//! Where sessions are kept: a table in the application database.
//!
//! One database for users and sessions is the simplest thing that works, for
//! one instance or (with PostgreSQL) for several. The store deletes nothing by
//! itself, so a background task removes expired sessions; it logs and carries
//! on through database errors instead of ending at the first one, as the
//! library's own `continuously_delete_expired` would.

use std::time::Duration;

use anyhow::Context;
use tower_sessions::session_store::ExpiredDeletion;

use crate::{
    database::Pool,
    settings::{ConfigError, Env},
};

/// The session store this project was generated with.
pub type Store = tower_sessions_sqlx_store::{% if database == "postgres" %}PostgresStore{% else %}SqliteStore{% endif %};

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
    let store = Store::new(db.clone());
    store
        .migrate()
        .await
        .context("cannot create the session table")?;
    Ok(store)
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
