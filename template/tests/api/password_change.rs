//! Changing the password (`POST /api/auth/password`): confirmed with the
//! current one, throttled as login is, and every other session of the
//! account ends at once, so a browser signed in by whoever knew the old
//! password is signed out. The browser that changed it stays signed in,
//! under a new session id.

use reqwest::{Response, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{
    TestApp, cookie_pair, error_code, session_set_cookie,
    sign_in::{PASSWORD, new_email},
    spawn_app, spawn_app_with,
};

const NEW_PASSWORD: &str = "another long passphrase";

async fn change(app: &TestApp, current: &str, new: &str) -> Response {
    app.post_json(
        "/api/auth/password",
        &json!({ "current_password": current, "password": new }),
    )
    .await
}

#[tokio::test]
async fn a_new_password_signs_every_other_browser_out() {
    let app = spawn_app().await;
    let email = new_email();
    let before = app.sign_in_as(&email).await;
    let old_cookie = cookie_pair(&session_set_cookie(before.headers()).unwrap());
    let other = app.another_browser();
    other.sign_in_as(&email).await;
    assert_eq!(other.session().await.status(), StatusCode::OK);

    let changed = change(&app, PASSWORD, NEW_PASSWORD).await;
    assert_eq!(changed.status(), StatusCode::OK);
    let new_cookie = cookie_pair(&session_set_cookie(changed.headers()).expect("a new id"));
    assert_ne!(new_cookie, old_cookie);
    let body: Value = changed.json().await.unwrap();
    assert_eq!(body["user"]["email"], email.as_str());

    assert_eq!(
        error_code(other.session().await, StatusCode::UNAUTHORIZED).await,
        "unauthenticated"
    );
    assert_eq!(app.session().await.status(), StatusCode::OK);
    assert_eq!(
        app.session_with_cookie(&old_cookie).await.status(),
        StatusCode::UNAUTHORIZED,
        "the id before the change is dead"
    );
    let listed: Value = app.get("/api/auth/sessions").await.json().await.unwrap();
    assert_eq!(listed["sessions"].as_array().unwrap().len(), 1, "{listed}");

    let third = app.another_browser();
    assert_eq!(
        error_code(
            third.login(&email, PASSWORD).await,
            StatusCode::UNAUTHORIZED
        )
        .await,
        "invalid_credentials"
    );
    assert_eq!(
        third.login(&email, NEW_PASSWORD).await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn a_wrong_current_password_or_a_bad_new_one_changes_nothing() {
    let app = spawn_app().await;
    let email = new_email();
    app.sign_in_as(&email).await;
    let other = app.another_browser();
    other.sign_in_as(&email).await;

    let cases = [
        (
            "wrong current password",
            "not the password",
            NEW_PASSWORD,
            StatusCode::FORBIDDEN,
            "invalid_credentials",
        ),
        (
            "new password too short",
            PASSWORD,
            "short",
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_input",
        ),
    ];
    for (case, current, new, status, code) in cases {
        assert_eq!(
            error_code(change(&app, current, new).await, status).await,
            code,
            "{case}"
        );
    }
    let missing = app
        .post_json("/api/auth/password", &json!({ "password": NEW_PASSWORD }))
        .await;
    assert_eq!(missing.status(), StatusCode::UNPROCESSABLE_ENTITY);

    assert_eq!(other.session().await.status(), StatusCode::OK);
    assert_eq!(
        app.another_browser().login(&email, PASSWORD).await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn nobody_signed_in_changes_nothing() {
    let app = spawn_app().await;
    assert_eq!(
        error_code(
            change(&app, PASSWORD, NEW_PASSWORD).await,
            StatusCode::UNAUTHORIZED
        )
        .await,
        "unauthenticated"
    );
}

#[tokio::test]
async fn guessing_the_current_password_from_a_session_is_throttled() {
    let app = spawn_app_with(&[
        ("AUTH_ATTEMPTS_PER_ACCOUNT", "3"),
        ("AUTH_ATTEMPTS_WINDOW_SECS", "60"),
    ])
    .await;
    app.sign_in_as(&new_email()).await;
    let mut statuses = Vec::new();
    for _ in 0..5 {
        statuses.push(change(&app, "a wrong guess!", NEW_PASSWORD).await.status());
    }
    assert!(
        statuses.contains(&StatusCode::TOO_MANY_REQUESTS),
        "never throttled: {statuses:?}"
    );
    let throttled = change(&app, PASSWORD, NEW_PASSWORD).await;
    assert_eq!(
        error_code(throttled, StatusCode::TOO_MANY_REQUESTS).await,
        "too_many_attempts",
        "the right password waits too"
    );
}
