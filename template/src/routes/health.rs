//! Liveness and readiness probes.
//!
//! `/api/health` says the process answers at all (restart it if not);
//! `/api/ready` says its dependencies answer too (route traffic to it only
//! then). Keeping them apart stops an orchestrator from restarting a healthy
//! process because its database blinked.

use std::time::Duration;

use axum::{
    Json, Router,
    extract::State,
    http::{StatusCode, header},
    routing::get,
};
use serde_json::{Value, json};

{% if auth == "password" -%}
use crate::{database::Pool, session, session_store, state::AppState};
{%- else -%}
use crate::{database::Pool, oidc::Provider, session, session_store, state::AppState};
{%- endif %}

/// How long a readiness check waits for each dependency.
const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

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

async fn ready(
    State(db): State<Pool>,
    State(store): State<session_store::Store>,
{%- if auth == "oidc" %}
    State(provider): State<Provider>,
{%- endif %}
) -> (StatusCode, Json<Value>) {
    let database = check(async { sqlx::query("SELECT 1").execute(&db).await.map(|_| ()) }).await;
    let session_store = check(session::ping(&store)).await;
{%- if auth == "password" %}
    let checks = json!({ "database": database, "session_store": session_store });
    let down: Vec<&str> = [("database", database), ("session store", session_store)]
        .into_iter()
        .filter(|(_, state)| *state != "ok")
        .map(|(name, _)| name)
        .collect();
{%- else %}
    // The provider is not called here: discovery runs in the background
    // (see `oidc.rs`), and this says whether it has succeeded.
    let identity_provider = if provider.is_ready() { "ok" } else { "down" };
    let checks = json!({
        "database": database,
        "session_store": session_store,
        "identity_provider": identity_provider,
    });
    let provider_name = format!("identity provider {}", provider.issuer());
    let down: Vec<&str> = [
        ("database", database),
        ("session store", session_store),
        (provider_name.as_str(), identity_provider),
    ]
    .into_iter()
    .filter(|(_, state)| *state != "ok")
    .map(|(name, _)| name)
    .collect();
{%- endif %}
    if down.is_empty() {
        return (
            StatusCode::OK,
            Json(json!({ "status": "ready", "checks": checks })),
        );
    }
    let message = format!("not ready: {} down", down.join(" and "));
    let body = json!({
        "error": { "code": "not_ready", "message": message },
        "checks": checks,
    });
    (StatusCode::SERVICE_UNAVAILABLE, Json(body))
}

async fn check<E: std::fmt::Display>(probe: impl Future<Output = Result<(), E>>) -> &'static str {
    match tokio::time::timeout(CHECK_TIMEOUT, probe).await {
        Ok(Ok(())) => "ok",
        Ok(Err(err)) => {
            tracing::warn!(error = %err, "readiness check failed");
            "down"
        }
        Err(_) => "timeout",
    }
}
