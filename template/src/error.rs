//! The one error type handlers return, and its JSON form.
//!
//! A single-page app needs machine-readable failures it can branch on, so
//! every error leaves the server as `{"error":{"code":"...","message":"..."}}`
//! with a fitting status. Internal details (SQL, store errors) are logged
//! here and never sent to the client.

use std::time::Duration;

use axum::{
    Json,
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde_json::json;

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
        Self::unavailable("database", err)
    }
}

impl From<tower_sessions::session::Error> for ApiError {
    fn from(err: tower_sessions::session::Error) -> Self {
        Self::unavailable("session store", err)
    }
}
