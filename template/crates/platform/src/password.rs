//! Password hashing with Argon2id, kept off the async runtime.
//!
//! Argon2 is deliberately slow (tens of milliseconds of CPU and ~19 MiB of
//! memory per hash). Running it on a Tokio worker would stall every other
//! request on that thread, so each hash runs on the blocking pool, and a
//! semaphore keeps the number running at once to the number of cores. The
//! slot is held by the hash itself, not by the request: a client that gives
//! up does not free it while its hash still runs, so a flood of cancelled
//! logins cannot start more hashes (or use more memory) than there are
//! slots. A request waits at most `SLOT_WAIT` for a slot; then it is told
//! to come back (503 with `Retry-After`) rather than queue without end.
//!
//! Checking a password for an unknown account runs the same Argon2 work as
//! for a known one (against a dummy hash), so response times do not tell
//! which accounts exist.

use std::{
    num::NonZero,
    sync::{
        Arc, LazyLock,
        atomic::{AtomicU64, AtomicUsize, Ordering},
    },
    time::Duration,
};

use argon2::{
    Argon2,
    password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString, rand_core::OsRng},
};
use axum::http::StatusCode;
use tokio::sync::Semaphore;

use crate::error::ApiError;

/// Hashes that may run at once in this process: one per core.
static SLOTS: LazyLock<usize> =
    LazyLock::new(|| std::thread::available_parallelism().map_or(2, NonZero::get));
static HASHING_SLOTS: LazyLock<Arc<Semaphore>> = LazyLock::new(|| Arc::new(Semaphore::new(*SLOTS)));
/// Hashes running now, and the most that ever ran at once.
static RUNNING: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

/// Longest a request waits for a hashing slot before it is refused. A few
/// hashes' time: enough to ride out a burst, short enough that a flood is
/// answered quickly instead of piling up requests.
const SLOT_WAIT: Duration = Duration::from_secs(2);

/// Why a password could not be hashed or checked.
#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    /// Every hashing slot stayed busy for `SLOT_WAIT`.
    #[error("all password hashing slots are busy")]
    Busy,
    #[error(transparent)]
    Failed(#[from] anyhow::Error),
}

impl From<PasswordError> for ApiError {
    fn from(err: PasswordError) -> Self {
        match err {
            PasswordError::Busy => {
                tracing::warn!("password hashing is saturated; asking the client to retry");
                ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "busy",
                    "the server is busy signing other users in; try again in a moment",
                )
                .with_retry_after(Duration::from_secs(1))
            }
            PasswordError::Failed(err) => ApiError::internal(format_args!("password: {err:#}")),
        }
    }
}

/// Hashing and checking passwords; cheap to clone.
#[derive(Clone)]
pub struct Passwords {
    /// A hash of a random password, checked against when an email is unknown.
    dummy_hash: Arc<str>,
    /// Argon2 runs so far (hashes and checks), for tests and metrics.
    runs: Arc<AtomicU64>,
}

impl Passwords {
    /// Makes the dummy hash (one Argon2 run).
    pub async fn new() -> anyhow::Result<Self> {
        let runs = Arc::new(AtomicU64::new(0));
        let random = SaltString::generate(&mut OsRng).to_string();
        let dummy_hash = hash_counted(random, &runs).await?.into();
        Ok(Self { dummy_hash, runs })
    }

    /// Hashes a password into a PHC string (algorithm, parameters and salt
    /// included).
    pub async fn hash(&self, password: String) -> Result<String, PasswordError> {
        hash_counted(password, &self.runs).await
    }

    /// Checks a password against a stored PHC string, or against the dummy
    /// hash when there is none (the account does not exist), which costs the
    /// same and never matches. A malformed hash counts as a mismatch, so a
    /// damaged row can never log anyone in.
    pub async fn verify(
        &self,
        password: String,
        stored: Option<Arc<str>>,
    ) -> Result<bool, PasswordError> {
        let exists = stored.is_some();
        let phc = stored.unwrap_or_else(|| Arc::clone(&self.dummy_hash));
        self.runs.fetch_add(1, Ordering::Relaxed);
        let matches = run_limited(move || {
            PasswordHash::new(&phc)
                .map(|parsed| {
                    Argon2::default()
                        .verify_password(password.as_bytes(), &parsed)
                        .is_ok()
                })
                .unwrap_or(false)
        })
        .await?;
        Ok(exists && matches)
    }

    /// The hash checked against for unknown accounts.
    pub fn dummy_hash(&self) -> &str {
        &self.dummy_hash
    }

    /// How many times Argon2 has run (hashes and checks) since start-up.
    pub fn argon2_runs(&self) -> u64 {
        self.runs.load(Ordering::Relaxed)
    }
}

/// Hashes that may run at once in this process.
pub fn hashing_slots() -> usize {
    *SLOTS
}

/// The most hashes that ever ran at once in this process (never above
/// [`hashing_slots`]).
pub fn peak_concurrent_hashes() -> usize {
    PEAK.load(Ordering::Relaxed)
}

async fn hash_counted(password: String, runs: &AtomicU64) -> Result<String, PasswordError> {
    runs.fetch_add(1, Ordering::Relaxed);
    let hashed = run_limited(move || {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|hash| hash.to_string())
            .map_err(|err| anyhow::anyhow!("hashing failed: {err}"))
    })
    .await?;
    Ok(hashed?)
}

/// Runs `work` on the blocking pool once a hashing slot is free, holding
/// the slot until `work` has finished, even if the caller stops waiting.
async fn run_limited<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, PasswordError> {
    let slot = tokio::time::timeout(SLOT_WAIT, Arc::clone(&HASHING_SLOTS).acquire_owned())
        .await
        .map_err(|_| PasswordError::Busy)?
        .map_err(anyhow::Error::from)?;
    let task = tokio::task::spawn_blocking(move || {
        let _slot = slot;
        let running = RUNNING.fetch_add(1, Ordering::SeqCst) + 1;
        PEAK.fetch_max(running, Ordering::SeqCst);
        let result = work();
        RUNNING.fetch_sub(1, Ordering::SeqCst);
        result
    });
    Ok(task.await.map_err(anyhow::Error::from)?)
}

#[cfg(test)]
mod tests {
    use axum::response::IntoResponse;

    use super::*;

    /// The hashing slots are the process's: tests that use them take turns,
    /// or one holding every slot makes another's hash wait and fail.
    static SLOTS_IN_USE: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

    /// Checking an unknown account's password costs what checking a real
    /// one costs: the dummy hash has the same algorithm, version and
    /// parameters (memory, iterations, parallelism, output length).
    #[tokio::test]
    async fn the_dummy_hash_costs_what_a_stored_one_costs() {
        let _turn = SLOTS_IN_USE.lock().await;
        let passwords = Passwords::new().await.unwrap();
        let stored = passwords.hash("a long passphrase".into()).await.unwrap();
        let stored = PasswordHash::new(&stored).unwrap();
        let dummy = PasswordHash::new(passwords.dummy_hash()).unwrap();
        assert_eq!(dummy.algorithm, stored.algorithm);
        assert_eq!(dummy.version, stored.version);
        assert_eq!(dummy.params, stored.params);
        assert_eq!(dummy.hash.map(|h| h.len()), stored.hash.map(|h| h.len()));
    }

    #[tokio::test]
    async fn with_every_slot_busy_a_request_is_told_to_retry() {
        let _turn = SLOTS_IN_USE.lock().await;
        let all = u32::try_from(hashing_slots()).unwrap();
        let held = HASHING_SLOTS.acquire_many(all).await.unwrap();
        let started = std::time::Instant::now();
        let refused = run_limited(|| ()).await.expect_err("no slot was free");
        assert!(started.elapsed() >= SLOT_WAIT);
        drop(held);

        let response = ApiError::from(refused).into_response();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(response.headers()["retry-after"], "1");
        assert!(run_limited(|| ()).await.is_ok(), "slots are free again");
    }
}
