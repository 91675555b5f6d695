//! The HTTP API: which path goes to which handler.
//!
//! Each route module exposes its own `router()`; this is the one place they
//! are merged. Everything lives under `/api`. Unknown paths and methods
//! answer JSON too, so a frontend never has to parse an HTML or empty error
//! page. The middleware around these routes is the platform's
//! (`platform::stack`); a layer for some routes only goes on their router
//! here, with `Router::route_layer`.
//!
//! The routers are utoipa's `OpenApiRouter`s: `routes!` takes each path from
//! its handler's `#[utoipa::path]`, so the OpenAPI description served at
//! `/api/openapi.json` ([`openapi`]) lists exactly the routes served.

mod auth;
mod health;
mod notes;
mod sessions;

use axum::{Router, http::StatusCode};
use platform::{ApiError, cookie_policy::CookiePolicy};
use utoipa::OpenApi as _;
use utoipa_axum::router::OpenApiRouter;

use crate::state::AppState;

/// The API proper: everything that may read or write a session.
pub fn api() -> Router<AppState> {
    Router::from(documented_api())
        .fallback(|| async { ApiError::not_found() })
        .method_not_allowed_fallback(method_not_allowed)
}

/// The liveness and readiness probes. They never touch a session, and load
/// balancers call them every few seconds, so the stack keeps them out of
/// the session and CSRF layers. `GET /api/openapi.json` is served with them.
pub fn probes(cookie: &CookiePolicy) -> Router<AppState> {
    Router::from(health::router())
        .merge(platform::openapi::router(openapi(cookie)))
        .method_not_allowed_fallback(method_not_allowed)
}

/// The OpenAPI 3.1 description of every route, from the handlers'
/// `#[utoipa::path]` and the `ToSchema` types they take and answer. The
/// session cookie is its security scheme, named as `cookie` names it.
pub fn openapi(cookie: &CookiePolicy) -> utoipa::openapi::OpenApi {
    let mut doc = documented_api().into_openapi();
    doc.merge(health::router().into_openapi());
    platform::openapi::finish(doc, cookie)
}

/// The document's title, version and tags; the paths come from the routers.
#[derive(utoipa::OpenApi)]
#[openapi(
    info(description = "The JSON API of this backend, for its single-page app."),
    tags(
        (name = "auth", description = "Signing in and out, and the account"),
        (name = "sessions", description = "The signed-in user's sessions"),
        (name = "notes", description = "The example resource: the signed-in user's notes"),
        (name = "probes", description = "Liveness and readiness"),
        (name = "meta", description = "This description"),
    )
)]
struct ApiDoc;

fn documented_api() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(auth::router())
        .merge(sessions::router())
        .merge(notes::router())
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "this path does not accept that method",
    )
}
