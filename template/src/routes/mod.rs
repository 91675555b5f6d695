//! The HTTP API: which path goes to which handler, and the state they share.
//!
//! Everything lives under `/api`. Unknown paths and methods answer JSON too,
//! so a frontend never has to parse an HTML or empty error page.

mod auth;
mod health;

use std::{sync::Arc, time::Duration};

use axum::{
    Router,
    http::StatusCode,
    routing::{get, post},
};

use crate::{database::Pool, error::ApiError, rate_limit::AuthThrottle, session_store};

/// Shared by all handlers; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub db: Pool,
    pub sessions: session_store::Store,
    pub session_inactivity: Duration,
    /// Verified against for unknown emails, see `password::dummy_hash`.
    pub dummy_hash: Arc<str>,
    /// Login and signup attempts left per client and per account.
    pub throttle: Arc<AuthThrottle>,
}

/// The API proper: everything that may read or write a session.
pub fn api(state: AppState) -> Router {
    Router::new()
        .route("/api/auth/signup", post(auth::signup))
        .route("/api/auth/login", post(auth::login))
        .route("/api/auth/session", get(auth::current_session))
        .route("/api/auth/logout", post(auth::logout))
        .fallback(|| async { ApiError::not_found() })
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state)
}

/// The liveness and readiness probes. They never touch a session, and load
/// balancers call them every few seconds, so `middleware::apply` keeps them
/// out of the session and CSRF layers.
pub fn probes(state: AppState) -> Router {
    Router::new()
        .route("/api/health", get(health::health))
        .route("/api/ready", get(health::ready))
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state)
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "this path does not accept that method",
    )
}
