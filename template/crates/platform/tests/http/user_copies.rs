//! Sessions carry a copy of their user: a change to the account must reach
//! every session of it at once, on every store and every instance, and
//! deleting the account must end them all.

use std::{sync::Arc, time::Duration};

use axum::{http::StatusCode as AxumStatus, routing::get};
use reqwest::StatusCode;
use serde_json::{Value, json};
use tower_sessions::Session;

use crate::harness::{
    Store, TestApp, TestDatabase, api, new_email, spawn_instance, spawn_instance_with_api,
};

/// Two browsers signed in as one account: on one instance, or (shared
/// stores) on two instances of one store.
async fn two_browsers(store: Store) -> (TestApp, TestApp) {
    let database = Arc::new(TestDatabase::create(store).await);
    let first = spawn_instance(&database, &[]).await;
    let second = if Store::SHARED.contains(&store) {
        spawn_instance(&database, &[]).await
    } else {
        first.another_browser()
    };
    let email = new_email();
    first.sign_in_as(&email).await;
    second.sign_in_as(&email).await;
    (first, second)
}

async fn email_of(app: &TestApp) -> Option<String> {
    let response = app.session().await;
    if response.status() != StatusCode::OK {
        return None;
    }
    let body: Value = response.json().await.unwrap();
    body["user"]["email"].as_str().map(str::to_owned)
}

#[tokio::test]
async fn a_change_reaches_every_session_of_the_account_at_once() {
    for store in Store::ALL {
        let (first, second) = two_browsers(store).await;
        // Warm: a cache in front of the store holds the session now.
        let before = email_of(&second).await.expect("signed in");
        let changed = first
            .client
            .patch(first.url("/api/auth/email"))
            .json(&json!({ "email": "renamed@example.com" }))
            .send()
            .await
            .unwrap();
        assert_eq!(changed.status(), StatusCode::OK, "{store:?}");
        assert_ne!(before, "renamed@example.com");
        assert_eq!(
            email_of(&second).await.as_deref(),
            Some("renamed@example.com"),
            "{store:?}: the other session still shows the old copy"
        );
        assert_eq!(
            email_of(&first).await.as_deref(),
            Some("renamed@example.com"),
            "{store:?}"
        );
    }
}

/// A request that loaded a session before the change, and saves it after
/// (here: a slow handler writing the session), writes the old copy back.
/// The copies are written once more when every such request has ended: after
/// the request timeout.
#[tokio::test]
async fn a_late_save_of_the_old_copy_is_overwritten_after_the_request_timeout() {
    for store in [Store::SqliteCached, Store::Postgres, Store::Redis] {
        let database = Arc::new(TestDatabase::create(store).await);
        let slow_writer = api().route(
            "/api/test/slow-write",
            get(|session: Session| async move {
                // Loads the session (and its copy of the user) now...
                let _ = session.get::<u64>("n").await;
                tokio::time::sleep(Duration::from_millis(600)).await;
                // ...and saves all of it after the change.
                session
                    .insert("n", 1)
                    .await
                    .map_err(|_| AxumStatus::SERVICE_UNAVAILABLE)?;
                Ok::<_, AxumStatus>(AxumStatus::NO_CONTENT)
            }),
        );
        let app =
            spawn_instance_with_api(&database, &[("REQUEST_TIMEOUT_SECS", "2")], slow_writer).await;
        let other = app.another_browser();
        let email = new_email();
        app.sign_in_as(&email).await;
        other.sign_in_as(&email).await;

        let late = tokio::spawn({
            let (client, url) = (other.client.clone(), other.url("/api/test/slow-write"));
            async move { client.get(url).send().await.unwrap().status() }
        });
        tokio::time::sleep(Duration::from_millis(200)).await;
        let changed = app
            .client
            .patch(app.url("/api/auth/email"))
            .json(&json!({ "email": "renamed@example.com" }))
            .send()
            .await
            .unwrap();
        assert_eq!(changed.status(), StatusCode::OK);
        assert_eq!(late.await.unwrap(), StatusCode::NO_CONTENT);
        // The late save may have put the old copy back; within the request
        // timeout and a second the new one is there for good.
        tokio::time::sleep(Duration::from_millis(3_200)).await;
        assert_eq!(
            email_of(&other).await.as_deref(),
            Some("renamed@example.com"),
            "{store:?}: the late save's old copy stayed"
        );
    }
}

#[tokio::test]
async fn deleting_the_account_ends_every_session_of_it_at_once() {
    for store in Store::ALL {
        let (first, second) = two_browsers(store).await;
        assert!(email_of(&second).await.is_some());
        assert_eq!(
            first.delete_account().await.status(),
            StatusCode::NO_CONTENT,
            "{store:?}"
        );
        assert_eq!(
            second.session().await.status(),
            StatusCode::UNAUTHORIZED,
            "{store:?}: a session of the deleted account goes on"
        );
        assert_eq!(first.session().await.status(), StatusCode::UNAUTHORIZED);
    }
}
