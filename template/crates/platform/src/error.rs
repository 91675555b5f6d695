//! The one error type handlers return, and its JSON form.
//!
//! A single-page app needs machine-readable failures it can branch on, so
//! every error leaves the server as `{"error":{"code":"...","message":"..."}}`
//! with a fitting status. Internal details (SQL, store errors) are logged
//! here and never sent to the client.
//!
//! Database and session errors convert with `?`, and the conversion is
//! honest about whose fault it is: only a dependency that could not answer
//! (a pool timeout, a broken connection, a store timeout) is a 503 that
//! clients and load balancers may retry; anything else is a bug or bad data,
//! logged and answered with a generic 500. Errors a handler expects (a
//! unique email, a missing row) it turns into its own 4xx before that.

use std::time::Duration;

use axum::{
    Json,
    body::{Body, HttpBody as _},
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde_json::json;

use crate::database;

#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
    /// Sent as `Retry-After` (whole seconds, rounded up) when set.
    retry_after: Option<Duration>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            retry_after: None,
        }
    }

    pub fn unauthenticated() -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthenticated", "not signed in")
    }

    pub fn not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", "no such resource")
    }

    pub fn unprocessable(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_input", message)
    }

    /// A bug or bad data: logged with the details, answered with a generic
    /// 500 that reveals nothing.
    pub fn internal(err: impl std::fmt::Display) -> Self {
        tracing::error!(error = %err, "internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "something went wrong",
        )
    }

    /// A dependency (database, session store) did not answer: 503, so clients
    /// and load balancers retry instead of treating it as a bug.
    pub fn unavailable(what: &'static str, err: impl std::fmt::Display) -> Self {
        tracing::error!(dependency = what, error = %err, "dependency unavailable");
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            format!("the {what} is unavailable, try again shortly"),
        )
    }

    /// Sends `Retry-After` with the answer (whole seconds, rounded up).
    pub fn with_retry_after(mut self, wait: Duration) -> Self {
        let secs = (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1);
        self.retry_after = Some(Duration::from_secs(secs));
        self
    }

    /// Too many attempts: 429, with how long to wait in `Retry-After`.
    pub fn too_many_requests(wait: Duration) -> Self {
        let secs = (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1);
        Self {
            retry_after: Some(Duration::from_secs(secs)),
            ..Self::new(
                StatusCode::TOO_MANY_REQUESTS,
                "too_many_attempts",
                format!("too many attempts; try again in {secs} seconds"),
            )
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({ "error": { "code": self.code, "message": self.message } });
        let mut response = (self.status, Json(body)).into_response();
        if let Some(wait) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(wait.as_secs()));
        }
        response
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(err: sqlx::Error) -> Self {
        if database::is_unavailable(&err) {
            Self::unavailable("database", err)
        } else {
            Self::internal(format_args!("database: {err}"))
        }
    }
}

impl From<tower_sessions::session_store::Error> for ApiError {
    fn from(err: tower_sessions::session_store::Error) -> Self {
        tower_sessions::session::Error::Store(err).into()
    }
}

impl From<tower_sessions::session::Error> for ApiError {
    fn from(err: tower_sessions::session::Error) -> Self {
        use tower_sessions::{session::Error, session_store::Error as StoreError};
        match err {
            // The store could not be reached or did not answer in time.
            Error::Store(StoreError::Backend(_)) => Self::unavailable("session store", err),
            // Data that does not (de)serialize is a bug, not an outage.
            _ => Self::internal(format_args!("session: {err}")),
        }
    }
}

/// Gives a JSON body to an error response that has none, such as a handler's
/// bare `StatusCode::INTERNAL_SERVER_ERROR` or `Err(StatusCode::NOT_FOUND)`,
/// so the frontend never has to handle an empty or plain-text error.
/// Headers the handler set (`Retry-After`, `Allow`, ...) are kept.
pub fn json_for_bare_errors(response: Response) -> Response {
    let status = response.status();
    let bare = (status.is_client_error() || status.is_server_error())
        && !response.headers().contains_key(header::CONTENT_TYPE)
        && response.body().size_hint().exact() == Some(0);
    if !bare {
        return response;
    }
    if status.is_server_error() {
        tracing::error!(%status, "a handler answered an error without a body");
    }
    let (mut parts, _) = response.into_parts();
    let code = match status {
        StatusCode::BAD_REQUEST => "bad_request",
        StatusCode::UNAUTHORIZED => "unauthenticated",
        StatusCode::FORBIDDEN => "forbidden",
        StatusCode::NOT_FOUND => "not_found",
        StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
        StatusCode::CONFLICT => "conflict",
        StatusCode::PAYLOAD_TOO_LARGE => "payload_too_large",
        StatusCode::UNPROCESSABLE_ENTITY => "invalid_input",
        StatusCode::TOO_MANY_REQUESTS => "too_many_requests",
        StatusCode::SERVICE_UNAVAILABLE => "unavailable",
        _ if status.is_server_error() => "internal",
        _ => "request_refused",
    };
    let message = if status.is_server_error() {
        "something went wrong"
    } else {
        status.canonical_reason().unwrap_or("request refused")
    };
    let body = json!({ "error": { "code": code, "message": message } });
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(body.to_string()))
}
