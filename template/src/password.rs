//! Password hashing with Argon2id, kept off the async runtime.
//!
//! Argon2 is deliberately slow (tens of milliseconds of CPU and ~19 MiB of
//! memory per hash). Running it on a Tokio worker would stall every other
//! request on that thread, so each hash runs on the blocking pool, and a
//! semaphore keeps the number running at once to the number of cores: a
//! flood of logins then queues instead of starting hundreds of threads and
//! gigabytes of hashing memory.

use std::{
    num::NonZero,
    sync::{Arc, LazyLock},
};

use argon2::{
    Argon2,
    password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString, rand_core::OsRng},
};
use tokio::sync::Semaphore;

static HASHING_SLOTS: LazyLock<Semaphore> =
    LazyLock::new(|| Semaphore::new(std::thread::available_parallelism().map_or(2, NonZero::get)));

/// Hashes a password into a PHC string (algorithm, parameters and salt included).
pub async fn hash(password: String) -> anyhow::Result<String> {
    run_limited(move || {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|hash| hash.to_string())
            .map_err(|err| anyhow::anyhow!("hashing failed: {err}"))
    })
    .await?
}

/// Checks a password against a stored PHC string. A malformed hash counts as
/// a mismatch, so a damaged row can never log anyone in.
pub async fn verify(password: String, phc: Arc<str>) -> anyhow::Result<bool> {
    run_limited(move || {
        PasswordHash::new(&phc)
            .map(|parsed| {
                Argon2::default()
                    .verify_password(password.as_bytes(), &parsed)
                    .is_ok()
            })
            .unwrap_or(false)
    })
    .await
}

/// A hash of a random password, verified against when an email is unknown so
/// that "no such user" costs the same time as "wrong password".
pub async fn dummy_hash() -> anyhow::Result<Arc<str>> {
    let random = SaltString::generate(&mut OsRng).to_string();
    Ok(hash(random).await?.into())
}

/// Runs `work` on the blocking pool once a hashing slot is free.
async fn run_limited<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> anyhow::Result<T> {
    let _slot = HASHING_SLOTS.acquire().await?;
    Ok(tokio::task::spawn_blocking(work).await?)
}
