//! The HTTP API: which path goes to which handler.
//!
//! Each route module exposes its own `router()`; this is the one place they
//! are merged. Everything lives under `/api`. Unknown paths and methods
//! answer JSON too, so a frontend never has to parse an HTML or empty error
//! page. The middleware around these routes is the platform's
//! (`platform::stack`); a layer for some routes only goes on their router
//! here, with `Router::route_layer`.

mod auth;
mod health;
mod notes;
mod sessions;

use axum::{Router, http::StatusCode};
use platform::ApiError;

use crate::state::AppState;

/// The API proper: everything that may read or write a session.
pub fn api() -> Router<AppState> {
    Router::new()
        .merge(auth::router())
        .merge(sessions::router())
        .merge(notes::router())
        .fallback(|| async { ApiError::not_found() })
        .method_not_allowed_fallback(method_not_allowed)
}

/// The liveness and readiness probes. They never touch a session, and load
/// balancers call them every few seconds, so the stack keeps them out of
/// the session and CSRF layers.
pub fn probes() -> Router<AppState> {
    health::router().method_not_allowed_fallback(method_not_allowed)
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "this path does not accept that method",
    )
}
