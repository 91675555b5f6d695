//! What can go wrong with a sign-in through an OpenID provider: a relayed
//! or stale answer, a replayed code, a refusal, a forged ID token, a key
//! rotation, a provider that is down or answers garbage. Each case ends
//! with a session read showing that nothing was signed in, and none gets a
//! 500.

use std::{
    collections::HashMap,
    time::{Duration, Instant},
};

use reqwest::StatusCode;
use serde_json::{Value, json};

use platform::oidc::test_provider::{Endpoint, Forgery, Misbehaviour, TestProvider, free_address};

use crate::helpers::{
    TestApp, error_code,
    sign_in::{PendingLogin, approve},
    spawn_app_with,
};

/// The origin requests come from: the frontend's (cross-origin) or this
/// backend's own.
const FRONTEND_ORIGIN: &str = "{% if cross_origin %}http://localhost:5173{% else %}http://localhost:8080{% endif %}";

/// The app, on a provider of this test's own.
async fn app_on(issuer: &str, overrides: &[(&str, &str)]) -> TestApp {
    let mut env = vec![("OIDC_ISSUER_URL", issuer)];
    env.extend_from_slice(overrides);
    spawn_app_with(&env).await
}

async fn assert_signed_out(app: &TestApp) {
    assert_eq!(
        error_code(app.session().await, StatusCode::UNAUTHORIZED).await,
        "unauthenticated"
    );
}

/// A login started in a new browser of `app` and approved at the provider
/// as `email`: the browser, its pending login, and the provider's answer.
async fn approved_login(
    app: &TestApp,
    email: &str,
) -> (TestApp, PendingLogin, HashMap<String, String>) {
    let browser = app.another_browser();
    let login = browser.begin_login(None).await;
    let params = approve(&login.authorization_url, email, None).await;
    (browser, login, params)
}

#[tokio::test]
async fn an_attackers_answer_relayed_into_a_victims_browser_signs_no_one_in() {
    let provider = TestProvider::start().await;
    let app = app_on(provider.issuer(), &[]).await;

    // Login CSRF: the attacker starts a login in their own browser, signs in
    // at the provider as themselves, and stops before the callback...
    let (attacker, _, stolen) = approved_login(&app, "attacker@example.com").await;
    // ...then makes the victim's browser relay that answer.
    let victim = app.another_browser();
    let relayed = victim.oidc_callback(&stolen, None).await;
    assert_eq!(
        error_code(relayed, StatusCode::BAD_REQUEST).await,
        "invalid_state"
    );
    assert_signed_out(&victim).await;

    // The same while the victim has a login of their own under way: refused,
    // and the victim's pending login is dropped with it.
    let own = victim.begin_login(None).await;
    let relayed = victim.oidc_callback(&stolen, own.cookie.as_deref()).await;
    assert_eq!(
        error_code(relayed, StatusCode::BAD_REQUEST).await,
        "invalid_state"
    );
    assert_signed_out(&victim).await;
    let own_params = approve(&own.authorization_url, "victim@example.com", None).await;
    let late = victim
        .oidc_callback(&own_params, own.cookie.as_deref())
        .await;
    assert_eq!(
        error_code(late, StatusCode::BAD_REQUEST).await,
        "invalid_state"
    );
    assert_signed_out(&victim).await;
    assert_signed_out(&attacker).await;
    // The code was never exchanged.
    assert_eq!(provider.token_requests(), 0);
}

#[tokio::test]
async fn a_callback_without_a_started_login_or_with_a_wrong_state_is_refused() {
    let provider = TestProvider::start().await;
    let app = app_on(provider.issuer(), &[]).await;
    let (browser, login, mut params) = approved_login(&app, "ada@example.com").await;
    for body in [
        json!({}),
        json!({ "code": params["code"] }),
        json!({ "code": params["code"], "state": "" }),
        json!({ "code": params["code"], "state": format!("{}x", params["state"]) }),
    ] {
        let answer = browser
            .client
            .post(browser.url("/api/auth/oidc/callback"))
            .header("cookie", login.cookie.as_deref().unwrap_or_default())
            .json(&body)
            .send()
            .await
            .unwrap();
        assert!(
            [StatusCode::BAD_REQUEST, StatusCode::UNPROCESSABLE_ENTITY].contains(&answer.status()),
            "{body}: {}",
            answer.status()
        );
        assert_signed_out(&browser).await;
    }
    // The pending login went with the first refusal: even the right answer
    // no longer signs in.
    params.insert("unknown_field".into(), "ignored".into());
    let late = browser
        .oidc_callback(&params, login.cookie.as_deref())
        .await;
    assert_eq!(
        error_code(late, StatusCode::BAD_REQUEST).await,
        "invalid_state"
    );
    assert_signed_out(&browser).await;
    assert_eq!(provider.token_requests(), 0);
}

#[tokio::test]
async fn an_expired_login_is_refused() {
    let provider = TestProvider::start().await;
    // Not 1 s: Redis keeps expiry times in whole seconds, so the session
    // that holds a started login may end up to a second early there, and a
    // login that is in time must have room to finish on a busy machine.
    let app = app_on(provider.issuer(), &[("OIDC_LOGIN_TIMEOUT_SECS", "3")]).await;
    let (browser, login, params) = approved_login(&app, "ada@example.com").await;
    tokio::time::sleep(Duration::from_millis(3500)).await;
    let late = browser
        .oidc_callback(&params, login.cookie.as_deref())
        .await;
    assert_eq!(
        error_code(late, StatusCode::BAD_REQUEST).await,
        "invalid_state"
    );
    assert_signed_out(&browser).await;
    assert_eq!(provider.token_requests(), 0);

    // Within the time, the same steps sign in.
    let (browser, login, params) = approved_login(&app, "ada@example.com").await;
    let in_time = browser
        .oidc_callback(&params, login.cookie.as_deref())
        .await;
    assert_eq!(in_time.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_replayed_code_signs_no_one_in() {
    let provider = TestProvider::start().await;
    let app = app_on(provider.issuer(), &[]).await;
    let (first, login, params) = approved_login(&app, "ada@example.com").await;
    let used = first.oidc_callback(&params, login.cookie.as_deref()).await;
    assert_eq!(used.status(), StatusCode::OK);

    // The same answer again in the same browser: no login pending any more.
    let again = first.oidc_callback(&params, None).await;
    assert_eq!(
        error_code(again, StatusCode::BAD_REQUEST).await,
        "invalid_state"
    );

    // The code, sent with the state of a login of another browser: the
    // provider refuses the used code.
    let second = app.another_browser();
    let own = second.begin_login(None).await;
    let state = approve(&own.authorization_url, "mallory@example.com", None).await["state"].clone();
    let replayed = HashMap::from([
        ("code".to_owned(), params["code"].clone()),
        ("state".to_owned(), state),
    ]);
    let answer = second.oidc_callback(&replayed, own.cookie.as_deref()).await;
    assert_eq!(
        error_code(answer, StatusCode::UNAUTHORIZED).await,
        "invalid_token"
    );
    assert_eq!(
        provider.refusals().last().map(String::as_str),
        Some("code already used")
    );
    assert_signed_out(&second).await;
}

#[tokio::test]
async fn a_refusal_at_the_provider_signs_no_one_in() {
    let provider = TestProvider::start().await;
    provider.deny(true);
    let app = app_on(provider.issuer(), &[]).await;
    let (browser, login, params) = approved_login(&app, "ada@example.com").await;
    assert_eq!(params["error"], "access_denied");
    assert!(!params.contains_key("code"));
    let answer = browser
        .oidc_callback(&params, login.cookie.as_deref())
        .await;
    assert_eq!(
        error_code(answer, StatusCode::UNAUTHORIZED).await,
        "provider_refused"
    );
    assert_signed_out(&browser).await;
    assert_eq!(provider.token_requests(), 0);

    // The pending login is consumed: the same answer again is a stale one.
    let again = browser
        .oidc_callback(&params, login.cookie.as_deref())
        .await;
    assert_eq!(
        error_code(again, StatusCode::BAD_REQUEST).await,
        "invalid_state"
    );
}

#[tokio::test]
async fn forged_id_tokens_sign_no_one_in() {
    let provider = TestProvider::start().await;
    let app = app_on(provider.issuer(), &[]).await;
    // The unknown key last: it may refresh the keys, once.
    for forgery in [
        Forgery::WrongNonce,
        Forgery::WrongAudience,
        Forgery::WrongIssuer,
        Forgery::Expired,
        Forgery::AlgNone,
        Forgery::BadSignature,
        Forgery::UnknownKeyId,
    ] {
        provider.forge(forgery);
        let (browser, login, params) = approved_login(&app, "ada@example.com").await;
        let requests = provider.token_requests();
        let answer = browser
            .oidc_callback(&params, login.cookie.as_deref())
            .await;
        // The code was exchanged: the token itself was refused.
        assert_eq!(provider.token_requests(), requests + 1, "{forgery:?}");
        assert_eq!(
            error_code(answer, StatusCode::UNAUTHORIZED).await,
            "invalid_token",
            "{forgery:?}"
        );
        assert_signed_out(&browser).await;
    }
    // The same provider's honest tokens still sign in.
    provider.forge(Forgery::None);
    let (browser, login, params) = approved_login(&app, "ada@example.com").await;
    let honest = browser
        .oidc_callback(&params, login.cookie.as_deref())
        .await;
    assert_eq!(honest.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_rotated_key_is_fetched_once_and_unknown_keys_are_not_refetched_at_once() {
    let provider = TestProvider::start().await;
    let app = app_on(provider.issuer(), &[]).await;
    app.another_browser().sign_in_as("ada@example.com").await;
    let fetches = provider.jwks_fetches();
    // Keys are kept, not fetched for every sign-in.
    app.another_browser().sign_in_as("ada@example.com").await;
    assert_eq!(provider.jwks_fetches(), fetches);

    // The provider rotates its key: the first token signed with the new
    // one makes the app fetch the keys again, and it signs in.
    provider.rotate_key();
    let started = Instant::now();
    app.another_browser().sign_in_as("ada@example.com").await;
    assert_eq!(provider.jwks_fetches(), fetches + 1);

    // Another unknown key within 10 s: refused without another fetch, so
    // forged key ids cannot make the app hammer the provider.
    provider.forge(Forgery::UnknownKeyId);
    let (browser, login, params) = approved_login(&app, "ada@example.com").await;
    let answer = browser
        .oidc_callback(&params, login.cookie.as_deref())
        .await;
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "test too slow to tell"
    );
    assert_eq!(
        error_code(answer, StatusCode::UNAUTHORIZED).await,
        "invalid_token"
    );
    assert_eq!(provider.jwks_fetches(), fetches + 1);
    assert_signed_out(&browser).await;
}

/// Waits until `/api/ready` answers 200, for at most `patience`.
async fn wait_until_ready(app: &TestApp, patience: Duration) -> bool {
    let deadline = Instant::now() + patience;
    while Instant::now() < deadline {
        if app.get("/api/ready").await.status() == StatusCode::OK {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    false
}

/// The app answers as it must while it cannot use the provider: alive,
/// not ready (naming the provider), and `start` is a 503.
async fn assert_waiting_for_the_provider(app: &TestApp) {
    assert_eq!(app.get("/api/health").await.status(), StatusCode::OK);
    let ready = app.get("/api/ready").await;
    assert_eq!(ready.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body: Value = ready.json().await.unwrap();
    assert_eq!(body["error"]["code"], "not_ready", "{body}");
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert!(message.to_lowercase().contains("provider"), "{body}");
    let started = app.oidc_start(&json!({})).await;
    assert_eq!(
        error_code(started, StatusCode::SERVICE_UNAVAILABLE).await,
        "provider_unavailable"
    );
    assert_signed_out(app).await;
}

#[tokio::test]
async fn a_provider_down_at_start_up_is_waited_for() {
    let address = free_address().await;
    let issuer = format!("http://{address}");
    // Starts although the provider cannot be reached.
    let app = app_on(&issuer, &[]).await;
    assert_waiting_for_the_provider(&app).await;

    // The provider comes up: the app finds it by itself.
    let provider = TestProvider::start_on(address).await;
    assert!(
        wait_until_ready(&app, Duration::from_secs(45)).await,
        "not ready 45 s after the provider came up"
    );
    assert!(provider.discovery_fetches() >= 1);
    app.sign_in_as("ada@example.com").await;
}

#[tokio::test]
async fn a_provider_answering_garbage_at_start_up_is_waited_for() {
    for how in [
        Misbehaviour::Html,
        Misbehaviour::Garbage,
        Misbehaviour::Redirect,
        Misbehaviour::ServerError,
    ] {
        let provider = TestProvider::start().await;
        provider.misbehave(Endpoint::Discovery, Some(how));
        let app = app_on(provider.issuer(), &[]).await;
        assert_waiting_for_the_provider(&app).await;
        provider.misbehave(Endpoint::Discovery, None);
        assert!(
            wait_until_ready(&app, Duration::from_secs(45)).await,
            "{how:?}: not ready 45 s after the provider recovered"
        );
        app.sign_in_as("ada@example.com").await;
    }
}

#[tokio::test]
async fn a_token_endpoint_answering_garbage_is_a_503_or_401_never_a_500() {
    let provider = TestProvider::start().await;
    // A short wait for the provider, so the slow case is quick.
    let app = app_on(provider.issuer(), &[("OIDC_HTTP_TIMEOUT_MS", "1000")]).await;
    for how in [
        Misbehaviour::Html,
        Misbehaviour::Garbage,
        Misbehaviour::Redirect,
        Misbehaviour::ServerError,
        Misbehaviour::Slow,
    ] {
        let (browser, login, params) = approved_login(&app, "ada@example.com").await;
        provider.misbehave(Endpoint::Token, Some(how));
        let started = Instant::now();
        let answer = browser
            .oidc_callback(&params, login.cookie.as_deref())
            .await;
        let status = answer.status();
        let code = error_code(answer, status).await;
        assert!(
            [
                (StatusCode::SERVICE_UNAVAILABLE, "provider_unavailable"),
                (StatusCode::UNAUTHORIZED, "invalid_token"),
            ]
            .contains(&(status, code.as_str())),
            "{how:?}: {status} {code}"
        );
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{how:?}: answered after {:?}",
            started.elapsed()
        );
        assert_signed_out(&browser).await;
        provider.misbehave(Endpoint::Token, None);
    }
    app.sign_in_as("ada@example.com").await;
}

#[tokio::test]
async fn keys_answering_garbage_after_a_rotation_sign_no_one_in() {
    let provider = TestProvider::start().await;
    let app = app_on(provider.issuer(), &[]).await;
    app.another_browser().sign_in_as("ada@example.com").await;
    provider.rotate_key();
    provider.misbehave(Endpoint::Jwks, Some(Misbehaviour::Html));
    let (browser, login, params) = approved_login(&app, "ada@example.com").await;
    let answer = browser
        .oidc_callback(&params, login.cookie.as_deref())
        .await;
    let status = answer.status();
    assert!(
        [StatusCode::SERVICE_UNAVAILABLE, StatusCode::UNAUTHORIZED].contains(&status),
        "{status}"
    );
    error_code(answer, status).await;
    assert_signed_out(&browser).await;
}

/// UserInfo must be about the user the ID token names (OpenID Connect Core
/// 5.3.2); an answer about anyone else signs in nobody.
#[tokio::test]
async fn user_info_about_another_subject_signs_no_one_in() {
    let provider = TestProvider::start().await;
    let app = app_on(provider.issuer(), &[]).await;
    provider.user_info_subject(Some("subject-of-mallory@example.com"));
    let (browser, login, params) = approved_login(&app, "ada@example.com").await;
    let answer = browser
        .oidc_callback(&params, login.cookie.as_deref())
        .await;
    assert_eq!(
        error_code(answer, StatusCode::UNAUTHORIZED).await,
        "invalid_token"
    );
    assert_signed_out(&browser).await;

    provider.user_info_subject(None);
    provider.misbehave(Endpoint::UserInfo, Some(Misbehaviour::ServerError));
    let (browser, login, params) = approved_login(&app, "ada@example.com").await;
    let answer = browser
        .oidc_callback(&params, login.cookie.as_deref())
        .await;
    assert_eq!(
        error_code(answer, StatusCode::SERVICE_UNAVAILABLE).await,
        "provider_unavailable"
    );
    assert_signed_out(&browser).await;
}

/// The provider failing after the answer came back (a 503, which leaves
/// the session unsaved) must not leave the sign-in for another try: the
/// pending sign-in is used once.
#[tokio::test]
async fn a_pending_sign_in_is_used_once_even_when_the_provider_fails() {
    let provider = TestProvider::start().await;
    let app = app_on(provider.issuer(), &[]).await;
    let (browser, login, params) = approved_login(&app, "ada@example.com").await;
    provider.misbehave(Endpoint::Token, Some(Misbehaviour::ServerError));
    let answer = browser
        .oidc_callback(&params, login.cookie.as_deref())
        .await;
    assert_eq!(
        error_code(answer, StatusCode::SERVICE_UNAVAILABLE).await,
        "provider_unavailable"
    );
    provider.misbehave(Endpoint::Token, None);
    let again = browser
        .oidc_callback(&params, login.cookie.as_deref())
        .await;
    assert_eq!(
        error_code(again, StatusCode::BAD_REQUEST).await,
        "invalid_state"
    );
    assert_signed_out(&browser).await;
}

/// Endpoints from discovery reach the browser (`authorization_endpoint`)
/// or carry the code and the client's secret: each must be https, or http
/// on this machine.
#[tokio::test]
async fn endpoints_that_are_not_https_are_refused_at_discovery() {
    for endpoint in [
        "javascript:alert(document.cookie)",
        "http://login.example.com/authorize",
    ] {
        let provider = TestProvider::start().await;
        provider.authorization_endpoint(Some(endpoint));
        let app = app_on(provider.issuer(), &[]).await;
        assert_waiting_for_the_provider(&app).await;
        provider.authorization_endpoint(None);
        assert!(
            wait_until_ready(&app, Duration::from_secs(45)).await,
            "{endpoint}: not ready 45 s after discovery was fixed"
        );
    }
}

/// Each start stores a session and leads to a call to the provider: one
/// client address gets `AUTH_ATTEMPTS_PER_IP` of them per window.
#[tokio::test]
async fn sign_in_starts_are_throttled_per_client_address() {
    let provider = TestProvider::start().await;
    let app = app_on(
        provider.issuer(),
        &[
            ("AUTH_ATTEMPTS_PER_IP", "3"),
            ("AUTH_ATTEMPTS_WINDOW_SECS", "60"),
        ],
    )
    .await;
    for _ in 0..3 {
        app.another_browser().begin_login(None).await;
    }
    let refused = app.another_browser().oidc_start(&json!({})).await;
    assert!(refused.headers().contains_key("retry-after"));
    assert_eq!(
        error_code(refused, StatusCode::TOO_MANY_REQUESTS).await,
        "too_many_attempts"
    );
    assert_eq!(provider.token_requests(), 0);
}

/// The provider goes down after the app found it: a sign-in answers 503
/// (with CORS headers, so the frontend can read it), and works again once
/// the provider is back, without a restart.
#[tokio::test]
async fn a_provider_that_goes_down_after_start_up_is_a_503_until_it_is_back() {
    let provider = TestProvider::start_on(free_address().await).await;
    let app = app_on(provider.issuer(), &[]).await;
    app.another_browser().sign_in_as("ada@example.com").await;

    let (browser, login, params) = approved_login(&app, "ada@example.com").await;
    provider.stop().await;
    let mut callback = browser
        .client
        .post(browser.url("/api/auth/oidc/callback"))
        .header("origin", FRONTEND_ORIGIN)
        .json(&params);
    if let Some(cookie) = &login.cookie {
        callback = callback.header("cookie", cookie);
    }
    let answer = callback.send().await.unwrap();
{%- if cross_origin %}
    assert_eq!(
        answer.headers()["access-control-allow-origin"],
        FRONTEND_ORIGIN
    );
    assert_eq!(answer.headers()["access-control-allow-credentials"], "true");
{%- endif %}
    assert_eq!(
        error_code(answer, StatusCode::SERVICE_UNAVAILABLE).await,
        "provider_unavailable"
    );
    assert_signed_out(&browser).await;

    let _back = TestProvider::start_on(provider.address()).await;
    app.another_browser().sign_in_as("ada@example.com").await;
}
