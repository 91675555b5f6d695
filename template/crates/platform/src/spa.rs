//! Serving the built single-page app from this backend's own origin.
//!
//! One origin for page and API is the simplest deployment: no CORS at all,
//! and the session cookie is first-party. Files come from `STATIC_DIR`; any
//! other path outside `/api` gets `index.html`, so the SPA's client-side
//! routes (`/settings`, `/users/42`) survive a reload or a shared link.
//! Unknown `/api` paths still answer the API's JSON 404, never the HTML page
//! a frontend would choke on.
//!
//! A missing file is a 404 too, not `index.html`: a path under
//! [`ASSETS`], or one whose last segment has an extension and that is not a
//! page navigation (the browser asks for HTML when it navigates). After a
//! redeploy, a tab still open asks for the old build's
//! `/assets/index-1a2b3c4d.js`; answering it with the page would fail in
//! the browser with "Expected a JavaScript module script but the server
//! responded with a MIME type of text/html", where a 404 says what happened.
//!
//! Caching follows the build tools' naming: files under [`ASSETS`] carry a
//! hash of their content in their names (Vite's `build.assetsDir`), so they
//! are cached for a year and never revalidated ([`IMMUTABLE`]); everything
//! else, `index.html` first, must be revalidated on every use
//! ([`NO_CACHE`]), so a redeploy reaches every browser at its next load.

use std::{
    convert::Infallible,
    path::{Path, PathBuf},
};

use axum::{
    Router,
    body::Body,
    extract::Request,
    http::{HeaderValue, StatusCode, header},
    middleware::{self, Next},
    response::{IntoResponse, Response},
    routing::any,
};
use tower::ServiceExt;
use tower_http::services::{ServeDir, ServeFile};

use crate::{
    error::ApiError,
    settings::{ConfigError, Env},
};

/// Where the build puts the files whose names carry a hash of their content.
pub const ASSETS: &str = "/assets/";

/// `Cache-Control` of the hashed assets.
pub const IMMUTABLE: &str = "public, max-age=31536000, immutable";

/// `Cache-Control` of `index.html` and the other files.
pub const NO_CACHE: &str = "no-cache";

/// Where the built frontend is.
#[derive(Clone, Debug)]
pub struct Settings {
    /// Folder of the built frontend served at `/` (`STATIC_DIR`); `None`
    /// when a proxy serves it instead.
    pub dir: Option<PathBuf>,
}

impl Settings {
    /// Reads `STATIC_DIR`; `default_dir` is the application's default.
    pub fn from_env(env: &Env, default_dir: &str) -> Result<Self, ConfigError> {
        let dir = env.var("STATIC_DIR", default_dir).parse_with(
            parse_dir,
            "point it at the folder of the built frontend (the one holding index.html), \
             e.g. frontend/dist (what `vite build` writes in frontend/), or set it empty \
             when a proxy serves the frontend",
        )?;
        Ok(Self { dir })
    }
}

/// An existing folder with an `index.html`, or nothing for an empty value.
fn parse_dir(value: &str) -> Result<Option<PathBuf>, String> {
    if value.is_empty() {
        return Ok(None);
    }
    let dir = PathBuf::from(value);
    if dir.join("index.html").is_file() {
        Ok(Some(dir))
    } else {
        Err("no index.html in that folder (paths are relative to the working directory)".to_owned())
    }
}

/// Adds the frontend in `dir` (if any) behind the API routes.
pub fn serve(api: Router, dir: Option<&Path>) -> Router {
    let Some(dir) = dir else {
        return api;
    };
    let not_found = || async { ApiError::not_found() };
    let index = ServeFile::new(dir.join("index.html"));
    // What is not a file in `dir`: the page for a client-side route, or a
    // 404 for a missing file.
    let missing = tower::service_fn(move |request: Request| {
        let index = index.clone();
        async move {
            // The answer depends on `Accept` (see `names_a_file`).
            let vary = [(header::VARY, HeaderValue::from_static("accept"))];
            if names_a_file(&request) {
                return Ok::<_, Infallible>((vary, ApiError::not_found()).into_response());
            }
            let Ok(page) = index.oneshot(request).await;
            Ok((vary, page.map(Body::new)).into_response())
        }
    });
    let frontend = Router::new()
        .fallback_service(ServeDir::new(dir).fallback(missing))
        .layer(middleware::from_fn(cache_policy));
    // `{*rest}` matches no empty segment, so `/api` and `/api/` are listed.
    api.route("/api", any(not_found))
        .route("/api/", any(not_found))
        .route("/api/{*rest}", any(not_found))
        .fallback_service(frontend)
}

/// Whether a request that found no file asked for a file rather than a
/// page: anything under [`ASSETS`], or a last segment with an extension
/// (`/favicon.ico`, `/old.js`) unless the browser is navigating to it
/// (`Accept: text/html`, so `/users/ada.lovelace` stays a client route).
fn names_a_file(request: &Request) -> bool {
    let path = request.uri().path();
    if path.starts_with(ASSETS) {
        return true;
    }
    let last = path.rsplit('/').next().unwrap_or_default();
    let has_extension = last.rsplit_once('.').is_some_and(|(stem, ext)| {
        !stem.is_empty() && !ext.is_empty() && ext.bytes().all(|b| b.is_ascii_alphanumeric())
    });
    let navigating = request
        .headers()
        .get(header::ACCEPT)
        .and_then(|accept| accept.to_str().ok())
        .is_some_and(|accept| accept.contains("text/html"));
    has_extension && !navigating
}

/// Sets the cache policy of a file answer (see the module comment).
async fn cache_policy(request: Request, next: Next) -> Response {
    let hashed = request.uri().path().starts_with(ASSETS);
    let mut response = next.run(request).await;
    if response.status().is_success() || response.status() == StatusCode::NOT_MODIFIED {
        let policy = if hashed { IMMUTABLE } else { NO_CACHE };
        response
            .headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static(policy));
    }
    response
}
