//! The session cookie as the server sends it: attributes from the deployment
//! shape, on the session cookie and on the removal cookie sent at logout
//! (which tower-sessions alone would send without `Secure`, so browsers
//! would keep the `__Host-` cookie).

use crate::harness::{LOGGED_OUT, TestApp, cookie_pair, session_set_cookie, spawn_app_with};

/// Signs in, then logs out presenting the cookie by hand (the test client
/// would not send a `Secure` cookie over plain http); returns both
/// `Set-Cookie` headers.
async fn session_and_removal_cookies(app: &TestApp) -> (String, String) {
    let signed_in = app.sign_in_as("grace@example.com").await;
    let cookie = session_set_cookie(signed_in.headers()).expect("sign-in sets the cookie");
    let logout = reqwest::Client::new()
        .post(app.url("/api/auth/logout"))
        .header("cookie", cookie_pair(&cookie))
        .send()
        .await
        .unwrap();
    assert_eq!(logout.status(), LOGGED_OUT);
    let removal = session_set_cookie(logout.headers()).expect("logout removes the cookie");
    (cookie, removal)
}

fn assert_attributes(cookie: &str, present: &[&str], absent: &[&str]) {
    for attribute in present {
        assert!(cookie.contains(attribute), "missing {attribute}: {cookie}");
    }
    for attribute in absent {
        assert!(
            !cookie.contains(attribute),
            "unexpected {attribute}: {cookie}"
        );
    }
}

#[tokio::test]
async fn logout_removal_cookie_is_secure_like_the_cookie() {
    let app = spawn_app_with(&[
        ("PUBLIC_ORIGIN", "https://api.example.com"),
        ("FRONTEND_ORIGINS", "https://app.example.com"),
    ])
    .await;
    let (cookie, removal) = session_and_removal_cookies(&app).await;
    let same = ["Secure", "HttpOnly", "SameSite=Lax", "Path=/"];
    assert_attributes(&cookie, &same, &["Partitioned"]);
    assert!(removal.starts_with("__Host-sid="), "{removal}");
    assert_attributes(&removal, &same, &["Partitioned"]);
    assert_attributes(&removal, &["Max-Age=0"], &[]);
}

#[tokio::test]
async fn cross_site_cookies_are_partitioned_removal_included() {
    let app = spawn_app_with(&[
        ("PUBLIC_ORIGIN", "https://api.other.net"),
        ("FRONTEND_ORIGINS", "https://app.example.com"),
    ])
    .await;
    let (cookie, removal) = session_and_removal_cookies(&app).await;
    let partitioned = [
        "Secure",
        "HttpOnly",
        "SameSite=None",
        "Partitioned",
        "Path=/",
    ];
    assert!(cookie.starts_with("__Host-sid="), "{cookie}");
    assert_attributes(&cookie, &partitioned, &[]);
    assert_attributes(&removal, &partitioned, &[]);
    assert_attributes(&removal, &["Max-Age=0"], &[]);
}
