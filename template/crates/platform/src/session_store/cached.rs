//! Sessions read at memory speed: a bounded in-memory cache in front of a
//! session store, for a single instance (the SQLite project).
//!
//! Every request of a signed-in browser loads its session; without a cache
//! that is a round trip to SQLite (through sqlx's connection thread) per
//! request. [`Cached`] keeps the sessions this process last read, so a warm
//! session is read without touching the database, while logout, the id
//! rotation at login, and every other write stay effective at once.
//!
//! # Why a cached session can never be a dead one
//!
//! tower-sessions' own `CachingSessionStore` writes every saved record into
//! its cache, even when the store refused it: our table store's save is an
//! `UPDATE` of a live row only, so a request that read a session before a
//! logout and saves it afterwards would leave the logged-out session alive in
//! the cache. Here the cache is only ever *filled by reads*, and a read may
//! fill it only if no write to that session finished while it ran:
//!
//! - a write (`create`, `save`, `delete`) first completes in the store, then,
//!   under the session's stripe lock, bumps the stripe's generation and
//!   removes the session from the cache;
//! - a read that misses notes the generation, loads from the store, then,
//!   under the same lock, caches what it loaded only if the generation has
//!   not moved.
//!
//! Suppose the cache held a record `r` that a fill `F` loaded, although a
//! write `W` changed the store after `F` read it. `W`'s bump-and-remove and
//! `F`'s check-and-insert are ordered by the lock. If `W`'s came second, it
//! removed `r`. If it came first but after `F` noted the generation, `F` saw
//! the generation move and cached nothing. If it came before `F` noted the
//! generation, `W`'s store write had completed before `F`'s store read began,
//! so SQLite (one file, each statement committed before it returns) gave `F`
//! the written state, not `r`. So a cached record is always what the table
//! held after the last write this process made to it, and a session a logout
//! deleted (or whose id was rotated) is never served from here: a save that
//! comes after the delete is an `UPDATE` of no row, and its own
//! bump-and-remove keeps the cache empty for that id.
//!
//! Eviction (capacity, or the time-to-live below) only ever removes entries,
//! so it cannot break this; there are no tombstones to lose. Expired records
//! are not served either: the expiry travels in the record and is checked on
//! every read, as the table's own `load` does.
//!
//! The argument needs every write to go through this process. That is the
//! SQLite default: one instance owns its database file. Writes made behind
//! its back (an operator's `sqlite3` shell deleting session rows) are seen
//! when the entry leaves the cache, at most [`TIME_TO_LIVE`] later. That
//! includes deleting a user behind its back: the foreign key deletes the
//! user's sessions in the table, and the cache serves them until they leave
//! it. Deleting the account through the application
//! ([`Sessions::end_all_of`](super::Sessions::end_all_of)) ends them at once:
//! the store deletes them, then [`Cached::forget_all`] empties the cache.
//!
//! PostgreSQL and Redis stores get no such cache: several instances may
//! share them, and a logout on one instance is a write the others never see,
//! so their caches would keep the session alive. (A cross-instance
//! invalidation channel could make that correct; the projects do not have
//! one, so they read the shared store on every request.)

use std::{
    sync::{
        Arc, Mutex, PoisonError,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use async_trait::async_trait;
use moka::sync::Cache;
use tower_sessions::{
    SessionStore,
    cookie::time::OffsetDateTime,
    session::{Id, Record},
    session_store::{self, ExpiredDeletion},
};

use super::UserSessions;

/// Most sessions kept in memory. A record of this project is a few hundred
/// bytes, so a full cache takes a few MiB; past this the least recently
/// used are read from the store again.
const CAPACITY: u64 = 10_000;

/// Longest an entry is served from memory before the store is read again;
/// bounds how long a change made behind the application's back goes
/// unnoticed, and costs one store read per session per period.
pub const TIME_TO_LIVE: Duration = Duration::from_secs(30);

/// Independent locks, so writes to different sessions rarely wait for each
/// other. A power of two: the stripe is the id's low bits.
const STRIPES: usize = 64;

/// `inner` with an in-memory cache of its sessions in front (see the module
/// comment for why it is correct).
#[derive(Clone)]
pub struct Cached<S> {
    inner: S,
    shared: Arc<Shared>,
}

struct Shared {
    cache: Cache<Id, Arc<Record>>,
    /// Generation of each stripe: bumped after every write to a session in
    /// it, under its lock.
    stripes: [Mutex<u64>; STRIPES],
    /// Loads that reached the store, for tests and curiosity.
    store_loads: AtomicU64,
}

impl<S> Cached<S> {
    pub fn new(inner: S) -> Self {
        Self::with_time_to_live(inner, TIME_TO_LIVE)
    }

    /// Tests use a short time-to-live.
    pub fn with_time_to_live(inner: S, time_to_live: Duration) -> Self {
        Self {
            inner,
            shared: Arc::new(Shared {
                cache: Cache::builder()
                    .max_capacity(CAPACITY)
                    .time_to_live(time_to_live)
                    .build(),
                stripes: std::array::from_fn(|_| Mutex::new(0)),
                store_loads: AtomicU64::new(0),
            }),
        }
    }

    /// How many loads missed the cache and went to the store.
    pub fn store_loads(&self) -> u64 {
        self.shared.store_loads.load(Ordering::Relaxed)
    }

    /// The store behind the cache.
    pub fn inner(&self) -> &S {
        &self.inner
    }

    fn stripe(&self, id: &Id) -> std::sync::MutexGuard<'_, u64> {
        // Ids are random 128-bit numbers: their low bits spread evenly.
        let index = (id.0 as usize) & (STRIPES - 1);
        self.shared.stripes[index]
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Drops every cached session, after the store deleted sessions by some
    /// other means than `delete` (deleting an account takes its sessions with
    /// it). Every stripe counts as written, so the argument in the module
    /// comment holds; each session is read from the store once again.
    /// Deleting an account is rare enough that this beats indexing the cache
    /// by user.
    pub fn forget_all(&self) {
        for stripe in &self.shared.stripes {
            let mut generation = stripe.lock().unwrap_or_else(PoisonError::into_inner);
            *generation = generation.wrapping_add(1);
        }
        self.shared.cache.invalidate_all();
    }

    /// After a write to `id` has completed in the store (whether it
    /// succeeded or not: a failed one may still have happened).
    fn written(&self, id: &Id) {
        let mut generation = self.stripe(id);
        *generation = generation.wrapping_add(1);
        self.shared.cache.invalidate(id);
    }
}

impl<S> std::fmt::Debug for Cached<S>
where
    S: std::fmt::Debug,
{
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cached")
            .field("inner", &self.inner)
            .field("entries", &self.shared.cache.entry_count())
            .finish()
    }
}

#[async_trait]
impl<S> SessionStore for Cached<S>
where
    S: SessionStore,
{
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        let result = self.inner.create(record).await;
        // `create` may have picked another id; that is the one written.
        self.written(&record.id);
        result
    }

    async fn save(&self, record: &Record) -> session_store::Result<()> {
        let result = self.inner.save(record).await;
        self.written(&record.id);
        result
    }

    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        if let Some(record) = self.shared.cache.get(id) {
            return Ok((record.expiry_date > OffsetDateTime::now_utc()).then(|| (*record).clone()));
        }
        let seen = *self.stripe(id);
        self.shared.store_loads.fetch_add(1, Ordering::Relaxed);
        let loaded = self.inner.load(id).await?;
        if let Some(record) = &loaded {
            let generation = self.stripe(id);
            if *generation == seen {
                self.shared.cache.insert(*id, Arc::new(record.clone()));
            }
        }
        Ok(loaded)
    }

    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        let result = self.inner.delete(id).await;
        self.written(id);
        result
    }
}

#[async_trait]
impl<S> ExpiredDeletion for Cached<S>
where
    S: ExpiredDeletion,
{
    /// Expired records in the cache are never served (their expiry is
    /// checked on every read), so only the store needs cleaning.
    async fn delete_expired(&self) -> session_store::Result<()> {
        self.inner.delete_expired().await
    }
}

#[async_trait]
impl<S> UserSessions for Cached<S>
where
    S: UserSessions,
{
    async fn sessions_of(&self, user_id: i64) -> session_store::Result<Vec<Id>> {
        self.inner.sessions_of(user_id).await
    }

    /// The store deletes them; then the cache of this instance, the only
    /// one, is emptied.
    async fn end_sessions_of(&self, user_id: i64) -> session_store::Result<()> {
        let deleted = self.inner.end_sessions_of(user_id).await;
        self.forget_all();
        deleted
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use tokio::sync::{Notify, Semaphore};
    use tower_sessions::{MemoryStore, cookie::time};

    use super::*;

    fn record(value: &str) -> Record {
        Record {
            id: Id::default(),
            data: HashMap::from([("v".to_owned(), serde_json::json!(value))]),
            expiry_date: OffsetDateTime::now_utc() + time::Duration::hours(1),
        }
    }

    /// A store whose `load` reads the record, then waits for the test to
    /// let it return, so a write can be slipped in between.
    #[derive(Clone, Debug, Default)]
    struct PausingStore {
        inner: MemoryStore,
        paused: Arc<Pause>,
    }

    #[derive(Debug)]
    struct Pause {
        enabled: std::sync::atomic::AtomicBool,
        reached: Notify,
        resume: Semaphore,
    }

    impl Default for Pause {
        fn default() -> Self {
            Self {
                enabled: false.into(),
                reached: Notify::new(),
                resume: Semaphore::new(0),
            }
        }
    }

    #[async_trait]
    impl SessionStore for PausingStore {
        async fn create(&self, record: &mut Record) -> session_store::Result<()> {
            self.inner.create(record).await
        }
        async fn save(&self, record: &Record) -> session_store::Result<()> {
            self.inner.save(record).await
        }
        async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
            let loaded = self.inner.load(id).await;
            if self.paused.enabled.load(Ordering::SeqCst) {
                self.paused.reached.notify_one();
                self.paused.resume.acquire().await.unwrap().forget();
            }
            loaded
        }
        async fn delete(&self, id: &Id) -> session_store::Result<()> {
            self.inner.delete(id).await
        }
    }

    #[tokio::test]
    async fn a_warm_read_does_not_touch_the_store() {
        let store = Cached::new(MemoryStore::default());
        let mut session = record("a");
        store.create(&mut session).await.unwrap();
        for _ in 0..5 {
            assert_eq!(
                store.load(&session.id).await.unwrap(),
                Some(session.clone())
            );
        }
        assert_eq!(store.store_loads(), 1, "only the first read misses");
    }

    #[tokio::test]
    async fn writes_are_seen_at_once() {
        let store = Cached::new(MemoryStore::default());
        let mut session = record("a");
        store.create(&mut session).await.unwrap();
        store.load(&session.id).await.unwrap();
        let mut changed = session.clone();
        changed.data.insert("v".to_owned(), serde_json::json!("b"));
        store.save(&changed).await.unwrap();
        assert_eq!(store.load(&session.id).await.unwrap(), Some(changed));
        store.delete(&session.id).await.unwrap();
        assert_eq!(store.load(&session.id).await.unwrap(), None);
    }

    #[tokio::test]
    async fn an_expired_record_is_not_served_from_memory() {
        let store = Cached::new(MemoryStore::default());
        let mut session = record("a");
        session.expiry_date = OffsetDateTime::now_utc() + time::Duration::milliseconds(50);
        store.create(&mut session).await.unwrap();
        assert!(store.load(&session.id).await.unwrap().is_some());
        tokio::time::sleep(Duration::from_millis(60)).await;
        assert_eq!(store.load(&session.id).await.unwrap(), None);
    }

    /// Loads `id` through `store`, running `write` while the load has the
    /// store's record in hand and has not yet cached it; returns what the
    /// load returned.
    async fn read_racing(
        store: &Cached<PausingStore>,
        id: Id,
        write: impl Future<Output = ()>,
    ) -> Option<Record> {
        let paused = &store.inner().paused;
        paused.enabled.store(true, Ordering::SeqCst);
        let reader = {
            let store = store.clone();
            tokio::spawn(async move { store.load(&id).await })
        };
        paused.reached.notified().await;
        write.await;
        paused.resume.add_permits(1);
        let loaded = reader.await.unwrap().unwrap();
        paused.enabled.store(false, Ordering::SeqCst);
        loaded
    }

    /// The race the module comment reasons about: a read loads a session,
    /// a logout deletes it before the read caches what it loaded. The
    /// session must not come back from memory.
    #[tokio::test]
    async fn a_read_that_raced_a_delete_caches_nothing() {
        let store = Cached::new(PausingStore::default());
        let mut session = record("a");
        store.create(&mut session).await.unwrap();

        // The read has the record in hand; the logout happens now.
        let logout = async { store.delete(&session.id).await.unwrap() };
        let read = read_racing(&store, session.id, logout).await;
        assert!(read.is_some(), "it read before");

        assert_eq!(store.load(&session.id).await.unwrap(), None);
        // A stale save afterwards is refused by a store that only updates
        // live rows; here the memory store would re-create it, so check
        // the cache alone: nothing of the session is in it.
        assert!(store.shared.cache.get(&session.id).is_none());
    }

    /// A read that raced a save must not cache the state before the save.
    #[tokio::test]
    async fn a_read_that_raced_a_save_caches_nothing_stale() {
        let store = Cached::new(PausingStore::default());
        let mut session = record("old");
        store.create(&mut session).await.unwrap();

        let mut newer = session.clone();
        newer.data.insert("v".to_owned(), serde_json::json!("new"));
        read_racing(&store, session.id, async {
            store.save(&newer).await.unwrap();
        })
        .await;

        assert_eq!(store.load(&session.id).await.unwrap(), Some(newer));
    }

    /// Sessions deleted in the store by other means (an account's deletion
    /// takes its sessions with it) are not served once `forget_all` ran.
    #[tokio::test]
    async fn forgetting_all_serves_what_the_store_holds_now() {
        let inner = MemoryStore::default();
        let store = Cached::new(inner.clone());
        let mut session = record("a");
        store.create(&mut session).await.unwrap();
        store.load(&session.id).await.unwrap();
        inner.delete(&session.id).await.unwrap();
        assert!(store.load(&session.id).await.unwrap().is_some(), "cached");
        store.forget_all();
        assert_eq!(store.load(&session.id).await.unwrap(), None);
    }

    /// A read that loaded before such a deletion and caches after
    /// `forget_all` must cache nothing.
    #[tokio::test]
    async fn a_read_that_raced_forgetting_all_caches_nothing() {
        let inner = PausingStore::default();
        let store = Cached::new(inner.clone());
        let mut session = record("a");
        store.create(&mut session).await.unwrap();

        let account_deleted = async {
            inner.inner.delete(&session.id).await.unwrap();
            store.forget_all();
        };
        let read = read_racing(&store, session.id, account_deleted).await;
        assert!(read.is_some(), "it read before");

        assert_eq!(store.load(&session.id).await.unwrap(), None);
    }
}
