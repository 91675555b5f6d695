//! A flood of signups that clients abandon must not run more Argon2 hashes
//! at once than there are hashing slots: each hash holds ~19 MiB, so hashes
//! left running by cancelled requests would add up to gigabytes.

use std::time::Duration;

use reqwest::{Client, StatusCode};
use serde_json::json;

use platform::password;

use crate::harness::spawn_app_with;

/// Signups sent at once, each abandoned by its client shortly after.
const FLOOD: usize = 40;

#[tokio::test]
async fn abandoned_signups_never_run_more_hashes_than_there_are_slots() {
    let app = spawn_app_with(&[
        ("AUTH_ATTEMPTS_PER_IP", "10000"),
        ("AUTH_ATTEMPTS_PER_ACCOUNT", "10000"),
    ])
    .await;
    let signup = app.signup("flood@example.com", "a long passphrase").await;
    assert_eq!(signup.status(), StatusCode::CREATED);

    // Each client hangs up 100 ms after sending, long before its hash (and
    // the hashes queued before it) can be done.
    let impatient = Client::builder()
        .timeout(Duration::from_millis(100))
        .build()
        .unwrap();
    let url = app.url("/api/auth/signup");
    let flood: Vec<_> = (0..FLOOD)
        .map(|n| {
            let (client, url) = (impatient.clone(), url.clone());
            tokio::spawn(async move {
                let _ = client
                    .post(url)
                    .json(&json!({ "email": format!("flood{n}@example.com"), "password": "a passphrase" }))
                    .send()
                    .await;
            })
        })
        .collect();
    for request in flood {
        request.await.unwrap();
    }
    // Let whatever the server still runs finish.
    let passwords = &app.state.passwords;
    let mut runs = passwords.argon2_runs();
    loop {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let now = passwords.argon2_runs();
        if now == runs {
            break;
        }
        runs = now;
    }
    let (peak, slots) = (
        password::peak_concurrent_hashes(),
        password::hashing_slots(),
    );
    println!("hash flood: {FLOOD} abandoned signups, peak {peak} hashes at once, {slots} slots");
    assert!(
        peak <= slots,
        "{peak} hashes ran at once with {slots} slots"
    );

    // The server still answers, and still signs users up.
    let signup = app.signup("after@example.com", "a long passphrase").await;
    assert_eq!(signup.status(), StatusCode::CREATED);
}
