//! Cross-origin resource sharing for the frontend origins.
//!
//! The frontend runs on another origin, so the browser only lets its code
//! read our responses, and only sends cookies, if we answer with an exact
//! `Access-Control-Allow-Origin` and `Access-Control-Allow-Credentials:
//! true`. Wildcards are not allowed with credentials; the configuration has
//! already refused them, so building this layer cannot panic.
//!
//! An origin that is not allowed gets no CORS headers, and the browser's
//! error does not say which setting to fix: the server warns, once per
//! origin, naming it and `FRONTEND_ORIGINS` (this backend's own origin,
//! which needs no CORS, is not warned about).

use std::{sync::Arc, time::Duration};

use axum::http::{HeaderValue, Method, header};
use tower_http::cors::{AllowOrigin, CorsLayer};

use crate::{origin::Origin, warn_once::WarnOnce};

/// How long browsers may cache a preflight answer.
const PREFLIGHT_MAX_AGE: Duration = Duration::from_secs(600);

pub fn layer(frontend_origins: &[Origin], public_origin: &Origin) -> CorsLayer {
    let allowed: Vec<HeaderValue> = frontend_origins
        .iter()
        .map(|origin| {
            HeaderValue::from_str(origin.as_str())
                .expect("a validated origin is a valid header value")
        })
        .collect();
    let listed = frontend_origins
        .iter()
        .map(Origin::as_str)
        .collect::<Vec<_>>()
        .join(",");
    let own = HeaderValue::from_str(public_origin.as_str())
        .expect("a validated origin is a valid header value");
    let refused = Arc::new(WarnOnce::default());
    let allow = move |origin: &HeaderValue, _: &axum::http::request::Parts| {
        if allowed.contains(origin) {
            return true;
        }
        if *origin != own {
            let shown = String::from_utf8_lossy(origin.as_bytes());
            refused.warn(
                &shown,
                || {
                    tracing::warn!(
                        origin = %shown,
                        frontend_origins = %listed,
                        "refused a cross-origin request: its origin is not in FRONTEND_ORIGINS, \
                         so the browser will not let the page read the answer. Fix: add the \
                         origin to FRONTEND_ORIGINS if it is your frontend"
                    );
                },
                || {
                    tracing::warn!(
                        "refused requests from many origins not in FRONTEND_ORIGINS; \
                         not naming more"
                    );
                },
            );
        }
        false
    };
    CorsLayer::new()
        .allow_origin(AllowOrigin::predicate(allow))
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
