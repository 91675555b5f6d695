//! Test support (feature `testing`, for dev-dependencies only): what the
//! application's API tests and the platform's own tests both need to talk
//! to a real server and to keep each test's data apart.
//!
//! - [`Browser`]: a real HTTP client with a cookie jar, as one browser tab
//!   holds it, with the requests the tests make again and again;
//! - [`TestDatabase`]: a database of the test's own (a SQLite file in a
//!   temporary folder, or a fresh PostgreSQL database dropped afterwards);
//! - checks every answer must pass ([`error_code`], [`assert_no_store`]) and
//!   the session cookie's pieces ([`session_set_cookie`], [`cookie_pair`]).
//!
//! With `oidc` too, [`crate::oidc::test_provider`] is an OpenID provider to
//! sign in through; with `mail`, [`MailCatcher`] is a real SMTP server whose
//! messages the test reads.

use reqwest::{Client, Response, StatusCode, header::HeaderMap};
use serde_json::Value;

/// One browser on one server: its address, and a client with a cookie jar.
#[derive(Clone, Debug)]
pub struct Browser {
    /// `http://127.0.0.1:<port>`
    pub address: String,
    pub client: Client,
}

/// The `User-Agent` a [`Browser`] sends.
pub const USER_AGENT: &str = "platform::testing::Browser";

impl Browser {
    /// A browser with an empty cookie jar.
    pub fn new(address: impl Into<String>) -> Self {
        Self {
            address: address.into(),
            client: Client::builder()
                .cookie_store(true)
                .user_agent(USER_AGENT)
                .build()
                .expect("an HTTP client"),
        }
    }

    /// Another browser on the same server, with an empty cookie jar of its
    /// own.
    pub fn another(&self) -> Self {
        Self::new(self.address.clone())
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    pub async fn get(&self, path: &str) -> Response {
        self.client
            .get(self.url(path))
            .send()
            .await
            .expect("request sent")
    }

    pub async fn post_json(&self, path: &str, body: &Value) -> Response {
        self.client
            .post(self.url(path))
            .json(body)
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

    /// `GET /api/auth/session`: who this browser is signed in as.
    pub async fn session(&self) -> Response {
        self.get("/api/auth/session").await
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

    /// `POST /api/auth/logout`.
    pub async fn logout(&self) -> Response {
        self.client
            .post(self.url("/api/auth/logout"))
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

/// Asserts that an answer may not be kept by any cache: every API answer is
/// per user.
pub fn assert_no_store(response: &Response) {
    assert_eq!(
        response
            .headers()
            .get("cache-control")
            .map(|v| v.to_str().unwrap_or_default()),
        Some("no-store"),
        "{} {}",
        response.url(),
        response.status()
    );
}

/// Asserts the JSON error shape and the status, and returns the error's
/// code.
pub async fn error_code(response: Response, status: StatusCode) -> String {
    assert_eq!(response.status(), status, "{}", response.url());
    let body: Value = response.json().await.expect("a JSON error body");
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert!(!message.is_empty(), "error without message: {body}");
    body["error"]["code"]
        .as_str()
        .expect("an error code")
        .to_owned()
}

#[cfg(any(feature = "sqlite", feature = "postgres"))]
mod database;
#[cfg(feature = "mail")]
mod mail_catcher;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub use database::TestDatabase;
#[cfg(feature = "mail")]
pub use mail_catcher::{MailCatcher, ReceivedMail, smtp_url};
