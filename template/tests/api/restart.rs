//! A restart of the backend (a deploy, a crash) loses nothing: accounts and
//! sessions live in the stores, not in the process.

use std::sync::Arc;

use crate::helpers::{cookie_pair, session_set_cookie, spawn_app, spawn_instance};
use reqwest::StatusCode;

#[tokio::test]
async fn users_and_sessions_survive_a_restart() {
    let mut app = spawn_app().await;
    let signup = app.signup("ada@example.com", "correct horse battery").await;
    assert_eq!(signup.status(), StatusCode::CREATED);
    let cookie = cookie_pair(&session_set_cookie(signup.headers()).expect("session cookie"));

    app.stop().await;
    let database = Arc::clone(&app.database);
    drop(app);
    let restarted = spawn_instance(&database, &[]).await;

    // The browser's cookie still names a live session...
    assert_eq!(
        restarted.session_with_cookie(&cookie).await.status(),
        StatusCode::OK
    );
    // ...and the account still signs in.
    assert_eq!(
        restarted
            .login("ada@example.com", "correct horse battery")
            .await
            .status(),
        StatusCode::OK
    );
}
