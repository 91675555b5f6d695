//! Several instances behind a load balancer, sharing one store: a session
//! started on one instance is valid on all of them, and a logout on any of
//! them ends it everywhere at once.

use crate::helpers::{
    TestApp, cookie_pair, error_code, session_set_cookie, spawn_app, spawn_instance,
};
use reqwest::{Client, StatusCode};
use serde_json::Value;

/// Signs a new account up through `app` and returns its session cookie.
async fn signed_in_cookie(app: &TestApp, email: &str) -> String {
    let signup = app.signup(email, "correct horse battery").await;
    assert_eq!(signup.status(), StatusCode::CREATED);
    let login = app.login(email, "correct horse battery").await;
    assert_eq!(login.status(), StatusCode::OK);
    cookie_pair(&session_set_cookie(login.headers()).expect("login sets the cookie"))
}

#[tokio::test]
async fn a_login_through_one_instance_is_seen_by_another() {
    let a = spawn_app().await;
    let b = spawn_instance(&a.database, &[]).await;

    let cookie = signed_in_cookie(&a, "ada@example.com").await;
    let on_b = b.session_with_cookie(&cookie).await;
    assert_eq!(on_b.status(), StatusCode::OK);
    let body: Value = on_b.json().await.unwrap();
    assert_eq!(body["user"]["email"], "ada@example.com");

    // The account is shared too: B can sign it in.
    assert_eq!(
        b.login("ada@example.com", "correct horse battery")
            .await
            .status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn a_logout_through_one_instance_ends_the_session_on_all() {
    let a = spawn_app().await;
    let b = spawn_instance(&a.database, &[]).await;

    let cookie = signed_in_cookie(&a, "grace@example.com").await;
    assert_eq!(
        a.session_with_cookie(&cookie).await.status(),
        StatusCode::OK
    );

    let logout = Client::new()
        .post(b.url("/api/auth/logout"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(logout.status(), StatusCode::NO_CONTENT);

    assert_eq!(
        error_code(
            a.session_with_cookie(&cookie).await,
            StatusCode::UNAUTHORIZED
        )
        .await,
        "unauthenticated"
    );
}
