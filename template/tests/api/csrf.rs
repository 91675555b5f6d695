//! Cross-site request forgery: what CORS cannot stop, the CSRF layer must.
//!
//! A `text/plain` POST needs no preflight, so a hostile page can send it with
//! the victim's cookies. These requests carry the headers a browser sends.

use crate::helpers::{AUTH_POSTS, LOGGED_OUT, error_code, spawn_app};
use reqwest::StatusCode;

const EVIL: &str = "https://evil.example";

#[tokio::test]
async fn cross_site_text_plain_post_is_refused() {
    let app = spawn_app().await;
    for path in AUTH_POSTS {
        let response = app
            .client
            .post(app.url(path))
            .header("origin", EVIL)
            .header("sec-fetch-site", "cross-site")
            .header("content-type", "text/plain")
            .body(r#"{"email":"victim@example.com","password":"a long passphrase"}"#)
            .send()
            .await
            .unwrap();
        assert_eq!(
            error_code(response, StatusCode::FORBIDDEN).await,
            "cross_site_request",
            "{path}"
        );
    }
}

#[tokio::test]
async fn without_sec_fetch_site_the_origin_must_match() {
    // Older browsers, and plain http to hosts other than localhost, send no
    // Sec-Fetch-Site: the Origin must then be this host or a trusted origin.
    let app = spawn_app().await;
    let post_from = |origin: String| {
        app.client
            .post(app.url("/api/auth/logout"))
            .header("origin", origin)
            .send()
    };

    let evil = post_from(EVIL.to_owned()).await.unwrap();
    assert_eq!(
        error_code(evil, StatusCode::FORBIDDEN).await,
        "cross_site_request"
    );

    let same_host = post_from(app.address.clone()).await.unwrap();
    assert_eq!(same_host.status(), LOGGED_OUT);

    // PUBLIC_ORIGIN is trusted even when a proxy has rewritten Host.
    let public = post_from("http://localhost:8080".to_owned()).await.unwrap();
    assert_eq!(public.status(), LOGGED_OUT);
}

#[tokio::test]
async fn same_origin_and_non_browser_requests_pass() {
    let app = spawn_app().await;
    let same_origin = app
        .client
        .post(app.url("/api/auth/logout"))
        .header("sec-fetch-site", "same-origin")
        .header("origin", &app.address)
        .send()
        .await
        .unwrap();
    assert_eq!(same_origin.status(), LOGGED_OUT);

    // curl and server-to-server clients send neither header.
    let plain = app
        .client
        .post(app.url("/api/auth/logout"))
        .send()
        .await
        .unwrap();
    assert_eq!(plain.status(), LOGGED_OUT);
}

#[tokio::test]
async fn safe_methods_are_never_refused() {
    let app = spawn_app().await;
    let response = app
        .client
        .get(app.url("/api/auth/session"))
        .header("origin", EVIL)
        .header("sec-fetch-site", "cross-site")
        .send()
        .await
        .unwrap();
    // Past the CSRF layer (403), to the handler: no session, so 401.
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
}
