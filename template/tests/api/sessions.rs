//! The signed-in user's list of sessions (`GET /api/auth/sessions`) and
//! ending one of them (`DELETE /api/auth/sessions/{id}`): every browser of
//! the account is listed, named by a handle that is not its cookie, and one
//! ended from another browser is refused at once.

use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{
    TestApp, assert_no_store, cookie_pair, error_code, session_set_cookie, sign_in::new_email,
    spawn_app,
};

/// The caller's sessions, as the API lists them.
async fn sessions(app: &TestApp) -> Vec<Value> {
    let listed = app.get("/api/auth/sessions").await;
    assert_eq!(listed.status(), StatusCode::OK);
    assert_no_store(&listed);
    let body: Value = listed.json().await.expect("JSON");
    body["sessions"].as_array().expect("a list").clone()
}

/// Two browsers signed in to one account on `app`, with the session
/// cookies they were given.
async fn two_browsers(app: &TestApp) -> (TestApp, Vec<String>) {
    let email = new_email();
    let other = app.another_browser();
    let mut cookies = Vec::new();
    for browser in [app, &other] {
        let signed_in = browser.sign_in_as(&email).await;
        let set_cookie = session_set_cookie(signed_in.headers()).expect("a session cookie");
        cookies.push(cookie_pair(&set_cookie));
    }
    (other, cookies)
}

#[tokio::test]
async fn every_browser_of_the_account_is_listed_and_the_caller_marked() {
    let app = spawn_app().await;
    let (other, cookies) = two_browsers(&app).await;
    // Someone else's session is not in the list.
    app.another_browser().sign_in_as(&new_email()).await;

    let listed = sessions(&app).await;
    assert_eq!(listed.len(), 2, "{listed:?}");
    let current: Vec<_> = listed.iter().filter(|s| s["current"] == true).collect();
    assert_eq!(current.len(), 1, "{listed:?}");
    for session in &listed {
        assert_eq!(session["user_agent"], platform::testing::USER_AGENT);
        for field in ["created_at", "last_seen_at"] {
            let at = session[field].as_str().expect(field);
            assert!(
                time::OffsetDateTime::parse(at, &time::format_description::well_known::Rfc3339)
                    .is_ok(),
                "{field}: {at}"
            );
        }
        let handle = session["id"].as_str().expect("a handle");
        for cookie in &cookies {
            assert!(
                !cookie.contains(handle),
                "the handle is the cookie: {cookie}"
            );
        }
    }
    let seen_by_other = sessions(&other).await;
    let own = seen_by_other.iter().find(|s| s["current"] == true).unwrap();
    assert_ne!(own["id"], current[0]["id"]);
    assert!(listed.iter().any(|s| s["id"] == own["id"]));
}

#[tokio::test]
async fn a_session_ended_from_another_browser_is_refused_at_once() {
    let app = spawn_app().await;
    let (other, _) = two_browsers(&app).await;
    // Twice: the second read is the one a cache would answer.
    for _ in 0..2 {
        assert_eq!(other.session().await.status(), StatusCode::OK);
    }
    let listed = sessions(&app).await;
    let others = listed.iter().find(|s| s["current"] == false).unwrap();
    let path = format!("/api/auth/sessions/{}", others["id"].as_str().unwrap());

    assert_eq!(app.delete(&path).await.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        error_code(other.session().await, StatusCode::UNAUTHORIZED).await,
        "unauthenticated"
    );
    assert_eq!(app.session().await.status(), StatusCode::OK);
    assert_eq!(sessions(&app).await.len(), 1);
    assert_eq!(
        error_code(app.delete(&path).await, StatusCode::NOT_FOUND).await,
        "not_found",
        "an ended session's handle names nothing"
    );
}

#[tokio::test]
async fn ending_the_callers_own_session_signs_it_out() {
    let app = spawn_app().await;
    let (other, _) = two_browsers(&app).await;
    let listed = sessions(&app).await;
    let own = listed.iter().find(|s| s["current"] == true).unwrap();

    let ended = app
        .delete(&format!(
            "/api/auth/sessions/{}",
            own["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(ended.status(), StatusCode::NO_CONTENT);
    let removal = session_set_cookie(ended.headers()).expect("the cookie is removed");
    assert!(removal.contains("Max-Age=0"), "{removal}");
    assert_eq!(app.session().await.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(other.session().await.status(), StatusCode::OK);
}

#[tokio::test]
async fn another_accounts_session_cannot_be_listed_or_ended() {
    let app = spawn_app().await;
    let victim = app.another_browser();
    victim.sign_in_as(&new_email()).await;
    let victims = sessions(&victim).await;
    let path = format!("/api/auth/sessions/{}", victims[0]["id"].as_str().unwrap());

    // Nobody signed in.
    for answer in [app.get("/api/auth/sessions").await, app.delete(&path).await] {
        assert_eq!(
            error_code(answer, StatusCode::UNAUTHORIZED).await,
            "unauthenticated"
        );
    }
    // Signed in as someone else: the handle names none of their sessions.
    app.sign_in_as(&new_email()).await;
    assert_eq!(
        error_code(app.delete(&path).await, StatusCode::NOT_FOUND).await,
        "not_found"
    );
    for junk in ["x", "%2e%2e", &"a".repeat(4000)] {
        let answer = app.delete(&format!("/api/auth/sessions/{junk}")).await;
        assert_eq!(answer.status(), StatusCode::NOT_FOUND, "{junk:.20}");
    }
    assert_eq!(victim.session().await.status(), StatusCode::OK);
}
