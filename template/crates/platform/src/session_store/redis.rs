//! Sessions in Redis, shared by every instance of the backend.
//!
//! Redis suits sessions: every request reads one, and keys expire by
//! themselves (each save sets the key's expiry to the session's), so no
//! clean-up task is needed. Users stay in the database.
//!
//! Sessions carry a copy of their user (`session.rs`), so deleting an account
//! must end its sessions, and Redis cannot follow the users table the way the
//! SQL session tables do (a foreign key). [`Redis`] wraps the library's store
//! and keeps, per user, the set of their session ids; deleting the account
//! deletes them all ([`UserSessions::end_sessions_of`]). An account deleted
//! behind the application's back (in a SQL shell) keeps its sessions until
//! they expire: delete accounts through the application.
//!
//! The set stays as small as the user's live sessions: a deleted session
//! (logout, a new id at sign-in) leaves it at once, and each new member
//! checks a few others and removes those that have expired. Its expiry only
//! ever moves later (`EXPIREAT ... NX`, then `GT`: Redis 7 or newer), so
//! saving an older session never makes the set expire before a newer one.
//! Ending every session of a user takes the ids out of the set in batches
//! and unlinks them batch by batch, so a user with very many sessions never
//! blocks Redis with one huge command.
//!
//! Every request reads its session from Redis; no instance keeps sessions in
//! memory. A logout on one instance must end the session on all of them at
//! once, and a per-instance cache would go on serving it elsewhere.
//!
//! A Redis outage must not hang requests. Every command has a deadline
//! (`REDIS_TIMEOUT_MS`), after which the request answers 503; meanwhile the
//! client reconnects in the background, forever, with capped backoff, so the
//! service recovers without a restart when Redis is back.

use std::{sync::Arc, time::Duration};

use anyhow::Context;
use async_trait::async_trait;
use tower_sessions::{
    SessionStore,
    session::{Id, Record},
    session_store,
};
use tower_sessions_redis_store::{
    RedisStore,
    fred::{
        prelude::{
            Builder, ClientLike, Config as FredConfig, Error as RedisError, KeysInterface, Pool,
            ReconnectPolicy, SetsInterface,
        },
        types::ExpireOptions,
    },
};

use super::{AccountExists, UserSessions};
use crate::{
    session,
    settings::{ConfigError, Env, redact_url},
};

/// The session store: the library's Redis store, plus a set of session ids
/// per user.
#[derive(Clone)]
pub struct Redis {
    library: RedisStore<Pool>,
    redis: Pool,
    accounts: Arc<dyn AccountExists>,
}

impl std::fmt::Debug for Redis {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Redis")
            .field("library", &self.library)
            .finish()
    }
}

/// The key of the set of `user_id`'s session ids. Session ids (the library's
/// keys) are base64 and never contain `:`.
fn sessions_of(user_id: i64) -> String {
    format!("user-sessions:{user_id}")
}

fn backend(err: RedisError) -> session_store::Error {
    session_store::Error::Backend(err.to_string())
}

impl Redis {
    /// Connects to Redis, failing start-up with a clear message if it is
    /// not there: a backend that starts without its session store would
    /// only answer 503. `accounts` tells a new session whether its account
    /// still exists (users stay in the database).
    pub async fn open(settings: &Settings, accounts: impl AccountExists) -> anyhow::Result<Self> {
        let shown = redact_url(&settings.url);
        let fred_config = FredConfig::from_url(&settings.url)
            .with_context(|| format!("REDIS_URL={shown:?} is not a valid Redis URL"))?;
        let pool = Builder::from_config(fred_config)
            .with_performance_config(|performance| {
                performance.default_command_timeout = settings.timeout;
            })
            .with_connection_config(|connection| {
                connection.connection_timeout = settings.timeout;
                connection.internal_command_timeout = settings.timeout;
            })
            // Retry forever (0 attempts = no limit), 100 ms doubling to 2 s.
            .set_policy(ReconnectPolicy::new_exponential(0, 100, 2_000, 2))
            .build_pool(POOL_SIZE)
            .context("cannot configure the Redis client")?;
        pool.init().await.with_context(|| {
            format!("cannot connect to Redis at REDIS_URL={shown:?}; is it running?")
        })?;
        Ok(Self {
            library: RedisStore::new(pool.clone()),
            redis: pool,
            accounts: Arc::new(accounts),
        })
    }

    /// Adds the session to its user's set, whose expiry becomes the
    /// session's if that is later (never earlier: another session of the
    /// user may outlive this one). A new member also prunes the set.
    async fn index(&self, record: &Record) -> session_store::Result<Option<i64>> {
        let Some(user_id) = session::user_id_of(record) else {
            return Ok(None);
        };
        let key = sessions_of(user_id);
        let expires = record.expiry_date.unix_timestamp();
        let pipeline = self.redis.next().pipeline();
        let () = pipeline
            .sadd(&key, record.id.to_string())
            .await
            .map_err(backend)?;
        // NX sets an expiry on a set that has none (just created); GT moves
        // an existing one only later. (GT alone never sets one: Redis reads
        // "no expiry" as infinite.)
        let () = pipeline
            .expire_at(&key, expires, Some(ExpireOptions::NX))
            .await
            .map_err(backend)?;
        let () = pipeline
            .expire_at(&key, expires, Some(ExpireOptions::GT))
            .await
            .map_err(backend)?;
        let replies: Vec<i64> = pipeline.all().await.map_err(backend)?;
        if replies.first() == Some(&1) {
            self.prune(&key).await?;
        }
        Ok(Some(user_id))
    }

    /// Removes from `key` the ids, among [`PRUNE_SAMPLE`] picked at random,
    /// whose sessions have expired. Run for each new member, it keeps the
    /// set near the number of live sessions at a bounded cost per login.
    async fn prune(&self, key: &str) -> session_store::Result<()> {
        let sample: Vec<String> = self
            .redis
            .srandmember(key, Some(PRUNE_SAMPLE))
            .await
            .map_err(backend)?;
        if sample.is_empty() {
            return Ok(());
        }
        let pipeline = self.redis.next().pipeline();
        for id in &sample {
            let () = pipeline.exists(id.as_str()).await.map_err(backend)?;
        }
        let exists: Vec<i64> = pipeline.all().await.map_err(backend)?;
        let expired: Vec<String> = sample
            .into_iter()
            .zip(exists)
            .filter(|(_, exists)| *exists == 0)
            .map(|(id, _)| id)
            .collect();
        if !expired.is_empty() {
            let _removed: i64 = self.redis.srem(key, expired).await.map_err(backend)?;
        }
        Ok(())
    }
}

/// Members of a user's set checked for expiry when one is added.
const PRUNE_SAMPLE: usize = 16;

/// Ids taken out of a user's set and unlinked per command when all the
/// user's sessions end.
const END_BATCH: usize = 500;

#[async_trait]
impl SessionStore for Redis {
    /// Creates the session and indexes it under its user, then checks that
    /// the user still exists: a login that raced the account's deletion
    /// either indexed its session before the deletion read the set, or
    /// finds the account gone here and deletes the session itself.
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        self.library.create(record).await?;
        let Some(user_id) = self.index(record).await? else {
            return Ok(());
        };
        let exists = self
            .accounts
            .exists(user_id)
            .await
            .map_err(|err| session_store::Error::Backend(err.to_string()))?;
        if !exists {
            tracing::info!(
                user_id,
                "not keeping a session of an account deleted meanwhile"
            );
            self.library.delete(&record.id).await?;
        }
        Ok(())
    }

    async fn save(&self, record: &Record) -> session_store::Result<()> {
        self.library.save(record).await?;
        self.index(record).await.map(drop)
    }

    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        self.library.load(id).await
    }

    /// Deletes the session and takes it out of its user's set.
    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        // A record this version cannot decode is deleted all the same.
        let record = self.library.load(id).await.ok().flatten();
        self.library.delete(id).await?;
        if let Some(user_id) = record.as_ref().and_then(session::user_id_of) {
            let _removed: i64 = self
                .redis
                .srem(sessions_of(user_id), id.to_string())
                .await
                .map_err(backend)?;
        }
        Ok(())
    }
}

#[async_trait]
impl UserSessions for Redis {
    /// The ids in the user's set (some may have expired since).
    async fn sessions_of(&self, user_id: i64) -> session_store::Result<Vec<Id>> {
        let ids: Vec<String> = self
            .redis
            .smembers(sessions_of(user_id))
            .await
            .map_err(backend)?;
        Ok(ids.iter().filter_map(|id| id.parse().ok()).collect())
    }

    /// Deletes the sessions the user's set names, a batch at a time (each
    /// batch popped from the set, then unlinked: Redis frees the memory in
    /// the background), then the set.
    async fn end_sessions_of(&self, user_id: i64) -> session_store::Result<()> {
        let key = sessions_of(user_id);
        loop {
            let batch: Vec<String> = self
                .redis
                .spop(&key, Some(END_BATCH))
                .await
                .map_err(backend)?;
            if batch.is_empty() {
                break;
            }
            let _unlinked: i64 = self.redis.unlink(batch).await.map_err(backend)?;
        }
        let _unlinked: i64 = self.redis.unlink(key).await.map_err(backend)?;
        Ok(())
    }
}

/// The Redis server that holds the sessions.
#[derive(Clone, Debug)]
pub struct Settings {
    /// `redis://[user:password@]host[:port][/db]` (`REDIS_URL`).
    pub url: String,
    /// Longest wait for one Redis command, reconnecting included
    /// (`REDIS_TIMEOUT_MS`): while Redis is down requests answer 503 after
    /// this long instead of hanging.
    pub timeout: Duration,
}

impl Settings {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        Ok(Self {
            url: env.var("REDIS_URL", "redis://127.0.0.1:6379").parse_with(
                parse_url,
                "use redis://[user:password@]host[:port][/db], e.g. redis://127.0.0.1:6379",
            )?,
            timeout: env.millis("REDIS_TIMEOUT_MS", "2000", 100..=60_000)?,
        })
    }
}

/// Accepts a plain `redis://` URL (this build has no TLS for `rediss://`).
fn parse_url(value: &str) -> Result<String, String> {
    let url = url::Url::parse(value).map_err(|e| format!("not a URL ({e})"))?;
    match url.scheme() {
        "redis" if url.host_str().is_some_and(|h| !h.is_empty()) => Ok(value.to_owned()),
        "redis" => Err("has no host".to_owned()),
        "rediss" => Err("asks for TLS, which this build leaves out; enable \
                         tower-sessions-redis-store's `enable-rustls` feature"
            .to_owned()),
        _ => Err("not a redis:// URL".to_owned()),
    }
}

/// Connections in the pool; commands are pipelined, so a few go a long way.
const POOL_SIZE: usize = 4;

#[cfg(test)]
mod tests {
    use super::*;

    fn refusal(url: &str, timeout: &str) -> Option<ConfigError> {
        let lookup = |name: &str| match name {
            "REDIS_URL" => Some(url.to_owned()),
            "REDIS_TIMEOUT_MS" => Some(timeout.to_owned()),
            _ => None,
        };
        Settings::from_env(&Env::new(&lookup)).err()
    }

    #[test]
    fn redis_settings_are_refused_with_the_variable_and_a_fix() {
        for (var, url, timeout) in [
            ("REDIS_URL", "rediss://cache.example.com", "2000"),
            ("REDIS_URL", "127.0.0.1:6379", "2000"),
            ("REDIS_URL", "redis://", "2000"),
            ("REDIS_TIMEOUT_MS", "redis://127.0.0.1:6379", "0"),
            ("REDIS_TIMEOUT_MS", "redis://127.0.0.1:6379", "2s"),
        ] {
            let err = refusal(url, timeout).expect("refused");
            let message = err.to_string();
            assert_eq!(err.var, var, "{message}");
            assert!(message.contains("Fix: "), "{message}");
        }
        assert!(refusal("redis://user:pw@127.0.0.1:6379/2", "2000").is_none());
        let err = refusal("rediss://user:hunter2@cache.example.com", "2000").expect("refused");
        assert!(!err.to_string().contains("hunter2"), "{err}");
    }
}
