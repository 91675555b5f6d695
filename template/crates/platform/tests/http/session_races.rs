//! Sessions that must stay dead: a request that read a session before a
//! logout, or before the id rotation at login, and saves it afterwards must
//! not bring it back. Each round races real requests against each other on
//! the real store, for every store; the rounds make a lost race likely, not
//! certain, so a regression shows up as a failure in most runs, never as a
//! flaky pass.

use std::sync::{
    Arc,
    atomic::{AtomicBool, Ordering},
};

use axum::{http::StatusCode as AxumStatus, routing::get};
use reqwest::{Client, StatusCode};
use tower_sessions::Session;

use crate::harness::{
    LOGGED_OUT, Store, TestApp, TestDatabase, cookie_pair, session_set_cookie,
    spawn_instance_with_api,
};

/// Rounds per test, and clients writing the session in each round.
const ROUNDS: usize = 10;
const WRITERS: usize = 4;

/// The tests' API plus a handler that writes to the session on every
/// request, as any handler keeping per-session state would (and as the
/// idle-timeout renewal does once per half window), on `store`.
async fn app_with_a_writing_route(store: Store) -> TestApp {
    let api = crate::harness::api().route(
        "/api/test/touch",
        get(|session: Session| async move {
            let n = session
                .get::<u64>("touches")
                .await
                .ok()
                .flatten()
                .unwrap_or(0);
            session
                .insert("touches", n + 1)
                .await
                .map_err(|_| AxumStatus::SERVICE_UNAVAILABLE)?;
            Ok::<_, AxumStatus>(AxumStatus::NO_CONTENT)
        }),
    );
    let database = Arc::new(TestDatabase::create(store).await);
    spawn_instance_with_api(
        &database,
        &[
            ("AUTH_ATTEMPTS_PER_IP", "10000"),
            ("AUTH_ATTEMPTS_PER_ACCOUNT", "10000"),
        ],
        api,
    )
    .await
}

async fn get_with_cookie(app: &TestApp, path: &str, cookie: &str) -> StatusCode {
    Client::new()
        .get(app.url(path))
        .header("cookie", cookie)
        .send()
        .await
        .expect("request sent")
        .status()
}

/// Runs `action` while `WRITERS` clients keep loading and saving the
/// session behind `cookie`, so some load before `action` deletes it and save
/// after.
async fn while_writing<F: Future<Output = ()>>(app: &TestApp, cookie: &str, action: F) {
    let done = Arc::new(AtomicBool::new(false));
    let tasks: Vec<_> = (0..WRITERS)
        .map(|_| {
            let (url, cookie, done) = (
                app.url("/api/test/touch"),
                cookie.to_owned(),
                Arc::clone(&done),
            );
            tokio::spawn(async move {
                let client = Client::new();
                // Until the action is over, and once more after it.
                loop {
                    let over = done.load(Ordering::Acquire);
                    client
                        .get(&url)
                        .header("cookie", &cookie)
                        .send()
                        .await
                        .expect("request sent");
                    if over {
                        break;
                    }
                }
            })
        })
        .collect();
    action.await;
    done.store(true, Ordering::Release);
    for task in tasks {
        task.await.expect("writer task");
    }
}

#[tokio::test]
async fn a_logged_out_session_stays_dead_whatever_was_in_flight() {
    for store in Store::ALL {
        let app = app_with_a_writing_route(store).await;
        logout_rounds(&app, store).await;
    }
}

async fn logout_rounds(app: &TestApp, store: Store) {
    for round in 0..ROUNDS {
        let login = app.sign_in_as("ada@example.com").await;
        let cookie = cookie_pair(&session_set_cookie(login.headers()).expect("a session cookie"));
        assert_eq!(
            get_with_cookie(app, "/api/test/touch", &cookie).await,
            StatusCode::NO_CONTENT
        );
        let logout = async {
            let answer = Client::new()
                .post(app.url("/api/auth/logout"))
                .header("cookie", &cookie)
                .send()
                .await
                .expect("request sent");
            assert_eq!(answer.status(), LOGGED_OUT);
        };
        while_writing(app, &cookie, logout).await;
        assert_eq!(
            get_with_cookie(app, "/api/auth/session", &cookie).await,
            StatusCode::UNAUTHORIZED,
            "{store:?}, round {round}: the session came back after logout"
        );
    }
}

#[tokio::test]
async fn the_old_id_stays_dead_after_the_rotation_at_login() {
    for store in Store::ALL {
        let app = app_with_a_writing_route(store).await;
        rotation_rounds(&app, store).await;
    }
}

async fn rotation_rounds(app: &TestApp, store: Store) {
    for round in 0..ROUNDS {
        let login = app.sign_in_as("ada@example.com").await;
        let old = cookie_pair(&session_set_cookie(login.headers()).expect("a session cookie"));
        // Signing in again from the same browser rotates the id.
        let relogin_request = app.sign_in_request("ada@example.com", &old).await;
        let relogin = async {
            let answer = relogin_request.send().await.expect("request sent");
            let new = session_set_cookie(answer.headers());
            let status = answer.status();
            let body = answer.text().await.unwrap_or_default();
            assert_eq!(status, StatusCode::OK, "{body}");
            let new = new.expect("a new session cookie");
            assert_ne!(cookie_pair(&new), old);
        };
        while_writing(app, &old, relogin).await;
        assert_eq!(
            get_with_cookie(app, "/api/auth/session", &old).await,
            StatusCode::UNAUTHORIZED,
            "{store:?}, round {round}: the old id came back after the rotation"
        );
    }
}
