//! The CSRF layer's decision for every combination of method,
//! `Sec-Fetch-Site` and `Origin` a browser (or an attacker) can send.
//!
//! One row per `Origin`, one column per `Sec-Fetch-Site`; each cell says
//! whether an unsafe request passes. The test expands it over safe and unsafe
//! methods and asserts the exact status of every request. Trusted origins are
//! this backend's own (`PUBLIC_ORIGIN`, or the `Host` it was reached at) and
//! `FRONTEND_ORIGINS`. The matrix runs for a cross-origin server (the
//! frontend's origin listed) and a same-origin one (none listed).

use crate::harness::{LOGGED_OUT, error_code, spawn_app, spawn_app_with};
use reqwest::{Method, StatusCode};

/// Whether an unsafe request gets through the CSRF layer.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Verdict {
    Pass,
    Deny,
}
use Verdict::{Deny, Pass};

/// The `frontend` row when `FRONTEND_ORIGINS` is http://localhost:5173:
/// trusted.
const FRONTEND_LISTED: [Verdict; 5] = [Pass, Pass, Pass, Pass, Pass];
/// The `frontend` row of a same-origin server: http://localhost:5173 is
/// just another origin.
const FRONTEND_UNLISTED: [Verdict; 5] = [Deny, Pass, Deny, Deny, Pass];

/// `Sec-Fetch-Site` values, in the column order of [`ORIGINS`].
const SEC_FETCH_SITE: [Option<&str>; 5] = [
    None,
    Some("same-origin"),
    Some("same-site"),
    Some("cross-site"),
    Some("none"),
];

/// An `Origin` header value (`HOST` stands for the address the test server
/// was reached at) and the verdict for each `Sec-Fetch-Site` column:
/// absent, same-origin, same-site, cross-site, none.
///
/// A browser that sends `Sec-Fetch-Site` is believed when it says
/// same-origin or none (typed in the address bar); same-site and cross-site
/// pass only from a trusted origin. Without `Sec-Fetch-Site` (older
/// browsers, plain http to hosts other than localhost) the `Origin` decides:
/// absent (not a browser, or a same-origin navigation), this host, or trusted.
#[rustfmt::skip]
const ORIGINS: &[(&str, Option<&str>, [Verdict; 5])] = &[
    //                                                               absent same-origin same-site cross-site none
    ("absent",            None,                                     [Pass,  Pass,       Deny,     Deny,      Pass]),
    ("this host",         Some("http://HOST"),                      [Pass,  Pass,       Deny,     Deny,      Pass]),
    // Without Sec-Fetch-Site the layer (like Go's CrossOriginProtection)
    // compares host and port only; one port cannot serve both schemes.
    ("this host, https",  Some("https://HOST"),                     [Pass,  Pass,       Deny,     Deny,      Pass]),
    ("PUBLIC_ORIGIN",     Some("http://localhost:8080"),            [Pass,  Pass,       Pass,     Pass,      Pass]),
    ("frontend",          Some("http://localhost:5173"),            FRONTEND_LISTED),
    ("null",              Some("null"),                             [Deny,  Pass,       Deny,     Deny,      Pass]),
    ("other scheme",      Some("https://localhost:5173"),           [Deny,  Pass,       Deny,     Deny,      Pass]),
    ("other port",        Some("http://localhost:5174"),            [Deny,  Pass,       Deny,     Deny,      Pass]),
    ("look-alike suffix", Some("http://localhost:5173.evil.test"),  [Deny,  Pass,       Deny,     Deny,      Pass]),
    ("look-alike prefix", Some("http://evil-localhost:5173"),       [Deny,  Pass,       Deny,     Deny,      Pass]),
    ("trailing slash",    Some("http://localhost:5173/"),           [Deny,  Pass,       Deny,     Deny,      Pass]),
    ("upper case",        Some("HTTP://LOCALHOST:5173"),            [Deny,  Pass,       Deny,     Deny,      Pass]),
    ("unrelated site",    Some("https://evil.example"),             [Deny,  Pass,       Deny,     Deny,      Pass]),
    ("not a URL",         Some("localhost 5173"),                   [Deny,  Pass,       Deny,     Deny,      Pass]),
];

/// A method, the path it is sent to, and the status it gets once past the
/// CSRF layer. Safe methods are never refused.
#[rustfmt::skip]
const METHODS: [(Method, &str, StatusCode); 6] = [
    (Method::GET,    "/api/auth/session", StatusCode::UNAUTHORIZED),
    (Method::HEAD,   "/api/auth/session", StatusCode::UNAUTHORIZED),
    (Method::POST,   "/api/auth/logout",  LOGGED_OUT),
    (Method::PUT,    "/api/auth/logout",  StatusCode::METHOD_NOT_ALLOWED),
    (Method::PATCH,  "/api/auth/logout",  StatusCode::METHOD_NOT_ALLOWED),
    (Method::DELETE, "/api/auth/logout",  StatusCode::METHOD_NOT_ALLOWED),
];

#[tokio::test]
async fn every_method_sec_fetch_site_and_origin_combination() {
    let cross_origin = spawn_app().await;
    check_matrix(&cross_origin, FRONTEND_LISTED).await;
    let same_origin = spawn_app_with(&[("FRONTEND_ORIGINS", "")]).await;
    check_matrix(&same_origin, FRONTEND_UNLISTED).await;
}

async fn check_matrix(app: &crate::harness::TestApp, frontend: [Verdict; 5]) {
    let host = app.address.trim_start_matches("http://");
    let mut failures = Vec::new();
    let mut rows = 0;

    for (name, origin, verdicts) in ORIGINS {
        let verdicts = if *name == "frontend" {
            &frontend
        } else {
            verdicts
        };
        for (sec_fetch_site, verdict) in SEC_FETCH_SITE.iter().zip(verdicts) {
            for (method, path, allowed_status) in &METHODS {
                let safe = matches!(*method, Method::GET | Method::HEAD);
                let expected = if safe || *verdict == Pass {
                    *allowed_status
                } else {
                    StatusCode::FORBIDDEN
                };

                let mut request = app.client.request(method.clone(), app.url(path));
                if let Some(origin) = origin {
                    request = request.header("origin", origin.replace("HOST", host));
                }
                if let Some(site) = sec_fetch_site {
                    request = request.header("sec-fetch-site", *site);
                }
                let status = request.send().await.expect("request sent").status();
                rows += 1;
                if status != expected {
                    failures.push(format!(
                        "{method} {path}, Origin {name} ({origin:?}), Sec-Fetch-Site {sec_fetch_site:?}: \
                         expected {expected}, got {status}"
                    ));
                }
            }
        }
    }

    assert_eq!(rows, ORIGINS.len() * SEC_FETCH_SITE.len() * METHODS.len());
    assert!(
        failures.is_empty(),
        "{} of {rows} rows failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    println!("{rows} CSRF rows passed");
}

#[tokio::test]
async fn refusals_are_json_and_change_nothing() {
    let app = spawn_app().await;
    app.sign_in_as("csrf@example.com").await;

    // A forged logout from a hostile page: refused, and the session survives.
    let forged = app
        .client
        .post(app.url("/api/auth/logout"))
        .header("origin", "http://localhost:5173.evil.test")
        .header("sec-fetch-site", "cross-site")
        .send()
        .await
        .unwrap();
    assert_eq!(
        error_code(forged, StatusCode::FORBIDDEN).await,
        "cross_site_request"
    );
    assert_eq!(app.session().await.status(), StatusCode::OK);
}
