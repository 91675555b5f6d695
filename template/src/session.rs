//! Server-side sessions: where they are stored, how the cookie looks, and
//! what a session holds.
//!
//! The browser only ever holds an opaque random id in an HttpOnly cookie; the
//! data lives in the session store (see `session_store.rs`), so logout is
//! immediate, a stolen cookie can be revoked, and several instances of the
//! backend sharing the store see the same sessions.
//!
//! A signed-in session holds a copy of the user's row (`users::User`, taken
//! at sign-in), so a request learns who is signed in without a database
//! query. The copy cannot outlive the account: deleting it ends every
//! session it has (`session_store::end_sessions_of`; the SQL session tables
//! also follow the users table with `ON DELETE CASCADE`). A feature that
//! changes what the copy holds (an email change, say) must refresh the
//! sessions it affects or end them.

use std::time::Duration;

use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use tower_sessions::{
    Expiry, Session, SessionManagerLayer, SessionStore,
    cookie::time,
    session::{Id, Record},
};

use crate::{
    cookie_policy::CookiePolicy,
    error::ApiError,
    settings::{ConfigError, Env},
    users::User,
};

/// Key under which the signed-in user is kept.
const USER_KEY: &str = "user";

/// What a signed-in session holds.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct SessionUser {
    /// The account as it was at sign-in.
    user: User,
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
pub fn layer<S: SessionStore + Clone>(
    store: S,
    cookie: &CookiePolicy,
    lifetime: Lifetime,
) -> SessionManagerLayer<S> {
    SessionManagerLayer::new(store)
        .with_name(cookie.name)
        .with_secure(cookie.secure)
        .with_same_site(cookie.same_site)
        .with_http_only(true)
        .with_path("/")
        .with_expiry(Expiry::OnInactivity(to_time(lifetime.inactivity)))
}

/// Signs `user` in. The id is cycled first, so an id an attacker planted
/// before login (session fixation) is worthless afterwards.
pub async fn sign_in(session: &Session, user: &User) -> Result<(), tower_sessions::session::Error> {
    session.cycle_id().await?;
    let user = SessionUser {
        user: user.clone(),
        signed_in_at: now(),
        renewed_at: now(),
    };
    session.insert(USER_KEY, user).await
}

/// The signed-in user, if any. A session older than `lifetime.max` is
/// ended here.
///
/// The store's expiry only moves when the session is written, so a session
/// that is read but never written would end `inactivity` after sign-in. To
/// make the timeout an idle timeout without writing on every request, the
/// session is re-saved once at least half of the idle window has passed.
pub async fn user(
    session: &Session,
    lifetime: Lifetime,
) -> Result<Option<User>, tower_sessions::session::Error> {
    let mut signed_in = match session.get::<SessionUser>(USER_KEY).await {
        Ok(Some(signed_in)) => signed_in,
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
    if now().saturating_sub(signed_in.signed_in_at) >= max_age {
        tracing::info!(
            user_id = signed_in.user.id,
            "session reached its maximum lifetime"
        );
        session.flush().await?;
        return Ok(None);
    }
    let half_window = i64::try_from(lifetime.inactivity.as_secs() / 2).unwrap_or(i64::MAX);
    if now().saturating_sub(signed_in.renewed_at) >= half_window {
        signed_in.renewed_at = now();
        session.insert(USER_KEY, &signed_in).await?;
    }
    Ok(Some(signed_in.user))
}

/// The id of the user signed in to `record`, for the stores, which index
/// sessions by user so that deleting an account can end them all.
pub fn user_id_of(record: &Record) -> Option<i64> {
    record.data.get(USER_KEY)?.get("user")?.get("id")?.as_i64()
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
pub async fn ping(store: &impl SessionStore) -> Result<(), tower_sessions::session_store::Error> {
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

    /// Built from JSON, which fits the `User` of either sign-in method.
    fn ada() -> User {
        serde_json::from_value(serde_json::json!({"id": 7, "email": "ada@example.com"}))
            .expect("a user")
    }

    async fn session_signed_in(seconds_ago: i64) -> Session {
        let session = Session::new(None, Arc::new(MemoryStore::default()), None);
        let user = SessionUser {
            user: ada(),
            signed_in_at: now() - seconds_ago,
            renewed_at: now() - 60,
        };
        session.insert(USER_KEY, user).await.unwrap();
        session
    }

    #[tokio::test]
    async fn a_session_ends_at_its_maximum_lifetime_however_active() {
        let young = session_signed_in(7 * 86400 - 60).await;
        let signed_in = user(&young, LIFETIME).await.unwrap();
        assert_eq!(signed_in.map(|user| user.id), Some(7));

        let old = session_signed_in(7 * 86400).await;
        assert!(user(&old, LIFETIME).await.unwrap().is_none());
        assert!(old.is_empty().await, "the session is flushed");
    }

    #[tokio::test]
    async fn the_stores_find_the_signed_in_user_in_a_record() {
        let store = Arc::new(MemoryStore::default());
        let session = Session::new(None, store.clone(), None);
        sign_in(&session, &ada()).await.unwrap();
        session.save().await.unwrap();
        let id = session.id().expect("saved");
        let record = store.load(&id).await.unwrap().expect("stored");
        assert_eq!(user_id_of(&record), Some(7));
    }
}
