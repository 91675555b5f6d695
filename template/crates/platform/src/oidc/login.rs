//! A sign-in at the provider, as one browser's session sees it: what is kept
//! between the two calls, and what is checked when the answer comes back.
//!
//! The provider sends the browser back to a frontend page (not to this API:
//! in the cross-site shape a cookie set on a top-level visit to the API would
//! not reach the frontend's later requests), and that page relays the
//! provider's answer with `fetch`. What the flow needs between the two calls
//! (state, nonce, PKCE verifier) stays in this browser's session, so a code
//! relayed into another browser finds no matching sign-in (login CSRF).
//! The application's handlers call [`start`], then [`finish`], sign the user
//! in, and call [`signed_in`]; [`log_out`] ends both sessions.

use axum::http::StatusCode;
use serde::Deserialize;
use tower_sessions::{
    Expiry, Session,
    cookie::time::{self, OffsetDateTime},
};
use url::Url;

use super::{Identity, OidcError, PendingLogin, Provider};
use crate::{error::ApiError, session};

/// Session key of the sign-in started in this browser.
const PENDING_KEY: &str = "oidc_pending";
/// Session key of the signed-in user's ID token, the hint of the logout,
/// kept only with `OIDC_LOGOUT_ID_TOKEN_HINT=true`.
const ID_TOKEN_KEY: &str = "oidc_id_token";
/// Longest `return_to` accepted.
pub const MAX_RETURN_TO: usize = 2048;

/// Starts a sign-in in this browser: the provider's authorization URL, where
/// the frontend sends the browser. `return_to` (a path on the frontend,
/// `/` when not given) comes back from [`finish`].
pub async fn start(
    provider: &Provider,
    session: &Session,
    return_to: Option<&str>,
) -> Result<Url, ApiError> {
    let return_to = match return_to {
        Some(path) => checked_return_to(path)?,
        None => "/".to_owned(),
    };
    let (url, pending) = provider
        .start(return_to, now())
        .map_err(|err| provider_error(provider, err))?;
    // A browser that is not signed in gets a session only for this sign-in:
    // if it never comes back, the record expires with the sign-in rather
    // than after SESSION_INACTIVITY_SECS, so anonymous calls cannot pile up
    // long-lived records.
    if session::signed_in_id(session).await?.is_none() {
        session.set_expiry(Some(Expiry::OnInactivity(seconds(
            provider.settings().login_timeout,
        ))));
    }
    // Replaces a sign-in started earlier in this browser.
    session.insert(PENDING_KEY, pending).await?;
    Ok(url)
}

/// The provider's answer, as the frontend page found it in its query string.
/// Unknown fields are ignored.
#[derive(Debug, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Callback {
    pub state: Option<String>,
    pub code: Option<String>,
    pub error: Option<String>,
    pub error_description: Option<String>,
    pub iss: Option<String>,
}

/// A sign-in the provider confirmed.
#[derive(Debug)]
pub struct Verified {
    pub identity: Identity,
    /// The path the frontend goes to next, as given to [`start`].
    pub return_to: String,
}

/// Checks the provider's answer against the sign-in started in this
/// browser, redeems the code and validates the ID token.
pub async fn finish(
    provider: &Provider,
    session: &Session,
    input: Callback,
) -> Result<Verified, ApiError> {
    // The pending sign-in is used once, whatever happens next: its removal
    // is saved now, since a session is not saved when the answer is a 5xx
    // (the provider down), which would leave it for another try.
    let pending = session.remove::<PendingLogin>(PENDING_KEY).await;
    if matches!(
        pending,
        Ok(Some(_)) | Err(tower_sessions::session::Error::SerdeJson(_))
    ) {
        // The saved expiry is computed again from the session's own: a
        // session made only for this sign-in keeps the sign-in's short one.
        if session::signed_in_id(session).await?.is_none() {
            session.set_expiry(Some(Expiry::OnInactivity(seconds(
                provider.settings().login_timeout,
            ))));
        }
        session.save().await?;
    }
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
        .map_err(|err| provider_error(provider, err))?;
    Ok(Verified {
        identity,
        return_to: pending.return_to,
    })
}

/// After the application has signed the user in (`session::sign_in`): the
/// session is back to the usual idle timeout (see [`start`]), and keeps
/// the ID token as the hint of a later logout if the provider requires one
/// (`OIDC_LOGOUT_ID_TOKEN_HINT`).
pub async fn signed_in(
    provider: &Provider,
    session: &Session,
    lifetime: session::Lifetime,
    identity: Identity,
) -> Result<(), ApiError> {
    session.set_expiry(Some(Expiry::OnInactivity(seconds(lifetime.inactivity))));
    if provider.settings().logout_id_token_hint {
        session.insert(ID_TOKEN_KEY, identity.id_token).await?;
    }
    Ok(())
}

/// Ends the session here always; when the provider supports RP-initiated
/// logout, answers where the browser goes to end it there too.
pub async fn log_out(provider: &Provider, session: &Session) -> Result<Option<Url>, ApiError> {
    let id_token = if provider.settings().logout_id_token_hint {
        session.get::<String>(ID_TOKEN_KEY).await.ok().flatten()
    } else {
        None
    };
    session::sign_out(session).await?;
    Ok(provider.end_session_url(id_token.as_deref()))
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

/// 503 while the provider cannot be reached; 401 when it refused the code or
/// the ID token failed validation. The reason is logged, not sent.
fn provider_error(provider: &Provider, err: OidcError) -> ApiError {
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
        for ok in ["/", "/settings?x=1#top", "/a/b%2Fc"] {
            assert_eq!(checked_return_to(ok).unwrap(), ok);
        }
        for bad in [
            "",
            "settings",
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

    /// A callback that fails after the pending sign-in was taken saves the
    /// session at once; a session made only for the sign-in keeps the
    /// sign-in's short lifetime, not the day a signed-in session gets.
    #[tokio::test]
    async fn a_failed_answer_leaves_an_anonymous_session_short_lived() {
        use std::sync::Arc;

        use tower_sessions::{MemoryStore, SessionStore};

        let provider = Provider::new(super::super::settings::test_settings(&[]).unwrap()).unwrap();
        let login_timeout = provider.settings().login_timeout;
        let store = Arc::new(MemoryStore::default());
        let a_day = Some(Expiry::OnInactivity(time::Duration::days(1)));
        let started = Session::new(None, store.clone(), a_day);
        started.set_expiry(Some(Expiry::OnInactivity(seconds(login_timeout))));
        let pending = PendingLogin {
            state: "the-state".into(),
            nonce: "n".into(),
            pkce_verifier: "v".into(),
            return_to: "/".into(),
            started_at: now(),
        };
        started.insert(PENDING_KEY, pending).await.unwrap();
        started.save().await.unwrap();
        let id = started.id().unwrap();

        // The next request loads the record with the layer's expiry.
        let answered = Session::new(Some(id), store.clone(), a_day);
        let callback = Callback {
            state: Some("another-state".into()),
            code: Some("c".into()),
            error: None,
            error_description: None,
            iss: None,
        };
        assert!(finish(&provider, &answered, callback).await.is_err());
        let record = store.load(&id).await.unwrap().expect("saved");
        assert!(record.data.is_empty(), "{:?}", record.data);
        let latest =
            OffsetDateTime::now_utc() + seconds(login_timeout) + time::Duration::seconds(5);
        assert!(
            record.expiry_date <= latest,
            "expires {}",
            record.expiry_date
        );
    }

    #[test]
    fn secrets_compare_equal_only_when_equal() {
        assert!(same_secret("abc", "abc"));
        assert!(!same_secret("abd", "abc"));
        assert!(!same_secret("ab", "abc"));
        assert!(!same_secret("", "abc"));
    }
}
