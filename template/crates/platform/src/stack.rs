//! The middleware stack, built in this one place so its order can be read
//! and reasoned about, and the settings it needs: the origins pages call
//! from, the session cookie, the request timeout.
//!
//! Every request passes through all of it, so it is built for that: each
//! layer here is a plain tower service that neither boxes the request's
//! future nor clones the services below it, and the outer layers wrap the
//! whole application once, not each route (`Router::layer` would put a copy
//! of the stack on every route, cloned for every request). The server
//! clones the stack once per connection (`server.rs`). For a middleware of
//! your own on a few routes, `axum::middleware::from_fn` on those routes is
//! the simple way; see `response_hook.rs` for one that runs on every request.

use std::{any::Any, sync::Arc, time::Duration};

use axum::{
    BoxError, Router,
    body::Body,
    error_handling::HandleErrorLayer,
    extract::DefaultBodyLimit,
    http::{HeaderValue, Request, Response, StatusCode, header},
    response::IntoResponse,
};
use tower::{ServiceBuilder, timeout::TimeoutLayer, util::BoxCloneSyncService};
use tower_http::{catch_panic::CatchPanicLayer, set_header::SetResponseHeaderLayer};
use tower_sessions::{SessionManagerLayer, SessionStore};

#[cfg(feature = "cors")]
use crate::cors;
use crate::{
    cookie_policy::{self, CookiePolicy},
    csrf, deployment_shape,
    error::{self, ApiError},
    origin::Origin,
    response_hook::{Hook, ResponseHookLayer, Then},
    server::App,
    session,
    settings::{ConfigError, Env},
    telemetry,
};

/// What the stack needs to know: who calls, with which cookie, how long a
/// request may take.
#[derive(Clone, Debug)]
pub struct Settings {
    /// The backend's origin as browsers see it (`PUBLIC_ORIGIN`).
    pub public_origin: Origin,
    /// Origins of the frontends allowed to call the API with credentials
    /// (`FRONTEND_ORIGINS`); empty when the frontend is served from
    /// `public_origin` itself.
    pub frontend_origins: Vec<Origin>,
    /// Session cookie attributes, derived from the origins unless
    /// overridden (`COOKIE_SECURE`, `COOKIE_SAME_SITE`).
    pub cookie: CookiePolicy,
    /// Longest a request may take, body upload included
    /// (`REQUEST_TIMEOUT_SECS`).
    pub request_timeout: Duration,
}

impl Settings {
    /// For a backend that serves its frontend from its own origin: no
    /// frontend origins, and `FRONTEND_ORIGINS` is not read.
    pub fn same_origin(env: &Env) -> Result<Self, ConfigError> {
        Self::with_frontends(env, Vec::new())
    }

    /// For a backend called by frontends on other origins, listed in
    /// `FRONTEND_ORIGINS` (comma-separated, at least one).
    #[cfg(feature = "cors")]
    pub fn cross_origin(env: &Env) -> Result<Self, ConfigError> {
        let frontends = env.var("FRONTEND_ORIGINS", "").parse_with(
            crate::origin::parse_list,
            "list the frontend origins, comma-separated, e.g. http://localhost:5173,https://app.example.com",
        )?;
        Self::with_frontends(env, frontends)
    }

    fn with_frontends(env: &Env, frontend_origins: Vec<Origin>) -> Result<Self, ConfigError> {
        let public_origin = env.var("PUBLIC_ORIGIN", "http://localhost:8080").parse_with(
            Origin::parse,
            "set it to this backend's origin as browsers reach it, e.g. https://api.example.com",
        )?;
        if let Some(same) = frontend_origins.iter().find(|o| **o == public_origin) {
            return Err(ConfigError {
                var: "FRONTEND_ORIGINS",
                value: same.to_string(),
                problem: "this is the backend's own origin (PUBLIC_ORIGIN), which needs no CORS"
                    .into(),
                fix: "remove it from FRONTEND_ORIGINS, or correct PUBLIC_ORIGIN".into(),
            });
        }
        let cookie = CookiePolicy::derive(
            &public_origin,
            &frontend_origins,
            &env.var("COOKIE_SECURE", "auto").value,
            &env.var("COOKIE_SAME_SITE", "auto").value,
        )?;
        Ok(Self {
            public_origin,
            frontend_origins,
            cookie,
            request_timeout: env.seconds("REQUEST_TIMEOUT_SECS", "30", 1..=3_600)?,
        })
    }

    /// Settings that work but leave sessions or passwords readable on the
    /// network (see `deployment_shape::warnings`); logged at start-up.
    pub fn warnings(&self) -> Vec<String> {
        deployment_shape::warnings(&self.public_origin, &self.frontend_origins)
    }
}

/// Wraps the routes in every layer. Outermost first:
///
/// 1. CORS (with the `cors` feature, when there are frontend origins), so
///    preflights are answered before anything else runs and every response,
///    errors included, carries the CORS headers the browser needs to let the
///    frontend read it;
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
/// 1. a look at the `Host`: a request under another name than
///    `PUBLIC_ORIGIN`'s is warned about, once per name (see
///    `cookie_policy::HostCheck`);
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
pub fn build<S>(
    api: Router,
    probes: Router,
    settings: &Settings,
    sessions: SessionManagerLayer<S>,
) -> App
where
    S: SessionStore + Clone,
{
    // In a ServiceBuilder the first layer is the outermost.
    let cookie_policy = settings.cookie.clone();
    let host_check = Arc::new(cookie_policy::HostCheck::new(&settings.public_origin));
    let api = ServiceBuilder::new()
        .map_request(move |request: Request<Body>| {
            host_check.check(request.headers());
            request
        })
        .layer(HandleErrorLayer::new(timeout_response))
        .layer(TimeoutLayer::new(settings.request_timeout))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(csrf::layer(
            &settings.public_origin,
            &settings.frontend_origins,
        ))
        .map_response(session::explain_failed_save)
        .map_response(move |response| {
            cookie_policy::finish_session_cookies(&cookie_policy, response)
        })
        .layer(sessions)
        .map_response(session::mark_as_passed_through)
        .map_response(error::json_for_bare_errors)
        .service(api);
    // The probes answer their own paths; everything else is the API's.
    let app = probes.fallback_service(api);
    let app = ServiceBuilder::new()
        .option_layer(cors_layer(settings))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::STRICT_TRANSPORT_SECURITY,
            hsts(settings),
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
        .layer(ResponseHookLayer(NoStoreForApi))
        .layer(ResponseHookLayer(telemetry::AccessLog))
        .layer(CatchPanicLayer::custom(panic_response))
        .service(app);
    BoxCloneSyncService::new(app)
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
fn hsts(settings: &Settings) -> Option<HeaderValue> {
    settings
        .public_origin
        .is_https()
        .then(|| HeaderValue::from_static("max-age=31536000"))
}

/// The CORS layer for the frontend origins, if there are any.
#[cfg(feature = "cors")]
fn cors_layer(settings: &Settings) -> Option<tower_http::cors::CorsLayer> {
    (!settings.frontend_origins.is_empty())
        .then(|| cors::layer(&settings.frontend_origins, &settings.public_origin))
}

/// Without the `cors` feature there is no CORS layer: the frontend is on
/// this backend's own origin.
#[cfg(not(feature = "cors"))]
fn cors_layer(_settings: &Settings) -> Option<tower::layer::util::Identity> {
    None
}

/// Adds `Cache-Control: no-store` to answers under `/api` that have no
/// `Cache-Control` of their own. (The frontend's files, served by
/// same-origin projects, stay cacheable.)
#[derive(Clone, Copy, Debug)]
struct NoStoreForApi;

impl<B> Hook<B> for NoStoreForApi {
    type Then = ApiAnswer;

    fn request(&self, request: &Request<B>) -> ApiAnswer {
        let path = request.uri().path();
        ApiAnswer(path == "/api" || path.starts_with("/api/"))
    }
}

/// Whether a response answers an `/api` request.
struct ApiAnswer(bool);

impl Then for ApiAnswer {
    fn response<R>(self, response: &mut Response<R>) {
        if self.0 {
            response
                .headers_mut()
                .entry(header::CACHE_CONTROL)
                .or_insert(HeaderValue::from_static("no-store"));
        }
    }
}

/// Largest request body accepted. The API takes small JSON documents; the
/// cap bounds the memory a request can make the server buffer.
pub const BODY_LIMIT: usize = 64 * 1024;

/// Answers a request that ran out of time (the only error the stack above
/// the timeout can see). 503 rather than 408: the client may not be at
/// fault, and browsers silently resend requests answered 408.
async fn timeout_response(err: BoxError) -> ApiError {
    if err.is::<tower::timeout::error::Elapsed>() {
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
fn panic_response(panic: Box<dyn Any + Send + 'static>) -> Response<Body> {
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
