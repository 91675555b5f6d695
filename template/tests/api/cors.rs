//! CORS for the configured frontend origin, on every kind of response.

use reqwest::{Response, StatusCode};
{%- if auth == "password" %}
use serde_json::json;
{%- endif %}

{% if auth == "password" -%}
use crate::helpers::spawn_app_with;
{% endif -%}
use crate::helpers::{FRONTEND, error_code, sign_in::OPEN_JSON_ROUTE, spawn_app};

fn assert_cors_allows_frontend(response: &Response) {
    let headers = response.headers();
    assert_eq!(
        headers
            .get("access-control-allow-origin")
            .map(|v| v.to_str().unwrap()),
        Some(FRONTEND),
        "status {}",
        response.status()
    );
    assert_eq!(
        headers
            .get("access-control-allow-credentials")
            .map(|v| v.to_str().unwrap()),
        Some("true")
    );
    let vary = headers
        .get_all("vary")
        .iter()
        .map(|v| v.to_str().unwrap().to_lowercase())
        .collect::<Vec<_>>()
        .join(",");
    assert!(
        vary.contains("origin"),
        "responses must vary on Origin: {vary}"
    );
}

#[tokio::test]
async fn preflight_from_the_frontend_is_allowed() {
    let app = spawn_app().await;
    let response = app.preflight(OPEN_JSON_ROUTE, FRONTEND, "POST").await;
    assert!(response.status().is_success(), "{}", response.status());
    assert_cors_allows_frontend(&response);
    let header = |name: &str| response.headers()[name].to_str().unwrap().to_lowercase();
    assert!(header("access-control-allow-methods").contains("post"));
    assert!(header("access-control-allow-headers").contains("content-type"));
    assert_eq!(header("access-control-max-age"), "600");
}

#[tokio::test]
async fn credentialed_responses_carry_cors_headers_errors_included() {
    let app = spawn_app().await;
    let get = |path| app.get_from(path, FRONTEND);

    let unauthenticated = get("/api/auth/session").await;
    assert_cors_allows_frontend(&unauthenticated);
    assert_eq!(
        error_code(unauthenticated, StatusCode::UNAUTHORIZED).await,
        "unauthenticated"
    );

    let missing = get("/api/nowhere").await;
    assert_cors_allows_frontend(&missing);
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);

    let bad_body = app
        .client
        .post(app.url(OPEN_JSON_ROUTE))
        .header("origin", FRONTEND)
        .header("sec-fetch-site", "same-site")
        .header("content-type", "application/json")
        .body("{")
        .send()
        .await
        .unwrap();
    assert_cors_allows_frontend(&bad_body);
    assert_eq!(bad_body.status(), StatusCode::BAD_REQUEST);

    // Signed in, the frontend origin reads the session.
    app.sign_in_as("cors@example.com").await;
    let session = get("/api/auth/session").await;
    assert_cors_allows_frontend(&session);
    assert_eq!(session.status(), StatusCode::OK);
}

#[tokio::test]
async fn other_origins_get_no_allow_origin() {
    let app = spawn_app().await;
    for origin in [
        "https://evil.example",
        "http://localhost:5174",
        "https://localhost:5173",
        "null",
    ] {
        let preflight = app.preflight("/api/auth/session", origin, "GET").await;
        let get = app.get_from("/api/auth/session", origin).await;
        for response in [preflight, get] {
            let allowed = response.headers().get("access-control-allow-origin");
            assert!(allowed.is_none(), "{origin}: {allowed:?}");
        }
    }
}

{%- if auth == "password" %}

#[tokio::test]
async fn the_frontend_can_read_retry_after_on_a_429() {
    let app = spawn_app_with(&[("AUTH_ATTEMPTS_PER_IP", "1")]).await;
    let login = || {
        app.client
            .post(app.url("/api/auth/login"))
            .header("origin", FRONTEND)
            .header("sec-fetch-site", "same-site")
            .json(&json!({ "email": "slow@example.com", "password": "a long passphrase" }))
            .send()
    };
    assert_eq!(login().await.unwrap().status(), StatusCode::UNAUTHORIZED);
    let throttled = login().await.unwrap();
    assert_cors_allows_frontend(&throttled);
    assert!(throttled.headers().contains_key("retry-after"));
    // Without this, page code sees `null` for every header but the
    // CORS-safelisted ones (Content-Type and a few others).
    let exposed = throttled
        .headers()
        .get("access-control-expose-headers")
        .map(|v| v.to_str().unwrap().to_lowercase());
    assert_eq!(exposed.as_deref(), Some("retry-after"));
    assert_eq!(
        error_code(throttled, StatusCode::TOO_MANY_REQUESTS).await,
        "too_many_attempts"
    );
}
{%- endif %}
