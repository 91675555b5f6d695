//! Where sessions are kept: Redis, shared by every instance of the backend.
//!
//! Redis suits sessions: every request reads one, and keys expire by
//! themselves (each save sets the key's expiry to the session's), so no
//! clean-up task is needed. Users stay in the database.
//!
//! A Redis outage must not hang requests. Every command has a deadline
//! (`REDIS_TIMEOUT_MS`), after which the request answers 503; meanwhile the
//! client reconnects in the background, forever, with capped backoff, so the
//! service recovers without a restart when Redis is back.

use anyhow::Context;
use tower_sessions_redis_store::{
    RedisStore,
    fred::prelude::{Builder, ClientLike, Config as FredConfig, Pool, ReconnectPolicy},
};

use crate::config::{RedisConfig, redact_url};

/// The session store this project was generated with.
pub type Store = RedisStore<Pool>;

/// Connections in the pool; commands are pipelined, so a few go a long way.
const POOL_SIZE: usize = 4;

/// Connects to Redis, failing start-up with a clear message if it is not
/// there: a backend that starts without its session store would only answer
/// 503.
pub async fn open(config: &RedisConfig) -> anyhow::Result<Store> {
    let shown = redact_url(&config.url);
    let fred_config = FredConfig::from_url(&config.url)
        .with_context(|| format!("REDIS_URL={shown:?} is not a valid Redis URL"))?;
    let pool = Builder::from_config(fred_config)
        .with_performance_config(|performance| {
            performance.default_command_timeout = config.timeout;
        })
        .with_connection_config(|connection| {
            connection.connection_timeout = config.timeout;
            connection.internal_command_timeout = config.timeout;
        })
        // Retry forever (0 attempts = no limit), 100 ms doubling to 2 s.
        .set_policy(ReconnectPolicy::new_exponential(0, 100, 2_000, 2))
        .build_pool(POOL_SIZE)
        .context("cannot configure the Redis client")?;
    pool.init().await.with_context(|| {
        format!("cannot connect to Redis at REDIS_URL={shown:?}; is it running?")
    })?;
    Ok(RedisStore::new(pool))
}

/// Redis expires session keys itself, so there is no clean-up task to run.
pub fn spawn_cleanup(_store: &Store) -> Option<tokio::task::JoinHandle<()>> {
    None
}
