//! Changing the address (`POST /api/auth/email`, then
//! `/api/auth/email/confirm`), with the mail read from a real SMTP server
//! (aiosmtpd): nothing changes until the link mailed to the new address is
//! opened; then every session of the account has the new address at once.
//! Asking reveals nothing about which addresses have accounts.

use std::time::Duration;

use platform::testing::{MailCatcher, ReceivedMail};
use reqwest::{Response, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{
    TestApp, error_code,
    sign_in::{PASSWORD, new_email},
    spawn_app_with,
};

const PATIENCE: Duration = Duration::from_secs(15);

fn mail_settings(catcher: &MailCatcher) -> [(&'static str, String); 2] {
    [
        ("SMTP_URL", catcher.smtp_url()),
        ("MAIL_FROM", "Test App <no-reply@example.com>".to_owned()),
    ]
}

async fn app_mailing_to(catcher: &MailCatcher) -> TestApp {
    let settings = mail_settings(catcher);
    let settings: Vec<(&str, &str)> = settings.iter().map(|(k, v)| (*k, v.as_str())).collect();
    spawn_app_with(&settings).await
}

async fn change(app: &TestApp, password: &str, email: &str) -> Response {
    app.post_json(
        "/api/auth/email",
        &json!({ "current_password": password, "email": email }),
    )
    .await
}

async fn confirm(app: &TestApp, token: &str) -> Response {
    app.post_json("/api/auth/email/confirm", &json!({ "token": token }))
        .await
}

async fn email_of(app: &TestApp) -> Value {
    let session: Value = app.session().await.json().await.unwrap();
    session["user"]["email"].clone()
}

async fn mail_about(catcher: &MailCatcher, to: &str, subject: &str) -> ReceivedMail {
    catcher
        .wait_for_subject(to, subject, 1, PATIENCE)
        .await
        .remove(0)
}

#[tokio::test]
async fn the_address_changes_when_the_link_sent_to_it_is_opened() {
    let Some(catcher) = MailCatcher::start() else {
        return;
    };
    let app = app_mailing_to(&catcher).await;
    let old = new_email();
    let new = new_email();
    app.sign_in_as(&old).await;
    let laptop = app.user(&old).await;

    let asked = change(&app, PASSWORD, &new).await;
    assert_eq!(asked.status(), StatusCode::ACCEPTED);
    let link_mail = mail_about(&catcher, &new, "confirm your new address").await;
    let link = format!("{}#token=", app.state.outbox.links().confirm_email);
    assert!(link_mail.body.contains(&link), "{}", link_mail.body);
    let notice = mail_about(&catcher, &old, "a new address was asked for").await;
    assert!(notice.body.contains(&new) && notice.token().is_none());
    assert_eq!(email_of(&laptop).await, old.as_str(), "nothing changes yet");

    let phone = app.another_browser();
    let token = link_mail.token().unwrap();
    let done = confirm(&phone, &token).await;
    assert_eq!(done.status(), StatusCode::OK);
    let body: Value = done.json().await.unwrap();
    assert_eq!(body["user"]["email"], new.as_str());
    assert_eq!(body["user"]["email_verified"], true);
    for browser in [&app, &laptop] {
        assert_eq!(
            email_of(browser).await,
            new.as_str(),
            "every session sees it"
        );
    }
    assert_eq!(phone.session().await.status(), StatusCode::UNAUTHORIZED);
    let fresh = app.another_browser();
    assert_eq!(
        fresh.login(&old, PASSWORD).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(fresh.login(&new, PASSWORD).await.status(), StatusCode::OK);
    assert_eq!(
        error_code(confirm(&phone, &token).await, StatusCode::BAD_REQUEST).await,
        "invalid_token"
    );
}

#[tokio::test]
async fn an_address_with_an_account_is_told_so_and_the_answer_is_the_same() {
    let Some(catcher) = MailCatcher::start() else {
        return;
    };
    let app = app_mailing_to(&catcher).await;
    let taken = new_email();
    app.sign_in_as(&taken).await;
    app.logout().await;
    let mine = new_email();
    app.sign_in_as(&mine).await;

    let to_taken = change(&app, PASSWORD, &taken).await;
    let to_free = change(&app, PASSWORD, &new_email()).await;
    assert_eq!(to_taken.status(), StatusCode::ACCEPTED);
    assert_eq!(to_free.status(), StatusCode::ACCEPTED);
    assert_eq!(
        to_taken.text().await.unwrap(),
        to_free.text().await.unwrap()
    );
    let told = mail_about(&catcher, &taken, "has an account already").await;
    assert!(told.token().is_none(), "{}", told.body);
    assert_eq!(email_of(&app).await, mine.as_str());
}

#[tokio::test]
async fn a_change_needs_the_password_and_an_address() {
    let Some(catcher) = MailCatcher::start() else {
        return;
    };
    let app = app_mailing_to(&catcher).await;
    let email = new_email();
    app.sign_in_as(&email).await;
    let cases = [
        (
            "not the password",
            "new@example.com",
            StatusCode::FORBIDDEN,
            "invalid_credentials",
        ),
        (
            PASSWORD,
            "not an address",
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_input",
        ),
        (
            PASSWORD,
            "a@b.example\r\nBcc: x@evil.example",
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_input",
        ),
        (
            PASSWORD,
            &email,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_input",
        ),
    ];
    for (password, address, status, code) in cases {
        assert_eq!(
            error_code(change(&app, password, address).await, status).await,
            code,
            "{address:?}"
        );
    }
    app.logout().await;
    assert_eq!(
        error_code(
            change(&app, PASSWORD, "new@example.com").await,
            StatusCode::UNAUTHORIZED
        )
        .await,
        "unauthenticated"
    );
}

#[tokio::test]
async fn a_new_password_voids_a_pending_change() {
    let Some(catcher) = MailCatcher::start() else {
        return;
    };
    let app = app_mailing_to(&catcher).await;
    let email = new_email();
    let new = new_email();
    app.sign_in_as(&email).await;
    change(&app, PASSWORD, &new).await;
    let token = mail_about(&catcher, &new, "confirm your new address")
        .await
        .token()
        .unwrap();
    let changed = app
        .post_json(
            "/api/auth/password",
            &json!({ "current_password": PASSWORD, "password": "another long passphrase" }),
        )
        .await;
    assert_eq!(changed.status(), StatusCode::OK);
    assert_eq!(
        error_code(confirm(&app, &token).await, StatusCode::BAD_REQUEST).await,
        "invalid_token"
    );
    assert_eq!(email_of(&app).await, email.as_str());
}

{%- if database == "postgres" or session_store == "redis" %}

/// Two instances on one shared store: the change confirmed through one is
/// seen at once by a session served by the other.
#[tokio::test]
async fn a_change_confirmed_on_one_instance_is_seen_on_the_other_at_once() {
    use crate::helpers::spawn_instance;

    let Some(catcher) = MailCatcher::start() else {
        return;
    };
    let a = app_mailing_to(&catcher).await;
    let settings = mail_settings(&catcher);
    let settings: Vec<(&str, &str)> = settings.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let b = spawn_instance(&a.database, &settings).await;
    let old = new_email();
    let new = new_email();
    a.sign_in_as(&old).await;
    b.sign_in_as(&old).await;
    assert_eq!(email_of(&b).await, old.as_str());

    change(&a, PASSWORD, &new).await;
    let token = mail_about(&catcher, &new, "confirm your new address")
        .await
        .token()
        .unwrap();
    assert_eq!(confirm(&a, &token).await.status(), StatusCode::OK);
    assert_eq!(email_of(&b).await, new.as_str());
}
{%- endif %}
