//! A same-origin project has no CORS at all: no header ever invites another
//! origin to read a response, whatever the request says.

mod common;

use common::spawn_app;
use reqwest::Method;

#[tokio::test]
async fn no_access_control_headers_for_any_origin() {
    let app = spawn_app().await;
    for origin in ["http://localhost:5173", "https://evil.example", "null"] {
        let preflight = app
            .client
            .request(Method::OPTIONS, app.url("/api/auth/login"))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", "content-type")
            .send()
            .await
            .unwrap();
        let get = app
            .client
            .get(app.url("/api/auth/session"))
            .header("origin", origin)
            .send()
            .await
            .unwrap();
        for response in [preflight, get] {
            let cors: Vec<_> = response
                .headers()
                .keys()
                .filter(|name| name.as_str().starts_with("access-control-"))
                .collect();
            assert!(cors.is_empty(), "{origin}: {cors:?}");
        }
    }
}
