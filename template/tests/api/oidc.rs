//! Signing in through an OpenID provider, over real HTTP, as the example
//! frontend does it: start at the API, approve at the provider (the
//! platform's `oidc::test_provider`), relay its answer to the callback. The
//! failures are in `oidc_hostile.rs`.

use std::collections::HashMap;

use reqwest::{StatusCode, Url};
use serde_json::{Value, json};

use platform::oidc::test_provider::{CLIENT_ID, TestProvider};

use crate::helpers::{
    TestApp, cookie_pair, error_code, session_set_cookie, sign_in::approve, spawn_app_with,
};

/// The page the tests' settings name as `OIDC_REDIRECT_URL` (its default).
const REDIRECT_PAGE: &str = "{% if cross_origin %}http://localhost:5173/{% else %}http://localhost:8080/{% endif %}";

/// Where the provider sends the browser back to after logout.
const AFTER_LOGOUT: &str = "{% if cross_origin %}http://localhost:5173{% else %}http://localhost:8080{% endif %}/signed-out";

/// The app, on a provider of this test's own.
async fn app_on(provider: &TestProvider, overrides: &[(&str, &str)]) -> TestApp {
    let mut env = vec![("OIDC_ISSUER_URL", provider.issuer())];
    env.extend_from_slice(overrides);
    spawn_app_with(&env).await
}

fn query(url: &str) -> HashMap<String, String> {
    Url::parse(url)
        .expect("URL")
        .query_pairs()
        .into_owned()
        .collect()
}

async fn signed_in_user(app: &TestApp) -> Value {
    let session = app.session().await;
    assert_eq!(session.status(), StatusCode::OK);
    session.json::<Value>().await.unwrap()["user"].clone()
}

async fn assert_signed_out(app: &TestApp) {
    assert_eq!(
        error_code(app.session().await, StatusCode::UNAUTHORIZED).await,
        "unauthenticated"
    );
}

#[tokio::test]
async fn sign_in_read_the_session_log_out_and_sign_in_again() {
    let provider = TestProvider::start().await;
    let app = app_on(
        &provider,
        &[("OIDC_POST_LOGOUT_REDIRECT_URL", AFTER_LOGOUT)],
    )
    .await;
    assert_signed_out(&app).await;

    let login = app.begin_login(Some("/notes/7?tab=all#top")).await;
    // The authorization request of the code flow with PKCE, state and nonce.
    assert!(
        login
            .authorization_url
            .starts_with(&format!("{}/authorize?", provider.issuer())),
        "{}",
        login.authorization_url
    );
    let request = query(&login.authorization_url);
    assert_eq!(request["response_type"], "code");
    assert_eq!(request["client_id"], CLIENT_ID);
    assert_eq!(request["code_challenge_method"], "S256");
    assert!(request["code_challenge"].len() >= 43, "{request:?}");
    assert!(request["state"].len() >= 16, "{request:?}");
    assert!(request["nonce"].len() >= 16, "{request:?}");
    let scopes: Vec<&str> = request["scope"].split(' ').collect();
    for scope in ["openid", "email", "profile"] {
        assert!(scopes.contains(&scope), "{scopes:?}");
    }
    // The provider sends the browser back to the frontend page, never to
    // the API (see the project's README).
    assert_eq!(request["redirect_uri"], REDIRECT_PAGE);
    let pending_cookie = login.cookie.clone().expect("the pending login's session");
    // A started login signs no one in.
    assert_signed_out(&app).await;

    let params = approve(&login.authorization_url, "ada@example.com", None).await;
    assert_eq!(params["iss"], provider.issuer());
    let callback = app.oidc_callback(&params, login.cookie.as_deref()).await;
    assert_eq!(callback.status(), StatusCode::OK);
    assert_eq!(callback.headers()["cache-control"], "no-store");
    // A new session id at sign-in (no session fixation).
    let session_cookie =
        cookie_pair(&session_set_cookie(callback.headers()).expect("a session cookie"));
    assert_ne!(session_cookie, pending_cookie);
    let body: Value = callback.json().await.unwrap();
    assert_eq!(body["return_to"], "/notes/7?tab=all#top");
    assert_eq!(body["user"]["email"], "ada@example.com");
    assert_eq!(body["user"]["name"], "Name of ada@example.com");
    assert!(body["user"]["id"].is_i64(), "{body}");
    // Like a conforming provider, the test provider returns the email and
    // name from UserInfo only, not in the ID token.
    assert_eq!(provider.user_info_requests(), 1);
    // No token ever reaches the browser.
    let text = body.to_string();
    assert!(!text.contains("token") && !text.contains("eyJ"), "{text}");

    let user = signed_in_user(&app).await;
    assert_eq!(user["id"], body["user"]["id"]);
    assert_eq!(user["email"], "ada@example.com");
    // The cookie that held the pending login is not a signed-in session.
    assert_eq!(
        app.session_with_cookie(&pending_cookie).await.status(),
        StatusCode::UNAUTHORIZED
    );

    // Logout: the server-side session is gone, and the SPA gets the
    // provider's logout URL to go to.
    let logout = app.logout().await;
    assert_eq!(logout.status(), StatusCode::OK);
    let logout: Value = logout.json().await.unwrap();
    let end_session_url = logout["end_session_url"].as_str().expect("end_session_url");
    assert!(
        end_session_url.starts_with(&format!("{}/logout?", provider.issuer())),
        "{end_session_url}"
    );
    let end_session = query(end_session_url);
    assert_eq!(end_session["client_id"], CLIENT_ID);
    assert_eq!(end_session["post_logout_redirect_uri"], AFTER_LOGOUT);
    // The browser never holds the ID token, not even on its way out.
    assert!(
        !end_session.contains_key("id_token_hint"),
        "{end_session_url}"
    );
    assert_signed_out(&app).await;
    assert_eq!(
        app.session_with_cookie(&session_cookie).await.status(),
        StatusCode::UNAUTHORIZED
    );
    // The browser goes there; the provider ends its own session.
    let visited = reqwest::get(end_session_url).await.unwrap();
    assert_eq!(visited.status(), StatusCode::OK);
    assert_eq!(provider.end_sessions().len(), 1);

    // Signing in again finds the same user.
    let again: Value = app
        .sign_in_as("ada@example.com")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(again["user"]["id"], body["user"]["id"]);
    assert_eq!(again["return_to"], "/");
    assert_eq!(signed_in_user(&app).await["id"], body["user"]["id"]);
}

#[tokio::test]
async fn a_provider_that_requires_the_logout_hint_gets_it_when_configured() {
    let provider = TestProvider::start().await;
    let app = app_on(&provider, &[("OIDC_LOGOUT_ID_TOKEN_HINT", "true")]).await;
    app.sign_in_new_user().await;
    let logout: Value = app.logout().await.json().await.unwrap();
    let end_session = query(logout["end_session_url"].as_str().expect("end_session_url"));
    let hint = &end_session["id_token_hint"];
    assert_eq!(hint.split('.').count(), 3, "an ID token: {hint}");
    assert_eq!(end_session["client_id"], CLIENT_ID);
}

/// Providers that put the claims in the ID token too (many do) are not
/// asked again.
#[tokio::test]
async fn claims_in_the_id_token_need_no_user_info_request() {
    let provider = TestProvider::start().await;
    provider.claims_in_id_token(true);
    let app = app_on(&provider, &[]).await;
    let body: Value = app
        .sign_in_as("ada@example.com")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body["user"]["email"], "ada@example.com");
    assert_eq!(body["user"]["name"], "Name of ada@example.com");
    assert_eq!(provider.user_info_requests(), 0);
}

#[tokio::test]
async fn without_an_end_session_endpoint_logout_is_a_204() {
    let provider = TestProvider::start().await;
    provider.offer_end_session(false);
    let app = app_on(&provider, &[]).await;
    app.sign_in_new_user().await;
    let logout = app.logout().await;
    assert_eq!(logout.status(), StatusCode::NO_CONTENT);
    assert_signed_out(&app).await;
}

#[tokio::test]
async fn a_public_client_signs_in_with_pkce_alone() {
    let provider = TestProvider::start_public().await;
    // An empty value: not set (helpers/sign_in.rs), so no client secret.
    let app = app_on(&provider, &[("OIDC_CLIENT_SECRET", "")]).await;
    let body: Value = app
        .sign_in_as("grace@example.com")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body["user"]["email"], "grace@example.com");
    assert_eq!(signed_in_user(&app).await["email"], "grace@example.com");
    assert!(provider.refusals().is_empty(), "{:?}", provider.refusals());
}

#[tokio::test]
async fn return_to_must_be_a_path_on_this_site() {
    let provider = TestProvider::start().await;
    let app = app_on(&provider, &[]).await;
    for return_to in [
        "https://evil.example/",
        "http://localhost:5173/",
        "//evil.example",
        "//evil.example/path",
        "/\\evil.example",
        "\\\\evil.example",
        "/notes\\..\\x",
        "notes",
        "",
        "javascript:alert(1)",
        "/notes\r\nSet-Cookie: x=y",
        "/notes\u{0}",
        "/\tevil",
    ] {
        let started = app.oidc_start(&json!({ "return_to": return_to })).await;
        assert_eq!(
            error_code(started, StatusCode::BAD_REQUEST).await,
            "invalid_return_to",
            "{return_to:?}"
        );
    }
    let wrong_type = app.oidc_start(&json!({ "return_to": 7 })).await;
    assert!(
        wrong_type.status().is_client_error(),
        "{}",
        wrong_type.status()
    );
    assert_signed_out(&app).await;

    // Relative paths are kept as given and handed back after sign-in.
    for return_to in ["/", "/notes", "/notes/1?x=1&y=%2F#frag"] {
        let browser = app.another_browser();
        let login = browser.begin_login(Some(return_to)).await;
        let params = approve(&login.authorization_url, "ada@example.com", None).await;
        let callback = browser
            .oidc_callback(&params, login.cookie.as_deref())
            .await;
        assert_eq!(callback.status(), StatusCode::OK);
        let body: Value = callback.json().await.unwrap();
        assert_eq!(body["return_to"], return_to);
    }
}

#[tokio::test]
async fn users_are_keyed_by_issuer_and_subject_not_by_email() {
    let provider = TestProvider::start().await;
    let app = app_on(&provider, &[]).await;
    let sign_in = |email: &'static str, subject: &'static str| {
        let browser = app.another_browser();
        async move {
            let login = browser.begin_login(None).await;
            let params = approve(&login.authorization_url, email, Some(subject)).await;
            let callback = browser
                .oidc_callback(&params, login.cookie.as_deref())
                .await;
            assert_eq!(callback.status(), StatusCode::OK);
            let body: Value = callback.json().await.unwrap();
            assert_eq!(signed_in_user(&browser).await["id"], body["user"]["id"]);
            body["user"].clone()
        }
    };

    let first = sign_in("ada@example.com", "subject-a").await;
    // The same email from another subject is another person.
    let other = sign_in("ada@example.com", "subject-b").await;
    assert_ne!(other["id"], first["id"]);
    // The same subject with a changed email is the same person; the email
    // shown is the provider's latest.
    let renamed = sign_in("ada.lovelace@example.com", "subject-a").await;
    assert_eq!(renamed["id"], first["id"]);
    assert_eq!(renamed["email"], "ada.lovelace@example.com");
}

#[tokio::test]
async fn starting_again_replaces_the_pending_login() {
    let provider = TestProvider::start().await;
    let app = app_on(&provider, &[]).await;
    let first = app.begin_login(Some("/first")).await;
    let second = app.begin_login(Some("/second")).await;
    let cookie = second.cookie.or(first.cookie);
    let params = approve(&second.authorization_url, "ada@example.com", None).await;
    let callback = app.oidc_callback(&params, cookie.as_deref()).await;
    assert_eq!(callback.status(), StatusCode::OK);
    let body: Value = callback.json().await.unwrap();
    assert_eq!(body["return_to"], "/second");
}

#[tokio::test]
async fn ready_once_the_provider_is_known() {
    let provider = TestProvider::start().await;
    let app = app_on(&provider, &[]).await;
    // The first sign-in waits out discovery, if it is still running.
    app.sign_in_new_user().await;
    let ready = app.get("/api/ready").await;
    assert_eq!(ready.status(), StatusCode::OK);
    assert!(provider.discovery_fetches() >= 1);
}
