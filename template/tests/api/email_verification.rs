//! Verified addresses: signup mails a link (read here from a real SMTP
//! server, aiosmtpd); opening it, in any browser, verifies the address, and
//! every session of the account answers with `email_verified: true` at once.

use std::time::Duration;

use platform::testing::MailCatcher;
use reqwest::{Response, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, error_code, sign_in::new_email, spawn_app_with};

const PATIENCE: Duration = Duration::from_secs(15);

async fn app_mailing_to(catcher: &MailCatcher) -> TestApp {
    spawn_app_with(&[
        ("SMTP_URL", &catcher.smtp_url()),
        ("MAIL_FROM", "Test App <no-reply@example.com>"),
    ])
    .await
}

async fn verify(app: &TestApp, token: &str) -> Response {
    app.post_json("/api/auth/email/verify", &json!({ "token": token }))
        .await
}

async fn verified(app: &TestApp) -> Value {
    let session: Value = app.session().await.json().await.unwrap();
    session["user"]["email_verified"].clone()
}

/// The token of the `n`th verification mail to `email` (from 1).
async fn verification_token(catcher: &MailCatcher, app: &TestApp, email: &str, n: usize) -> String {
    let mail = catcher.wait_for(email, n, PATIENCE).await.remove(n - 1);
    assert_eq!(mail.subject, "Test App: confirm your address");
    let link = format!("{}#token=", app.state.outbox.links().verify_email);
    assert!(mail.body.contains(&link), "{}", mail.body);
    mail.token().expect("a link with a token")
}

#[tokio::test]
async fn the_link_from_the_signup_mail_verifies_every_session_at_once() {
    let Some(catcher) = MailCatcher::start() else {
        return;
    };
    let app = app_mailing_to(&catcher).await;
    let email = new_email();
    let signed_up: Value = app.sign_in_as(&email).await.json().await.unwrap();
    assert_eq!(signed_up["user"]["email_verified"], false);
    let laptop = app.user(&email).await;
    assert_eq!(verified(&laptop).await, false);
    let token = verification_token(&catcher, &app, &email, 1).await;

    // Opened in a browser that is signed in to nothing.
    let phone = app.another_browser();
    let done = verify(&phone, &token).await;
    assert_eq!(done.status(), StatusCode::OK);
    let body: Value = done.json().await.unwrap();
    assert_eq!(body["user"]["email"], email.as_str());
    assert_eq!(body["user"]["email_verified"], true);
    assert_eq!(
        phone.session().await.status(),
        StatusCode::UNAUTHORIZED,
        "verifying signs no one in"
    );
    for browser in [&app, &laptop] {
        assert_eq!(verified(browser).await, true, "every session sees it");
    }
    assert_eq!(
        error_code(verify(&phone, &token).await, StatusCode::BAD_REQUEST).await,
        "invalid_token",
        "a link works once"
    );
}

#[tokio::test]
async fn the_link_can_be_sent_again_until_the_address_is_verified() {
    let Some(catcher) = MailCatcher::start() else {
        return;
    };
    let app = app_mailing_to(&catcher).await;
    let email = new_email();
    app.sign_in_as(&email).await;
    verification_token(&catcher, &app, &email, 1).await;

    let again = app
        .post_json("/api/auth/email/verification", &json!({}))
        .await;
    assert_eq!(again.status(), StatusCode::ACCEPTED);
    let second = verification_token(&catcher, &app, &email, 2).await;
    assert_eq!(verify(&app, &second).await.status(), StatusCode::OK);
    assert_eq!(
        error_code(
            app.post_json("/api/auth/email/verification", &json!({}))
                .await,
            StatusCode::CONFLICT
        )
        .await,
        "already_verified"
    );

    let nobody = app.another_browser();
    assert_eq!(
        error_code(
            nobody
                .post_json("/api/auth/email/verification", &json!({}))
                .await,
            StatusCode::UNAUTHORIZED
        )
        .await,
        "unauthenticated"
    );
    for junk in ["", "x", &"f".repeat(64)] {
        assert_eq!(
            error_code(verify(&nobody, junk).await, StatusCode::BAD_REQUEST).await,
            "invalid_token"
        );
    }
}

#[tokio::test]
async fn with_verification_required_the_notes_wait_for_the_link() {
    let Some(catcher) = MailCatcher::start() else {
        return;
    };
    let app = spawn_app_with(&[
        ("SMTP_URL", &catcher.smtp_url()),
        ("MAIL_FROM", "Test App <no-reply@example.com>"),
        ("REQUIRE_VERIFIED_EMAIL", "true"),
    ])
    .await;
    let email = new_email();
    app.sign_in_as(&email).await;
    let note = json!({ "title": "first", "body": "" });
    assert_eq!(
        error_code(
            app.post_json("/api/notes", &note).await,
            StatusCode::FORBIDDEN
        )
        .await,
        "email_unverified"
    );
    assert_eq!(
        error_code(app.get("/api/notes").await, StatusCode::FORBIDDEN).await,
        "email_unverified"
    );
    // The account stays the user's to manage.
    assert_eq!(app.get("/api/auth/sessions").await.status(), StatusCode::OK);

    let token = verification_token(&catcher, &app, &email, 1).await;
    assert_eq!(
        verify(&app.another_browser(), &token).await.status(),
        StatusCode::OK
    );
    assert_eq!(
        app.post_json("/api/notes", &note).await.status(),
        StatusCode::CREATED,
        "the same session, verified at once"
    );
}
