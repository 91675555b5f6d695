//! Signing in, for the many tests that need a signed-in user but are not
//! about how one signs in: here through the OpenID provider of the tests
//! (`provider.rs`), the way the example frontend does it. Start a login at
//! the API, approve it at the provider as the user named by an email, relay
//! the provider's answer to the callback.
//!
//! Ordinary tests share one provider (users are keyed by issuer and subject,
//! and each test has a database of its own); tests that make the provider
//! misbehave start their own (`TestProvider::start`) and point the app at it
//! with `OIDC_ISSUER_URL`.

use std::{
    collections::HashMap,
    sync::{
        OnceLock,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use reqwest::{Client, RequestBuilder, Response, StatusCode, Url};
use serde_json::{Value, json};

use platform::oidc::test_provider::{CLIENT_ID, CLIENT_SECRET, TestProvider};

use super::{TestApp, cookie_pair, session_set_cookie};

/// What `POST /api/auth/logout` answers when the provider offers
/// RP-initiated logout, as the tests' provider does: the URL to go to.
pub const LOGGED_OUT: StatusCode = StatusCode::OK;

/// A route that reads a JSON body and is open without a session.
pub const OPEN_JSON_ROUTE: &str = "/api/auth/oidc/callback";

/// The routes that sign in or out, all POSTs.
pub const AUTH_POSTS: &[&str] = &[
    "/api/auth/oidc/start",
    "/api/auth/oidc/callback",
    "/api/auth/logout",
];

/// The provider shared by the tests that do not start their own. It runs on
/// a thread of its own: each test has its own runtime, and a server spawned
/// on one would stop with that test.
pub fn shared_provider_issuer() -> &'static str {
    static ISSUER: OnceLock<String> = OnceLock::new();
    ISSUER.get_or_init(|| {
        let (started, issuer) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("provider runtime");
            runtime.block_on(async {
                let provider = TestProvider::start().await;
                started
                    .send(provider.issuer().to_owned())
                    .expect("issuer sent");
                std::future::pending::<()>().await;
            });
        });
        issuer.recv().expect("the shared provider started")
    })
}

/// Whether the frontend is on another origin than the API (the answer
/// given at generation).
const CROSS_ORIGIN: bool = {{cross_origin}};

/// Fills in the OpenID settings the test did not set: the shared provider,
/// its client, and the frontend page as the redirect (on the first frontend
/// origin, or on the backend's own origin when same-origin). An empty value
/// given by a test means "not set" (e.g. `OIDC_CLIENT_SECRET` for a public
/// client).
pub fn complete_env(env: &mut HashMap<String, String>) {
    // PUBLIC_ORIGIN has a default; FRONTEND_ORIGINS (cross-origin) has none.
    let origins = if CROSS_ORIGIN {
        env.get("FRONTEND_ORIGINS").map(String::as_str)
    } else {
        Some(
            env.get("PUBLIC_ORIGIN")
                .map_or("http://localhost:8080", String::as_str),
        )
    };
    let page = origins
        .and_then(|origins| origins.split(',').map(str::trim).find(|o| !o.is_empty()))
        .unwrap_or_default()
        .to_owned()
        + "/";
    let defaults = [
        ("OIDC_ISSUER_URL", shared_provider_issuer().to_owned()),
        ("OIDC_CLIENT_ID", CLIENT_ID.to_owned()),
        ("OIDC_CLIENT_SECRET", CLIENT_SECRET.to_owned()),
        ("OIDC_REDIRECT_URL", page.clone()),
        ("OIDC_POST_LOGOUT_REDIRECT_URL", page),
    ];
    for (name, value) in defaults {
        env.entry(name.to_owned()).or_insert(value);
    }
    env.retain(|name, value| !(name.starts_with("OIDC_") && value.is_empty()));
}

/// The OpenID settings the project's binary needs on top of `settings` and
/// its `.env` (whose origins are the generated defaults): `complete_env`'s,
/// for a process.
pub fn process_env(settings: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut env: HashMap<String, String> = HashMap::from([
        (
            "PUBLIC_ORIGIN".to_owned(),
            "http://localhost:8080".to_owned(),
        ),
        (
            "FRONTEND_ORIGINS".to_owned(),
            "http://localhost:5173".to_owned(),
        ),
    ]);
    for (name, value) in settings {
        env.insert((*name).to_owned(), (*value).to_owned());
    }
    complete_env(&mut env);
    env.into_iter()
        .filter(|(name, _)| {
            name.starts_with("OIDC_") && !settings.iter().any(|(set, _)| set == name)
        })
        .collect()
}

/// A client that does not follow redirects, as the test's eyes on the
/// provider's answers.
fn no_redirects() -> Client {
    Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

/// At the provider's login page, as the user `email` (subject `subject`,
/// or one derived from the email): approves the login and returns the query
/// parameters the provider sends the browser back to the frontend with.
pub async fn approve(
    authorization_url: &str,
    email: &str,
    subject: Option<&str>,
) -> HashMap<String, String> {
    let mut url = Url::parse(authorization_url).expect("authorization URL");
    url.query_pairs_mut().append_pair("login_hint", email);
    if let Some(subject) = subject {
        url.query_pairs_mut().append_pair("sub", subject);
    }
    let answer = no_redirects()
        .get(url)
        .send()
        .await
        .expect("provider reached");
    assert_eq!(answer.status(), StatusCode::FOUND, "provider's answer");
    let back = answer
        .headers()
        .get("location")
        .and_then(|value| value.to_str().ok())
        .expect("redirect back to the frontend");
    Url::parse(back)
        .expect("redirect URL")
        .query_pairs()
        .into_owned()
        .collect()
}

/// A fresh email each call, for a user no other part of the test knows.
pub fn new_email() -> String {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    format!("user{}@example.com", NEXT.fetch_add(1, Ordering::Relaxed))
}

/// A login started at the API, not yet approved.
pub struct PendingLogin {
    pub authorization_url: String,
    /// The `name=value` session cookie that holds the pending login.
    pub cookie: Option<String>,
}

impl TestApp {
    /// `POST /api/auth/oidc/start` with `body`.
    pub async fn oidc_start(&self, body: &Value) -> Response {
        self.post_json("/api/auth/oidc/start", body).await
    }

    /// Starts a login in this browser, waiting out the first seconds after
    /// start-up while the app may still be fetching the provider's
    /// discovery document.
    pub async fn begin_login(&self, return_to: Option<&str>) -> PendingLogin {
        let body = match return_to {
            Some(path) => json!({ "return_to": path }),
            None => json!({}),
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let started = self.oidc_start(&body).await;
            if started.status() == StatusCode::SERVICE_UNAVAILABLE && Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
            assert_eq!(started.status(), StatusCode::OK, "start of a login");
            let cookie = session_set_cookie(started.headers()).map(|c| cookie_pair(&c));
            let body: Value = started.json().await.expect("JSON");
            let authorization_url = body["authorization_url"]
                .as_str()
                .expect("authorization_url")
                .to_owned();
            return PendingLogin {
                authorization_url,
                cookie,
            };
        }
    }

    /// `POST /api/auth/oidc/callback` with the provider's answer, carrying
    /// `cookie` when given (the jar does not send a `Secure` cookie over
    /// plain http), else what the jar holds.
    pub async fn oidc_callback(
        &self,
        params: &HashMap<String, String>,
        cookie: Option<&str>,
    ) -> Response {
        let mut request = self
            .client
            .post(self.url("/api/auth/oidc/callback"))
            .json(params);
        if let Some(cookie) = cookie {
            request = request.header("cookie", cookie);
        }
        request.send().await.expect("request sent")
    }

    /// Signs this browser in as the user with `email` at the provider,
    /// creating the user on first sign-in; returns the answer that signed
    /// in (its `Set-Cookie` carries the new session).
    pub async fn sign_in_as(&self, email: &str) -> Response {
        let login = self.begin_login(None).await;
        let params = approve(&login.authorization_url, email, None).await;
        let signed_in = self.oidc_callback(&params, login.cookie.as_deref()).await;
        assert_eq!(signed_in.status(), StatusCode::OK, "callback of a login");
        signed_in
    }

    /// `DELETE /api/auth/account` for the signed-in user (a hosted login
    /// asks for nothing more than the session).
    pub async fn delete_account(&self) -> Response {
        self.client
            .delete(self.url("/api/auth/account"))
            .send()
            .await
            .expect("request sent")
    }

    /// Signs this browser in as a user nobody else uses.
    pub async fn sign_in_new_user(&self) -> Response {
        self.sign_in_as(&new_email()).await
    }

    /// The request that signs the browser holding `cookie` in as `email`
    /// (and rotates its session id), ready to send; whatever must happen
    /// before it has happened (here: the login was started in that browser
    /// and approved at the provider).
    pub async fn sign_in_request(&self, email: &str, cookie: &str) -> RequestBuilder {
        let started = Client::new()
            .post(self.url("/api/auth/oidc/start"))
            .header("cookie", cookie)
            .json(&json!({}))
            .send()
            .await
            .expect("request sent");
        assert_eq!(started.status(), StatusCode::OK, "start of a login");
        let cookie = session_set_cookie(started.headers())
            .map(|c| cookie_pair(&c))
            .unwrap_or_else(|| cookie.to_owned());
        let body: Value = started.json().await.expect("JSON");
        let url = body["authorization_url"]
            .as_str()
            .expect("authorization_url");
        let params = approve(url, email, None).await;
        Client::new()
            .post(self.url("/api/auth/oidc/callback"))
            .header("cookie", cookie)
            .json(&params)
    }

    /// The first request of a sign-in from a new browser, which writes a new
    /// session (here: the start of a login).
    pub async fn first_session_write(&self) -> Response {
        self.oidc_start(&json!({})).await
    }
}
