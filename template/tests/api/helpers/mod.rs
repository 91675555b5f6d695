//! Test harness: the real application on a random port, with a database of
//! its own, reached over TCP by a real HTTP client with a cookie jar (a
//! `Browser`, from the platform's test support: `get`, `post_json`,
//! `session`, `logout`, ...).

#![allow(dead_code)] // some helpers serve only some answer combinations (CORS, shared stores)

pub mod binary;
{%- if auth == "password" %}
mod password;
{%- endif %}
pub mod sign_in;

use std::{collections::HashMap, ops::Deref, sync::Arc};

use axum::Router;
use tokio::{sync::oneshot, task::JoinHandle};

// One item per line, so that rustfmt keeps this layout whatever the
// project's name (a long name would push a single line past 100 columns).
use {{crate_name}}::config::Config;
use {{crate_name}}::routes;
use {{crate_name}}::startup::Application;
use {{crate_name}}::state::AppState;

pub use platform::testing::{
    Browser, TestDatabase, assert_no_store, cookie_pair, error_code, session_set_cookie,
};
pub use sign_in::{AUTH_POSTS, LOGGED_OUT};

{% if cross_origin -%}
/// The frontend origin the test server trusts.
pub const FRONTEND: &str = "http://localhost:5173";

{% endif -%}

/// One browser on a running instance of the application; it derefs to its
/// `Browser`, so `app.get(..)`, `app.client`, `app.url(..)` work on it.
pub struct TestApp {
    /// A client that keeps cookies, like a browser tab.
    pub browser: Browser,
    /// The stores this instance keeps its state in; other instances may
    /// share them (`spawn_instance`).
    pub database: Arc<TestDatabase>,
    /// The application's shared state: its pool, its sessions.
    pub state: AppState,
    stop: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<()>>,
}

/// Starts the application with the given environment overrides on top of
/// working test defaults, on a database of its own.
pub async fn spawn_app_with(overrides: &[(&str, &str)]) -> TestApp {
    let database = Arc::new(test_database().await);
    spawn_instance(&database, overrides).await
}

/// A database of the test's own: {% if database == "postgres" %}a fresh one on the PostgreSQL server at
/// `TEST_DATABASE_URL` (default `postgres://postgres@127.0.0.1:5432`), dropped
/// when the test ends{% else %}a SQLite file in a temporary folder, deleted when
/// the test ends{% endif %}.
pub async fn test_database() -> TestDatabase {
    TestDatabase::{% if database == "postgres" %}postgres().await{% else %}sqlite(){% endif %}
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
    let database = Arc::new(test_database().await);
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
    // The migrations have run: number this database's users apart from
    // every other test's (sessions of one user id share an index in Redis).
    database.spread_user_ids().await;
    let address = format!("http://{}", app.local_addr().expect("bound address"));
    let state = app.state().clone();
    let (stop, stopped) = oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until(async {
        let _ = stopped.await;
    }));

    TestApp {
        browser: Browser::new(address),
        database: Arc::clone(database),
        state,
        stop: Some(stop),
        server: Some(server),
    }
}

impl Deref for TestApp {
    type Target = Browser;

    fn deref(&self) -> &Browser {
        &self.browser
    }
}

impl TestApp {
    /// Shuts this instance down gracefully and waits until it has stopped.
    pub async fn stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(server) = self.server.take() {
            server.await.expect("server stopped cleanly");
        }
    }

    /// The same server, reached from another browser: a client with an
    /// empty cookie jar of its own. Dropping it leaves the server running.
    pub fn another_browser(&self) -> TestApp {
        TestApp {
            browser: self.browser.another(),
            database: Arc::clone(&self.database),
            state: self.state.clone(),
            stop: None,
            server: None,
        }
    }

    /// Another browser on this server, signed in as `email` (the account
    /// created on first sign-in): a user of a resource's routes.
    pub async fn user(&self, email: &str) -> TestApp {
        let user = self.another_browser();
        user.sign_in_as(email).await;
        user
    }
}
