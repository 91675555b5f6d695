//! The bare Axum baseline the benchmark measures the generated project
//! against: its paths answered with fixed bodies, nothing else.
//!
//! It runs on the same runtime set-up as the generated project
//! (`#[tokio::main]`, one worker per allowed core), so a ratio between the
//! two is the cost of what the project adds: sessions, CORS, CSRF, tracing,
//! error mapping and the database.

use axum::{
    Router,
    http::{StatusCode, header},
    response::IntoResponse,
    routing::{get, post},
};

const USER: &str = r#"{"user":{"id":1,"email":"bench@example.com"}}"#;

fn json(body: &'static str) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], body)
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let addr = std::env::var("BIND_ADDR").unwrap_or_else(|_| "127.0.0.1:8090".to_owned());
    let app = Router::new()
        .route("/api/health", get(|| async { json(r#"{"status":"ok"}"#) }))
        .route(
            "/api/auth/session",
            // What a preflight costs with no CORS layer: a fixed empty 200.
            get(|| async { ([(header::CACHE_CONTROL, "no-store")], json(USER)) })
                .options(|| async { StatusCode::OK }),
        )
        .route("/api/auth/login", post(|| async { json(USER) }))
        .route("/api/auth/logout", post(|| async { StatusCode::NO_CONTENT }));
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    eprintln!("baseline listening on {addr}");
    axum::serve(listener, app).await
}
