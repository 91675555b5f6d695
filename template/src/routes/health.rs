//! Liveness and readiness probes.
//!
//! `/api/health` says the process answers at all (restart it if not);
//! `/api/ready` says its dependencies answer too (route traffic to it only
//! then). A dependency of your own (a queue, another service) gets a line
//! in `ready`.

use axum::{Json, extract::State, http::StatusCode};
{%- if auth == "oidc" %}
use platform::oidc::Provider;
{%- endif %}
use platform::{
    openapi::{NotReady, Ready},
    probes,
    session_store::Sessions,
};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{database::Pool, state::AppState};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(health))
        .routes(routes!(ready))
}

/// `{"status":"ok"}`
#[derive(Serialize, ToSchema)]
struct Health {
    #[schema(pattern = "^ok$")]
    status: &'static str,
}

/// The process answers.
#[utoipa::path(get, path = "/api/health", tag = "probes", responses(
    (status = 200, description = "Alive", body = Health),
))]
async fn health() -> Json<Health> {
    Json(Health { status: "ok" })
}

/// 200 when every dependency answers, else 503 naming what is down.
#[utoipa::path(get, path = "/api/ready", tag = "probes", responses(
    (status = 200, description = "Every dependency answers", body = Ready),
    (status = 503, description = "A dependency is down: `not_ready`, naming it", body = NotReady),
))]
async fn ready(
    State(db): State<Pool>,
    State(sessions): State<Sessions>,
{%- if auth == "oidc" %}
    State(provider): State<Provider>,
{%- endif %}
) -> (StatusCode, Json<Value>) {
    let mut readiness = probes::Readiness::default();
    readiness
        .check("database", probes::ping_database(&db))
        .await;
    readiness.check("session_store", sessions.ping()).await;
{%- if auth == "oidc" %}
    // The provider is not called here: discovery runs in the background,
    // and this says whether it has succeeded.
    readiness.record(
        "identity_provider",
        format!("identity provider {}", provider.issuer()),
        provider.is_ready(),
    );
{%- endif %}
    readiness.answer()
}
