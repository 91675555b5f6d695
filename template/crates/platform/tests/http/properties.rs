//! Property tests of the two parsers every request and every start-up rely
//! on: origins (compared byte for byte by CORS and CSRF) and configuration.
//! Whatever the input, they must not panic, and what they accept must be
//! exactly what a browser would send.

use std::collections::HashMap;

use proptest::prelude::*;

use platform::{
    database::{postgres, sqlite},
    oidc,
    origin::Origin,
    rate_limit, server,
    session::Lifetime,
    session_store::RedisSettings,
    settings::{ConfigError, Env},
    spa, stack, telemetry,
};

/// Enough cases to find edge cases, few enough to keep `cargo test` quick.
fn cases() -> ProptestConfig {
    ProptestConfig::with_cases(256)
}

/// Host names and addresses as they appear in origins, in mixed case.
fn host() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-zA-Z][a-zA-Z0-9-]{0,10}(\\.[a-zA-Z][a-zA-Z0-9-]{0,10}){0,3}",
        Just("localhost".to_owned()),
        any::<[u8; 4]>().prop_map(|[a, b, c, d]| format!("{a}.{b}.{c}.{d}")),
        any::<[u16; 8]>().prop_map(|s| format!("[{}]", std::net::Ipv6Addr::from(s))),
    ]
    .prop_filter("a valid DNS name", |h| {
        !h.contains("-.") && !h.ends_with('-') && !h.to_ascii_lowercase().contains("xn--")
    })
}

/// `scheme://host[:port]` with the scheme in any case.
fn origin_text() -> impl Strategy<Value = String> {
    (
        prop_oneof!["[hH][tT][tT][pP]", "[hH][tT][tT][pP][sS]"],
        host(),
        proptest::option::of(any::<u16>()),
    )
        .prop_map(|(scheme, host, port)| match port {
            Some(port) => format!("{scheme}://{host}:{port}"),
            None => format!("{scheme}://{host}"),
        })
}

/// What an application reads, part by part, as the generated ones do.
struct Config {
    server: server::Settings,
    http: stack::Settings,
}

/// Every platform setting read from these variables alone, on top of the
/// ones without a default (`FRONTEND_ORIGINS`, the provider's).
fn config(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
    let mut env: HashMap<String, String> = HashMap::from([
        ("FRONTEND_ORIGINS".into(), "http://localhost:5173".into()),
        ("OIDC_ISSUER_URL".into(), "https://login.example.com".into()),
        ("OIDC_CLIENT_ID".into(), "app".into()),
        ("OIDC_REDIRECT_URL".into(), "http://localhost:5173/".into()),
    ]);
    for (name, value) in pairs {
        env.insert((*name).into(), (*value).into());
    }
    // The provider sends the browser back to a page of the first frontend.
    if !pairs.iter().any(|(name, _)| *name == "OIDC_REDIRECT_URL") {
        let first = env["FRONTEND_ORIGINS"]
            .split(',')
            .next()
            .unwrap_or_default();
        let page = format!("{}/", first.trim());
        env.insert("OIDC_REDIRECT_URL".into(), page);
    }
    let lookup = |name: &str| env.get(name).cloned();
    let env = Env::new(&lookup);
    let http = stack::Settings::cross_origin(&env)?;
    let server = server::Settings::from_env(&env)?;
    // The database's URL is checked by the engine's own settings: both.
    if env
        .var("DATABASE_URL", "sqlite://x.db")
        .value
        .starts_with("postgres")
    {
        postgres::Settings::from_env(&env, "")?;
    } else {
        sqlite::Settings::from_env(&env, "sqlite://x.db")?;
    }
    RedisSettings::from_env(&env)?;
    Lifetime::from_env(&env)?;
    telemetry::Settings::from_env(&env)?;
    rate_limit::Settings::from_env(&env)?;
    oidc::Settings::from_env(&env, &http.public_origin, &http.frontend_origins)?;
    spa::Settings::from_env(&env, "")?;
    Ok(Config { server, http })
}

/// Every variable the platform reads.
const VARIABLES: &[&str] = &[
    "BIND_ADDR",
    "PUBLIC_ORIGIN",
    "FRONTEND_ORIGINS",
    "STATIC_DIR",
    "HEADER_READ_TIMEOUT_SECS",
    "KEEP_ALIVE_IDLE_SECS",
    "MAX_CONNECTIONS",
    "SHUTDOWN_GRACE_SECS",
    "RUST_LOG",
    "DATABASE_URL",
    "DATABASE_MAX_CONNECTIONS",
    "DATABASE_TIMEOUT_MS",
    "REDIS_URL",
    "REDIS_TIMEOUT_MS",
    "SESSION_INACTIVITY_SECS",
    "SESSION_MAX_LIFETIME_SECS",
    "COOKIE_SECURE",
    "COOKIE_SAME_SITE",
    "AUTH_ATTEMPTS_PER_IP",
    "AUTH_ATTEMPTS_PER_ACCOUNT",
    "AUTH_ATTEMPTS_WINDOW_SECS",
    "TRUSTED_PROXIES",
    // No longer used: read only to refuse a value that trusted every peer.
    "TRUST_PROXY",
    "REQUEST_TIMEOUT_SECS",
    "OIDC_ISSUER_URL",
    "OIDC_CLIENT_ID",
    "OIDC_CLIENT_SECRET",
    "OIDC_REDIRECT_URL",
    "OIDC_SCOPES",
    "OIDC_POST_LOGOUT_REDIRECT_URL",
    "OIDC_LOGIN_TIMEOUT_SECS",
    "OIDC_HTTP_TIMEOUT_MS",
];

proptest! {
    #![proptest_config(cases())]

    #[test]
    fn origin_parsing_never_panics(input in any::<String>()) {
        let _ = Origin::parse(&input);
    }

    #[test]
    fn normalisation_is_idempotent(input in origin_text()) {
        if let Ok(once) = Origin::parse(&input) {
            prop_assert_eq!(Origin::parse(once.as_str()), Ok(once));
        }
    }

    #[test]
    fn accepted_origins_are_in_the_form_browsers_send(input in origin_text()) {
        let origin = Origin::parse(&input).map_err(TestCaseError::fail)?;
        let text = origin.as_str();
        let (scheme, rest) = text.split_once("://").expect("scheme://");
        prop_assert!(scheme == "http" || scheme == "https", "{}", text);
        prop_assert!(!rest.contains(['/', '?', '#', '@']), "{}", text);
        prop_assert_eq!(text.to_ascii_lowercase(), text);
        let default_port = if scheme == "https" { ":443" } else { ":80" };
        prop_assert!(!text.ends_with(default_port), "{}", text);
    }

    #[test]
    fn case_and_default_ports_do_not_make_another_origin(input in origin_text()) {
        let origin = Origin::parse(&input).map_err(TestCaseError::fail)?;
        prop_assert_eq!(Origin::parse(&input.to_ascii_uppercase()), Ok(origin.clone()));
        let default_port = if origin.is_https() { 443 } else { 80 };
        if input.rsplit_once(':').is_none_or(|(_, port)| port.parse::<u16>().is_err()) {
            let explicit = format!("{input}:{default_port}");
            prop_assert_eq!(Origin::parse(&explicit), Ok(origin));
        }
    }

    #[test]
    fn nothing_with_a_path_query_or_fragment_is_accepted(
        input in origin_text(),
        separator in prop_oneof![Just('/'), Just('?'), Just('#')],
        rest in "[a-zA-Z0-9/._~-]{0,12}",
    ) {
        let with_path = format!("{input}{separator}{rest}");
        prop_assert!(Origin::parse(&with_path).is_err(), "accepted {}", with_path);
    }

    #[test]
    fn other_schemes_are_refused(
        scheme in "[a-z][a-z0-9+.-]{0,8}".prop_filter("not http(s)", |s| s != "http" && s != "https"),
        host in host(),
    ) {
        let input = format!("{scheme}://{host}");
        prop_assert!(Origin::parse(&input).is_err(), "accepted {}", input);
    }

    #[test]
    fn any_value_of_any_variable_is_accepted_or_blamed_on_it(
        variable in proptest::sample::select(VARIABLES),
        value in any::<String>(),
    ) {
        if let Err(err) = config(&[(variable, &value)]) {
            let message = err.to_string();
            // A PUBLIC_ORIGIN that is also a frontend origin is reported
            // on FRONTEND_ORIGINS, where the fix is.
            let blamed = err.var == variable
                || (variable == "PUBLIC_ORIGIN" && err.var == "FRONTEND_ORIGINS");
            prop_assert!(blamed, "set {}, blamed {}: {}", variable, err.var, message);
            prop_assert!(message.contains("Fix: "), "{}", message);
            prop_assert!(!message.contains('\n'), "{}", message);
        }
    }

    #[test]
    fn whole_seconds_are_accepted_exactly_within_their_range(secs in any::<u64>()) {
        let text = secs.to_string();
        let accepted = config(&[("SESSION_INACTIVITY_SECS", &text)]).is_ok();
        prop_assert_eq!(accepted, (60..=31_536_000).contains(&secs));
        let accepted = config(&[("REQUEST_TIMEOUT_SECS", &text)]).is_ok();
        prop_assert_eq!(accepted, (1..=3_600).contains(&secs));
    }

    #[test]
    fn attempt_limits_are_accepted_exactly_from_1_to_10000(n in any::<u32>()) {
        let text = n.to_string();
        let accepted = config(&[("AUTH_ATTEMPTS_PER_IP", &text)]).is_ok();
        prop_assert_eq!(accepted, (1..=10_000).contains(&n));
    }

    #[test]
    fn login_timeouts_are_accepted_exactly_from_1_to_3600(secs in any::<u64>()) {
        let accepted = config(&[("OIDC_LOGIN_TIMEOUT_SECS", &secs.to_string())]).is_ok();
        prop_assert_eq!(accepted, (1..=3_600).contains(&secs));
    }

    #[test]
    fn any_socket_address_binds(ip in any::<std::net::IpAddr>(), port in any::<u16>()) {
        let addr = std::net::SocketAddr::new(ip, port);
        let config = config(&[("BIND_ADDR", &addr.to_string())]).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(config.server.bind_addr, addr);
    }

    #[test]
    fn public_origin_is_stored_normalised(input in origin_text()) {
        let expected = Origin::parse(&input).map_err(TestCaseError::fail)?;
        match config(&[("PUBLIC_ORIGIN", &input)]) {
            Ok(config) => prop_assert_eq!(config.http.public_origin, expected),
            // The only reasons to refuse a valid origin here: it is also a
            // frontend origin, or it puts the backend on another site than
            // the frontend over plain http, where no session cookie could
            // work (see cookie_policy.rs).
            Err(err) => prop_assert!(
                err.var == "FRONTEND_ORIGINS"
                    || (err.var == "PUBLIC_ORIGIN" && err.problem.contains("another site")),
                "{}", err
            ),
        }
    }

    #[test]
    fn frontend_origins_are_normalised_and_deduplicated(
        inputs in proptest::collection::vec(origin_text(), 1..5),
    ) {
        let list = inputs.join(" , ");
        let mut expected: Vec<Origin> = Vec::new();
        for input in &inputs {
            let origin = Origin::parse(input).map_err(TestCaseError::fail)?;
            if !expected.contains(&origin) {
                expected.push(origin);
            }
        }
        match config(&[("FRONTEND_ORIGINS", &list)]) {
            Ok(config) => prop_assert_eq!(config.http.frontend_origins, expected),
            // Unless one of them is the default PUBLIC_ORIGIN.
            Err(err) => prop_assert!(
                expected.iter().any(|o| o.as_str() == "http://localhost:8080"),
                "{}", err
            ),
        }
    }
}
