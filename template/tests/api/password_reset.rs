//! "Forgot password" (`POST /api/auth/password/forgot`, then
//! `/api/auth/password/reset`), with the mail read from a real SMTP server
//! (aiosmtpd, the platform's `testing::MailCatcher`): the link works once,
//! from any browser; it ends every session of the account and signs in only
//! the browser that used it; asking reveals nothing about which addresses
//! have accounts; mail queued while SMTP is down, or before a restart, still
//! arrives.

use std::{sync::Arc, time::Duration};

use platform::testing::{MailCatcher, ReceivedMail, smtp_url};
use reqwest::{Response, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{
    TestApp, error_code,
    sign_in::{PASSWORD, new_email},
    spawn_app_with, spawn_instance, test_database,
};

const NEW_PASSWORD: &str = "a brand new passphrase";
const PATIENCE: Duration = Duration::from_secs(15);

/// The application sending its mail to `smtp` (an `SMTP_URL`).
async fn app_mailing_to(smtp: &str, extra: &[(&str, &str)]) -> TestApp {
    let mut settings = vec![
        ("SMTP_URL", smtp),
        ("MAIL_FROM", "Test App <no-reply@example.com>"),
        ("MAIL_RETRY_SECS", "1"),
    ];
    settings.extend_from_slice(extra);
    spawn_app_with(&settings).await
}

async fn forgot(app: &TestApp, email: &str) -> Response {
    app.post_json("/api/auth/password/forgot", &json!({ "email": email }))
        .await
}

async fn reset(app: &TestApp, token: &str, password: &str) -> Response {
    app.post_json(
        "/api/auth/password/reset",
        &json!({ "token": token, "password": password }),
    )
    .await
}

/// The one reset mail `email` was sent (signup sent it another, to verify
/// the address).
async fn reset_mail(catcher: &MailCatcher, email: &str) -> ReceivedMail {
    let subject = "Test App: reset your password";
    let mut mails = catcher.wait_for_subject(email, subject, 1, PATIENCE).await;
    assert_eq!(mails.len(), 1, "one reset mail");
    mails.remove(0)
}

#[tokio::test]
async fn a_reset_link_used_in_another_browser_signs_only_that_browser_in() {
    let Some(catcher) = MailCatcher::start() else {
        return;
    };
    let asker = app_mailing_to(&catcher.smtp_url(), &[]).await;
    let email = new_email();
    asker.sign_in_as(&email).await;
    let laptop = asker.user(&email).await;

    let asked = forgot(&asker, &email).await;
    assert_eq!(asked.status(), StatusCode::ACCEPTED);
    let mail = reset_mail(&catcher, &email).await;
    let token = mail.token().expect("a link with a token");
    assert_eq!(token.len(), 64);
    let link = format!(
        "{}#token={token}",
        asker.state.outbox.links().reset_password
    );
    assert!(link.contains("/reset-password.html#token="), "{link}");
    assert!(mail.body.contains(&link), "{}", mail.body);
    assert!(mail.headers["from"].contains("Test App"));

    // The link, opened in a browser that was never signed in.
    let phone = asker.another_browser();
    let done = reset(&phone, &token, NEW_PASSWORD).await;
    assert_eq!(done.status(), StatusCode::OK);
    let body: Value = done.json().await.unwrap();
    assert_eq!(body["user"]["email"], email.as_str());
    assert_eq!(phone.session().await.status(), StatusCode::OK);
    for ended in [&asker, &laptop] {
        assert_eq!(
            error_code(ended.session().await, StatusCode::UNAUTHORIZED).await,
            "unauthenticated"
        );
    }
    let fresh = asker.another_browser();
    assert_eq!(
        fresh.login(&email, PASSWORD).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        fresh.login(&email, NEW_PASSWORD).await.status(),
        StatusCode::OK
    );
    // Once.
    assert_eq!(
        error_code(
            reset(&asker.another_browser(), &token, "yet another passphrase").await,
            StatusCode::BAD_REQUEST
        )
        .await,
        "invalid_token"
    );
}

#[tokio::test]
async fn asking_says_nothing_about_which_addresses_have_accounts() {
    let Some(catcher) = MailCatcher::start() else {
        return;
    };
    let app = app_mailing_to(&catcher.smtp_url(), &[]).await;
    let member = new_email();
    app.sign_in_as(&member).await;
    app.logout().await;

    let stranger = new_email();
    let for_member = forgot(&app, &member).await;
    let for_stranger = forgot(&app, &stranger).await;
    assert_eq!(for_member.status(), StatusCode::ACCEPTED);
    assert_eq!(for_stranger.status(), StatusCode::ACCEPTED);
    assert_eq!(
        for_member.text().await.unwrap(),
        for_stranger.text().await.unwrap()
    );
    reset_mail(&catcher, &member).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(
        catcher
            .received()
            .iter()
            .all(|mail| !mail.to.contains(&stranger)),
        "a mail went to an address without an account"
    );

    for malformed in ["", "not an address", "a@b\r\nBcc: evil@example.com"] {
        assert_eq!(
            forgot(&app, malformed).await.status(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "{malformed:?}"
        );
    }
}

#[tokio::test]
async fn a_refused_password_keeps_the_link_and_a_changed_one_voids_it() {
    let Some(catcher) = MailCatcher::start() else {
        return;
    };
    let app = app_mailing_to(&catcher.smtp_url(), &[]).await;
    let email = new_email();
    app.sign_in_as(&email).await;
    forgot(&app, &email).await;
    let token = reset_mail(&catcher, &email).await.token().unwrap();

    assert_eq!(
        reset(&app, &token, "short").await.status(),
        StatusCode::UNPROCESSABLE_ENTITY
    );
    // The password changed another way since the link was sent.
    let changed = app
        .post_json(
            "/api/auth/password",
            &json!({ "current_password": PASSWORD, "password": NEW_PASSWORD }),
        )
        .await;
    assert_eq!(changed.status(), StatusCode::OK);
    assert_eq!(
        error_code(
            reset(&app, &token, "yet another passphrase").await,
            StatusCode::BAD_REQUEST
        )
        .await,
        "invalid_token"
    );
    for junk in ["", "x", &"0".repeat(64)] {
        assert_eq!(
            error_code(
                reset(&app, junk, NEW_PASSWORD).await,
                StatusCode::BAD_REQUEST
            )
            .await,
            "invalid_token"
        );
    }
}

#[tokio::test]
async fn asking_is_throttled_and_one_inbox_is_not_flooded() {
    let Some(catcher) = MailCatcher::start() else {
        return;
    };
    let app = app_mailing_to(
        &catcher.smtp_url(),
        &[
            ("MAIL_PER_ADDRESS_PER_HOUR", "2"),
            ("AUTH_ATTEMPTS_PER_IP", "4"),
        ],
    )
    .await;
    let email = new_email();
    app.sign_in_as(&email).await; // one attempt of four
    for _ in 0..3 {
        assert_eq!(forgot(&app, &email).await.status(), StatusCode::ACCEPTED);
    }
    assert_eq!(
        error_code(forgot(&app, &email).await, StatusCode::TOO_MANY_REQUESTS).await,
        "too_many_attempts"
    );
    // The signup's verification mail, and one reset mail: the hourly share.
    catcher.wait_for(&email, 2, PATIENCE).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(catcher.received().len(), 2, "the hourly share is 2");
}

#[tokio::test]
async fn a_mail_asked_for_while_smtp_is_down_arrives_after_a_restart() {
    let port = MailCatcher::spare_port();
    let database = Arc::new(test_database().await);
    let settings = [
        ("SMTP_URL", smtp_url(port)),
        ("MAIL_FROM", "Test App <no-reply@example.com>".to_owned()),
        ("MAIL_RETRY_SECS", "1".to_owned()),
    ];
    let settings: Vec<(&str, &str)> = settings.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let mut first = spawn_instance(&database, &settings).await;
    let email = new_email();
    first.sign_in_as(&email).await;
    assert_eq!(forgot(&first, &email).await.status(), StatusCode::ACCEPTED);
    // Nothing listens on the port: the attempts fail, the mail waits.
    tokio::time::sleep(Duration::from_secs(2)).await;
    first.stop().await;

    let Some(catcher) = MailCatcher::start_on(port) else {
        return;
    };
    let second = spawn_instance(&database, &settings).await;
    let token = reset_mail(&catcher, &email).await.token().unwrap();
    assert_eq!(
        reset(&second, &token, NEW_PASSWORD).await.status(),
        StatusCode::OK,
        "a link mailed after the restart works"
    );
}
