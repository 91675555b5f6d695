//! A same-origin server serves the built frontend itself: files from
//! `STATIC_DIR`, `index.html` for client-side routes, and the API untouched.

use reqwest::StatusCode;
use tempfile::TempDir;

use crate::harness::{TestApp, error_code, spawn_app_with};

const INDEX: &str = "<!doctype html><title>app</title><script type=\"module\" src=\"/assets/app-1a2b3c4d.js\"></script>";
const SCRIPT: &str = "fetch('/api/auth/session', { credentials: 'include' });";

/// A same-origin server with a built frontend of two files in `dist/`, a
/// project file beside it to keep out of reach, and the folder (deleted
/// when dropped).
async fn spawn_app() -> (TestApp, TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let dist = dir.path().join("dist");
    std::fs::create_dir(&dist).unwrap();
    std::fs::write(dist.join("index.html"), INDEX).unwrap();
    std::fs::create_dir(dist.join("assets")).unwrap();
    std::fs::write(dist.join("assets").join("app-1a2b3c4d.js"), SCRIPT).unwrap();
    std::fs::write(dist.join("favicon.ico"), "icon").unwrap();
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
    let script = app
        .client
        .get(app.url("/assets/app-1a2b3c4d.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(script.status(), StatusCode::OK);
    assert!(
        script
            .text()
            .await
            .unwrap()
            .contains("credentials: 'include'")
    );
}

/// After a redeploy an open tab asks for the old build's files: a 404, not
/// the page (which the browser would refuse as a module script). A
/// navigation to a path with a dot is still a client-side route.
#[tokio::test]
async fn a_missing_file_is_a_404_and_not_the_page() {
    let (app, _dir) = spawn_app().await;
    for path in [
        "/assets/index-0ld0ld00.js",
        "/assets/gone",
        "/old-build.js",
        "/logo.png",
    ] {
        let response = app
            .client
            .get(app.url(path))
            .header("accept", "*/*")
            .send()
            .await
            .unwrap();
        assert_eq!(
            error_code(response, StatusCode::NOT_FOUND).await,
            "not_found",
            "{path}"
        );
    }
    let navigation = app
        .client
        .get(app.url("/users/ada.lovelace"))
        .header("accept", "text/html,application/xhtml+xml,*/*;q=0.8")
        .send()
        .await
        .unwrap();
    assert_eq!(navigation.status(), StatusCode::OK);
    assert_eq!(navigation.text().await.unwrap(), INDEX);
}

/// Hashed assets are cached for a year without revalidation; the page and
/// the other files are revalidated on every use, so a redeploy is seen at
/// the next load.
#[tokio::test]
async fn hashed_assets_are_immutable_and_the_page_is_revalidated() {
    let (app, _dir) = spawn_app().await;
    let cache_control = |response: &reqwest::Response| {
        response.headers()["cache-control"]
            .to_str()
            .unwrap()
            .to_owned()
    };
    let asset = app.get("/assets/app-1a2b3c4d.js").await;
    assert_eq!(asset.status(), StatusCode::OK);
    assert_eq!(cache_control(&asset), "public, max-age=31536000, immutable");
    for path in ["/", "/index.html", "/settings", "/favicon.ico"] {
        let response = app.get(path).await;
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        assert_eq!(cache_control(&response), "no-cache", "{path}");
    }
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
