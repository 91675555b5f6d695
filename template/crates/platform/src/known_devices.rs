//! Devices a user has signed in from before, so that strangers cannot lock
//! an account's owner out.
//!
//! Login throttling has an allowance per account, shared by everyone who
//! tries that email: it is what bounds password guessing from many
//! addresses. On its own it lets anyone who knows an email keep its owner
//! out (ten wrong guesses, then one every window). This is OWASP's "device
//! cookie" answer: a successful sign-in gives the browser a long-lived
//! random token, and attempts that present a token known for that account
//! draw on an allowance of their own (`AuthThrottle::check_account_from`).
//! The owner's browsers keep signing in while strangers are throttled; a
//! browser the owner has never used shares the throttled allowance.
//!
//! Only a digest of each token is stored, so the table does not hold
//! usable tokens. Tokens say nothing about the user; the cookie is HttpOnly
//! and has the session cookie's attributes (`CookiePolicy`).

use std::convert::Infallible;

use argon2::password_hash::rand_core::{OsRng, RngCore};
use axum::{
    extract::{FromRef, FromRequestParts},
    http::{HeaderMap, HeaderValue, header, request::Parts},
};
use blake2::{Blake2b, Digest, digest::consts::U32};
use time::OffsetDateTime;
use tower_sessions::cookie::{Cookie, time::Duration as CookieDuration};

use crate::{cookie_policy::CookiePolicy, database::Engine};

/// The device cookie of a request (an extractor): the token it carried, if
/// any, and what is needed to give the browser a new one.
pub struct DeviceCookie {
    pub token: Option<DeviceToken>,
    policy: CookiePolicy,
}

impl<S> FromRequestParts<S> for DeviceCookie
where
    S: Send + Sync,
    CookiePolicy: FromRef<S>,
{
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let policy = CookiePolicy::from_ref(state);
        Ok(Self {
            token: DeviceToken::from_headers(&parts.headers, &policy),
            policy,
        })
    }
}

impl DeviceCookie {
    /// The throttling key of this browser for `user_id` if the account has
    /// signed in from it before (`AuthThrottle::check_account_from`), `None`
    /// for any other browser.
    pub async fn known_key<E: Engine>(
        &self,
        db: &sqlx::Pool<E>,
        user_id: i64,
    ) -> Result<Option<String>, sqlx::Error> {
        let Some(token) = &self.token else {
            return Ok(None);
        };
        let known = E::is_known_device(db, &token.digest, user_id, remembered_since()).await?;
        Ok(known.then(|| token.throttle_key(user_id)))
    }

    /// Remembers this browser for `user_id`: the `Set-Cookie` value to send.
    pub async fn remember<E: Engine>(
        &self,
        db: &sqlx::Pool<E>,
        user_id: i64,
    ) -> Result<HeaderValue, sqlx::Error> {
        remember(db, user_id, &self.policy).await
    }
}

/// How long a browser stays known after its last successful sign-in.
const REMEMBERED_FOR_DAYS: i64 = 365;

/// Most browsers remembered per account; a sign-in from one more forgets
/// the oldest, so one account's rows stay bounded however often it signs
/// in from new browsers (or a script does with its password).
pub const MAX_DEVICES_PER_USER: i64 = 50;

/// A device token from a request's cookie, with its digest.
#[derive(Clone, Debug)]
pub struct DeviceToken {
    digest: String,
}

impl DeviceToken {
    /// The device cookie the browser sent, if any.
    fn from_headers(headers: &HeaderMap, policy: &CookiePolicy) -> Option<Self> {
        let name = policy.device_cookie_name();
        headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(Cookie::split_parse)
            .filter_map(Result::ok)
            .find(|cookie| cookie.name() == name)
            .filter(|cookie| cookie.value().len() == 64)
            .map(|cookie| Self {
                digest: digest(cookie.value()),
            })
    }

    /// A key that identifies this device for this account, for throttling.
    fn throttle_key(&self, user_id: i64) -> String {
        format!("{user_id}:{}", self.digest)
    }
}

/// Remembers a new device for `user_id` and returns the `Set-Cookie` value
/// that gives the browser its token.
async fn remember<E: Engine>(
    db: &sqlx::Pool<E>,
    user_id: i64,
    policy: &CookiePolicy,
) -> Result<HeaderValue, sqlx::Error> {
    let mut bytes = [0u8; 32];
    OsRng.fill_bytes(&mut bytes);
    let token: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    // Devices whose cookie has expired in the browser by now are forgotten,
    // and all but the newest MAX_DEVICES_PER_USER.
    E::remember_device(
        db,
        &digest(&token),
        user_id,
        OffsetDateTime::now_utc(),
        remembered_since(),
        MAX_DEVICES_PER_USER,
    )
    .await?;
    let cookie = policy.companion_cookie(
        policy.device_cookie_name(),
        token,
        CookieDuration::days(REMEMBERED_FOR_DAYS),
    );
    Ok(HeaderValue::try_from(cookie.to_string()).expect("a cookie is a valid header value"))
}

/// Devices remembered before this have a cookie that has expired.
fn remembered_since() -> OffsetDateTime {
    OffsetDateTime::now_utc() - time::Duration::days(REMEMBERED_FOR_DAYS)
}

fn digest(token: &str) -> String {
    Blake2b::<U32>::digest(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
