//! Test harness: the real application on a random port, with its own
//! database (see `test_database.rs`), reached over TCP by a real HTTP client
//! with a cookie jar.

#![allow(dead_code)] // some helpers serve only some answer combinations (CORS, shared stores)

pub mod binary;
{%- if auth == "password" %}
mod password;
{%- else %}
pub mod provider;
{%- endif %}
pub mod sign_in;
mod test_database;

use std::{collections::HashMap, sync::Arc};

use axum::Router;
use reqwest::{Client, Response, StatusCode, header::HeaderMap};
use serde_json::Value;
use tokio::{sync::oneshot, task::JoinHandle};

// One item per line, so that rustfmt keeps this layout whatever the
// project's name (a long name would push a single line past 100 columns).
use {{crate_name}}::config::Config;
use {{crate_name}}::routes;
use {{crate_name}}::startup::Application;
use {{crate_name}}::state::AppState;

pub use sign_in::{AUTH_POSTS, LOGGED_OUT, OPEN_JSON_ROUTE};
pub use test_database::TestDatabase;

{% if cross_origin -%}
/// The frontend origin the test server trusts.
pub const FRONTEND: &str = "http://localhost:5173";

{% endif -%}

pub struct TestApp {
    pub address: String,
    /// A client that keeps cookies, like a browser tab.
    pub client: Client,
    /// The stores this instance keeps its state in; other instances may
    /// share them (`spawn_instance`).
    pub database: Arc<TestDatabase>,
    /// The application's shared state: its pool, its password hasher.
    pub state: AppState,
    stop: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<std::io::Result<()>>>,
}

/// Starts the application with the given environment overrides on top of
/// working test defaults, on a database of its own.
pub async fn spawn_app_with(overrides: &[(&str, &str)]) -> TestApp {
    let database = Arc::new(TestDatabase::create().await);
    spawn_instance(&database, overrides).await
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(&[]).await
}

/// Starts one more instance of the application on `database` (and the
/// session store that goes with it), as a second server behind a load
/// balancer would run, or the same server after a restart.
pub async fn spawn_instance(database: &Arc<TestDatabase>, overrides: &[(&str, &str)]) -> TestApp {
    spawn_instance_with_api(database, overrides, routes::api()).await
}

/// Starts the application with `api` in place of the project's routes, in
/// the production middleware stack.
pub async fn spawn_app_with_api(overrides: &[(&str, &str)], api: Router<AppState>) -> TestApp {
    let database = Arc::new(TestDatabase::create().await);
    spawn_instance_with_api(&database, overrides, api).await
}

async fn spawn_instance_with_api(
    database: &Arc<TestDatabase>,
    overrides: &[(&str, &str)],
    api: Router<AppState>,
) -> TestApp {
    let mut env: HashMap<String, String> = HashMap::from([
        ("BIND_ADDR".into(), "127.0.0.1:0".into()),
        ("PUBLIC_ORIGIN".into(), "http://localhost:8080".into()),
{%- if cross_origin %}
        ("FRONTEND_ORIGINS".into(), FRONTEND.into()),
{%- endif %}
        ("DATABASE_URL".into(), database.url.clone()),
{%- if session_store == "redis" %}
        // Session ids are random, so tests share one Redis without seeing
        // each other's sessions; the store has no key-prefix option.
        (
            "REDIS_URL".into(),
            std::env::var("TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into()),
        ),
        // Keys left by a test expire within a minute.
        ("SESSION_INACTIVITY_SECS".into(), "60".into()),
{%- endif %}
    ]);
    for (key, value) in overrides {
        env.insert((*key).into(), (*value).into());
    }
    sign_in::complete_env(&mut env);
    let config =
        Config::from_lookup(|name| env.get(name).cloned()).expect("valid test configuration");
    let app = Application::build_with_api(config, api)
        .await
        .expect("application starts");
    let address = format!("http://{}", app.local_addr().expect("bound address"));
    let state = app.state().clone();
    let (stop, stopped) = oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until(async {
        let _ = stopped.await;
    }));

    TestApp {
        address,
        client: new_client(),
        database: Arc::clone(database),
        state,
        stop: Some(stop),
        server: Some(server),
    }
}

pub fn new_client() -> Client {
    Client::builder()
        .cookie_store(true)
        .build()
        .expect("client")
}

impl TestApp {
    /// Shuts this instance down gracefully and waits until it has stopped.
    pub async fn stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(server) = self.server.take() {
            server
                .await
                .expect("server task")
                .expect("server stopped cleanly");
        }
    }

    /// The same server, reached from another browser: a client with an
    /// empty cookie jar of its own. Dropping it leaves the server running.
    pub fn another_browser(&self) -> TestApp {
        TestApp {
            address: self.address.clone(),
            client: new_client(),
            database: Arc::clone(&self.database),
            state: self.state.clone(),
            stop: None,
            server: None,
        }
    }

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

    pub async fn get(&self, path: &str) -> Response {
        self.client
            .get(self.url(path))
            .send()
            .await
            .expect("request sent")
    }

    pub async fn patch_json(&self, path: &str, body: &Value) -> Response {
        self.client
            .patch(self.url(path))
            .json(body)
            .send()
            .await
            .expect("request sent")
    }

    pub async fn delete(&self, path: &str) -> Response {
        self.client
            .delete(self.url(path))
            .send()
            .await
            .expect("request sent")
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
