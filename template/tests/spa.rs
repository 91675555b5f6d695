//! A same-origin project serves the built frontend itself: files from
//! `STATIC_DIR`, `index.html` for client-side routes, and the API untouched.

mod common;

use common::{error_code, spawn_app, spawn_app_with};
use reqwest::StatusCode;

#[tokio::test]
async fn serves_the_frontend_and_index_html_for_client_routes() {
    let app = spawn_app().await;
    let index = std::fs::read_to_string("frontend/index.html").unwrap();
    for path in ["/", "/index.html", "/settings", "/users/42/profile"] {
        let response = app.client.get(app.url(path)).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        assert!(
            response.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/html"),
            "{path}"
        );
        assert_eq!(response.text().await.unwrap(), index, "{path}");
    }
    let script = app.client.get(app.url("/app.js")).send().await.unwrap();
    assert_eq!(script.status(), StatusCode::OK);
    assert!(
        script
            .text()
            .await
            .unwrap()
            .contains("credentials: 'include'")
    );
}

#[tokio::test]
async fn unknown_api_paths_stay_json_404s() {
    let app = spawn_app().await;
    for path in ["/api", "/api/", "/api/nope", "/api/auth/nope/deeper"] {
        let response = app.client.get(app.url(path)).send().await.unwrap();
        assert_eq!(
            error_code(response, StatusCode::NOT_FOUND).await,
            "not_found",
            "{path}"
        );
    }
    let health = app.client.get(app.url("/api/health")).send().await.unwrap();
    assert_eq!(health.status(), StatusCode::OK);
    // A known path with the wrong method is still the API's 405.
    let wrong_method = app
        .client
        .get(app.url("/api/auth/login"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        error_code(wrong_method, StatusCode::METHOD_NOT_ALLOWED).await,
        "method_not_allowed"
    );
}

#[tokio::test]
async fn without_static_dir_only_the_api_answers() {
    let app = spawn_app_with(&[("STATIC_DIR", "")]).await;
    let response = app.client.get(app.url("/")).send().await.unwrap();
    assert_eq!(
        error_code(response, StatusCode::NOT_FOUND).await,
        "not_found"
    );
}
