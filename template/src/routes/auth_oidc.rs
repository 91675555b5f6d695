//! Hosted login: start, callback, logout, "who am I" and account deletion,
//! as JSON over a session cookie.
//!
//! The provider sends the browser back to a frontend page (not to this API:
//! in the cross-site shape a cookie set on a top-level visit to the API would
//! not reach the frontend's later requests), and that page relays the
//! provider's answer here with `fetch`. What the flow needs between the two
//! calls (state, nonce, PKCE verifier) stays in this browser's session, so a
//! code relayed into another browser finds no matching sign-in (login CSRF).
//! The protocol itself is in `oidc.rs`; cookie state in `session.rs`.

use axum::{
    Router,
    extract::State,
    http::StatusCode,
    response::{IntoResponse, Response},
    routing::{delete, get, post},
};
use serde::{Deserialize, Serialize};
use serde_json::json;
use tower_sessions::{
    Expiry, Session,
    cookie::time::{self, OffsetDateTime},
};

use crate::{
    database::Pool,
    error::ApiError,
    extract::{CurrentUser, Json},
    oidc::{OidcError, PendingLogin, Provider},
    session, session_store,
    state::AppState,
    users::{self, User},
};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/auth/oidc/start", post(start))
        .route("/api/auth/oidc/callback", post(callback))
        .route("/api/auth/session", get(current_session))
        .route("/api/auth/logout", post(logout))
        .route("/api/auth/account", delete(delete_account))
}

/// Session key of the sign-in started in this browser.
const PENDING_KEY: &str = "oidc_pending";
/// Session key of the signed-in user's ID token, the hint of the logout.
const ID_TOKEN_KEY: &str = "oidc_id_token";
/// Longest `return_to` accepted.
const MAX_RETURN_TO: usize = 2048;

/// `{"user": ...}`: what the API shows of an account. Built field by field
/// from the row, so a new column stays private until it is added here.
#[derive(Serialize)]
struct UserResponse {
    user: UserJson,
}

#[derive(Serialize)]
struct UserJson {
    id: i64,
    email: Option<String>,
    name: Option<String>,
}

impl From<User> for UserJson {
    fn from(user: User) -> Self {
        Self {
            id: user.id,
            email: user.email,
            name: user.name,
        }
    }
}

#[derive(Deserialize)]
struct StartRequest {
    return_to: Option<String>,
}

async fn start(
    State(provider): State<Provider>,
    State(lifetime): State<session::Lifetime>,
    session: Session,
    Json(input): Json<StartRequest>,
) -> Result<impl IntoResponse, ApiError> {
    let return_to = match input.return_to {
        Some(path) => checked_return_to(&path)?,
        None => "/".to_owned(),
    };
    let (url, pending) = provider
        .start(return_to, now())
        .map_err(|err| oidc_error(&provider, err))?;
    // A browser that is not signed in gets a session only for this sign-in:
    // if it never comes back, the record expires with the sign-in rather
    // than after SESSION_INACTIVITY_SECS, so anonymous calls cannot pile up
    // long-lived records.
    if session::user(&session, lifetime).await?.is_none() {
        session.set_expiry(Some(Expiry::OnInactivity(seconds(
            provider.settings().login_timeout,
        ))));
    }
    // Replaces a sign-in started earlier in this browser.
    session.insert(PENDING_KEY, pending).await?;
    Ok(axum::Json(json!({ "authorization_url": url.as_str() })))
}

/// The provider's answer, as the frontend page found it in its query string.
/// Unknown fields are ignored.
#[derive(Deserialize)]
struct Callback {
    state: Option<String>,
    code: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
    iss: Option<String>,
}

async fn callback(
    State(provider): State<Provider>,
    State(db): State<Pool>,
    State(lifetime): State<session::Lifetime>,
    session: Session,
    Json(input): Json<Callback>,
) -> Result<impl IntoResponse, ApiError> {
    // The pending sign-in is used once, whatever happens next.
    let pending = session.remove::<PendingLogin>(PENDING_KEY).await;
    let pending = match pending {
        Ok(pending) => pending,
        // Written by another version of `PendingLogin`: start again.
        Err(tower_sessions::session::Error::SerdeJson(_)) => None,
        Err(err) => return Err(err.into()),
    };
    let Some(pending) = pending else {
        return Err(invalid_state("no sign-in was started in this browser"));
    };
    let state_matches = input
        .state
        .as_deref()
        .is_some_and(|state| same_secret(state, &pending.state));
    if !state_matches {
        tracing::warn!("sign-in answer with a state that is not this browser's");
        return Err(invalid_state(
            "this answer does not belong to the sign-in started in this browser",
        ));
    }
    let timeout = i64::try_from(provider.settings().login_timeout.as_secs()).unwrap_or(i64::MAX);
    if now().saturating_sub(pending.started_at) > timeout {
        return Err(invalid_state("the sign-in took too long; start again"));
    }
    // RFC 9207: an answer naming another issuer comes from another provider
    // (mix-up attack).
    if let Some(iss) = &input.iss
        && iss != provider.issuer()
    {
        // Debug formatting: these come from the request, and must not forge log lines.
        tracing::warn!(iss = ?iss, "sign-in answer from another issuer");
        return Err(invalid_token());
    }
    if let Some(error) = &input.error {
        tracing::info!(
            error = ?error,
            description = ?input.error_description.as_deref().unwrap_or(""),
            "the provider refused the sign-in"
        );
        let shown = if is_error_code(error) {
            format!("the identity provider refused the sign-in: {error}")
        } else {
            "the identity provider refused the sign-in".to_owned()
        };
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "provider_refused",
            shown,
        ));
    }
    let Some(code) = input.code.filter(|code| !code.is_empty()) else {
        return Err(ApiError::unprocessable(
            "the provider's answer has neither code nor error",
        ));
    };
    let identity = provider
        .finish(&pending, code)
        .await
        .map_err(|err| oidc_error(&provider, err))?;
    let user = users::upsert_by_subject(
        &db,
        &identity.issuer,
        &identity.subject,
        identity.email.as_deref(),
        identity.name.as_deref(),
    )
    .await?;
    session::sign_in(&session, &user).await?;
    // Back to the usual idle timeout (see `start`).
    session.set_expiry(Some(Expiry::OnInactivity(seconds(lifetime.inactivity))));
    session.insert(ID_TOKEN_KEY, identity.id_token).await?;
    tracing::info!(user_id = user.id, "signed in through the identity provider");
    Ok(axum::Json(json!({
        "user": UserJson::from(user),
        "return_to": pending.return_to,
    })))
}

async fn current_session(CurrentUser(user): CurrentUser) -> axum::Json<UserResponse> {
    axum::Json(UserResponse { user: user.into() })
}

/// Ends the session here always; when the provider supports RP-initiated
/// logout, answers where the browser goes to end it there too.
async fn logout(State(provider): State<Provider>, session: Session) -> Result<Response, ApiError> {
    let id_token = session.get::<String>(ID_TOKEN_KEY).await.ok().flatten();
    session::sign_out(&session).await?;
    match provider.end_session_url(id_token.as_deref()) {
        Some(url) => Ok(axum::Json(json!({ "end_session_url": url.as_str() })).into_response()),
        None => Ok(StatusCode::NO_CONTENT.into_response()),
    }
}

/// Deletes the signed-in account, with its notes, and ends every session it
/// has, in this browser and all others, on every instance. The identity at
/// the provider is the provider's: signing in with it again starts a new,
/// empty account. (The CSRF layer keeps other sites from calling this; a
/// re-authentication at the provider, `max_age=0`, would also guard against a
/// session left open on a shared computer.)
async fn delete_account(
    State(db): State<Pool>,
    State(store): State<session_store::Store>,
    CurrentUser(user): CurrentUser,
    session: Session,
) -> Result<StatusCode, ApiError> {
    users::delete(&db, user.id).await?;
    session_store::end_sessions_of(&store, user.id).await?;
    session::sign_out(&session).await?;
    tracing::info!(user_id = user.id, "deleted account");
    Ok(StatusCode::NO_CONTENT)
}

/// A path on the frontend's own origin: one leading `/`, and nothing a
/// browser could read as another host (`//host`, `/\host`) or that could
/// split a header.
fn checked_return_to(path: &str) -> Result<String, ApiError> {
    let ok = path.len() <= MAX_RETURN_TO
        && path.starts_with('/')
        && !path.starts_with("//")
        && !path.contains('\\')
        && !path.chars().any(char::is_control);
    if ok {
        Ok(path.to_owned())
    } else {
        Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_return_to",
            "return_to must be a path on the frontend, starting with a single /",
        ))
    }
}

fn invalid_state(message: &str) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, "invalid_state", message)
}

fn invalid_token() -> ApiError {
    ApiError::new(
        StatusCode::UNAUTHORIZED,
        "invalid_token",
        "the sign-in could not be verified; start again",
    )
}

fn oidc_error(provider: &Provider, err: OidcError) -> ApiError {
    match err {
        OidcError::Unavailable(reason) => {
            tracing::warn!(issuer = provider.issuer(), reason = %reason, "identity provider unavailable");
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "provider_unavailable",
                "the identity provider cannot be reached; try again shortly",
            )
        }
        OidcError::InvalidToken(reason) => {
            tracing::warn!(reason = %reason, "sign-in refused");
            invalid_token()
        }
    }
}

/// An OAuth error code as RFC 6749 allows them, short enough to show.
fn is_error_code(error: &str) -> bool {
    !error.is_empty()
        && error.len() <= 64
        && error
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.')
}

/// Compares two secrets in time that does not depend on where they differ.
fn same_secret(given: &str, expected: &str) -> bool {
    given.len() == expected.len()
        && given
            .bytes()
            .zip(expected.bytes())
            .fold(0u8, |diff, (a, b)| diff | (a ^ b))
            == 0
}

fn seconds(duration: std::time::Duration) -> time::Duration {
    time::Duration::seconds(i64::try_from(duration.as_secs()).unwrap_or(i64::MAX))
}

fn now() -> i64 {
    OffsetDateTime::now_utc().unix_timestamp()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn return_to_is_a_path_on_the_frontend_only() {
        for ok in ["/", "/notes?x=1#top", "/a/b%2Fc"] {
            assert_eq!(checked_return_to(ok).unwrap(), ok);
        }
        for bad in [
            "",
            "notes",
            "https://evil.example",
            "//evil.example",
            "/\\evil.example",
            "/a\\b",
            "/a\nb",
            "/a\tb",
        ] {
            assert!(checked_return_to(bad).is_err(), "{bad:?}");
        }
        assert!(checked_return_to(&format!("/{}", "a".repeat(MAX_RETURN_TO))).is_err());
    }

    #[test]
    fn secrets_compare_equal_only_when_equal() {
        assert!(same_secret("abc", "abc"));
        assert!(!same_secret("abd", "abc"));
        assert!(!same_secret("ab", "abc"));
        assert!(!same_secret("", "abc"));
    }
}
