//! A same-origin project has no CORS at all: no header ever invites another
//! origin to read a response, whatever the request says.

use crate::helpers::spawn_app;

#[tokio::test]
async fn no_access_control_headers_for_any_origin() {
    let app = spawn_app().await;
    for origin in ["http://localhost:5173", "https://evil.example", "null"] {
        let preflight = app.preflight("/api/auth/logout", origin, "POST").await;
        let get = app.get_from("/api/auth/session", origin).await;
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
