//! What every application's OpenAPI 3.1 description shares: the error body,
//! the session cookie as the security scheme, the readiness answers, and
//! serving the document at `GET /api/openapi.json`.
//!
//! The application describes its own routes with `utoipa` annotations on
//! its handlers and types; [`ApiError`] is the body of every error answer
//! there (`{"error":{"code","message"}}`), and operations that need a signed-in
//! user name [`SESSION_COOKIE`] as their security requirement.
//! [`finish`] and [`router`] complete and serve the document.

use std::borrow::Cow;

use axum::{
    Router,
    body::Bytes,
    http::{StatusCode, header},
    routing::get,
};
use utoipa::{
    PartialSchema, ToSchema,
    openapi::{
        ContentBuilder, HttpMethod, OpenApi, PathItem, Ref, RefOr, ResponseBuilder, Schema,
        path::OperationBuilder,
        schema::{ObjectBuilder, Type},
        security::{ApiKey, ApiKeyValue, SecurityScheme},
    },
};

use crate::{cookie_policy::CookiePolicy, error::ApiError};

/// The name of the security scheme operations that need a session require.
pub const SESSION_COOKIE: &str = "session_cookie";

/// Where the document is served.
pub const PATH: &str = "/api/openapi.json";

/// `{"error": {"code", "message"}}`: every error answer.
#[derive(ToSchema)]
#[allow(dead_code, reason = "a description of the JSON `ApiError` writes")]
struct ErrorBody {
    error: ErrorDetail,
}

#[derive(ToSchema)]
#[allow(dead_code, reason = "a description of the JSON `ApiError` writes")]
struct ErrorDetail {
    /// Stable and machine-readable (`unauthenticated`, `not_found`,
    /// `invalid_input`...): branch on this.
    code: String,
    /// For people; may change.
    message: String,
}

impl PartialSchema for ApiError {
    fn schema() -> RefOr<Schema> {
        ErrorBody::schema()
    }
}

impl ToSchema for ApiError {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("Error")
    }

    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        schemas.push((ErrorDetail::name().into(), ErrorDetail::schema()));
        ErrorBody::schemas(schemas);
    }
}

/// The state of one dependency in a readiness answer.
#[derive(ToSchema)]
#[allow(
    dead_code,
    reason = "a description of the JSON `probes::Readiness` writes"
)]
#[schema(as = CheckState)]
enum CheckState {
    #[schema(rename = "ok")]
    Ok,
    #[schema(rename = "down")]
    Down,
}

/// 200 from `GET /api/ready`: `{"status":"ready","checks":{...}}`.
#[derive(ToSchema)]
#[allow(
    dead_code,
    reason = "a description of the JSON `probes::Readiness` writes"
)]
pub struct Ready {
    #[schema(pattern = "^ready$")]
    status: String,
    /// Each dependency checked, by name.
    checks: std::collections::BTreeMap<String, CheckState>,
}

/// 503 from `GET /api/ready`: an error naming what is down, and the checks.
#[derive(ToSchema)]
#[allow(
    dead_code,
    reason = "a description of the JSON `probes::Readiness` writes"
)]
pub struct NotReady {
    error: ErrorDetail,
    checks: std::collections::BTreeMap<String, CheckState>,
}

/// Adds the session cookie as the security scheme [`SESSION_COOKIE`]: an
/// API key in a cookie, named as this server names it (the name follows the
/// deployment: `__Host-sid` over https, `sid` over plain http). Gives
/// every operation a `default` answer, the error body: the failures any
/// request may meet besides those its handler lists (malformed JSON, a
/// cross-site write, a dependency down, a bug). Drops the license utoipa
/// takes from an unlicensed crate (a name of `""`).
pub fn finish(mut doc: OpenApi, cookie: &CookiePolicy) -> OpenApi {
    if doc.info.license.as_ref().is_some_and(|l| l.name.is_empty()) {
        doc.info.license = None;
    }
    let default = ResponseBuilder::new()
        .description(
            "Any other failure, as `{\"error\":{\"code\",\"message\"}}`: 400 malformed \
             JSON, 403 a cross-site write, 413 too large, 415 not JSON, 422 a body of \
             the wrong shape, 429 too many attempts (with `Retry-After`), 503 a \
             dependency could not answer or the request took too long, 500 a bug",
        )
        .content(
            "application/json",
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name(ApiError::name())))
                .build(),
        )
        .build();
    for item in doc.paths.paths.values_mut() {
        let operations = [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.patch,
        ];
        for operation in operations.into_iter().flatten() {
            operation
                .responses
                .responses
                .entry("default".to_owned())
                .or_insert_with(|| RefOr::T(default.clone()));
        }
    }
    let description = format!(
        "The session cookie, set by signing in and sent back by the browser \
             (`fetch(..., {{credentials: 'include'}})`); page code never reads it \
             (HttpOnly). Its name follows the deployment: `__Host-sid` when the \
             cookie is Secure (https), `sid` over plain http; this server's is `{}`.",
        cookie.name
    );
    let scheme = SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
        cookie.name,
        &description,
    )));
    doc.components
        .get_or_insert_with(Default::default)
        .security_schemes
        .insert(SESSION_COOKIE.to_owned(), RefOr::T(scheme));
    doc
}

/// `GET /api/openapi.json`, answering `doc` (which gains this path).
pub fn router<S: Clone + Send + Sync + 'static>(mut doc: OpenApi) -> Router<S> {
    let answer = ResponseBuilder::new()
        .description("This description, OpenAPI 3.1")
        .content(
            "application/json",
            ContentBuilder::new()
                .schema(Some(ObjectBuilder::new().schema_type(Type::Object)))
                .build(),
        )
        .build();
    let operation = OperationBuilder::new()
        .operation_id(Some("openapi"))
        .summary(Some("This API's OpenAPI 3.1 description"))
        .tag("meta")
        .response(StatusCode::OK.as_str(), answer)
        .build();
    doc.paths
        .paths
        .insert(PATH.to_owned(), PathItem::new(HttpMethod::Get, operation));
    let json = Bytes::from(doc.to_json().expect("an OpenAPI document serializes"));
    Router::new().route(
        PATH,
        get(move || {
            let json = json.clone();
            async move { ([(header::CONTENT_TYPE, "application/json")], json) }
        }),
    )
}
