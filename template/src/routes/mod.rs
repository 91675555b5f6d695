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

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/api/health", get(health::health))
        .route("/api/ready", get(health::ready))
        .route("/api/auth/signup", post(auth::signup))
        .route("/api/auth/login", post(auth::login))
        .route("/api/auth/session", get(auth::current_session))
        .route("/api/auth/logout", post(auth::logout))
        .fallback(|| async { ApiError::not_found() })
        .method_not_allowed_fallback(|| async {
            ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "this path does not accept that method",
            )
        })
        .with_state(state)
}
