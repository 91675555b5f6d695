//! The Redis store's per-user index of sessions (`session_store/redis.rs`),
//! checked in Redis itself: its expiry only grows, a deleted session leaves
//! it, expired ones are pruned as new ones arrive, and ending every session
//! of a user with thousands of them leaves nothing behind.

use std::{
    sync::atomic::{AtomicI64, Ordering},
    time::Duration,
};

use async_trait::async_trait;
use platform::session_store::{AccountExists, Redis, RedisSettings, UserSessions};
use serde_json::json;
use tower_sessions::{
    SessionStore,
    cookie::time::OffsetDateTime,
    session::{Id, Record},
};
use tower_sessions_redis_store::fred::prelude::{
    Builder, ClientLike, Config, KeysInterface, Pool, SetsInterface,
};

/// Every account exists: these tests are about the index, not deletion.
struct Everyone;

#[async_trait]
impl AccountExists for Everyone {
    async fn exists(&self, _user_id: i64) -> Result<bool, sqlx::Error> {
        Ok(true)
    }
}

fn redis_url() -> String {
    std::env::var("TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

async fn store() -> Redis {
    let settings = RedisSettings {
        url: redis_url(),
        timeout: Duration::from_secs(2),
    };
    Redis::open(&settings, Everyone).await.expect("Redis")
}

/// A raw client, to look at what the store wrote.
async fn raw() -> Pool {
    let pool = Builder::from_config(Config::from_url(&redis_url()).unwrap())
        .build_pool(1)
        .unwrap();
    pool.init().await.expect("Redis");
    pool
}

/// A user id no other test (or earlier run) uses.
fn fresh_user() -> i64 {
    static NEXT: AtomicI64 = AtomicI64::new(0);
    let nanos = OffsetDateTime::now_utc().unix_timestamp_nanos();
    let base = 1_000_000_000 + i64::try_from(nanos % 1_000_000_000_000).unwrap() * 1_000;
    base + NEXT.fetch_add(1, Ordering::Relaxed)
}

/// A record of `user_id` that expires `secs` from now.
fn record(user_id: i64, secs: i64) -> Record {
    let signed_in =
        json!({ "id": user_id, "account": { "id": user_id }, "signed_in_at": 0, "renewed_at": 0 });
    Record {
        id: Id::default(),
        data: [("user".to_owned(), signed_in)].into_iter().collect(),
        expiry_date: OffsetDateTime::now_utc()
            + tower_sessions::cookie::time::Duration::seconds(secs),
    }
}

fn index_of(user_id: i64) -> String {
    format!("user-sessions:{user_id}")
}

async fn members(raw: &Pool, user_id: i64) -> Vec<String> {
    let mut ids: Vec<String> = raw.smembers(index_of(user_id)).await.unwrap();
    ids.sort();
    ids
}

#[tokio::test]
async fn the_index_expires_with_the_users_longest_lived_session() {
    let (store, raw) = (store().await, raw().await);
    let user = fresh_user();
    let mut long = record(user, 1_000);
    store.create(&mut long).await.unwrap();
    // An older session saved later, with an earlier expiry (a refresh of
    // every session's copy of the user saves each of them).
    let mut short = record(user, 100);
    store.create(&mut short).await.unwrap();
    store.save(&short).await.unwrap();
    let ttl: i64 = raw.ttl(index_of(user)).await.unwrap();
    assert!(
        ttl > 900,
        "the index expires in {ttl} s, before the 1000 s session"
    );
    store.end_sessions_of(user).await.unwrap();
}

#[tokio::test]
async fn a_deleted_session_leaves_the_index_and_expired_ones_are_pruned() {
    let (store, raw) = (store().await, raw().await);
    let user = fresh_user();
    let mut first = record(user, 600);
    let mut second = record(user, 600);
    store.create(&mut first).await.unwrap();
    store.create(&mut second).await.unwrap();

    store.delete(&first.id).await.unwrap();
    assert_eq!(members(&raw, user).await, [second.id.to_string()]);

    // The second session expires (its key goes, as Redis expires it); the
    // next new session of the user prunes it from the index.
    let _: i64 = raw.del(second.id.to_string()).await.unwrap();
    let mut third = record(user, 600);
    store.create(&mut third).await.unwrap();
    assert_eq!(members(&raw, user).await, [third.id.to_string()]);
    store.end_sessions_of(user).await.unwrap();
}

#[tokio::test]
async fn ending_thousands_of_sessions_leaves_nothing_behind() {
    let (store, raw) = (store().await, raw().await);
    let user = fresh_user();
    let mut ids = Vec::new();
    for _ in 0..1_200 {
        let mut session = record(user, 600);
        store.create(&mut session).await.unwrap();
        ids.push(session.id);
    }
    assert_eq!(members(&raw, user).await.len(), 1_200);
    store.end_sessions_of(user).await.unwrap();
    let left: i64 = raw
        .exists(ids.iter().map(ToString::to_string).collect::<Vec<_>>())
        .await
        .unwrap();
    assert_eq!(left, 0, "sessions left after ending them all");
    let index: i64 = raw.exists(index_of(user)).await.unwrap();
    assert_eq!(index, 0, "the index is left");
    assert!(store.sessions_of(user).await.unwrap().is_empty());
}
