//! Where sessions are kept, and what the application can do with all the
//! sessions of one user.
//!
//! Three stores, each behind a feature:
//!
//! - [`Table`] (`sql-sessions`): a table in the application's database,
//!   SQLite or PostgreSQL. One database for users and sessions is the
//!   simplest thing that works, for one instance or (PostgreSQL) several.
//! - [`Cached`] (`session-cache`): any store with its sessions kept in memory
//!   in front; for the single-instance SQLite project only.
//! - [`Redis`] (`redis-sessions`): shared by every instance; keys expire by
//!   themselves.
//!
//! Every store indexes sessions by user ([`UserSessions`]): the SQL table
//! has a `user_id` column that follows `users (id)` with `ON DELETE
//! CASCADE`, Redis keeps a set of session ids per user. On that index
//! [`Sessions`], the handle the application keeps in its state, ends every
//! session of a deleted account and refreshes every session's copy of a
//! changed one, on every instance at once. It also lists a user's sessions
//! and ends one of them by its handle ("sign out the laptop I left at
//! work"): through the store, so the session is gone for every instance as
//! soon as the call returns.

#[cfg(feature = "session-cache")]
mod cached;
#[cfg(feature = "redis-sessions")]
mod redis;
#[cfg(feature = "sql-sessions")]
mod table;

use std::{sync::Arc, time::Duration};

use async_trait::async_trait;
use tower_sessions::{
    SessionStore,
    session::Id,
    session_store::{self, ExpiredDeletion},
};

#[cfg(feature = "session-cache")]
pub use cached::{Cached, TIME_TO_LIVE};
#[cfg(feature = "redis-sessions")]
pub use redis::{Redis, Settings as RedisSettings};
#[cfg(feature = "sql-sessions")]
pub use table::Table;

use crate::session::{self, Account, Lifetime, Summary};

/// A session store that can find and end the sessions of one user.
#[async_trait]
pub trait UserSessions: SessionStore {
    /// The ids of the live sessions of `user_id`.
    async fn sessions_of(&self, user_id: i64) -> session_store::Result<Vec<Id>>;

    /// Deletes every session of `user_id`, so that no instance serves any
    /// of them again.
    async fn end_sessions_of(&self, user_id: i64) -> session_store::Result<()>;
}

/// Whether an account exists: what a store that cannot follow the users
/// table by itself (Redis) asks when it creates a session, so that a login
/// racing the account's deletion leaves no session behind.
#[async_trait]
pub trait AccountExists: Send + Sync + 'static {
    async fn exists(&self, user_id: i64) -> Result<bool, sqlx::Error>;
}

/// The accounts of type `U`, read from `source` (the application's pool).
pub struct Accounts<U: Account>(pub U::Source);

#[async_trait]
impl<U: Account> AccountExists for Accounts<U> {
    async fn exists(&self, user_id: i64) -> Result<bool, sqlx::Error> {
        Ok(U::find(&self.0, user_id).await?.is_some())
    }
}

/// The application's handle on its sessions, kept in its state: cheap to
/// clone.
#[derive(Clone)]
pub struct Sessions {
    store: Arc<dyn UserSessions>,
    lifetime: Lifetime,
    /// Longest a request runs (`REQUEST_TIMEOUT_SECS`): see [`Self::refresh`].
    request_timeout: Duration,
}

impl Sessions {
    pub fn new(store: impl UserSessions, lifetime: Lifetime, request_timeout: Duration) -> Self {
        Self {
            store: Arc::new(store),
            lifetime,
            request_timeout,
        }
    }

    /// How long sessions last.
    pub fn lifetime(&self) -> Lifetime {
        self.lifetime
    }

    /// Ends every session of `user_id` (its account was deleted, say), on
    /// every instance at once.
    pub async fn end_all_of(&self, user_id: i64) -> session_store::Result<()> {
        self.store.end_sessions_of(user_id).await
    }

    /// The live sessions of `user_id`, the most recently active first (then
    /// the most recently signed in).
    pub async fn list_of(&self, user_id: i64) -> session_store::Result<Vec<Summary>> {
        let mut listed: Vec<Summary> = self
            .summaries_of(user_id)
            .await?
            .into_iter()
            .map(|(_, summary)| summary)
            .collect();
        listed.sort_by(|a, b| {
            (b.last_seen_at, b.signed_in_at).cmp(&(a.last_seen_at, a.signed_in_at))
        });
        Ok(listed)
    }

    /// Ends the session of `user_id` whose handle is `handle`, on every
    /// instance at once; whether there was one. A handle of another user's
    /// session finds nothing.
    pub async fn end_one_of(&self, user_id: i64, handle: &str) -> session_store::Result<bool> {
        for (id, summary) in self.summaries_of(user_id).await? {
            if summary.handle == handle {
                self.store.delete(&id).await?;
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Ends every session of `user_id` but the one whose handle is `keep`
    /// (the browser that changed the password, say), on every instance at
    /// once; how many it ended. A session signed in while this runs may
    /// survive it: change what signs in (the password) first.
    pub async fn end_others_of(&self, user_id: i64, keep: &str) -> session_store::Result<usize> {
        let mut ended = 0;
        for id in self.store.sessions_of(user_id).await? {
            let Some(record) = self.store.load(&id).await? else {
                continue;
            };
            // A session without a handle (signed in by an older version of
            // this crate, and not used since) is ended too.
            let kept = session::summary_of(&record, user_id).is_some_and(|s| s.handle == keep);
            if !kept && session::user_id_of(&record) == Some(user_id) {
                self.store.delete(&id).await?;
                ended += 1;
            }
        }
        Ok(ended)
    }

    /// The live sessions of `user_id` with their ids, read one by one (a
    /// store's `load` skips expired ones).
    async fn summaries_of(&self, user_id: i64) -> session_store::Result<Vec<(Id, Summary)>> {
        let mut found = Vec::new();
        for id in self.store.sessions_of(user_id).await? {
            if let Some(record) = self.store.load(&id).await?
                && let Some(summary) = session::summary_of(&record, user_id)
            {
                found.push((id, summary));
            }
        }
        Ok(found)
    }

    /// Gives every live session of `user` its new copy, on every instance
    /// at once, after a change to the account.
    ///
    /// A request that loaded one of those sessions before this ran, and
    /// saves it after (its idle timeout renewed, say), writes the old copy
    /// back. Every such request ends within the request timeout, so the
    /// copies are written once more after it, in the background.
    pub async fn refresh<U: Account>(&self, user: &U) -> session_store::Result<()> {
        let account = serde_json::to_value(user)
            .map_err(|err| session_store::Error::Encode(err.to_string()))?;
        let changed = refresh_copies(self.store.as_ref(), user.id(), &account).await?;
        if changed > 0 {
            let store = Arc::clone(&self.store);
            let user_id = user.id();
            let after = self.request_timeout + Duration::from_secs(1);
            tokio::spawn(async move {
                tokio::time::sleep(after).await;
                if let Err(err) = refresh_copies(store.as_ref(), user_id, &account).await {
                    tracing::warn!(user_id, error = %err, "refreshing sessions a second time failed");
                }
            });
        }
        Ok(())
    }

    /// Whether the store answers, with one real round trip.
    pub async fn ping(&self) -> session_store::Result<()> {
        self.store.load(&Id::default()).await.map(drop)
    }
}

/// Writes `account` into every live session of `user_id`; how many.
async fn refresh_copies(
    store: &dyn UserSessions,
    user_id: i64,
    account: &serde_json::Value,
) -> session_store::Result<usize> {
    let mut changed = 0;
    for id in store.sessions_of(user_id).await? {
        let Some(mut record) = store.load(&id).await? else {
            continue;
        };
        if session::replace_copy(&mut record, user_id, account) {
            // Every store's save writes only a session that is still there:
            // one ended meanwhile stays ended.
            store.save(&record).await?;
            changed += 1;
        }
    }
    Ok(changed)
}

/// How often expired sessions are deleted from a table.
const CLEANUP_PERIOD: Duration = Duration::from_secs(60);

/// Starts deleting expired sessions every minute, for as long as the process
/// runs (SQL tables; Redis expires keys itself). Database errors are logged
/// and the next period tries again, where the library's own
/// `continuously_delete_expired` would end at the first one.
pub fn spawn_cleanup<S>(store: &S) -> tokio::task::JoinHandle<()>
where
    S: ExpiredDeletion + Clone,
{
    spawn_cleanup_every(store.clone(), CLEANUP_PERIOD)
}

/// The clean-up loop with its period as a parameter (tests use a short one).
pub fn spawn_cleanup_every<S>(store: S, period: Duration) -> tokio::task::JoinHandle<()>
where
    S: ExpiredDeletion,
{
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
