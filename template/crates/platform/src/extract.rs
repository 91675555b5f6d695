//! Request extractors that fail in the API's JSON error format.
//!
//! axum's own extractors answer bad input with plain-text bodies; these
//! wrappers keep every failure machine-readable for the frontend, and give
//! protected handlers a `CurrentUser` argument instead of repeating the
//! session look-up. Use them in place of axum's `Json`, `Query` and `Path`.
//! [`UserAgent`] (from `user_agent.rs`) is the browser's description of
//! itself, kept with a session at sign-in.

use axum::{
    extract::{
        FromRef, FromRequest, FromRequestParts,
        rejection::{JsonRejection, PathRejection, QueryRejection},
    },
    http::{StatusCode, request::Parts},
};
use tower_sessions::Session;

pub use crate::user_agent::UserAgent;
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
