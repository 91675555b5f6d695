//! Cross-origin resource sharing for the frontend origins.
//!
//! The frontend runs on another origin, so the browser only lets its code
//! read our responses, and only sends cookies, if we answer with an exact
//! `Access-Control-Allow-Origin` and `Access-Control-Allow-Credentials:
//! true`. Wildcards are not allowed with credentials; the configuration has
//! already refused them, so building this layer cannot panic.

use std::time::Duration;

use axum::http::{HeaderValue, Method, header};
use tower_http::cors::{AllowOrigin, CorsLayer};

use crate::origin::Origin;

/// How long browsers may cache a preflight answer.
const PREFLIGHT_MAX_AGE: Duration = Duration::from_secs(600);

pub fn layer(frontend_origins: &[Origin]) -> CorsLayer {
    let origins = frontend_origins.iter().map(|origin| {
        HeaderValue::from_str(origin.as_str()).expect("a validated origin is a valid header value")
    });
    CorsLayer::new()
        .allow_origin(AllowOrigin::list(origins))
        .allow_credentials(true)
        .allow_methods([
            Method::GET,
            Method::POST,
            Method::PUT,
            Method::PATCH,
            Method::DELETE,
        ])
        // JSON bodies make `Content-Type` a non-simple header: without it
        // here every JSON POST fails its preflight.
        .allow_headers([header::CONTENT_TYPE, header::ACCEPT])
        // Page code on another origin reads only the CORS-safelisted
        // response headers unless others are exposed: the SPA needs
        // `Retry-After` to tell the user when to try signing in again.
        .expose_headers([header::RETRY_AFTER])
        .max_age(PREFLIGHT_MAX_AGE)
}
