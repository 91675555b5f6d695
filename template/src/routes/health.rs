//! Liveness and readiness probes.
//!
//! `/api/health` says the process answers at all (restart it if not);
//! `/api/ready` says its dependencies answer too (route traffic to it only
//! then). A dependency of your own (a queue, another service) gets a line
//! in `ready`.

use axum::{
    Json, Router,
    extract::State,
    http::{StatusCode, header},
    routing::get,
};
{%- if auth == "oidc" %}
use platform::oidc::Provider;
{%- endif %}
use platform::{probes, session_store::Sessions};
use serde_json::Value;

use crate::{database::Pool, state::AppState};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/health", get(health))
        .route("/api/ready", get(ready))
}

/// Always the same answer, written once.
async fn health() -> ([(header::HeaderName, &'static str); 1], &'static str) {
    (
        [(header::CONTENT_TYPE, "application/json")],
        r#"{"status":"ok"}"#,
    )
}

/// 200 when every dependency answers, else 503 naming what is down.
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
