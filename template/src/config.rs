//! Typed configuration, read from the environment and validated up front.
//!
//! Every setting is checked before anything starts, so a mistake costs one
//! clear line naming the variable, the value and the fix, rather than a panic
//! deep inside a library (tower-http panics on `*` with credentials) or a
//! server that starts and then misbehaves in the browser.

{% if cross_origin -%}
use std::{net::SocketAddr, time::Duration};
{% else -%}
use std::{net::SocketAddr, path::PathBuf, time::Duration};
{% endif %}
pub use crate::settings::ConfigError;
{% if auth == "password" -%}
use crate::{
    cookie_policy::CookiePolicy, database, deployment_shape, origin::Origin, rate_limit, server,
    session, session_store, settings::Env,
};
{%- else -%}
use crate::{
    cookie_policy::CookiePolicy, database, deployment_shape, oidc, origin::Origin, server, session,
    session_store, settings::Env,
};
{%- endif %}

/// Everything the application needs to start.
#[derive(Clone, Debug)]
pub struct Config {
    /// Socket address to listen on (`BIND_ADDR`).
    pub bind_addr: SocketAddr,
    /// The backend's origin as browsers see it (`PUBLIC_ORIGIN`).
    pub public_origin: Origin,
{%- if cross_origin %}
    /// Origins of the frontends allowed to call the API with credentials
    /// (`FRONTEND_ORIGINS`).
    frontend_origins: Vec<Origin>,
{%- else %}
    /// Folder of the built frontend served at `/` (`STATIC_DIR`), if any.
    pub static_dir: Option<PathBuf>,
{%- endif %}
    /// Where users (and sessions, unless Redis holds them) are kept; read
    /// by `database.rs`, which owns these settings.
    pub database: database::Settings,
    /// Where sessions are kept; read by `session_store.rs`.
    pub session_store: session_store::Settings,
    /// How long a session lasts; read by `session.rs`.
    pub session: session::Lifetime,
    /// Session cookie attributes, derived from the origins unless overridden.
    pub cookie: CookiePolicy,
    /// `tracing` filter directives (`RUST_LOG`).
    pub log_filter: String,
{%- if auth == "password" %}
    /// Login and signup throttling; read by `rate_limit.rs`.
    pub throttle: rate_limit::Settings,
{%- else %}
    /// The OpenID provider and this application's registration there; read
    /// by `oidc.rs`.
    pub oidc: oidc::Settings,
{%- endif %}
    /// Longest a request may take, body upload included (`REQUEST_TIMEOUT_SECS`).
    pub request_timeout: Duration,
    /// Connection timeouts, the connection cap and the shutdown grace; read
    /// by `server.rs`.
    pub server: server::Settings,
}

impl Config {
    /// Origins other than this backend's own whose pages may call the API
    /// with the session cookie: the CORS allowlist and the CSRF trusted set.
    pub fn frontend_origins(&self) -> &[Origin] {
{%- if cross_origin %}
        &self.frontend_origins
{%- else %}
        // This project serves its frontend from its own origin.
        &[]
{%- endif %}
    }

    /// Settings that work but leave sessions or passwords readable on the
    /// network (see `deployment_shape::warnings`); logged at start-up.
    pub fn warnings(&self) -> Vec<String> {
        deployment_shape::warnings(&self.public_origin, self.frontend_origins())
    }

    /// Reads the process environment (after `.env`, see `main.rs`).
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Builds the configuration from any name-to-value lookup; tests pass a
    /// map instead of mutating the process environment.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let env = Env::new(&lookup);
        let bind_addr = env.var("BIND_ADDR", "127.0.0.1:8080").parse_with(
            |v| v.parse::<SocketAddr>().map_err(|e| e.to_string()),
            "use host:port, e.g. 127.0.0.1:8080 (or 0.0.0.0:8080 in a container)",
        )?;
        let public_origin = env.var("PUBLIC_ORIGIN", "http://localhost:8080").parse_with(
            Origin::parse,
            "set it to this backend's origin as browsers reach it, e.g. https://api.example.com",
        )?;
{%- if cross_origin %}
        let frontend_origins = env.var("FRONTEND_ORIGINS", "").parse_with(
            parse_origin_list,
            "list the frontend origins, comma-separated, e.g. http://localhost:5173,https://app.example.com",
        )?;
        if let Some(same) = frontend_origins.iter().find(|o| **o == public_origin) {
            return Err(ConfigError {
                var: "FRONTEND_ORIGINS",
                value: same.to_string(),
                problem: "this is the backend's own origin (PUBLIC_ORIGIN), which needs no CORS"
                    .into(),
                fix: "remove it from FRONTEND_ORIGINS, or correct PUBLIC_ORIGIN".into(),
            });
        }
{%- else %}
        // This project serves its frontend from its own origin.
        let frontend_origins: Vec<Origin> = Vec::new();
        let static_dir = env.var("STATIC_DIR", "frontend").parse_with(
            parse_static_dir,
            "point it at the folder of the built frontend (the one holding index.html), \
             e.g. frontend/dist, or set it empty when a proxy serves the frontend",
        )?;
{%- endif %}
        let cookie = CookiePolicy::derive(
            &public_origin,
            &frontend_origins,
            &env.var("COOKIE_SECURE", "auto").value,
            &env.var("COOKIE_SAME_SITE", "auto").value,
        )?;
{%- if auth == "oidc" %}
        let oidc = oidc::Settings::from_env(&env, &public_origin, &frontend_origins)?;
{%- endif %}

        Ok(Self {
            bind_addr,
            public_origin,
{%- if cross_origin %}
            frontend_origins,
{%- else %}
            static_dir,
{%- endif %}
            database: database::Settings::from_env(&env)?,
            session_store: session_store::Settings::from_env(&env)?,
            session: session::Lifetime::from_env(&env)?,
            cookie,
            log_filter: env.var("RUST_LOG", DEFAULT_LOG_FILTER).value,
{%- if auth == "password" %}
            throttle: rate_limit::Settings::from_env(&env)?,
{%- else %}
            oidc,
{%- endif %}
            request_timeout: env.seconds("REQUEST_TIMEOUT_SECS", "30", 1..=3_600)?,
            server: server::Settings::from_env(&env)?,
        })
    }
}

/// `RUST_LOG` when it is not set: `info`, except tower-sessions, whose two
/// spans per request at `info` cost more than the access log and prefix
/// every handler's line.
const DEFAULT_LOG_FILTER: &str = "info,tower_sessions=warn,tower_sessions_core=warn";
{%- if cross_origin %}

/// Parses a comma-separated list of origins, refusing an empty list.
fn parse_origin_list(value: &str) -> Result<Vec<Origin>, String> {
    let mut origins = Vec::new();
    for item in value.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let origin =
            Origin::parse(item).map_err(|reason| format!("{item:?} is not usable: {reason}"))?;
        if !origins.contains(&origin) {
            origins.push(origin);
        }
    }
    if origins.is_empty() {
        return Err("no origin given, so no frontend could call this API".to_owned());
    }
    Ok(origins)
}
{%- else %}

/// An existing folder with an `index.html`, or nothing for an empty value.
fn parse_static_dir(value: &str) -> Result<Option<PathBuf>, String> {
    if value.is_empty() {
        return Ok(None);
    }
    let dir = PathBuf::from(value);
    if dir.join("index.html").is_file() {
        Ok(Some(dir))
    } else {
        Err("no index.html in that folder (paths are relative to the working directory)".to_owned())
    }
}
{%- endif %}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn config(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let mut env: HashMap<String, String> = HashMap::new();
{%- if cross_origin %}
        env.insert("FRONTEND_ORIGINS".into(), "http://localhost:5173".into());
{%- endif %}
{%- if auth == "oidc" %}
        env.insert("OIDC_ISSUER_URL".into(), "https://login.example.com".into());
        env.insert("OIDC_CLIENT_ID".into(), "app".into());
{%- endif %}
        for (k, v) in pairs {
            env.insert((*k).into(), (*v).into());
        }
{%- if auth == "oidc" %}
        // Unless the test sets one, the redirect is a page of the frontend
        // origin the test configures.
        if !env.contains_key("OIDC_REDIRECT_URL") {
            let origins = env
                .get("{% if cross_origin %}FRONTEND_ORIGINS{% else %}PUBLIC_ORIGIN{% endif %}")
                .cloned()
                .unwrap_or_else(|| "http://localhost:8080".into());
            let first = origins.split(',').next().unwrap_or_default().trim();
            env.insert("OIDC_REDIRECT_URL".into(), format!("{first}/"));
        }
{%- endif %}
        Config::from_lookup(|name| env.get(name).cloned())
    }

    fn error_for(pairs: &[(&str, &str)]) -> ConfigError {
        config(pairs).expect_err("configuration should have been refused")
    }

    #[test]
    fn defaults_work_for_local_development() {
        let config = config(&[]).unwrap();
        assert_eq!(config.bind_addr.to_string(), "127.0.0.1:8080");
        assert_eq!(config.public_origin.as_str(), "http://localhost:8080");
        assert_eq!(
            config.cookie.to_string(),
            "sid; Path=/; HttpOnly; SameSite=Lax"
        );
    }

    #[test]
    fn https_origin_gets_a_host_prefixed_secure_cookie() {
        let config = config(&[
            ("PUBLIC_ORIGIN", "https://api.example.com"),
            ("FRONTEND_ORIGINS", "https://app.example.com"),
        ])
        .unwrap();
        assert_eq!(
            config.cookie.to_string(),
            "__Host-sid; Path=/; Secure; HttpOnly; SameSite=Lax"
        );
    }

    #[test]
    fn insecure_but_working_settings_are_warned_about() {
        assert_eq!(config(&[]).unwrap().warnings(), Vec::<String>::new());
{%- if cross_origin %}
        let public_http = config(&[
            ("PUBLIC_ORIGIN", "http://api.example.com"),
            ("FRONTEND_ORIGINS", "http://app.example.com"),
        ])
        .unwrap();
{%- else %}
        let public_http = config(&[("PUBLIC_ORIGIN", "http://api.example.com")]).unwrap();
{%- endif %}
        assert_eq!(public_http.warnings().len(), 1);
{%- if cross_origin %}
        let http_frontend = config(&[
            ("PUBLIC_ORIGIN", "https://api.example.com"),
            (
                "FRONTEND_ORIGINS",
                "https://app.example.com,http://app.example.com",
            ),
        ])
        .unwrap();
        let warnings = http_frontend.warnings();
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(
            warnings[0].contains("http://app.example.com"),
            "{warnings:?}"
        );
{%- endif %}
    }

    #[test]
    fn errors_name_the_variable_the_value_and_a_fix() {
        for (var, value) in [
            ("BIND_ADDR", "localhost"),
            ("PUBLIC_ORIGIN", "https://api.example.com/"),
            ("DATABASE_URL", "mysql://x"),
            ("DATABASE_MAX_CONNECTIONS", "0"),
            ("DATABASE_TIMEOUT_MS", "5s"),
            ("SESSION_INACTIVITY_SECS", "soon"),
            ("COOKIE_SECURE", "yes"),
            ("COOKIE_SAME_SITE", "none"),
{%- if auth == "password" %}
            ("AUTH_ATTEMPTS_PER_IP", "0"),
            ("AUTH_ATTEMPTS_PER_ACCOUNT", "lots"),
            ("AUTH_ATTEMPTS_WINDOW_SECS", "0"),
            ("TRUST_PROXY", "true"),
            ("TRUSTED_PROXIES", "10.0.0.0/8,proxy.internal"),
            ("TRUSTED_PROXIES", "0.0.0.0/0"),
{%- else %}
            ("OIDC_ISSUER_URL", ""),
            ("OIDC_ISSUER_URL", "http://login.example.com"),
            ("OIDC_CLIENT_ID", ""),
            ("OIDC_REDIRECT_URL", "https://evil.example.net/"),
            ("OIDC_SCOPES", "email"),
            ("OIDC_LOGIN_TIMEOUT_SECS", "0"),
            ("OIDC_HTTP_TIMEOUT_MS", "forever"),
{%- endif %}
            ("REQUEST_TIMEOUT_SECS", "0"),
{%- if cross_origin %}
            ("FRONTEND_ORIGINS", "*"),
            ("FRONTEND_ORIGINS", "null"),
            ("FRONTEND_ORIGINS", "http://localhost:5173/app"),
            ("FRONTEND_ORIGINS", " , "),
            ("FRONTEND_ORIGINS", "http://localhost:8080"),
{%- else %}
            ("STATIC_DIR", "no/such/folder"),
{%- endif %}
        ] {
            let err = error_for(&[(var, value)]);
            let message = err.to_string();
            assert_eq!(err.var, var, "{message}");
            assert!(message.contains(&format!("{var}=")), "{message}");
            assert!(message.contains("Fix: "), "{message}");
            assert!(!message.contains('\n'), "one line only: {message}");
        }
    }

    #[test]
    fn passwords_in_urls_never_reach_error_messages() {
        let err = error_for(&[("DATABASE_URL", "mysql://admin:hunter2@db.example.com/app")]);
        let message = err.to_string();
        assert!(!message.contains("hunter2"), "{message}");
        assert!(message.contains("admin:***@db.example.com"), "{message}");
    }
{%- if cross_origin %}

    #[test]
    fn frontend_origins_are_normalised_and_deduplicated() {
        let config = config(&[(
            "FRONTEND_ORIGINS",
            "HTTP://LOCALHOST:5173, https://app.example.com:443,http://localhost:5173",
        )])
        .unwrap();
        let origins: Vec<&str> = config
            .frontend_origins()
            .iter()
            .map(Origin::as_str)
            .collect();
        assert_eq!(
            origins,
            ["http://localhost:5173", "https://app.example.com"]
        );
    }
{%- endif %}
}
