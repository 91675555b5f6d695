//! One-time tokens for the links an account's mail carries (verify an
//! address, reset a password, confirm a new address).
//!
//! A link is the only proof a mail was read, so its token is a bearer
//! credential: 256 random bits, shown once (in the mail), and stored only as
//! a digest, so the `account_tokens` table holds nothing usable. A token
//! works once (taking it deletes it), expires, is bound to one purpose and
//! to the address it was sent to, and every token of an account is voided
//! when its password or address changes. It is created in the same
//! transaction as the mail that carries it ([`crate::mail::Outbox::queue`]).

use std::time::Duration;

use argon2::password_hash::rand_core::{OsRng, RngCore};
use blake2::{Blake2b, Digest, digest::consts::U32};

use crate::database::{Engine, TokenRow};

/// What a token is for: a token for one purpose does nothing for another.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Purpose {
    /// Proves the account's address is the user's.
    VerifyEmail,
    /// Sets a new password without the old one.
    ResetPassword,
    /// Moves the account to a new address.
    ConfirmEmail,
}

impl Purpose {
    fn as_str(self) -> &'static str {
        match self {
            Purpose::VerifyEmail => "verify_email",
            Purpose::ResetPassword => "reset_password",
            Purpose::ConfirmEmail => "confirm_email",
        }
    }
}

/// A new token, before it is stored: its secret goes in the link, its
/// digest in the table.
pub struct NewToken {
    secret: String,
    purpose: Purpose,
    user_id: i64,
    email: String,
    expires_at: i64,
}

impl NewToken {
    /// A token for `purpose` on the account `user_id` at `email`, valid for
    /// `lifetime`.
    pub fn new(purpose: Purpose, user_id: i64, email: &str, lifetime: Duration) -> Self {
        let mut bytes = [0u8; 32];
        OsRng.fill_bytes(&mut bytes);
        let lifetime = i64::try_from(lifetime.as_secs()).unwrap_or(i64::MAX);
        Self {
            secret: bytes.iter().map(|b| format!("{b:02x}")).collect(),
            purpose,
            user_id,
            email: email.to_owned(),
            expires_at: unix_now().saturating_add(lifetime),
        }
    }

    /// The secret, for the link in the mail; never stored.
    pub fn secret(&self) -> &str {
        &self.secret
    }

    /// What the table keeps of it; `digest` must outlive the row.
    pub(crate) fn row<'a>(&'a self, digest: &'a str) -> TokenRow<'a> {
        TokenRow {
            digest,
            user_id: self.user_id,
            purpose: self.purpose.as_str(),
            email: &self.email,
            expires_at: self.expires_at,
        }
    }

    pub(crate) fn digest(&self) -> String {
        digest(&self.secret)
    }
}

/// Whom a token taken from a link was for.
#[derive(Debug, PartialEq, Eq)]
pub struct TokenOwner {
    pub user_id: i64,
    /// The address the token was sent to. The caller checks it is still the
    /// account's (or, for an address change, still free).
    pub email: String,
}

/// Takes the token `secret` for `purpose`: its owner if it exists, has not
/// expired and was not used, and from then on it is used. Anything else (a
/// malformed secret too) is `None`.
pub async fn take<E: Engine>(
    db: &sqlx::Pool<E>,
    purpose: Purpose,
    secret: &str,
) -> Result<Option<TokenOwner>, sqlx::Error> {
    if secret.len() != 64 || !secret.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Ok(None);
    }
    let taken = E::take_token(db, &digest(secret), purpose.as_str(), unix_now()).await?;
    Ok(taken.map(|(user_id, email)| TokenOwner { user_id, email }))
}

/// Voids every token of `user_id`: after its password or address changed,
/// no link mailed before works.
pub async fn void_all_of<E: Engine>(db: &sqlx::Pool<E>, user_id: i64) -> Result<(), sqlx::Error> {
    E::void_tokens(db, user_id, unix_now()).await
}

fn digest(secret: &str) -> String {
    Blake2b::<U32>::digest(secret.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

pub(crate) fn unix_now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_has_256_random_bits_and_only_its_digest_is_stored() {
        let a = NewToken::new(
            Purpose::ResetPassword,
            1,
            "a@example.com",
            Duration::from_secs(60),
        );
        let b = NewToken::new(
            Purpose::ResetPassword,
            1,
            "a@example.com",
            Duration::from_secs(60),
        );
        assert_eq!(a.secret().len(), 64);
        assert_ne!(a.secret(), b.secret());
        let digest = a.digest();
        let row = a.row(&digest);
        assert_ne!(row.digest, a.secret());
        assert!(!row.digest.contains(a.secret()));
        assert_eq!(row.purpose, "reset_password");
        assert!(row.expires_at > unix_now());
    }
}
