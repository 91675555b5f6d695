//! Errors tell an outage from a bug: only a dependency that could not answer
//! is a 503 (retry); a bug or bad data is a logged 500 with a generic body;
//! and every error is JSON, even one a handler gives as a bare status.

use axum::{
    Router,
    http::{StatusCode as AxumStatus, header},
    routing::get,
};
use reqwest::StatusCode;
use serde_json::{Value, json};
use tower_sessions::Session;

use crate::harness::{
    LOGGED_OUT, Store, TestState, error_code, new_email, spawn_app, spawn_app_on, spawn_app_with,
    spawn_app_with_api,
};

/// Handlers written in the common axum style, returning bare statuses.
fn bare_status_routes() -> Router<TestState> {
    Router::new()
        .route(
            "/api/test/bare-500",
            get(|| async { Err::<(), _>(AxumStatus::INTERNAL_SERVER_ERROR) }),
        )
        .route(
            "/api/test/bare-500-after-session-write",
            get(|session: Session| async move {
                session
                    .insert("k", "v")
                    .await
                    .map_err(|_| AxumStatus::BAD_GATEWAY)?;
                Err::<(), _>(AxumStatus::INTERNAL_SERVER_ERROR)
            }),
        )
        .route(
            "/api/test/bare-429",
            get(|| async { (AxumStatus::TOO_MANY_REQUESTS, [(header::RETRY_AFTER, "7")]) }),
        )
        .route(
            "/api/test/bare-404",
            get(|| async { AxumStatus::NOT_FOUND }),
        )
}

#[tokio::test]
async fn a_bare_status_from_a_handler_becomes_a_json_error_of_that_status() {
    let app = spawn_app_with_api(&[], bare_status_routes()).await;
    for (path, status, code) in [
        (
            "/api/test/bare-500",
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
        ),
        // Not the session store's 503: the session layer did not fail.
        (
            "/api/test/bare-500-after-session-write",
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
        ),
        (
            "/api/test/bare-429",
            StatusCode::TOO_MANY_REQUESTS,
            "too_many_requests",
        ),
        ("/api/test/bare-404", StatusCode::NOT_FOUND, "not_found"),
    ] {
        let response = app.get(path).await;
        assert_eq!(response.status(), status, "{path}");
        assert_eq!(
            response.headers()["content-type"],
            "application/json",
            "{path}"
        );
        assert_eq!(response.headers()["cache-control"], "no-store", "{path}");
        if status == StatusCode::TOO_MANY_REQUESTS {
            assert_eq!(response.headers()["retry-after"], "7", "headers are kept");
        }
        assert_eq!(error_code(response, status).await, code, "{path}");
    }
}

#[tokio::test]
async fn a_query_that_fails_for_a_reason_other_than_an_outage_is_a_generic_500() {
    let app = spawn_app().await;
    app.sign_in_as("ada@example.com").await;
    // A schema the code does not expect, as after a bad migration.
    app.database
        .execute("ALTER TABLE things RENAME COLUMN title TO headline")
        .await;

    let response = app.get("/api/things").await;
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body,
        json!({ "error": { "code": "internal", "message": "something went wrong" } }),
        "no SQL or column names reach the client"
    );
    // What does not touch that column is unaffected.
    assert_eq!(app.get("/api/health").await.status(), StatusCode::OK);
    assert_eq!(app.session().await.status(), StatusCode::OK);
    assert_eq!(app.logout().await.status(), LOGGED_OUT);
}

#[tokio::test]
async fn a_database_that_cannot_answer_in_time_is_a_503() {
    // The timeout also bounds opening the first connection at start-up,
    // which took over 200 ms on a CI machine compiling other projects.
    let app = spawn_app_with(&[
        ("DATABASE_MAX_CONNECTIONS", "1"),
        ("DATABASE_TIMEOUT_MS", "1000"),
    ])
    .await;
    app.sign_in_as("ada@example.com").await;

    // Every connection of the pool is busy elsewhere.
    let crate::harness::Db::Sqlite(pool) = &app.state.db else {
        unreachable!("the default store is SQLite")
    };
    let held = pool.acquire().await.unwrap();
    let response = app.get("/api/things").await;
    assert_eq!(response.headers()["cache-control"], "no-store");
    assert_eq!(
        error_code(response, StatusCode::SERVICE_UNAVAILABLE).await,
        "unavailable"
    );
    drop(held);
    assert_eq!(app.get("/api/things").await.status(), StatusCode::OK);
}

#[tokio::test]
async fn the_session_layers_own_failed_save_is_a_json_503() {
    for (store, moved) in [
        (Store::Sqlite, "tower_sessions_moved"),
        (Store::Postgres, "session_moved"),
    ] {
        let app = spawn_app_on(store, &[]).await;
        // The store can no longer write sessions; everything else works.
        app.database
            .execute(&format!(
                "ALTER TABLE {} RENAME TO {moved}",
                store.session_table()
            ))
            .await;

        // The handler succeeds; saving the new session it wrote then fails.
        let response = app.login_as(&new_email()).await;
        assert_failed_save(response).await;
    }
}

async fn assert_failed_save(response: reqwest::Response) {
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(response.headers()["content-type"], "application/json");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "unavailable", "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("session store"),
        "{body}"
    );
}
