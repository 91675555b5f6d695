//! A restart of the backend (a deploy, a crash) loses nothing: accounts and
//! sessions live in the stores, not in the process.

use std::sync::Arc;

use crate::helpers::{cookie_pair, session_set_cookie, spawn_app, spawn_instance};
use reqwest::StatusCode;
use serde_json::Value;

#[tokio::test]
async fn users_and_sessions_survive_a_restart() {
    let mut app = spawn_app().await;
    let signed_in = app.sign_in_as("ada@example.com").await;
    let cookie = cookie_pair(&session_set_cookie(signed_in.headers()).expect("session cookie"));
    let user: Value = signed_in.json().await.unwrap();

    app.stop().await;
    let database = Arc::clone(&app.database);
    drop(app);
    let restarted = spawn_instance(&database, &[]).await;

    // The browser's cookie still names a live session...
    assert_eq!(
        restarted.session_with_cookie(&cookie).await.status(),
        StatusCode::OK
    );
    // ...and the account still signs in, as the same user.
    let again: Value = restarted
        .another_browser()
        .sign_in_as("ada@example.com")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(again["user"]["id"], user["user"]["id"]);
}
