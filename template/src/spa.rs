//! Serving the built single-page app from this backend's own origin.
//!
//! One origin for page and API is the simplest deployment: no CORS at all,
//! and the session cookie is first-party. Files come from `STATIC_DIR`; any
//! other path outside `/api` gets `index.html`, so the SPA's client-side
//! routes (`/settings`, `/users/42`) survive a reload or a shared link.
//! Unknown `/api` paths still answer the API's JSON 404, never the HTML page
//! a frontend would choke on.

use std::path::Path;

use axum::{Router, routing::any};
use tower_http::services::{ServeDir, ServeFile};

use crate::error::ApiError;

/// Adds the frontend in `dir` (if any) behind the API routes.
pub fn serve(api: Router, dir: Option<&Path>) -> Router {
    let Some(dir) = dir else {
        return api;
    };
    let not_found = || async { ApiError::not_found() };
    let frontend = ServeDir::new(dir).fallback(ServeFile::new(dir.join("index.html")));
    // `{*rest}` matches no empty segment, so `/api` and `/api/` are listed.
    api.route("/api", any(not_found))
        .route("/api/", any(not_found))
        .route("/api/{*rest}", any(not_found))
        .fallback_service(frontend)
}
