//! Cross-site request forgery protection.
//!
//! A session cookie is sent with any request to this backend, including ones
//! a hostile page makes with a form or a `text/plain` fetch, which need no
//! preflight and so are not stopped by CORS. This layer refuses unsafe
//! methods unless the browser says the request is same-origin
//! (`Sec-Fetch-Site`) or its `Origin` is this host or a trusted frontend.

use axum::{
    http::StatusCode,
    response::{IntoResponse, Response},
};
use tower_http::csrf::{CsrfLayer, ProtectionError};

use crate::{error::ApiError, origin::Origin};

type Rejection = fn(ProtectionError) -> Response;

/// A `CsrfLayer` trusting this backend's public origin and the frontend
/// origins, answering refusals in the API's JSON error format.
///
/// The public origin is listed because the layer's own same-origin fallback
/// (for requests without `Sec-Fetch-Site`) compares `Origin` with the `Host`
/// header, which a reverse proxy may rewrite.
pub fn layer(public_origin: &Origin, frontend_origins: &[Origin]) -> CsrfLayer<Rejection> {
    std::iter::once(public_origin)
        .chain(frontend_origins)
        .fold(CsrfLayer::new(), |layer, origin| {
            layer
                .add_trusted_origin(origin.as_str())
                .expect("a validated origin is a valid trusted origin")
        })
        .with_rejection_response(rejection as Rejection)
}

fn rejection(error: ProtectionError) -> Response {
    tracing::warn!(%error, "cross-site request refused");
    ApiError::new(
        StatusCode::FORBIDDEN,
        "cross_site_request",
        "cross-site requests that change state are not allowed",
    )
    .into_response()
}
