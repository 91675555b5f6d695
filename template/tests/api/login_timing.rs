//! No account enumeration by timing: login with an unknown email must cost
//! what login with a known email and a wrong password costs.
//!
//! What makes the two take the same time is that both run one Argon2
//! verification with the same parameters (against a dummy hash when the
//! email is unknown; the platform's `password` tests that the dummy hash has
//! the parameters of a real one). That is what is checked here, by counting
//! Argon2 runs rather than by timing requests: timings on a shared CI runner
//! vary more than the difference this guards against.

use reqwest::StatusCode;

use crate::helpers::spawn_app_with;

#[tokio::test]
async fn unknown_email_costs_the_same_argon2_run_as_a_wrong_password() {
    let app = spawn_app_with(&[
        ("AUTH_ATTEMPTS_PER_IP", "10000"),
        ("AUTH_ATTEMPTS_PER_ACCOUNT", "10000"),
    ])
    .await;
    let signup = app.signup("known@example.com", "the real passphrase").await;
    assert_eq!(signup.status(), StatusCode::CREATED);
    let passwords = &app.state.passwords;

    for email in [
        "unknown@example.com",
        "known@example.com",
        "unknown@example.com",
    ] {
        let before = passwords.argon2_runs();
        let response = app.login(email, "not the passphrase").await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(
            passwords.argon2_runs() - before,
            1,
            "login as {email} ran Argon2 once"
        );
    }
}
