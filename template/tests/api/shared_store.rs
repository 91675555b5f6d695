//! Several instances behind a load balancer, sharing one store: a session
//! started on one instance is valid on all of them, and a logout on any of
//! them ends it everywhere at once.

use crate::helpers::{
    LOGGED_OUT, TestApp, cookie_pair, error_code, session_set_cookie, spawn_app, spawn_instance,
};
use reqwest::{Client, StatusCode};
use serde_json::Value;

/// Signs a user in through `app` and returns the session cookie.
async fn signed_in_cookie(app: &TestApp, email: &str) -> String {
    let login = app.sign_in_as(email).await;
    cookie_pair(&session_set_cookie(login.headers()).expect("sign-in sets the cookie"))
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

    // The account is shared too: B signs the same user in.
    let again: Value = b
        .another_browser()
        .sign_in_as("ada@example.com")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(again["user"]["id"], body["user"]["id"]);
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
    assert_eq!(logout.status(), LOGGED_OUT);

    assert_eq!(
        error_code(
            a.session_with_cookie(&cookie).await,
            StatusCode::UNAUTHORIZED
        )
        .await,
        "unauthenticated"
    );
}

#[tokio::test]
async fn an_account_deleted_through_one_instance_is_signed_out_on_all() {
    let a = spawn_app().await;
    let b = spawn_instance(&a.database, &[]).await;

    let on_a = signed_in_cookie(&a, "linus@example.com").await;
    let browser_on_b = b.another_browser();
    browser_on_b.sign_in_as("linus@example.com").await;
    assert_eq!(a.session_with_cookie(&on_a).await.status(), StatusCode::OK);

    assert_eq!(
        browser_on_b.delete_account().await.status(),
        StatusCode::NO_CONTENT
    );
    for instance in [&a, &b] {
        assert_eq!(
            error_code(
                instance.session_with_cookie(&on_a).await,
                StatusCode::UNAUTHORIZED
            )
            .await,
            "unauthenticated"
        );
    }
}
{%- if session_store == "database" %}

/// No instance caches sessions, and the session table follows the users
/// table (`ON DELETE CASCADE`): an account deleted behind the application's
/// back, in a SQL shell, is signed out everywhere at once too.
#[tokio::test]
async fn an_account_deleted_in_the_database_is_signed_out_on_all() {
    let a = spawn_app().await;
    let b = spawn_instance(&a.database, &[]).await;

    let cookie = signed_in_cookie(&a, "edsger@example.com").await;
    assert_eq!(
        b.session_with_cookie(&cookie).await.status(),
        StatusCode::OK
    );
    a.database.execute("DELETE FROM users").await;
    for instance in [&a, &b] {
        assert_eq!(
            instance.session_with_cookie(&cookie).await.status(),
            StatusCode::UNAUTHORIZED
        );
    }
}
{%- endif %}

#[tokio::test]
async fn a_session_ended_through_one_instance_is_refused_by_all_at_once() {
    let a = spawn_app().await;
    let b = spawn_instance(&a.database, &[]).await;
    let email = crate::helpers::sign_in::new_email();
    let on_a = signed_in_cookie(&a, &email).await;
    b.sign_in_as(&email).await;

    let listed: Value = b.get("/api/auth/sessions").await.json().await.unwrap();
    let sessions = listed["sessions"].as_array().unwrap();
    assert_eq!(sessions.len(), 2, "{listed}");
    let other = sessions.iter().find(|s| s["current"] == false).unwrap();
    let path = format!("/api/auth/sessions/{}", other["id"].as_str().unwrap());
    assert_eq!(b.delete(&path).await.status(), StatusCode::NO_CONTENT);

    assert_eq!(
        error_code(a.session_with_cookie(&on_a).await, StatusCode::UNAUTHORIZED).await,
        "unauthenticated"
    );
    assert_eq!(b.session().await.status(), StatusCode::OK);
}
