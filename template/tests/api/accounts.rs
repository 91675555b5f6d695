//! Deleting an account (`DELETE /api/auth/account`): its data goes with it,
//! and every session it has ends at once, in every browser. Sessions carry a
//! copy of their user, so this is what keeps a deleted account from staying
//! signed in anywhere.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{error_code, session_set_cookie, sign_in::new_email, spawn_app};

#[tokio::test]
async fn deleting_the_account_ends_every_one_of_its_sessions() {
    let app = spawn_app().await;
    let email = new_email();
    let first: Value = app.sign_in_as(&email).await.json().await.expect("JSON");
    let other_browser = app.another_browser();
    other_browser.sign_in_as(&email).await;
    for browser in [&app, &other_browser] {
        // Twice: the second read is the one a cache would answer.
        for _ in 0..2 {
            assert_eq!(browser.session().await.status(), StatusCode::OK);
        }
    }

    let deleted = app.delete_account().await;
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    let removal = session_set_cookie(deleted.headers()).expect("the cookie is removed");
    assert!(removal.contains("Max-Age=0"), "{removal}");
    for browser in [&app, &other_browser] {
        assert_eq!(
            error_code(browser.session().await, StatusCode::UNAUTHORIZED).await,
            "unauthenticated"
        );
    }
    // Signing in again with the same identity starts a new account.
    let again: Value = app.sign_in_as(&email).await.json().await.expect("JSON");
    assert_ne!(again["user"]["id"], first["user"]["id"], "{again}");
}

#[tokio::test]
async fn a_cross_site_request_cannot_delete_an_account() {
    let app = spawn_app().await;
    app.sign_in_new_user().await;
    let forged = app
        .client
        .delete(app.url("/api/auth/account"))
        .header("origin", "https://evil.example")
        .header("sec-fetch-site", "cross-site")
        .json(&json!({}))
        .send()
        .await
        .expect("request sent");
    assert_eq!(
        error_code(forged, StatusCode::FORBIDDEN).await,
        "cross_site_request"
    );
    assert_eq!(app.session().await.status(), StatusCode::OK);
}

#[tokio::test]
async fn nobody_signed_in_deletes_nothing() {
    let app = spawn_app().await;
    assert_eq!(
        error_code(app.delete_account().await, StatusCode::UNAUTHORIZED).await,
        "unauthenticated"
    );
}
