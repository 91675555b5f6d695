//! The readiness probe's checks and its answer.
//!
//! `/api/health` says the process answers at all (restart it if not);
//! `/api/ready` says its dependencies answer too (route traffic to it only
//! then). Keeping them apart stops an orchestrator from restarting a healthy
//! process because its database blinked. The application's probe routes
//! list what to check; this runs each check with a deadline and writes the
//! answer: 200 with every check's state, or 503 naming what is down.

use std::{fmt::Display, future::Future, time::Duration};

use axum::{Json, http::StatusCode};
use serde_json::{Map, Value, json};
use sqlx::Connection;

/// How long a readiness check waits for each dependency.
const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

/// The states of the checks run so far.
#[derive(Debug, Default)]
pub struct Readiness {
    /// `(key in the answer, name in the message, state)`.
    checks: Vec<(&'static str, String, &'static str)>,
}

impl Readiness {
    /// Runs `probe` with a deadline and records `ok`, `down` or `timeout`
    /// under `key` (named in the message with spaces for underscores).
    pub async fn check<E: Display>(
        &mut self,
        key: &'static str,
        probe: impl Future<Output = Result<(), E>>,
    ) {
        let state = match tokio::time::timeout(CHECK_TIMEOUT, probe).await {
            Ok(Ok(())) => "ok",
            Ok(Err(err)) => {
                tracing::warn!(check = key, error = %err, "readiness check failed");
                "down"
            }
            Err(_) => "timeout",
        };
        self.checks.push((key, key.replace('_', " "), state));
    }

    /// Records a state known without a round trip (a background task's
    /// progress, say), with the name the message gives it.
    pub fn record(&mut self, key: &'static str, name: impl Into<String>, up: bool) {
        self.checks
            .push((key, name.into(), if up { "ok" } else { "down" }));
    }

    /// 200 `{"status":"ready","checks":{...}}`, or 503 with a JSON error
    /// naming what is down, and the checks.
    pub fn answer(self) -> (StatusCode, Json<Value>) {
        let checks: Map<String, Value> = self
            .checks
            .iter()
            .map(|(key, _, state)| ((*key).to_owned(), json!(state)))
            .collect();
        let down: Vec<&str> = self
            .checks
            .iter()
            .filter(|(_, _, state)| *state != "ok")
            .map(|(_, name, _)| name.as_str())
            .collect();
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
}

/// One round trip to the database on a pooled connection.
pub async fn ping_database<DB: sqlx::Database>(pool: &sqlx::Pool<DB>) -> Result<(), sqlx::Error> {
    pool.acquire().await?.ping().await
}
