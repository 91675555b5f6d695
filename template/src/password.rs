//! Password hashing with Argon2id, kept off the async runtime.
//!
//! Argon2 is deliberately slow (tens of milliseconds of CPU and ~19 MiB of
//! memory per hash). Running it on a Tokio worker would stall every other
//! request on that thread, so each hash runs on the blocking pool.

use std::sync::Arc;

use argon2::{
    Argon2,
    password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString, rand_core::OsRng},
};

/// Hashes a password into a PHC string (algorithm, parameters and salt included).
pub async fn hash(password: String) -> anyhow::Result<String> {
    tokio::task::spawn_blocking(move || {
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
    tokio::task::spawn_blocking(move || {
        Ok(PasswordHash::new(&phc)
            .map(|parsed| {
                Argon2::default()
                    .verify_password(password.as_bytes(), &parsed)
                    .is_ok()
            })
            .unwrap_or(false))
    })
    .await?
}

/// A hash of a random password, verified against when an email is unknown so
/// that "no such user" costs the same time as "wrong password".
pub async fn dummy_hash() -> anyhow::Result<Arc<str>> {
    let random = SaltString::generate(&mut OsRng).to_string();
    Ok(hash(random).await?.into())
}
