//! The middleware stack, built in this one place so its order can be read
//! and reasoned about.

use std::any::Any;

use axum::{
    BoxError, Router,
    error_handling::HandleErrorLayer,
    extract::{DefaultBodyLimit, Request},
    http::{HeaderValue, StatusCode, header},
    middleware::{Next, from_fn, map_response, map_response_with_state},
    response::{IntoResponse, Response},
};
use tower::{
    ServiceBuilder,
    timeout::{TimeoutLayer, error::Elapsed},
};
use tower_http::{catch_panic::CatchPanicLayer, set_header::SetResponseHeaderLayer};
use tower_sessions::SessionManagerLayer;

{% if cross_origin -%}
use crate::cors;
{% endif -%}
use crate::{
    config::Config,
    cookie_policy, csrf,
    error::{self, ApiError},
    session, session_store, telemetry,
};

/// Wraps the routes in every layer. Outermost first:
{%- if cross_origin %}
///
/// 1. CORS, so preflights are answered before anything else runs and every
///    response, errors included, carries the CORS headers the browser needs
///    to let the frontend read it;
{%- endif %}
/// 1. security headers, on every response below, errors included
///    (`Strict-Transport-Security` too when `PUBLIC_ORIGIN` is https);
/// 1. `Cache-Control: no-store` on every `/api` answer that does not set its
///    own: answers are per user, and must not be kept by shared caches or
///    the back/forward cache;
/// 1. the access log: one line per response (see `telemetry.rs`);
/// 1. panic catching: a bug becomes a JSON 500, never a dropped connection;
///
/// and then, for the API but not the probes (which use no session, change
/// nothing, and are called every few seconds by load balancers):
///
/// 1. the request timeout: a request still running after
///    `REQUEST_TIMEOUT_SECS` (a stalled body upload included) is dropped and
///    answered with a JSON 503, so slow clients cannot hold workers forever;
/// 1. the body size limit, enforced by the JSON extractor as a JSON 413;
/// 1. CSRF: cross-site writes stop before they touch a session;
/// 1. the session layer's own failure (saving after the handler) becomes a
///    JSON 503 instead of its empty 500;
/// 1. the session cookie gets what tower-sessions cannot give it:
///    `Partitioned` for cross-site frontends, and on logout a removal cookie
///    with the same `Secure`/`SameSite`/`Partitioned`, without which browsers
///    ignore it (see `cookie_policy`). It must sit right outside the session
///    layer, which writes the `Set-Cookie` on the way out;
/// 1. sessions, nearest the handlers that use them;
/// 1. inside the session layer, responses from below are marked (so the
///    session layer's own failure is told apart, see
///    `session::explain_failed_save`), and an error status without a body
///    (a handler's `Err(StatusCode::INTERNAL_SERVER_ERROR)`) gets a JSON one.
pub fn apply(
    api: Router,
    probes: Router,
    config: &Config,
    sessions: SessionManagerLayer<session_store::Store>,
) -> Router {
    // In a ServiceBuilder the first layer is the outermost.
    let api_only = ServiceBuilder::new()
        .layer(HandleErrorLayer::new(timeout_response))
        .layer(TimeoutLayer::new(config.request_timeout))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(csrf::layer(
            &config.public_origin,
            config.frontend_origins(),
        ))
        .layer(map_response(session::explain_failed_save))
        .layer(map_response_with_state(
            config.cookie.clone(),
            cookie_policy::finish_session_cookies,
        ))
        .layer(sessions)
        .layer(map_response(session::mark_as_passed_through))
        .layer(map_response(error::json_for_bare_errors));
    let everything = ServiceBuilder::new()
        .layer(SetResponseHeaderLayer::if_not_present(
            header::STRICT_TRANSPORT_SECURITY,
            hsts(config),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        // No page may frame ours (clickjacking): the CSP directive for
        // current browsers, X-Frame-Options for older ones.
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static("frame-ancestors 'none'"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_FRAME_OPTIONS,
            HeaderValue::from_static("DENY"),
        ))
        // Not `no-referrer`: with it browsers send `Origin: null` on form
        // posts, which the CSRF check must then refuse.
        .layer(SetResponseHeaderLayer::if_not_present(
            header::REFERRER_POLICY,
            HeaderValue::from_static("strict-origin-when-cross-origin"),
        ))
        .layer(from_fn(no_store_for_api))
        .layer(from_fn(telemetry::access_log))
        .layer(CatchPanicLayer::custom(panic_response));
    // `Router::layer` wraps the routes present at that point, so the probes
    // are merged in after the API-only layers.
    let app = api.layer(api_only).merge(probes);
{%- if cross_origin %}
    // With `Router::layer` the last layer is the outermost, so CORS goes on
    // last. (Inside a ServiceBuilder it could not: its preflight answers need
    // a body type the inner layers do not produce.)
    app.layer(everything)
        .layer(cors::layer(config.frontend_origins()))
{%- else %}
    app.layer(everything)
{%- endif %}
}

/// `Strict-Transport-Security` when browsers reach this backend over https
/// (`PUBLIC_ORIGIN`), whatever the scheme of the connection here: behind a
/// TLS-terminating proxy that is plain http, and browsers ignore the header
/// on plain-http answers anyway. For a year, after which it is renewed by
/// every answer: browsers then never try plain http to this host, so a
/// network attacker cannot strip TLS from the first request.
///
/// Without `includeSubDomains`: it would bind every subdomain of this host,
/// and if `PUBLIC_ORIGIN` is the apex (`https://example.com`), every host of
/// the domain, to https for a year, including ones this project does not
/// run. That is for whoever owns the domain to decide, at the apex; the same
/// goes for `preload`.
fn hsts(config: &Config) -> Option<HeaderValue> {
    config
        .public_origin
        .is_https()
        .then(|| HeaderValue::from_static("max-age=31536000"))
}

/// Adds `Cache-Control: no-store` to answers under `/api` that have no
/// `Cache-Control` of their own. (The frontend's files, served by
/// same-origin projects, stay cacheable.)
async fn no_store_for_api(request: Request, next: Next) -> Response {
    let path = request.uri().path();
    let api = path == "/api" || path.starts_with("/api/");
    let mut response = next.run(request).await;
    if api {
        response
            .headers_mut()
            .entry(header::CACHE_CONTROL)
            .or_insert(HeaderValue::from_static("no-store"));
    }
    response
}

/// Largest request body accepted. The API takes small JSON documents; the
/// cap bounds the memory a request can make the server buffer.
pub const BODY_LIMIT: usize = 64 * 1024;

/// Answers a request that ran out of time (the only error the stack above
/// the timeout can see). 503 rather than 408: the client may not be at
/// fault, and browsers silently resend requests answered 408.
async fn timeout_response(err: BoxError) -> ApiError {
    if err.is::<Elapsed>() {
        tracing::warn!("request timed out");
    } else {
        tracing::error!(error = %err, "request failed in the middleware stack");
    }
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "timeout",
        "the request took too long; try again",
    )
}

/// Logs a handler's panic and answers it like any other error.
fn panic_response(panic: Box<dyn Any + Send + 'static>) -> Response {
    let message = panic
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("(no message)");
    tracing::error!(panic = message, "a handler panicked");
    ApiError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal",
        "something went wrong",
    )
    .into_response()
}
