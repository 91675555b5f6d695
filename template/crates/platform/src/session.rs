//! Server-side sessions: the cookie's session layer, and what a signed-in
//! session holds.
//!
//! The browser only ever holds an opaque random id in an HttpOnly cookie; the
//! data lives in the session store (see [`crate::session_store`]), so logout
//! is immediate, a stolen cookie can be revoked, and several instances of
//! the backend sharing the store see the same sessions.
//!
//! A signed-in session holds a copy of its user (the application's
//! [`Account`] type, taken at sign-in), so a request learns who is signed in
//! without a database query. The copy never goes stale for long:
//!
//! - deleting an account ends every session it has
//!   ([`Sessions::end_all_of`](crate::session_store::Sessions::end_all_of));
//! - changing one gives every live session of it the new copy, on every
//!   instance ([`Sessions::refresh`](crate::session_store::Sessions::refresh));
//! - a copy written by an older version of the type (a field added since)
//!   is read again from the database, and the session keeps going.
//!
//! A signed-in session also describes itself for the list of its user's
//! sessions ([`Summary`]): when it signed in, when it was last renewed, the
//! browser's `User-Agent`, and a random handle by which the user can end it
//! from another browser. The handle is never the cookie's session id, so
//! the list can be shown to the user (or leak into a frontend's logs)
//! without giving anyone a session.

use std::{future::Future, time::Duration};

use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize, de::DeserializeOwned};
use serde_json::Value;
use tower_sessions::{
    Expiry, Session, SessionManagerLayer, SessionStore, cookie::time, session::Record,
};

use crate::{
    cookie_policy::CookiePolicy,
    error::ApiError,
    settings::{ConfigError, Env},
    user_agent::UserAgent,
};

/// The application's user, as sessions carry it.
///
/// Implemented by the application's `User` row type: serde, because each
/// signed-in session keeps a copy of it; `id`, by which the stores index
/// sessions; `find`, which reads it again when a session holds a copy this
/// version of the type cannot read.
pub trait Account: Serialize + DeserializeOwned + Clone + Send + Sync + 'static {
    /// What `find` reads from: a part of the application state (its pool).
    type Source: Clone + Send + Sync + 'static;

    /// The account's id, the `users (id)` key.
    fn id(&self) -> i64;

    /// The account with `id` as it is now, `None` if it no longer exists.
    fn find(
        source: &Self::Source,
        id: i64,
    ) -> impl Future<Output = Result<Option<Self>, sqlx::Error>> + Send;
}

/// Key under which the signed-in user is kept.
const USER_KEY: &str = "user";

/// What a signed-in session holds under [`USER_KEY`].
#[derive(Clone, Debug, Serialize, Deserialize)]
struct SignedIn {
    /// The account's id, readable whatever the shape of the copy.
    id: i64,
    /// The copy of the account, as the application's type serialised it.
    account: Value,
    /// Unix time of sign-in, for the absolute lifetime.
    signed_in_at: i64,
    /// Unix time of the last write, used to slide the idle timeout.
    renewed_at: i64,
    /// This session's name in its user's list of sessions (see [`Summary`]).
    /// Sessions signed in by an older version of this crate get one on
    /// their next request.
    handle: Option<String>,
    /// The browser's `User-Agent` at sign-in, shortened.
    user_agent: Option<String>,
}

/// The parts of [`SignedIn`] read on every request, besides the copy.
#[derive(Deserialize)]
struct Stamps {
    id: i64,
    signed_in_at: i64,
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

/// Signs `user` in, from the browser that sent `user_agent`. The session
/// starts clean under a new id: an id an attacker planted before login
/// (session fixation) is worthless afterwards, and nothing the browser's
/// session held before (a previous user's keys, a sign-in started
/// elsewhere) carries over.
pub async fn sign_in<U: Account>(
    session: &Session,
    user: &U,
    user_agent: UserAgent,
) -> Result<(), tower_sessions::session::Error> {
    session.cycle_id().await?;
    session.clear().await;
    let signed_in = SignedIn {
        id: user.id(),
        account: serde_json::to_value(user)?,
        signed_in_at: now(),
        renewed_at: now(),
        handle: Some(new_handle()),
        user_agent: user_agent.0,
    };
    session.insert(USER_KEY, signed_in).await
}

/// A new handle: 128 random bits, drawn as session ids are, and unrelated
/// to this session's id.
fn new_handle() -> String {
    tower_sessions::session::Id::default().to_string()
}

/// One signed-in session, as its user's list of sessions shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Summary {
    /// The session's handle: what the user names it by to end it
    /// ([`Sessions::end_one_of`](crate::session_store::Sessions::end_one_of)).
    pub handle: String,
    /// When it signed in.
    pub signed_in_at: time::OffsetDateTime,
    /// When it was last renewed: the stores write a session only once half
    /// of its idle window has passed, so this is as precise as that.
    pub last_seen_at: time::OffsetDateTime,
    /// The browser's `User-Agent` at sign-in, shortened.
    pub user_agent: Option<String>,
}

/// The parts of [`SignedIn`] a [`Summary`] shows.
#[derive(Deserialize)]
struct Listed {
    signed_in_at: i64,
    renewed_at: i64,
    handle: Option<String>,
    user_agent: Option<String>,
}

/// The summary of the session in `record`, if it is signed in as
/// `user_id` (and has a handle: one signed in by an older version of this
/// crate gets it on its next request).
pub(crate) fn summary_of(record: &Record, user_id: i64) -> Option<Summary> {
    let signed_in = record.data.get(USER_KEY)?;
    if signed_in.get("id")?.as_i64()? != user_id {
        return None;
    }
    let listed = Listed::deserialize(signed_in).ok()?;
    let at = |unix| time::OffsetDateTime::from_unix_timestamp(unix).ok();
    Some(Summary {
        handle: listed.handle?,
        signed_in_at: at(listed.signed_in_at)?,
        last_seen_at: at(listed.renewed_at)?,
        user_agent: listed.user_agent,
    })
}

/// This session's handle, if it is signed in.
pub async fn handle(session: &Session) -> Result<Option<String>, ApiError> {
    Ok(session
        .get_value(USER_KEY)
        .await?
        .and_then(|signed_in| Some(signed_in.get("handle")?.as_str()?.to_owned())))
}

/// The signed-in user, if any. A session older than `lifetime.max` is
/// ended here. A copy this version of `U` cannot read is replaced by the
/// account as `source` has it now (and the session ends if it has none).
///
/// The store's expiry only moves when the session is written, so a session
/// that is read but never written would end `inactivity` after sign-in. To
/// make the timeout an idle timeout without writing on every request, the
/// session is re-saved once at least half of the idle window has passed.
pub async fn user<U: Account>(
    session: &Session,
    lifetime: Lifetime,
    source: impl FnOnce() -> U::Source,
) -> Result<Option<U>, ApiError> {
    // The record's value, read in place: the stamps and the copy of the
    // user are deserialized from it by reference, so a request copies the
    // session's data once.
    let Some(mut value) = session.get_value(USER_KEY).await? else {
        return Ok(None);
    };
    let stamps = match Stamps::deserialize(&value) {
        Ok(stamps) => stamps,
        // Written by a version of this crate that kept something else here:
        // treat it as signed out rather than failing every request.
        Err(err) => {
            tracing::info!(error = %err, "discarding a session this version cannot read");
            session.flush().await?;
            return Ok(None);
        }
    };
    let max_age = i64::try_from(lifetime.max.as_secs()).unwrap_or(i64::MAX);
    if now().saturating_sub(stamps.signed_in_at) >= max_age {
        tracing::info!(user_id = stamps.id, "session reached its maximum lifetime");
        session.flush().await?;
        return Ok(None);
    }
    let mut changed = false;
    let user = match U::deserialize(&value["account"]) {
        Ok(user) => user,
        Err(err) => {
            tracing::info!(
                user_id = stamps.id,
                error = %err,
                "the session's copy of its user has an older shape; reading the account again"
            );
            let Some(fresh) = U::find(&source(), stamps.id).await? else {
                session.flush().await?;
                return Ok(None);
            };
            value["account"] = serde_json::to_value(&fresh).map_err(ApiError::internal)?;
            changed = true;
            fresh
        }
    };
    if value.get("handle").is_none_or(Value::is_null) {
        value["handle"] = new_handle().into();
        changed = true;
    }
    let half_window = i64::try_from(lifetime.inactivity.as_secs() / 2).unwrap_or(i64::MAX);
    if now().saturating_sub(stamps.renewed_at) >= half_window {
        value["renewed_at"] = now().into();
        changed = true;
    }
    if changed {
        session.insert_value(USER_KEY, value).await?;
    }
    Ok(Some(user))
}

/// The id of the user signed in to this session, if any, without reading
/// the copy of the user.
pub async fn signed_in_id(session: &Session) -> Result<Option<i64>, ApiError> {
    Ok(session
        .get_value(USER_KEY)
        .await?
        .and_then(|signed_in| signed_in.get("id")?.as_i64()))
}

/// The id of the user signed in to `record`, for the stores, which index
/// sessions by user.
pub fn user_id_of(record: &Record) -> Option<i64> {
    record.data.get(USER_KEY)?.get("id")?.as_i64()
}

/// Gives the session in `record` the copy `account` (serialised), if it is
/// signed in as `user_id`; whether it was.
pub(crate) fn replace_copy(record: &mut Record, user_id: i64, account: &Value) -> bool {
    match record.data.get_mut(USER_KEY) {
        Some(signed_in) if signed_in.get("id").and_then(Value::as_i64) == Some(user_id) => {
            signed_in["account"] = account.clone();
            true
        }
        _ => false,
    }
}

/// Deletes the session record and tells the browser to drop the cookie.
pub async fn sign_out(session: &Session) -> Result<(), tower_sessions::session::Error> {
    session.flush().await
}

/// Marks a response as made below the session layer (by a handler, an
/// extractor or the router). The stack puts this right inside the session
/// layer.
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

fn to_time(duration: Duration) -> time::Duration {
    time::Duration::seconds(i64::try_from(duration.as_secs()).unwrap_or(i64::MAX))
}

fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

#[cfg(test)]
mod tests {
    use std::sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    };

    use tower_sessions::MemoryStore;

    use super::*;

    const LIFETIME: Lifetime = Lifetime {
        inactivity: Duration::from_secs(3600),
        max: Duration::from_secs(7 * 86400),
    };

    /// A user type as an application might have it today.
    #[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
    struct User {
        id: i64,
        email: String,
    }

    /// The same type after the application added a field.
    #[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
    struct UserWithName {
        id: i64,
        email: String,
        name: String,
    }

    /// Counts the reads of the "database".
    #[derive(Clone, Default)]
    struct Reads(Arc<AtomicUsize>);

    impl Account for User {
        type Source = Reads;
        fn id(&self) -> i64 {
            self.id
        }
        async fn find(reads: &Reads, id: i64) -> Result<Option<Self>, sqlx::Error> {
            reads.0.fetch_add(1, Ordering::Relaxed);
            Ok((id == 7).then(ada))
        }
    }

    impl Account for UserWithName {
        type Source = Reads;
        fn id(&self) -> i64 {
            self.id
        }
        async fn find(reads: &Reads, id: i64) -> Result<Option<Self>, sqlx::Error> {
            reads.0.fetch_add(1, Ordering::Relaxed);
            Ok((id == 7).then(|| UserWithName {
                id: 7,
                email: "ada@example.com".into(),
                name: "Ada".into(),
            }))
        }
    }

    fn ada() -> User {
        User {
            id: 7,
            email: "ada@example.com".into(),
        }
    }

    fn new_session() -> Session {
        Session::new(None, Arc::new(MemoryStore::default()), None)
    }

    #[tokio::test]
    async fn signing_in_starts_from_an_empty_session() {
        let session = new_session();
        session
            .insert("oidc_pending", "started elsewhere")
            .await
            .unwrap();
        session.insert("cart", vec![1, 2, 3]).await.unwrap();
        sign_in(&session, &ada(), UserAgent::default())
            .await
            .unwrap();
        assert_eq!(session.get::<String>("oidc_pending").await.unwrap(), None);
        assert_eq!(session.get::<Vec<i32>>("cart").await.unwrap(), None);
        assert_eq!(signed_in_id(&session).await.unwrap(), Some(7));
    }

    async fn session_signed_in(seconds_ago: i64) -> Session {
        let session = new_session();
        let signed_in = SignedIn {
            id: 7,
            account: serde_json::to_value(ada()).unwrap(),
            signed_in_at: now() - seconds_ago,
            renewed_at: now() - 60,
            handle: Some(new_handle()),
            user_agent: None,
        };
        session.insert(USER_KEY, signed_in).await.unwrap();
        session
    }

    #[tokio::test]
    async fn a_session_ends_at_its_maximum_lifetime_however_active() {
        let reads = Reads::default();
        let young = session_signed_in(7 * 86400 - 60).await;
        let signed_in = user::<User>(&young, LIFETIME, || reads.clone())
            .await
            .unwrap();
        assert_eq!(signed_in, Some(ada()));

        let old = session_signed_in(7 * 86400).await;
        assert!(
            user::<User>(&old, LIFETIME, || reads.clone())
                .await
                .unwrap()
                .is_none()
        );
        assert!(old.is_empty().await, "the session is flushed");
        assert_eq!(reads.0.load(Ordering::Relaxed), 0, "no database read");
    }

    #[tokio::test]
    async fn a_copy_of_an_older_shape_is_read_again_once_and_the_session_goes_on() {
        let reads = Reads::default();
        let session = new_session();
        sign_in(&session, &ada(), UserAgent::default())
            .await
            .unwrap();

        let upgraded = user::<UserWithName>(&session, LIFETIME, || reads.clone())
            .await
            .unwrap()
            .expect("still signed in");
        assert_eq!(upgraded.name, "Ada");
        assert_eq!(reads.0.load(Ordering::Relaxed), 1);
        // The new copy is in the session now: no second read.
        let again = user::<UserWithName>(&session, LIFETIME, || reads.clone())
            .await
            .unwrap();
        assert_eq!(again, Some(upgraded));
        assert_eq!(reads.0.load(Ordering::Relaxed), 1);
    }

    #[tokio::test]
    async fn a_copy_of_an_older_shape_of_a_deleted_account_signs_out() {
        let reads = Reads::default();
        let session = new_session();
        let gone = User {
            id: 8,
            email: "gone@example.com".into(),
        };
        sign_in(&session, &gone, UserAgent::default())
            .await
            .unwrap();
        let found = user::<UserWithName>(&session, LIFETIME, || reads.clone())
            .await
            .unwrap();
        assert!(found.is_none());
        assert!(session.is_empty().await, "the session is flushed");
    }

    #[tokio::test]
    async fn the_stores_find_the_signed_in_user_in_a_record() {
        let store = Arc::new(MemoryStore::default());
        let session = Session::new(None, store.clone(), None);
        sign_in(&session, &ada(), UserAgent::default())
            .await
            .unwrap();
        session.save().await.unwrap();
        let id = session.id().expect("saved");
        let mut record = store.load(&id).await.unwrap().expect("stored");
        assert_eq!(user_id_of(&record), Some(7));

        let renamed = serde_json::json!({"id": 7, "email": "ada@example.org"});
        assert!(!replace_copy(&mut record, 8, &renamed), "another user's");
        assert!(replace_copy(&mut record, 7, &renamed));
        assert_eq!(record.data[USER_KEY]["account"], renamed);
    }
}
