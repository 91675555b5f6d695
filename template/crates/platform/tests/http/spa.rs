//! A same-origin server serves the built frontend itself: files from
//! `STATIC_DIR`, `index.html` for client-side routes, and the API untouched.

use reqwest::StatusCode;
use tempfile::TempDir;

use crate::harness::{TestApp, error_code, spawn_app_with};

const INDEX: &str = "<!doctype html><title>app</title><script src=\"/app.js\"></script>";
const SCRIPT: &str = "fetch('/api/auth/session', { credentials: 'include' });";

/// A same-origin server with a built frontend of two files in `dist/`, a
/// project file beside it to keep out of reach, and the folder (deleted
/// when dropped).
async fn spawn_app() -> (TestApp, TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let dist = dir.path().join("dist");
    std::fs::create_dir(&dist).unwrap();
    std::fs::write(dist.join("index.html"), INDEX).unwrap();
    std::fs::write(dist.join("app.js"), SCRIPT).unwrap();
    std::fs::write(dir.path().join("Cargo.toml"), "[package]\n").unwrap();
    let static_dir = dist.to_str().unwrap().to_owned();
    let app = spawn_app_with(&[("FRONTEND_ORIGINS", ""), ("STATIC_DIR", &static_dir)]).await;
    (app, dir)
}

#[tokio::test]
async fn serves_the_frontend_and_index_html_for_client_routes() {
    let (app, _dir) = spawn_app().await;
    let index = INDEX;
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
    let (app, _dir) = spawn_app().await;
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
        .get(app.url("/api/auth/logout"))
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
    let app = spawn_app_with(&[("FRONTEND_ORIGINS", ""), ("STATIC_DIR", "")]).await;
    let response = app.client.get(app.url("/")).send().await.unwrap();
    assert_eq!(
        error_code(response, StatusCode::NOT_FOUND).await,
        "not_found"
    );
}

/// Path traversal against the static files, sent over a raw socket because
/// HTTP clients normalise `..` away before sending. Whatever the path, the
/// answer is the SPA's own `index.html` or a 4xx: never a file from outside
/// `STATIC_DIR` (Cargo.toml one level up, /etc/passwd), never a 5xx.
#[tokio::test]
async fn path_traversal_never_leaves_static_dir() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let (app, _dir) = spawn_app().await;
    let host = app.address.trim_start_matches("http://").to_owned();
    let index = INDEX;
    for path in [
        "/../Cargo.toml",
        "/../../../../etc/passwd",
        "/%2e%2e/Cargo.toml",
        "/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
        "/..%2fCargo.toml",
        "/..%5cCargo.toml",
        "/..\\Cargo.toml",
        "//etc/passwd",
        "/index.html%00.png",
        "/%ff%fe",
    ] {
        let mut stream = tokio::net::TcpStream::connect(&host).await.unwrap();
        let request = format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).await.unwrap();
        let text = String::from_utf8_lossy(&raw);
        let status: u16 = text
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("{path}: no status line in {text:?}"));
        let body = text.split_once("\r\n\r\n").map_or("", |(_, b)| b);
        assert!(
            (status == 200 && body == index) || (400..500).contains(&status),
            "{path}: {status} {body:?}"
        );
        assert!(
            !body.contains("[package]") && !body.contains("root:"),
            "{path} leaked a file: {body:?}"
        );
    }
}
