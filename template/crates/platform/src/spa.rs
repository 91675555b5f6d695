//! Serving the built single-page app from this backend's own origin.
//!
//! One origin for page and API is the simplest deployment: no CORS at all,
//! and the session cookie is first-party. Files come from `STATIC_DIR`; any
//! other path outside `/api` gets `index.html`, so the SPA's client-side
//! routes (`/settings`, `/users/42`) survive a reload or a shared link.
//! Unknown `/api` paths still answer the API's JSON 404, never the HTML page
//! a frontend would choke on.

use std::path::{Path, PathBuf};

use axum::{Router, routing::any};
use tower_http::services::{ServeDir, ServeFile};

use crate::{
    error::ApiError,
    settings::{ConfigError, Env},
};

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
             e.g. frontend/dist, or set it empty when a proxy serves the frontend",
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
    let frontend = ServeDir::new(dir).fallback(ServeFile::new(dir.join("index.html")));
    // `{*rest}` matches no empty segment, so `/api` and `/api/` are listed.
    api.route("/api", any(not_found))
        .route("/api/", any(not_found))
        .route("/api/{*rest}", any(not_found))
        .fallback_service(frontend)
}
