//! Liveness and readiness probes.
//!
//! `/api/health` says the process answers at all (restart it if not);
//! `/api/ready` says its dependencies answer too (route traffic to it only
//! then). Keeping them apart stops an orchestrator from restarting a healthy
//! process because its database blinked.

use std::time::Duration;

use axum::{Json, extract::State, http::StatusCode};
use serde_json::{Value, json};

use super::AppState;
use crate::session;

/// How long a readiness check waits for each dependency.
const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

pub async fn health() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

pub async fn ready(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    let database =
        check(async { sqlx::query("SELECT 1").execute(&state.db).await.map(|_| ()) }).await;
    let session_store = check(session::ping(&state.sessions)).await;
    let all_ok = database == "ok" && session_store == "ok";
    let status = if all_ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let body = json!({
        "status": if all_ok { "ready" } else { "unavailable" },
        "checks": { "database": database, "session_store": session_store },
    });
    (status, Json(body))
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
