//! The middleware stack, built in this one place so its order can be read
//! and reasoned about.

use std::any::Any;

use axum::{
    Router,
    http::StatusCode,
    middleware::{map_response, map_response_with_state},
    response::{IntoResponse, Response},
};
use tower::ServiceBuilder;
use tower_http::{
    catch_panic::CatchPanicLayer,
    trace::{DefaultMakeSpan, DefaultOnResponse, TraceLayer},
};
use tower_sessions::SessionManagerLayer;
use tracing::Level;

{% if cross_origin -%}
use crate::cors;
{% endif -%}
use crate::{config::Config, cookie_policy, csrf, error::ApiError, session, session_store};

/// Wraps the routes in every layer. Outermost first:
{%- if cross_origin %}
///
/// 1. CORS, so preflights are answered before anything else runs and every
///    response, errors included, carries the CORS headers the browser needs
///    to let the frontend read it;
{%- endif %}
/// 1. tracing: a span per request, and one log line per response;
/// 1. panic catching: a bug becomes a JSON 500, never a dropped connection;
/// 1. CSRF: cross-site writes stop before they touch a session;
/// 1. the session layer's own failure (saving after the handler) becomes a
///    JSON 503 instead of its empty 500;
/// 1. the session cookie gets what tower-sessions cannot give it:
///    `Partitioned` for cross-site frontends, and on logout a removal cookie
///    with the same `Secure`/`SameSite`/`Partitioned`, without which browsers
///    ignore it (see `cookie_policy`). It must sit right outside the session
///    layer, which writes the `Set-Cookie` on the way out;
/// 1. sessions, nearest the handlers that use them.
pub fn apply(
    routes: Router,
    config: &Config,
    sessions: SessionManagerLayer<session_store::Store>,
) -> Router {
    // In a ServiceBuilder the first layer is the outermost.
    let stack = ServiceBuilder::new()
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(DefaultMakeSpan::new().level(Level::INFO))
                .on_response(DefaultOnResponse::new().level(Level::INFO)),
        )
        .layer(CatchPanicLayer::custom(panic_response))
        .layer(csrf::layer(
            &config.public_origin,
            config.frontend_origins(),
        ))
        .layer(map_response(session::explain_failed_save))
        .layer(map_response_with_state(
            config.cookie.clone(),
            cookie_policy::finish_session_cookies,
        ))
        .layer(sessions);
{%- if cross_origin %}
    // With `Router::layer` the last layer is the outermost, so CORS goes on
    // last. (Inside the ServiceBuilder it could not: its preflight answers
    // need a body type the inner layers do not produce.)
    routes
        .layer(stack)
        .layer(cors::layer(config.frontend_origins()))
{%- else %}
    routes.layer(stack)
{%- endif %}
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
