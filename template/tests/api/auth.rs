//! Signup, login, session and logout over real HTTP with a cookie jar.

use crate::helpers::{cookie_pair, error_code, session_set_cookie, spawn_app, spawn_app_with};
use reqwest::StatusCode;
use serde_json::{Value, json};

#[tokio::test]
async fn health_and_readiness_answer_json() {
    let app = spawn_app().await;
    let health = app.client.get(app.url("/api/health")).send().await.unwrap();
    assert_eq!(health.status(), StatusCode::OK);
    assert_eq!(
        health.json::<Value>().await.unwrap(),
        json!({ "status": "ok" })
    );

    let ready = app.client.get(app.url("/api/ready")).send().await.unwrap();
    assert_eq!(ready.status(), StatusCode::OK);
    let body: Value = ready.json().await.unwrap();
    assert_eq!(
        body["checks"],
        json!({ "database": "ok", "session_store": "ok" })
    );
}

#[tokio::test]
async fn full_session_lifecycle() {
    let app = spawn_app().await;

    assert_eq!(
        error_code(app.session().await, StatusCode::UNAUTHORIZED).await,
        "unauthenticated"
    );

    let signup = app
        .signup("Ada@Example.com ", "correct horse battery")
        .await;
    assert_eq!(signup.status(), StatusCode::CREATED);
    let user: Value = signup.json().await.unwrap();
    assert_eq!(
        user["user"]["email"], "ada@example.com",
        "emails are normalised"
    );
    assert!(user["user"]["id"].is_i64());
    assert!(user["user"].get("password_hash").is_none());

    // Signup signs the new user in.
    let session = app.session().await;
    assert_eq!(session.status(), StatusCode::OK);
    assert_eq!(session.headers()["cache-control"], "no-store");
    assert_eq!(session.json::<Value>().await.unwrap()["user"], user["user"]);

    let logout = app.logout().await;
    assert_eq!(logout.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        error_code(app.session().await, StatusCode::UNAUTHORIZED).await,
        "unauthenticated"
    );

    let login = app.login("ada@example.com", "correct horse battery").await;
    assert_eq!(login.status(), StatusCode::OK);
    assert_eq!(login.json::<Value>().await.unwrap()["user"], user["user"]);
    assert_eq!(app.session().await.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_column_added_to_users_reaches_no_answer() {
    let app = spawn_app().await;
    let signup = app.signup("ada@example.com", "a long passphrase").await;
    assert_eq!(signup.status(), StatusCode::CREATED);
    app.database
        .execute("ALTER TABLE users ADD COLUMN role TEXT NOT NULL DEFAULT 'admin'")
        .await;
    app.logout().await;
    let login = app.login("ada@example.com", "a long passphrase").await;
    let session = app.session().await;
    for answer in [login, session] {
        let body: Value = answer.json().await.unwrap();
        let keys: Vec<&str> = body["user"]
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(keys, ["email", "email_verified", "id"], "{body}");
    }
}

#[tokio::test]
async fn login_issues_a_new_session_id_and_retires_the_old_one() {
    let app = spawn_app().await;
    let signup = app.signup("grace@example.com", "a long passphrase").await;
    let before =
        cookie_pair(&session_set_cookie(signup.headers()).expect("signup sets the cookie"));

    let login = app.login("grace@example.com", "a long passphrase").await;
    let after = cookie_pair(&session_set_cookie(login.headers()).expect("login sets the cookie"));
    assert_ne!(before, after, "the id must rotate at login");

    // An id known before login (planted or stolen) is worthless after it.
    let replay = app.session_with_cookie(&before).await;
    assert_eq!(
        error_code(replay, StatusCode::UNAUTHORIZED).await,
        "unauthenticated"
    );
    assert_eq!(app.session().await.status(), StatusCode::OK);
}

#[tokio::test]
async fn old_cookie_is_refused_after_logout() {
    let app = spawn_app().await;
    let signup = app.signup("linus@example.com", "a long passphrase").await;
    let cookie = cookie_pair(&session_set_cookie(signup.headers()).unwrap());

    assert_eq!(
        app.session_with_cookie(&cookie).await.status(),
        StatusCode::OK
    );

    let logout = app.logout().await;
    assert_eq!(logout.status(), StatusCode::NO_CONTENT);
    let removal = session_set_cookie(logout.headers()).expect("logout removes the cookie");
    assert!(removal.contains("Max-Age=0"), "{removal}");

    // The server-side record is gone: replaying the copied cookie fails.
    assert_eq!(
        error_code(
            app.session_with_cookie(&cookie).await,
            StatusCode::UNAUTHORIZED
        )
        .await,
        "unauthenticated"
    );
}

#[tokio::test]
async fn cookie_attributes_on_plain_http() {
    let app = spawn_app().await;
    let signup = app.signup("ken@example.com", "a long passphrase").await;
    let cookie = session_set_cookie(signup.headers()).unwrap();
    assert!(cookie.starts_with("sid="), "{cookie}");
    for attribute in ["HttpOnly", "SameSite=Lax", "Path=/", "Max-Age="] {
        assert!(cookie.contains(attribute), "missing {attribute}: {cookie}");
    }
    assert!(
        !cookie.contains("Secure"),
        "plain-http dev cookie must not be Secure: {cookie}"
    );
    assert!(
        !cookie.contains("Domain"),
        "host-only cookie expected: {cookie}"
    );
}

#[tokio::test]
async fn cookie_attributes_behind_https() {
    let app = spawn_app_with(&[
        ("PUBLIC_ORIGIN", "https://api.example.com"),
        // Same site as the API (a cross-origin project needs a frontend).
        ("FRONTEND_ORIGINS", "https://app.example.com"),
    ])
    .await;
    let signup = app.signup("barbara@example.com", "a long passphrase").await;
    let cookie = session_set_cookie(signup.headers()).unwrap();
    assert!(cookie.starts_with("__Host-sid="), "{cookie}");
    for attribute in ["Secure", "HttpOnly", "SameSite=Lax", "Path=/"] {
        assert!(cookie.contains(attribute), "missing {attribute}: {cookie}");
    }
    assert!(
        !cookie.contains("Domain"),
        "__Host- cookies must be host-only: {cookie}"
    );
}

#[tokio::test]
async fn duplicate_signup_is_a_conflict() {
    let app = spawn_app().await;
    assert_eq!(
        app.signup("dup@example.com", "a long passphrase")
            .await
            .status(),
        StatusCode::CREATED
    );
    let again = app.signup("DUP@example.com", "another passphrase").await;
    assert_eq!(error_code(again, StatusCode::CONFLICT).await, "email_taken");
}

#[tokio::test]
async fn unknown_email_and_wrong_password_look_the_same() {
    let app = spawn_app().await;
    app.signup("edsger@example.com", "a long passphrase").await;
    app.logout().await;

    let unknown = app.login("nobody@example.com", "a long passphrase").await;
    let wrong = app.login("edsger@example.com", "not the passphrase").await;
    assert_eq!(unknown.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        unknown.json::<Value>().await.unwrap(),
        wrong.json::<Value>().await.unwrap()
    );
    assert_eq!(app.session().await.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn invalid_input_gets_json_errors() {
    let app = spawn_app().await;
    let cases = [
        (
            json!({ "email": "not-an-email", "password": "a long passphrase" }),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            json!({ "email": "short@example.com", "password": "short" }),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            json!({ "email": "long@example.com", "password": "x".repeat(129) }),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            json!({ "email": "missing@example.com" }),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
    ];
    for (body, status) in cases {
        let response = app.post_json("/api/auth/signup", &body).await;
        error_code(response, status).await;
    }

    let malformed = app
        .client
        .post(app.url("/api/auth/signup"))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(
        error_code(malformed, StatusCode::BAD_REQUEST).await,
        "malformed_body"
    );

    let no_json = app
        .client
        .post(app.url("/api/auth/login"))
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(
        error_code(no_json, StatusCode::UNSUPPORTED_MEDIA_TYPE).await,
        "unsupported_media_type"
    );
}

#[tokio::test]
async fn unknown_paths_and_methods_answer_json() {
    let app = spawn_app().await;
    let missing = app.client.get(app.url("/api/nope")).send().await.unwrap();
    assert_eq!(
        error_code(missing, StatusCode::NOT_FOUND).await,
        "not_found"
    );
    let wrong_method = app
        .client
        .delete(app.url("/api/auth/login"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        error_code(wrong_method, StatusCode::METHOD_NOT_ALLOWED).await,
        "method_not_allowed"
    );
}

#[tokio::test]
async fn password_bounds_are_checked_before_hashing() {
    let app = spawn_app_with(&[("AUTH_ATTEMPTS_PER_IP", "10000")]).await;
    let ok = app.signup("bounds@example.com", "a long passphrase").await;
    assert_eq!(ok.status(), StatusCode::CREATED);
    let passwords = &app.state.passwords;

    let cases = [
        (
            "/api/auth/signup",
            "x".repeat(7),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "/api/auth/signup",
            "x".repeat(129),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "/api/auth/signup",
            "é".repeat(129),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "/api/auth/login",
            "x".repeat(60_000),
            StatusCode::UNAUTHORIZED,
        ),
    ];
    for (path, password, status) in cases {
        let before = passwords.argon2_runs();
        let response = app
            .post_json(
                path,
                &json!({ "email": "bounds@example.com", "password": password }),
            )
            .await;
        assert_eq!(response.status(), status, "{path} {}", password.len());
        // Refused without running Argon2 (counted, not timed: a count does
        // not vary with the load on the machine).
        assert_eq!(
            passwords.argon2_runs(),
            before,
            "{path} with a {}-byte password ran Argon2",
            password.len()
        );
    }
    // The longest allowed password works, and is hashed.
    let before = passwords.argon2_runs();
    let longest = "é".repeat(128);
    let signup = app.signup("longest@example.com", &longest).await;
    assert_eq!(signup.status(), StatusCode::CREATED);
    assert_eq!(passwords.argon2_runs(), before + 1);
}

#[tokio::test]
async fn emails_are_normalised_before_storage_and_comparison() {
    let app = spawn_app().await;
    let signup = app
        .signup("  Mixed.Case@Example.COM\t", "a long passphrase")
        .await;
    assert_eq!(signup.status(), StatusCode::CREATED);
    let body: Value = signup.json().await.unwrap();
    assert_eq!(body["user"]["email"], "mixed.case@example.com");
    app.logout().await;

    let login = app
        .login("MIXED.CASE@example.com", "a long passphrase")
        .await;
    assert_eq!(login.status(), StatusCode::OK);
    let again = app
        .signup("mixed.case@EXAMPLE.com", "another passphrase")
        .await;
    assert_eq!(error_code(again, StatusCode::CONFLICT).await, "email_taken");

    for invalid in [
        "no-at-sign",
        "@example.com",
        "a@",
        "a@localhost",
        "a@.example.com",
        "a@example.com.",
        "a b@example.com",
        "a@b@example.com",
    ] {
        let response = app.signup(invalid, "a long passphrase").await;
        assert_eq!(
            error_code(response, StatusCode::UNPROCESSABLE_ENTITY).await,
            "invalid_input",
            "{invalid:?}"
        );
    }
}

#[tokio::test]
async fn deleting_the_account_needs_its_password() {
    let app = spawn_app().await;
    app.signup("grace@example.com", "a long passphrase").await;
    let wrong_password = (StatusCode::FORBIDDEN, "invalid_credentials");
    let no_password = (StatusCode::UNPROCESSABLE_ENTITY, "invalid_body");
    for (body, (status, code)) in [
        (json!({ "password": "not the passphrase" }), wrong_password),
        (json!({ "password": "x".repeat(10_000) }), wrong_password),
        (json!({}), no_password),
    ] {
        let refused = app
            .client
            .delete(app.url("/api/auth/account"))
            .json(&body)
            .send()
            .await
            .expect("request sent");
        assert_eq!(error_code(refused, status).await, code, "{body}");
    }
    // Still there, still signed in.
    assert_eq!(app.session().await.status(), StatusCode::OK);
    let other_browser = app.another_browser();
    let login = other_browser
        .login("grace@example.com", "a long passphrase")
        .await;
    assert_eq!(login.status(), StatusCode::OK);
}
