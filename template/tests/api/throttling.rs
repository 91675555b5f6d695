//! Login and signup throttling: per client address, per account, the 429
//! answer, and when `X-Forwarded-For` is believed.

use std::time::{Duration, Instant};

use crate::helpers::{TestApp, error_code, spawn_app, spawn_app_with};
use reqwest::{Response, StatusCode};
use serde_json::json;

const PASSWORD: &str = "a long passphrase";

async fn login_from(app: &TestApp, email: &str, password: &str, forwarded_for: &str) -> Response {
    app.client
        .post(app.url("/api/auth/login"))
        .header("x-forwarded-for", forwarded_for)
        .json(&json!({ "email": email, "password": password }))
        .send()
        .await
        .expect("request sent")
}

/// Asserts a 429 with a JSON body and a `Retry-After` within the window.
async fn assert_throttled(response: Response, window_secs: u64) {
    let retry_after: u64 = response
        .headers()
        .get("retry-after")
        .expect("429 carries Retry-After")
        .to_str()
        .unwrap()
        .parse()
        .expect("Retry-After in whole seconds");
    assert!(
        (1..=window_secs).contains(&retry_after),
        "Retry-After {retry_after}"
    );
    assert_eq!(
        error_code(response, StatusCode::TOO_MANY_REQUESTS).await,
        "too_many_attempts"
    );
}

#[tokio::test]
async fn one_account_is_throttled_even_with_the_right_password() {
    let app = spawn_app_with(&[
        ("AUTH_ATTEMPTS_PER_ACCOUNT", "3"),
        ("AUTH_ATTEMPTS_WINDOW_SECS", "60"),
    ])
    .await;
    // Signup is the first attempt on this account.
    assert_eq!(
        app.signup("target@example.com", PASSWORD).await.status(),
        StatusCode::CREATED
    );
    // A browser that has never signed in to the account.
    let elsewhere = app.another_browser();
    for _ in 0..2 {
        let wrong = elsewhere
            .login("target@example.com", "a wrong guess!")
            .await;
        assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    }
    // Case and spaces do not make it another account.
    assert_throttled(elsewhere.login(" TARGET@example.com", PASSWORD).await, 60).await;
    // Other accounts are not affected.
    let other = elsewhere.login("someone@example.com", PASSWORD).await;
    assert_eq!(other.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_stranger_who_knows_the_email_cannot_lock_the_owner_out() {
    let app = spawn_app_with(&[
        ("AUTH_ATTEMPTS_PER_IP", "10000"),
        ("AUTH_ATTEMPTS_PER_ACCOUNT", "5"),
        ("AUTH_ATTEMPTS_WINDOW_SECS", "300"),
    ])
    .await;
    // The owner signed up from this browser, which the server now knows.
    let owner = &app;
    assert_eq!(
        owner.signup("owner@example.com", PASSWORD).await.status(),
        StatusCode::CREATED
    );
    assert_eq!(owner.logout().await.status(), StatusCode::NO_CONTENT);

    // A stranger, with a known device of an account of their own, spends
    // the owner's account allowance and keeps trying.
    let stranger = app.another_browser();
    assert_eq!(
        stranger
            .signup("stranger@example.com", PASSWORD)
            .await
            .status(),
        StatusCode::CREATED
    );
    let mut refused = 0;
    for _ in 0..10 {
        let guess = stranger.login("owner@example.com", "a wrong guess!").await;
        match guess.status() {
            StatusCode::UNAUTHORIZED => {}
            StatusCode::TOO_MANY_REQUESTS => refused += 1,
            other => panic!("unexpected {other}"),
        }
    }
    assert!(
        refused >= 6,
        "guessing stays bounded: {refused} of 10 refused"
    );
    // Not even the right password gets through from the stranger's browser.
    assert_throttled(stranger.login("owner@example.com", PASSWORD).await, 300).await;

    // The owner's browser still signs in.
    let login = owner.login("owner@example.com", PASSWORD).await;
    assert_eq!(login.status(), StatusCode::OK);
    assert_eq!(owner.session().await.status(), StatusCode::OK);

    // A browser the owner has never used shares the spent allowance: the
    // price of bounding guesses from many addresses.
    assert_throttled(
        app.another_browser()
            .login("owner@example.com", PASSWORD)
            .await,
        300,
    )
    .await;

    // A known device's own allowance is bounded too (a stolen device
    // cookie gives a handful of guesses, not unlimited ones).
    assert_eq!(owner.logout().await.status(), StatusCode::NO_CONTENT);
    let mut refused = 0;
    for _ in 0..8 {
        let guess = owner.login("owner@example.com", "a wrong guess!").await;
        if guess.status() == StatusCode::TOO_MANY_REQUESTS {
            refused += 1;
        }
    }
    assert!(refused >= 4, "{refused} of 8 refused");
}

/// Deleting the account checks the password, throttled as a login is: the
/// owner's known browser has its own allowance there too.
#[tokio::test]
async fn a_strangers_wrong_logins_do_not_stop_the_owner_deleting_the_account() {
    let app = spawn_app_with(&[
        ("AUTH_ATTEMPTS_PER_IP", "10000"),
        ("AUTH_ATTEMPTS_PER_ACCOUNT", "3"),
        ("AUTH_ATTEMPTS_WINDOW_SECS", "300"),
    ])
    .await;
    let owner = &app;
    assert_eq!(
        owner.signup("owner@example.com", PASSWORD).await.status(),
        StatusCode::CREATED
    );
    let stranger = app.another_browser();
    for _ in 0..10 {
        stranger.login("owner@example.com", "a wrong guess!").await;
    }
    assert_throttled(stranger.login("owner@example.com", PASSWORD).await, 300).await;
    let deleted = owner
        .client
        .delete(owner.url("/api/auth/account"))
        .json(&json!({ "password": PASSWORD }))
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
}

/// The window refills an attempt every 100 ms here, so only the daily
/// allowance stops steady guessing; the owner's known browser goes on.
#[tokio::test]
async fn steady_guessing_meets_the_daily_allowance() {
    let app = spawn_app_with(&[
        ("AUTH_ATTEMPTS_PER_IP", "10000"),
        ("AUTH_ATTEMPTS_PER_ACCOUNT", "10"),
        ("AUTH_ATTEMPTS_WINDOW_SECS", "1"),
        ("AUTH_ATTEMPTS_PER_ACCOUNT_PER_DAY", "5"),
    ])
    .await;
    let owner = &app;
    // Signup is the account's first attempt of the day.
    assert_eq!(
        owner.signup("owner@example.com", PASSWORD).await.status(),
        StatusCode::CREATED
    );
    let stranger = app.another_browser();
    for _ in 0..4 {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let guess = stranger.login("owner@example.com", "a wrong guess!").await;
        assert_eq!(guess.status(), StatusCode::UNAUTHORIZED);
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let refused = stranger.login("owner@example.com", "a wrong guess!").await;
    assert_throttled(refused, 86_400).await;
    assert_eq!(owner.logout().await.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        owner.login("owner@example.com", PASSWORD).await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn one_client_is_throttled_across_accounts_and_signups() {
    let app = spawn_app_with(&[
        ("AUTH_ATTEMPTS_PER_IP", "3"),
        ("AUTH_ATTEMPTS_WINDOW_SECS", "60"),
    ])
    .await;
    for n in 0..3 {
        let response = app.login(&format!("user{n}@example.com"), PASSWORD).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    }
    assert_throttled(app.login("user9@example.com", PASSWORD).await, 60).await;
    assert_throttled(app.signup("new@example.com", PASSWORD).await, 60).await;
    // Other routes are not throttled.
    let health = app.client.get(app.url("/api/health")).send().await.unwrap();
    assert_eq!(health.status(), StatusCode::OK);
}

#[tokio::test]
async fn x_forwarded_for_is_ignored_by_default() {
    let app = spawn_app_with(&[
        ("AUTH_ATTEMPTS_PER_IP", "2"),
        ("AUTH_ATTEMPTS_WINDOW_SECS", "60"),
    ])
    .await;
    // A client cannot escape its bucket by claiming other addresses.
    for n in 0..2 {
        let response = login_from(
            &app,
            &format!("u{n}@example.com"),
            PASSWORD,
            &format!("203.0.113.{n}"),
        )
        .await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    }
    assert_throttled(
        login_from(&app, "u2@example.com", PASSWORD, "203.0.113.2").await,
        60,
    )
    .await;
}

#[tokio::test]
async fn x_forwarded_for_from_a_peer_that_is_not_a_trusted_proxy_is_ignored() {
    // Proxies are configured, but this client (127.0.0.1) is not one: it
    // reached the port directly, and its header is its own invention.
    let app = spawn_app_with(&[
        ("TRUSTED_PROXIES", "10.0.0.0/8,::1"),
        ("AUTH_ATTEMPTS_PER_IP", "2"),
        ("AUTH_ATTEMPTS_WINDOW_SECS", "60"),
    ])
    .await;
    for n in 0..2 {
        let forwarded = format!("10.0.0.{n}, 203.0.113.{n}");
        let response = login_from(&app, &format!("d{n}@example.com"), PASSWORD, &forwarded).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    }
    assert_throttled(
        login_from(&app, "d2@example.com", PASSWORD, "203.0.113.2").await,
        60,
    )
    .await;
}

#[tokio::test]
async fn behind_a_trusted_proxy_the_address_it_appended_is_the_client() {
    // The test client connects from 127.0.0.1, standing in for the proxy.
    let app = spawn_app_with(&[
        ("TRUSTED_PROXIES", "127.0.0.1"),
        ("AUTH_ATTEMPTS_PER_IP", "2"),
        ("AUTH_ATTEMPTS_WINDOW_SECS", "60"),
    ])
    .await;
    // The proxy appends the real client address; what the client wrote to
    // the left of it does not matter.
    for n in 0..2 {
        let forwarded = format!("198.51.100.{n}, 203.0.113.7");
        let response = login_from(&app, &format!("a{n}@example.com"), PASSWORD, &forwarded).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    }
    assert_throttled(
        login_from(
            &app,
            "a2@example.com",
            PASSWORD,
            "198.51.100.9, 203.0.113.7",
        )
        .await,
        60,
    )
    .await;
    // Another client behind the same proxy has its own allowance.
    let other = login_from(&app, "a3@example.com", PASSWORD, "203.0.113.8").await;
    assert_eq!(other.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn behind_a_chain_of_trusted_proxies_clients_of_one_edge_keep_their_own_allowance() {
    // CDN edge (10.9.x.x) -> load balancer (127.0.0.1) -> app.
    let app = spawn_app_with(&[
        ("TRUSTED_PROXIES", "127.0.0.1, 10.9.0.0/16"),
        ("AUTH_ATTEMPTS_PER_IP", "2"),
        ("AUTH_ATTEMPTS_WINDOW_SECS", "60"),
    ])
    .await;
    // One client through two different edges: one allowance.
    for (n, edge) in ["10.9.0.3", "10.9.0.4"].into_iter().enumerate() {
        let forwarded = format!("192.0.2.{n}, 203.0.113.7, {edge}");
        let response = login_from(&app, &format!("e{n}@example.com"), PASSWORD, &forwarded).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    }
    assert_throttled(
        login_from(&app, "e2@example.com", PASSWORD, "203.0.113.7, 10.9.0.3").await,
        60,
    )
    .await;
    // Other clients of the same edge are not affected.
    let other = login_from(&app, "e3@example.com", PASSWORD, "203.0.113.8, 10.9.0.3").await;
    assert_eq!(other.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn the_allowance_comes_back_after_the_window() {
    const WINDOW: Duration = Duration::from_secs(2);
    let app = spawn_app_with(&[
        ("AUTH_ATTEMPTS_PER_ACCOUNT", "1"),
        ("AUTH_ATTEMPTS_WINDOW_SECS", "2"),
    ])
    .await;
    let started = Instant::now();
    let first = app.login("patient@example.com", PASSWORD).await;
    assert_eq!(first.status(), StatusCode::UNAUTHORIZED);
    let second = app.login("patient@example.com", PASSWORD).await;
    if second.status() == StatusCode::TOO_MANY_REQUESTS {
        assert_throttled(second, WINDOW.as_secs()).await;
    } else {
        // Only possible if the machine was so busy that the window had
        // passed already: a lower bound, which load cannot break.
        assert!(
            started.elapsed() >= WINDOW,
            "not throttled {:?} after the first attempt",
            started.elapsed()
        );
    }
    tokio::time::sleep(WINDOW).await;
    let later = app.login("patient@example.com", PASSWORD).await;
    assert_eq!(later.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn devices_older_than_their_cookie_are_forgotten() {
    let app = spawn_app().await;
    let signup = app.signup("owner@example.com", PASSWORD).await;
    assert_eq!(signup.status(), StatusCode::CREATED);
    let (user_id,): (i64,) = sqlx::query_as("SELECT id FROM users")
        .fetch_one(&app.state.db)
        .await
        .unwrap();
    // A browser last given a cookie 400 days ago: the cookie has expired.
    sqlx::query(
        "INSERT INTO known_devices (token_digest, user_id, created_at) VALUES ('old', $1, $2)",
    )
    .bind(user_id)
    .bind(time::OffsetDateTime::now_utc() - time::Duration::days(400))
    .execute(&app.state.db)
    .await
    .unwrap();

    let login = app
        .another_browser()
        .login("owner@example.com", PASSWORD)
        .await;
    assert_eq!(login.status(), StatusCode::OK);
    let digests: Vec<(String,)> = sqlx::query_as("SELECT token_digest FROM known_devices")
        .fetch_all(&app.state.db)
        .await
        .unwrap();
    assert_eq!(
        digests.len(),
        2,
        "signup's and the new browser's: {digests:?}"
    );
    assert!(digests.iter().all(|(d,)| d != "old"), "{digests:?}");
}

#[tokio::test]
async fn an_account_remembers_a_bounded_number_of_browsers() {
    let app = spawn_app().await;
    let signup = app.signup("owner@example.com", PASSWORD).await;
    assert_eq!(signup.status(), StatusCode::CREATED);
    let (user_id,): (i64,) = sqlx::query_as("SELECT id FROM users")
        .fetch_one(&app.state.db)
        .await
        .unwrap();
    // Sixty browsers remembered in the last days.
    for n in 0..60 {
        sqlx::query(
            "INSERT INTO known_devices (token_digest, user_id, created_at) VALUES ($1, $2, $3)",
        )
        .bind(format!("seen-{n}"))
        .bind(user_id)
        .bind(time::OffsetDateTime::now_utc() - time::Duration::hours(100 - n))
        .execute(&app.state.db)
        .await
        .unwrap();
    }
    let login = app
        .another_browser()
        .login("owner@example.com", PASSWORD)
        .await;
    assert_eq!(login.status(), StatusCode::OK);
    let digests: Vec<(String,)> =
        sqlx::query_as("SELECT token_digest FROM known_devices ORDER BY created_at")
            .fetch_all(&app.state.db)
            .await
            .unwrap();
    assert_eq!(digests.len(), 50, "{digests:?}");
    // The oldest went; the newest, the login's own among them, stayed.
    assert_eq!(digests[0].0, "seen-12");
    assert!(
        !digests
            .iter()
            .any(|(d,)| d.starts_with("seen-") && d.len() == 6)
    );
}
