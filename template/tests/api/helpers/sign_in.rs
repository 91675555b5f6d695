//! Signing in, for the many tests that need a signed-in user but are not
//! about how one signs in: here with an email and a password (signup, or
//! login when the account exists; `password.rs` has the raw requests). Projects generated for OpenID Connect
//! get the same functions, signing in through a test provider instead, so
//! those tests read the same whatever the project signs in with.

use std::{
    collections::HashMap,
    sync::atomic::{AtomicUsize, Ordering},
};

use reqwest::{Client, RequestBuilder, Response, StatusCode};
use serde_json::json;

use super::TestApp;

/// The password of every account the shared tests sign in with.
pub const PASSWORD: &str = "a long passphrase";

/// What `POST /api/auth/logout` answers: no content.
pub const LOGGED_OUT: StatusCode = StatusCode::NO_CONTENT;

/// A route that reads a JSON body and is open without a session.
pub const OPEN_JSON_ROUTE: &str = "/api/auth/login";

/// The routes that sign in or out, all POSTs.
pub const AUTH_POSTS: &[&str] = &["/api/auth/login", "/api/auth/signup", "/api/auth/logout"];

/// Password projects need no settings beyond the defaults.
pub fn complete_env(_env: &mut HashMap<String, String>) {}

/// Nor does their binary.
pub fn process_env(_settings: &[(&str, &str)]) -> Vec<(String, String)> {
    Vec::new()
}

/// A fresh email each call, for a user no other part of the test knows.
pub fn new_email() -> String {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    format!("user{}@example.com", NEXT.fetch_add(1, Ordering::Relaxed))
}

impl TestApp {
    /// Signs this browser in as the user with `email`, creating the account
    /// on first sign-in; returns the answer that signed in (its
    /// `Set-Cookie` carries the new session).
    pub async fn sign_in_as(&self, email: &str) -> Response {
        let signup = self.signup(email, PASSWORD).await;
        if signup.status() != StatusCode::CONFLICT {
            assert_eq!(signup.status(), StatusCode::CREATED, "signup");
            return signup;
        }
        let login = self.login(email, PASSWORD).await;
        assert_eq!(login.status(), StatusCode::OK, "login");
        login
    }

    /// `DELETE /api/auth/account` for the signed-in user, confirmed with
    /// the password.
    pub async fn delete_account(&self) -> Response {
        self.client
            .delete(self.url("/api/auth/account"))
            .json(&json!({ "password": PASSWORD }))
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
    /// before it has happened (here: the account exists).
    pub async fn sign_in_request(&self, email: &str, cookie: &str) -> RequestBuilder {
        let signup = Client::new()
            .post(self.url("/api/auth/signup"))
            .json(&json!({ "email": email, "password": PASSWORD }))
            .send()
            .await
            .expect("request sent");
        assert!(
            [StatusCode::CREATED, StatusCode::CONFLICT].contains(&signup.status()),
            "signup: {}",
            signup.status()
        );
        Client::new()
            .post(self.url("/api/auth/login"))
            .header("cookie", cookie)
            .json(&json!({ "email": email, "password": PASSWORD }))
    }

    /// The first request of a sign-in from a new browser, which writes a new
    /// session (here: a signup).
    pub async fn first_session_write(&self) -> Response {
        self.signup(&new_email(), PASSWORD).await
    }
}
