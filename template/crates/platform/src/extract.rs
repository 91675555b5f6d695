//! Request extractors that fail in the API's JSON error format.
//!
//! axum's own extractors answer bad input with plain-text bodies; these
//! wrappers keep every failure machine-readable for the frontend, and give
//! protected handlers a `CurrentUser` argument instead of repeating the
//! session look-up. Use them in place of axum's `Json`, `Query` and `Path`.
//! [`UserAgent`] is the browser's description of itself, kept with a session
//! at sign-in.

use std::convert::Infallible;

use axum::{
    extract::{
        FromRef, FromRequest, FromRequestParts,
        rejection::{JsonRejection, PathRejection, QueryRejection},
    },
    http::{StatusCode, header, request::Parts},
};
use tower_sessions::Session;

use crate::{
    error::ApiError,
    session::{self, Account},
    session_store::Sessions,
};

/// `axum::Json`, with rejections turned into [`ApiError`]s (400 malformed,
/// 415 wrong content type, 413 too large, 422 wrong shape).
#[derive(FromRequest)]
#[from_request(via(axum::Json), rejection(ApiError))]
pub struct Json<T>(pub T);

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        let code = match rejection.status() {
            StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
            StatusCode::PAYLOAD_TOO_LARGE => "payload_too_large",
            StatusCode::UNPROCESSABLE_ENTITY => "invalid_body",
            _ => "malformed_body",
        };
        ApiError::new(rejection.status(), code, rejection.body_text())
    }
}

/// `axum::extract::Query`; a query string that does not fit is a 422.
#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(ApiError))]
pub struct Query<T>(pub T);

impl From<QueryRejection> for ApiError {
    fn from(rejection: QueryRejection) -> Self {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_query",
            rejection.body_text(),
        )
    }
}

/// `axum::extract::Path`. A path parameter that does not parse (an id that
/// is not a number) names nothing that could exist: 404.
#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(ApiError))]
pub struct Path<T>(pub T);

impl From<PathRejection> for ApiError {
    fn from(_: PathRejection) -> Self {
        ApiError::not_found()
    }
}

/// The signed-in user; extracting it answers 401 when nobody is signed in.
///
/// It is the copy the session took at sign-in (see `session.rs`), read with
/// the session and without a database query; deleting an account ends its
/// sessions, and changing one refreshes them, so the copy never outlives the
/// account nor lags behind it.
pub struct CurrentUser<U>(pub U);

impl<S, U> FromRequestParts<S> for CurrentUser<U>
where
    S: Send + Sync,
    U: Account,
    Sessions: FromRef<S>,
    U::Source: FromRef<S>,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let session = Session::from_request_parts(parts, state)
            .await
            .map_err(|(_, message)| ApiError::internal(message))?;
        let lifetime = Sessions::from_ref(state).lifetime();
        // The account source is taken from the state only when a copy of
        // an older shape has to be read again.
        let source = || U::Source::from_ref(state);
        match session::user::<U>(&session, lifetime, source).await? {
            Some(user) => Ok(Self(user)),
            None => Err(ApiError::unauthenticated()),
        }
    }
}

/// The request's `User-Agent`, shortened to at most [`USER_AGENT_CHARS`]
/// characters with control characters dropped, so that what a session keeps
/// of it, and the list of sessions shows, stays small and printable. `None`
/// when the header is missing or blank. Never fails.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UserAgent(pub Option<String>);

/// The longest [`UserAgent`] kept: room for a browser's usual header
/// (about 120 characters), and a bound on what a client can make a session
/// carry.
pub const USER_AGENT_CHARS: usize = 160;

impl UserAgent {
    /// Shortens a raw header value (bytes that are not UTF-8 are replaced).
    pub fn from_header(raw: &[u8]) -> Self {
        let text = String::from_utf8_lossy(raw);
        let shortened: String = text
            .chars()
            .filter(|c| !c.is_control())
            .take(USER_AGENT_CHARS)
            .collect();
        let trimmed = shortened.trim();
        Self((!trimmed.is_empty()).then(|| trimmed.to_owned()))
    }
}

impl<S: Send + Sync> FromRequestParts<S> for UserAgent {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(parts
            .headers
            .get(header::USER_AGENT)
            .map_or_else(Self::default, |value| Self::from_header(value.as_bytes())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_user_agent_is_kept_short_and_printable() {
        let chrome = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) \
                      Chrome/156.0.0.0 Safari/537.36";
        assert_eq!(
            UserAgent::from_header(chrome.as_bytes()).0.as_deref(),
            Some(chrome)
        );

        let long = "x".repeat(10_000);
        let kept = UserAgent::from_header(long.as_bytes()).0.unwrap();
        assert_eq!(kept.chars().count(), USER_AGENT_CHARS);

        let hostile = b"evil\r\nSet-Cookie: a=b\x1b[31m\xff";
        let kept = UserAgent::from_header(hostile).0.unwrap();
        assert!(!kept.chars().any(char::is_control), "{kept:?}");
        assert!(kept.starts_with("evilSet-Cookie: a=b[31m"), "{kept:?}");

        assert_eq!(UserAgent::from_header(b"  \t ").0, None);
        assert_eq!(UserAgent::from_header(b"").0, None);
    }
}
