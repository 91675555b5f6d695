//! Test harness: the real application on a random port, with its own SQLite
//! file, reached over TCP by a real HTTP client with a cookie jar.

#![allow(dead_code)] // each test file uses a different part of the harness

use std::collections::HashMap;

use reqwest::{Client, Response, StatusCode, header::HeaderMap};
use serde_json::{Value, json};
use tempfile::TempDir;

use {{crate_name}}::{config::Config, startup::Application};

{% if cross_origin -%}
/// The frontend origin the test server trusts.
pub const FRONTEND: &str = "http://localhost:5173";

{% endif -%}

pub struct TestApp {
    pub address: String,
    /// A client that keeps cookies, like a browser tab.
    pub client: Client,
    _data: TempDir,
}

/// Starts the application with the given environment overrides on top of
/// working test defaults.
pub async fn spawn_app_with(overrides: &[(&str, &str)]) -> TestApp {
    let data = tempfile::tempdir().expect("temp dir");
    let mut env: HashMap<String, String> = HashMap::from([
        ("BIND_ADDR".into(), "127.0.0.1:0".into()),
        ("PUBLIC_ORIGIN".into(), "http://localhost:8080".into()),
{%- if cross_origin %}
        ("FRONTEND_ORIGINS".into(), FRONTEND.into()),
{%- endif %}
        (
            "DATABASE_URL".into(),
            format!("sqlite://{}", data.path().join("test.db").display()),
        ),
    ]);
    for (key, value) in overrides {
        env.insert((*key).into(), (*value).into());
    }
    let config =
        Config::from_lookup(|name| env.get(name).cloned()).expect("valid test configuration");
    let app = Application::build(config)
        .await
        .expect("application starts");
    let address = format!("http://{}", app.local_addr().expect("bound address"));
    tokio::spawn(app.run_until(std::future::pending()));

    TestApp {
        address,
        client: new_client(),
        _data: data,
    }
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(&[]).await
}

pub fn new_client() -> Client {
    Client::builder()
        .cookie_store(true)
        .build()
        .expect("client")
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    pub async fn post_json(&self, path: &str, body: &Value) -> Response {
        self.client
            .post(self.url(path))
            .json(body)
            .send()
            .await
            .expect("request sent")
    }

    pub async fn signup(&self, email: &str, password: &str) -> Response {
        self.post_json(
            "/api/auth/signup",
            &json!({ "email": email, "password": password }),
        )
        .await
    }

    pub async fn login(&self, email: &str, password: &str) -> Response {
        self.post_json(
            "/api/auth/login",
            &json!({ "email": email, "password": password }),
        )
        .await
    }

    pub async fn session(&self) -> Response {
        self.client
            .get(self.url("/api/auth/session"))
            .send()
            .await
            .expect("request sent")
    }

    /// `GET /api/auth/session` with a copied `name=value` cookie, from a
    /// client without a jar, as an attacker replaying a stolen cookie would.
    pub async fn session_with_cookie(&self, cookie: &str) -> Response {
        Client::new()
            .get(self.url("/api/auth/session"))
            .header("cookie", cookie)
            .send()
            .await
            .expect("request sent")
    }

    /// The preflight a browser sends before a credentialed JSON `method`
    /// request from a page on `origin`.
    pub async fn preflight(&self, path: &str, origin: &str, method: &str) -> Response {
        self.client
            .request(reqwest::Method::OPTIONS, self.url(path))
            .header("origin", origin)
            .header("access-control-request-method", method)
            .header("access-control-request-headers", "content-type")
            .send()
            .await
            .expect("request sent")
    }

    /// A GET as fetch sends it from a page on `origin`.
    pub async fn get_from(&self, path: &str, origin: &str) -> Response {
        self.client
            .get(self.url(path))
            .header("origin", origin)
            .send()
            .await
            .expect("request sent")
    }

    pub async fn logout(&self) -> Response {
        self.client
            .post(self.url("/api/auth/logout"))
            .send()
            .await
            .expect("request sent")
    }
}

/// The `Set-Cookie` header for the session cookie, if the response set one.
pub fn session_set_cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("sid=") || v.starts_with("__Host-sid="))
        .map(str::to_owned)
}

/// The `name=value` part of a `Set-Cookie` header.
pub fn cookie_pair(set_cookie: &str) -> String {
    set_cookie.split(';').next().unwrap_or_default().to_owned()
}

/// Asserts the JSON error shape and returns its code.
pub async fn error_code(response: Response, status: StatusCode) -> String {
    assert_eq!(response.status(), status);
    let body: Value = response.json().await.expect("JSON error body");
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert!(!message.is_empty(), "error without message: {body}");
    body["error"]["code"]
        .as_str()
        .expect("error code")
        .to_owned()
}
