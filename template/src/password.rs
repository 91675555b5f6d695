//! Password hashing with Argon2id, kept off the async runtime.
//!
//! Argon2 is deliberately slow (tens of milliseconds of CPU and ~19 MiB of
//! memory per hash). Running it on a Tokio worker would stall every other
//! request on that thread, so each hash runs on the blocking pool, and a
//! semaphore keeps the number running at once to the number of cores: a
//! flood of logins then queues instead of starting hundreds of threads and
//! gigabytes of hashing memory.
//!
//! Checking a password for an unknown account runs the same Argon2 work as
//! for a known one (against a dummy hash), so response times do not tell
//! which accounts exist.

use std::{
    num::NonZero,
    sync::{
        Arc, LazyLock,
        atomic::{AtomicU64, Ordering},
    },
};

use argon2::{
    Argon2,
    password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString, rand_core::OsRng},
};
use tokio::sync::Semaphore;

static HASHING_SLOTS: LazyLock<Semaphore> =
    LazyLock::new(|| Semaphore::new(std::thread::available_parallelism().map_or(2, NonZero::get)));

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
    pub async fn hash(&self, password: String) -> anyhow::Result<String> {
        hash_counted(password, &self.runs).await
    }

    /// Checks a password against a stored PHC string, or against the dummy
    /// hash when there is none (the account does not exist), which costs the
    /// same and never matches. A malformed hash counts as a mismatch, so a
    /// damaged row can never log anyone in.
    pub async fn verify(&self, password: String, stored: Option<Arc<str>>) -> anyhow::Result<bool> {
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

async fn hash_counted(password: String, runs: &AtomicU64) -> anyhow::Result<String> {
    runs.fetch_add(1, Ordering::Relaxed);
    run_limited(move || {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|hash| hash.to_string())
            .map_err(|err| anyhow::anyhow!("hashing failed: {err}"))
    })
    .await?
}

/// Runs `work` on the blocking pool once a hashing slot is free.
async fn run_limited<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> anyhow::Result<T> {
    let _slot = HASHING_SLOTS.acquire().await?;
    Ok(tokio::task::spawn_blocking(work).await?)
}
