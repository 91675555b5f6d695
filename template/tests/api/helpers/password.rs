//! Signing in with a password, for the tests of a project whose users have
//! one. (A project generated with a hosted login has no such routes; its
//! tests sign in through a provider instead.)

use reqwest::Response;
use serde_json::json;

use super::TestApp;

impl TestApp {
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
}
