//! Limits that keep one request cheap, and the security headers every
//! response carries.

use crate::harness::{OPEN_JSON_ROUTE, error_code, spawn_app, spawn_app_with};
use reqwest::{Response, StatusCode};
use serde_json::json;

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

    let signed_in = app.sign_in_as("headers@example.com").await;
    assert_security_headers(&signed_in);

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
    let https = spawn_app_with(&[
        ("PUBLIC_ORIGIN", "https://api.example.com"),
        ("FRONTEND_ORIGINS", "https://app.example.com"),
    ])
    .await;
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
    let big = "x".repeat(1024 * 1024);
    let response = app
        .post_json(
            OPEN_JSON_ROUTE,
            &json!({ "email": "big@example.com", "big": big }),
        )
        .await;
    assert_security_headers(&response);
    assert_eq!(
        error_code(response, StatusCode::PAYLOAD_TOO_LARGE).await,
        "payload_too_large"
    );
}
