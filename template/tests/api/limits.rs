//! Limits that keep one request cheap, and the security headers every
//! response carries.

use crate::helpers::{error_code, spawn_app, spawn_app_with};
use reqwest::{Response, StatusCode};
use serde_json::{Value, json};

fn assert_security_headers(response: &Response) {
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .map(|v| v.to_str().unwrap().to_owned())
    };
    let status = response.status();
    assert_eq!(
        header("x-content-type-options").as_deref(),
        Some("nosniff"),
        "{status}"
    );
    assert_eq!(
        header("x-frame-options").as_deref(),
        Some("DENY"),
        "{status}"
    );
    assert_eq!(
        header("content-security-policy").as_deref(),
        Some("frame-ancestors 'none'"),
        "{status}"
    );
    assert_eq!(
        header("referrer-policy").as_deref(),
        Some("strict-origin-when-cross-origin"),
        "{status}"
    );
}

#[tokio::test]
async fn every_kind_of_response_carries_the_security_headers() {
    let app = spawn_app().await;
    let health = app.client.get(app.url("/api/health")).send().await.unwrap();
    assert_eq!(health.status(), StatusCode::OK);
    assert_security_headers(&health);

    let signup = app.signup("headers@example.com", "a long passphrase").await;
    assert_eq!(signup.status(), StatusCode::CREATED);
    assert_security_headers(&signup);

    let missing = app
        .client
        .get(app.url("/api/missing"))
        .send()
        .await
        .unwrap();
    assert_security_headers(&missing);

    let forged = app
        .client
        .post(app.url("/api/auth/logout"))
        .header("origin", "https://evil.example")
        .header("sec-fetch-site", "cross-site")
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    assert_security_headers(&forged);
}

#[tokio::test]
async fn strict_transport_security_only_when_browsers_reach_the_api_over_https() {
    let hsts = |response: &Response| {
        response
            .headers()
            .get("strict-transport-security")
            .map(|v| v.to_str().unwrap().to_owned())
    };
    let http = spawn_app().await;
    assert_eq!(hsts(&http.get("/api/health").await), None);

    // Behind a TLS-terminating proxy the connection here is plain http; the
    // header follows PUBLIC_ORIGIN, on every kind of answer.
{%- if cross_origin %}
    let https = spawn_app_with(&[
        ("PUBLIC_ORIGIN", "https://api.example.com"),
        ("FRONTEND_ORIGINS", "https://app.example.com"),
    ])
    .await;
{%- else %}
    let https = spawn_app_with(&[("PUBLIC_ORIGIN", "https://api.example.com")]).await;
{%- endif %}
    for path in ["/api/health", "/api/auth/session", "/api/missing"] {
        let response = https.get(path).await;
        assert_eq!(
            hsts(&response).as_deref(),
            Some("max-age=31536000"),
            "{path}: {}",
            response.status()
        );
    }
}

#[tokio::test]
async fn a_body_over_the_limit_is_refused_before_parsing() {
    let app = spawn_app().await;
    let password = "x".repeat(1024 * 1024);
    let response = app
        .post_json(
            "/api/auth/signup",
            &json!({ "email": "big@example.com", "password": password }),
        )
        .await;
    assert_security_headers(&response);
    assert_eq!(
        error_code(response, StatusCode::PAYLOAD_TOO_LARGE).await,
        "payload_too_large"
    );
}

#[tokio::test]
async fn password_bounds_are_checked_before_hashing() {
    let app = spawn_app_with(&[("AUTH_ATTEMPTS_PER_IP", "10000")]).await;
    let ok = app.signup("bounds@example.com", "a long passphrase").await;
    assert_eq!(ok.status(), StatusCode::CREATED);
    let passwords = &app.state.passwords;

    let cases = [
        (
            "/api/auth/signup",
            "x".repeat(7),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "/api/auth/signup",
            "x".repeat(129),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "/api/auth/signup",
            "é".repeat(129),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "/api/auth/login",
            "x".repeat(60_000),
            StatusCode::UNAUTHORIZED,
        ),
    ];
    for (path, password, status) in cases {
        let before = passwords.argon2_runs();
        let response = app
            .post_json(
                path,
                &json!({ "email": "bounds@example.com", "password": password }),
            )
            .await;
        assert_eq!(response.status(), status, "{path} {}", password.len());
        // Refused without running Argon2 (counted, not timed: a count does
        // not vary with the load on the machine).
        assert_eq!(
            passwords.argon2_runs(),
            before,
            "{path} with a {}-byte password ran Argon2",
            password.len()
        );
    }
    // The longest allowed password works, and is hashed.
    let before = passwords.argon2_runs();
    let longest = "é".repeat(128);
    let signup = app.signup("longest@example.com", &longest).await;
    assert_eq!(signup.status(), StatusCode::CREATED);
    assert_eq!(passwords.argon2_runs(), before + 1);
}

#[tokio::test]
async fn emails_are_normalised_before_storage_and_comparison() {
    let app = spawn_app().await;
    let signup = app
        .signup("  Mixed.Case@Example.COM\t", "a long passphrase")
        .await;
    assert_eq!(signup.status(), StatusCode::CREATED);
    let body: Value = signup.json().await.unwrap();
    assert_eq!(body["user"]["email"], "mixed.case@example.com");
    app.logout().await;

    let login = app
        .login("MIXED.CASE@example.com", "a long passphrase")
        .await;
    assert_eq!(login.status(), StatusCode::OK);
    let again = app
        .signup("mixed.case@EXAMPLE.com", "another passphrase")
        .await;
    assert_eq!(error_code(again, StatusCode::CONFLICT).await, "email_taken");

    for invalid in [
        "no-at-sign",
        "@example.com",
        "a@",
        "a@localhost",
        "a@.example.com",
        "a@example.com.",
        "a b@example.com",
        "a@b@example.com",
    ] {
        let response = app.signup(invalid, "a long passphrase").await;
        assert_eq!(
            error_code(response, StatusCode::UNPROCESSABLE_ENTITY).await,
            "invalid_input",
            "{invalid:?}"
        );
    }
}
