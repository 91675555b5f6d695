//! Server-side sessions: where they are stored, how the cookie looks, and
//! what a session holds.
//!
//! The browser only ever holds an opaque random id in an HttpOnly cookie; the
//! data lives in the session store (see `session_store.rs`), so logout is
//! immediate, a stolen cookie can be revoked, and several instances of the
//! backend sharing the store see the same sessions.

use std::time::Duration;

use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use tower_sessions::{
    Expiry, Session, SessionManagerLayer, SessionStore, cookie::time, session::Id,
};

use crate::{
    cookie_policy::CookiePolicy,
    error::ApiError,
    session_store::Store,
    settings::{ConfigError, Env},
};

/// Key under which the signed-in user is kept.
const USER_KEY: &str = "user";

/// What a signed-in session holds.
#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
struct SessionUser {
    id: i64,
    /// Unix time of sign-in, for the absolute lifetime.
    signed_in_at: i64,
    /// Unix time of the last write, used to slide the idle timeout.
    renewed_at: i64,
}

/// How long a session lasts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Lifetime {
    /// Idle time after which a session ends (`SESSION_INACTIVITY_SECS`).
    pub inactivity: Duration,
    /// Time after sign-in at which a session ends however active it is
    /// (`SESSION_MAX_LIFETIME_SECS`), so a stolen cookie that is used
    /// regularly still dies.
    pub max: Duration,
}

impl Lifetime {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        Ok(Self {
            inactivity: env.seconds("SESSION_INACTIVITY_SECS", "86400", 60..=31_536_000)?,
            max: env.seconds("SESSION_MAX_LIFETIME_SECS", "604800", 60..=31_536_000)?,
        })
    }
}

/// The session middleware with the cookie policy from the configuration.
pub fn layer(
    store: Store,
    cookie: &CookiePolicy,
    lifetime: Lifetime,
) -> SessionManagerLayer<Store> {
    SessionManagerLayer::new(store)
        .with_name(cookie.name)
        .with_secure(cookie.secure)
        .with_same_site(cookie.same_site)
        .with_http_only(true)
        .with_path("/")
        .with_expiry(Expiry::OnInactivity(to_time(lifetime.inactivity)))
}

/// Signs `user_id` in. The id is cycled first, so an id an attacker planted
/// before login (session fixation) is worthless afterwards.
pub async fn sign_in(
    session: &Session,
    user_id: i64,
) -> Result<(), tower_sessions::session::Error> {
    session.cycle_id().await?;
    let user = SessionUser {
        id: user_id,
        signed_in_at: now(),
        renewed_at: now(),
    };
    session.insert(USER_KEY, user).await
}

/// The signed-in user's id, if any. A session older than `lifetime.max` is
/// ended here.
///
/// The store's expiry only moves when the session is written, so a session
/// that is read but never written would end `inactivity` after sign-in. To
/// make the timeout an idle timeout without writing on every request, the
/// session is re-saved once at least half of the idle window has passed.
pub async fn user_id(
    session: &Session,
    lifetime: Lifetime,
) -> Result<Option<i64>, tower_sessions::session::Error> {
    let mut user = match session.get::<SessionUser>(USER_KEY).await {
        Ok(Some(user)) => user,
        Ok(None) => return Ok(None),
        // Written by an older version of `SessionUser`: treat it as signed
        // out rather than failing every request until it expires.
        Err(tower_sessions::session::Error::SerdeJson(err)) => {
            tracing::info!(error = %err, "discarding a session this version cannot read");
            session.flush().await?;
            return Ok(None);
        }
        Err(err) => return Err(err),
    };
    let max_age = i64::try_from(lifetime.max.as_secs()).unwrap_or(i64::MAX);
    if now().saturating_sub(user.signed_in_at) >= max_age {
        tracing::info!(user_id = user.id, "session reached its maximum lifetime");
        session.flush().await?;
        return Ok(None);
    }
    let half_window = i64::try_from(lifetime.inactivity.as_secs() / 2).unwrap_or(i64::MAX);
    if now().saturating_sub(user.renewed_at) >= half_window {
        user.renewed_at = now();
        session.insert(USER_KEY, user).await?;
    }
    Ok(Some(user.id))
}

/// Deletes the session record and tells the browser to drop the cookie.
pub async fn sign_out(session: &Session) -> Result<(), tower_sessions::session::Error> {
    session.flush().await
}

/// Marks a response as made below the session layer (by a handler, an
/// extractor or the router). `middleware.rs` puts this right inside the
/// session layer.
pub fn mark_as_passed_through(mut response: Response) -> Response {
    response.extensions_mut().insert(PassedThrough);
    response
}

/// Replaces the session layer's own failure with a JSON 503.
///
/// When saving the session after the handler fails, tower-sessions drops the
/// handler's response and answers a new, empty 500 of its own. That new
/// response is the only one without the mark that
/// [`mark_as_passed_through`] puts on everything coming up from below, so
/// this recognises exactly that failure, whatever status a handler chose.
pub fn explain_failed_save(response: Response) -> Response {
    if response.extensions().get::<PassedThrough>().is_some() {
        response
    } else {
        ApiError::unavailable("session store", "saving the session failed").into_response()
    }
}

/// See [`mark_as_passed_through`].
#[derive(Clone, Copy)]
struct PassedThrough;

/// Answers whether the store is reachable, with one real round-trip.
pub async fn ping(store: &Store) -> Result<(), tower_sessions::session_store::Error> {
    store.load(&Id::default()).await.map(|_| ())
}

fn to_time(duration: Duration) -> time::Duration {
    time::Duration::seconds(i64::try_from(duration.as_secs()).unwrap_or(i64::MAX))
}

fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use tower_sessions::MemoryStore;

    use super::*;

    const LIFETIME: Lifetime = Lifetime {
        inactivity: Duration::from_secs(3600),
        max: Duration::from_secs(7 * 86400),
    };

    async fn session_signed_in(seconds_ago: i64) -> Session {
        let session = Session::new(None, Arc::new(MemoryStore::default()), None);
        let user = SessionUser {
            id: 7,
            signed_in_at: now() - seconds_ago,
            renewed_at: now() - 60,
        };
        session.insert(USER_KEY, user).await.unwrap();
        session
    }

    #[tokio::test]
    async fn a_session_ends_at_its_maximum_lifetime_however_active() {
        let young = session_signed_in(7 * 86400 - 60).await;
        assert_eq!(user_id(&young, LIFETIME).await.unwrap(), Some(7));

        let old = session_signed_in(7 * 86400).await;
        assert_eq!(user_id(&old, LIFETIME).await.unwrap(), None);
        assert!(old.is_empty().await, "the session is flushed");
    }
}
