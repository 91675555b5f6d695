//! Test harness: the platform serving a small application of the tests' own
//! (`app.rs`) on a random port, with a database and session store of its own
//! (`database.rs`), reached over TCP by a real HTTP client with a cookie
//! jar. It reads its settings as an application does, from name-value
//! pairs, so a test changes a setting the way an operator would.

#![allow(dead_code)] // each test module uses a part

/// Runs the same statements on whichever engine the test picked.
macro_rules! on_db {
    ($db:expr, |$pool:ident| $body:expr) => {
        match $db {
            $crate::harness::Db::Sqlite($pool) => $body,
            $crate::harness::Db::Postgres($pool) => $body,
        }
    };
}

mod app;
mod database;

use std::{collections::HashMap, ops::Deref, sync::Arc};

use axum::Router;
use platform::{
    database::{postgres, sqlite},
    password::Passwords,
    rate_limit::{self, AuthThrottle},
    server,
    session::{self, Lifetime},
    session_store::{Accounts, Cached, Redis, RedisSettings, Sessions, Table, UserSessions},
    settings::Env,
    spa, stack,
};
use reqwest::{Client, Response, StatusCode};
use serde_json::json;
use tokio::{sync::oneshot, task::JoinHandle};

pub use app::{Db, PASSWORD, TestState, TestUser, api};
pub use database::{Store, TestDatabase};
pub use platform::testing::{Browser, cookie_pair, error_code, session_set_cookie};

/// The frontend origin the test server trusts, unless a test sets
/// `FRONTEND_ORIGINS` itself (empty: a same-origin server).
pub const FRONTEND: &str = "http://localhost:5173";

/// What `POST /api/auth/logout` answers: no content.
pub const LOGGED_OUT: StatusCode = StatusCode::NO_CONTENT;

/// A route that reads a JSON body and is open without a session.
pub const OPEN_JSON_ROUTE: &str = "/api/auth/login";

/// The routes that sign in or out, all POSTs.
pub const AUTH_POSTS: &[&str] = &["/api/auth/login", "/api/auth/signup", "/api/auth/logout"];

/// One browser on a running server; it derefs to its `Browser`, so
/// `app.get(..)`, `app.client`, `app.url(..)` work on it.
pub struct TestApp {
    pub browser: Browser,
    /// The stores this instance keeps its state in; other instances may
    /// share them (`spawn_instance`).
    pub database: Arc<TestDatabase>,
    pub state: TestState,
    /// The cache in front of the session table (`Store::SqliteCached`).
    pub cache: Option<Cached<Table<sqlx::Sqlite>>>,
    stop: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<()>>,
}

/// The default project's store (SQLite, sessions cached), working settings.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(&[]).await
}

/// With the given settings on top of working test defaults.
pub async fn spawn_app_with(overrides: &[(&str, &str)]) -> TestApp {
    spawn_app_on(Store::SqliteCached, overrides).await
}

/// On a store of the test's choice.
pub async fn spawn_app_on(store: Store, overrides: &[(&str, &str)]) -> TestApp {
    let database = Arc::new(TestDatabase::create(store).await);
    spawn_instance(&database, overrides).await
}

/// With `api` in place of the tests' routes, in the same stack.
pub async fn spawn_app_with_api(overrides: &[(&str, &str)], api: Router<TestState>) -> TestApp {
    let database = Arc::new(TestDatabase::create(Store::SqliteCached).await);
    spawn_instance_with_api(&database, overrides, api).await
}

/// One more instance on `database` (and the session store that goes with
/// it), as a second server behind a load balancer would run.
pub async fn spawn_instance(database: &Arc<TestDatabase>, overrides: &[(&str, &str)]) -> TestApp {
    spawn_instance_with_api(database, overrides, app::api()).await
}

pub async fn spawn_instance_with_api(
    database: &Arc<TestDatabase>,
    overrides: &[(&str, &str)],
    api: Router<TestState>,
) -> TestApp {
    let mut env: HashMap<String, String> = HashMap::from([
        ("BIND_ADDR".into(), "127.0.0.1:0".into()),
        ("PUBLIC_ORIGIN".into(), "http://localhost:8080".into()),
        ("FRONTEND_ORIGINS".into(), FRONTEND.into()),
        ("DATABASE_URL".into(), database.url.clone()),
        // Sessions left in Redis by a test expire within a minute.
        ("SESSION_INACTIVITY_SECS".into(), "60".into()),
        ("STATIC_DIR".into(), String::new()),
    ]);
    if let Some(redis) = &database.redis_url {
        env.insert("REDIS_URL".into(), redis.clone());
    }
    for (key, value) in overrides {
        env.insert((*key).into(), (*value).into());
    }
    let lookup = |name: &str| env.get(name).cloned();
    let env = Env::new(&lookup);
    let http = if lookup("FRONTEND_ORIGINS").is_some_and(|v| !v.is_empty()) {
        stack::Settings::cross_origin(&env)
    } else {
        stack::Settings::same_origin(&env)
    }
    .expect("valid stack settings");
    let server = server::Settings::from_env(&env).expect("valid server settings");
    let lifetime = Lifetime::from_env(&env).expect("valid lifetime");
    let throttle = rate_limit::Settings::from_env(&env).expect("valid throttle settings");
    let frontend = spa::Settings::from_env(&env, "").expect("valid STATIC_DIR");

    let store = database.store;
    let (db, mut cache) = if store.is_postgres() {
        let settings = postgres::Settings::from_env(&env, "").expect("valid database settings");
        let pool = postgres::connect(&settings).await.expect("database");
        (Db::Postgres(pool), None)
    } else {
        let settings = sqlite::Settings::from_env(&env, "").expect("valid database settings");
        let pool = sqlite::connect(&settings).await.expect("database");
        (Db::Sqlite(pool), None)
    };
    let parts = Parts {
        api,
        http: &http,
        frontend: &frontend,
        lifetime,
        db: db.clone(),
        throttle,
    };
    let mut background = Vec::new();
    let (app, state) = match (&db, store) {
        (Db::Sqlite(pool), Store::SqliteCached) => {
            let cached = Cached::new(Table::open(pool).await.expect("session table"));
            background.push(platform::session_store::spawn_cleanup(&cached));
            cache = Some(cached.clone());
            parts.serve(cached)
        }
        (Db::Sqlite(pool), Store::Sqlite) => {
            let table = Table::open(pool).await.expect("session table");
            background.push(platform::session_store::spawn_cleanup(&table));
            parts.serve(table)
        }
        (Db::Postgres(pool), Store::Postgres) => {
            let table = Table::open(pool).await.expect("session table");
            background.push(platform::session_store::spawn_cleanup(&table));
            parts.serve(table)
        }
        (_, Store::Redis | Store::PostgresRedis) => {
            let settings = RedisSettings::from_env(&env).expect("valid Redis settings");
            let redis = Redis::open(&settings, Accounts::<TestUser>(db.clone()))
                .await
                .expect("Redis is reachable at TEST_REDIS_URL (default redis://127.0.0.1:6379)");
            parts.serve(redis)
        }
        _ => unreachable!("the database follows the store"),
    };
    background.push(rate_limit::spawn_forget_idle(&state.throttle));

    let listener = server::listen(&server).expect("listening");
    let address = format!("http://{}", listener.local_addr().expect("bound address"));
    let (stop, stopped) = oneshot::channel::<()>();
    let served = tokio::spawn(async move {
        server::serve(listener, app, server, async {
            let _ = stopped.await;
        })
        .await;
        for task in background {
            task.abort();
        }
    });
    TestApp {
        browser: Browser::new(address),
        database: Arc::clone(database),
        state,
        cache,
        stop: Some(stop),
        server: Some(served),
    }
}

/// What the application is built from, but for its session store.
struct Parts<'a> {
    api: Router<TestState>,
    http: &'a stack::Settings,
    frontend: &'a spa::Settings,
    lifetime: Lifetime,
    db: Db,
    throttle: rate_limit::Settings,
}

impl Parts<'_> {
    /// The whole application on `store`: the API (and the frontend, when
    /// `STATIC_DIR` is set) in the platform's stack, and its state.
    fn serve<S: UserSessions + Clone>(self, store: S) -> (server::App, TestState) {
        let state = TestState {
            db: self.db,
            sessions: Sessions::new(store.clone(), self.lifetime, self.http.request_timeout),
            passwords: passwords(),
            throttle: Arc::new(AuthThrottle::new(self.throttle)),
            cookie_policy: self.http.cookie.clone(),
        };
        let api = spa::serve(
            self.api.with_state(state.clone()),
            self.frontend.dir.as_deref(),
        );
        let app = stack::build(
            api,
            app::probes().with_state(state.clone()),
            self.http,
            session::layer(store, &self.http.cookie, self.lifetime),
        );
        (app, state)
    }
}

/// One password hasher per test process: making one runs Argon2 once.
fn passwords() -> Passwords {
    static PASSWORDS: std::sync::OnceLock<Passwords> = std::sync::OnceLock::new();
    PASSWORDS
        .get_or_init(|| {
            std::thread::spawn(|| {
                tokio::runtime::Runtime::new()
                    .expect("runtime")
                    .block_on(Passwords::new())
                    .expect("password hasher")
            })
            .join()
            .expect("password hasher")
        })
        .clone()
}

pub fn new_client() -> Client {
    Client::builder()
        .cookie_store(true)
        .build()
        .expect("client")
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
            cache: self.cache.clone(),
            stop: None,
            server: None,
        }
    }

    /// Signs this browser in as the user with `email` (created on first
    /// sign-in), without Argon2; returns the answer that signed in.
    pub async fn sign_in_as(&self, email: &str) -> Response {
        let login = self.login_as(email).await;
        assert_eq!(login.status(), StatusCode::OK, "login");
        login
    }

    /// The login request of [`Self::sign_in_as`] (the account created
    /// first if needed), whatever it answers.
    pub async fn login_as(&self, email: &str) -> Response {
        self.create_account(email).await;
        self.post_json(
            "/api/auth/login",
            &json!({ "email": email, "password": PASSWORD }),
        )
        .await
    }

    /// Signs this browser in as a user nobody else uses.
    pub async fn sign_in_new_user(&self) -> Response {
        self.sign_in_as(&new_email()).await
    }

    /// Creates the account `email` (password [`PASSWORD`]) unless it exists.
    pub async fn create_account(&self, email: &str) {
        let created = Client::new()
            .post(self.url("/api/test/accounts"))
            .json(&json!({ "email": email }))
            .send()
            .await
            .expect("request sent");
        assert_eq!(created.status(), StatusCode::NO_CONTENT, "account created");
    }

    /// The request that signs the browser holding `cookie` in as `email`
    /// (and rotates its session id), ready to send; the account exists.
    pub async fn sign_in_request(&self, email: &str, cookie: &str) -> reqwest::RequestBuilder {
        self.create_account(email).await;
        Client::new()
            .post(self.url("/api/auth/login"))
            .header("cookie", cookie)
            .json(&json!({ "email": email, "password": PASSWORD }))
    }

    /// `DELETE /api/auth/account`: deletes the signed-in account and ends
    /// all its sessions.
    pub async fn delete_account(&self) -> Response {
        self.delete("/api/auth/account").await
    }

    /// The cache in front of the session table; only `Store::SqliteCached`
    /// has one.
    pub fn cache(&self) -> &Cached<Table<sqlx::Sqlite>> {
        self.cache
            .as_ref()
            .expect("a server on Store::SqliteCached")
    }

    /// A signup with Argon2 (the platform's hashing slots).
    pub async fn signup(&self, email: &str, password: &str) -> Response {
        self.post_json(
            "/api/auth/signup",
            &json!({ "email": email, "password": password }),
        )
        .await
    }
}

/// A fresh email each call, for a user no other part of the test knows.
pub fn new_email() -> String {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    format!(
        "user{}-{}@example.com",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}
