//! Typed configuration, read from the environment and validated up front.
//!
//! Every setting is checked before anything starts, so a mistake costs one
//! clear line naming the variable, the value and the fix, rather than a panic
//! deep inside a library or a server that starts and then misbehaves in the
//! browser. Each part is read by the module that owns it (the platform's
//! modules, this crate's `database`); this file only gathers them. A setting
//! of your own goes here: a field, and one line in `from_lookup` (see the
//! README, "Extending").

use platform::{
    server,
    session::Lifetime,
    settings::{ConfigError, Env},
    stack, telemetry,
};

use crate::database;

/// Everything the application needs to start.
#[derive(Clone, Debug)]
pub struct Config {
    /// Where to listen, connection timeouts, the connection cap, the
    /// shutdown grace (`BIND_ADDR`, `HEADER_READ_TIMEOUT_SECS`, ...).
    pub server: server::Settings,
    /// Who calls this API and with which cookie: `PUBLIC_ORIGIN`,
{%- if cross_origin %}
    /// `FRONTEND_ORIGINS`, the cookie policy derived from them, and
{%- else %}
    /// the cookie policy derived from it, and
{%- endif %}
    /// `REQUEST_TIMEOUT_SECS`.
    pub http: stack::Settings,
{%- unless cross_origin %}
    /// The built frontend served at `/` (`STATIC_DIR`).
    pub frontend: platform::spa::Settings,
{%- endunless %}
    /// Where users are kept (`DATABASE_URL`, ...).
    pub database: database::Settings,
{%- if session_store == "redis" %}
    /// The Redis server that holds the sessions (`REDIS_URL`, ...).
    pub redis: platform::session_store::RedisSettings,
{%- endif %}
    /// How long sessions last (`SESSION_INACTIVITY_SECS`, ...).
    pub sessions: Lifetime,
    /// What is logged (`RUST_LOG`).
    pub log: telemetry::Settings,
    /// Throttling of {% if auth == "password" %}logins and signups{% else %}sign-ins{% endif %}, and the proxies whose
    /// `X-Forwarded-For` is believed (`AUTH_ATTEMPTS_*`, `TRUSTED_PROXIES`).
    pub throttle: platform::rate_limit::Settings,
{%- if auth == "oidc" %}
    /// The OpenID provider and this application's registration there
    /// (`OIDC_*`).
    pub oidc: platform::oidc::Settings,
{%- else %}
    /// How account mail is sent (`SMTP_URL`, `MAIL_FROM`, `MAIL_*`).
    pub mail: platform::mail::Settings,
    /// The frontend pages that mail links to (`RESET_PASSWORD_URL`, ...).
    pub links: platform::mail::Links,
    /// Whether the product's resources need a verified address
    /// (`REQUIRE_VERIFIED_EMAIL`).
    pub require_verified_email: bool,
{%- endif %}
}

impl Config {
    /// Reads the process environment (after `.env`, see `main.rs`).
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Builds the configuration from any name-to-value lookup; tests pass a
    /// map instead of mutating the process environment.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let env = Env::new(&lookup);
{%- if cross_origin %}
        let http = stack::Settings::cross_origin(&env)?;
{%- else %}
        let http = stack::Settings::same_origin(&env)?;
{%- endif %}
        Ok(Self {
            server: server::Settings::from_env(&env)?,
{%- unless cross_origin %}
            frontend: platform::spa::Settings::from_env(&env, "frontend")?,
{%- endunless %}
            database: database::settings(&env)?,
{%- if session_store == "redis" %}
            redis: platform::session_store::RedisSettings::from_env(&env)?,
{%- endif %}
            sessions: Lifetime::from_env(&env)?,
            log: telemetry::Settings::from_env(&env)?,
            throttle: platform::rate_limit::Settings::from_env(&env)?,
{%- if auth == "oidc" %}
            oidc: platform::oidc::Settings::from_env(
                &env,
                &http.public_origin,
                &http.frontend_origins,
            )?,
{%- else %}
            mail: platform::mail::Settings::from_env(&env, env!("CARGO_PKG_NAME"))?,
            links: platform::mail::Links::from_env(
                &env,
                &http.public_origin,
                &http.frontend_origins,
            )?,
            require_verified_email: env.flag("REQUIRE_VERIFIED_EMAIL", "false")?,
{%- endif %}
            http,
        })
    }
}

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
        env.insert("OIDC_REDIRECT_URL".into(), "{% if cross_origin %}http://localhost:5173/{% else %}http://localhost:8080/{% endif %}".into());
{%- endif %}
        for (k, v) in pairs {
            env.insert((*k).into(), (*v).into());
        }
        Config::from_lookup(|name| env.get(name).cloned())
    }

    #[test]
    fn defaults_work_for_local_development() {
        let config = config(&[]).unwrap();
        assert_eq!(config.server.bind_addr.to_string(), "127.0.0.1:8080");
        assert_eq!(config.http.public_origin.as_str(), "http://localhost:8080");
        assert_eq!(
            config.http.cookie.to_string(),
            "sid; Path=/; HttpOnly; SameSite=Lax"
        );
    }

    /// Each part of the configuration is read: a bad value of any of them
    /// stops start-up with its variable named.
    #[test]
    fn every_part_refuses_a_bad_value_naming_its_variable() {
        for (var, value) in [
            ("BIND_ADDR", "localhost"),
            ("PUBLIC_ORIGIN", "https://api.example.com/"),
{%- if cross_origin %}
            ("FRONTEND_ORIGINS", "*"),
{%- else %}
            ("STATIC_DIR", "no/such/folder"),
{%- endif %}
            ("DATABASE_URL", "mysql://x"),
{%- if session_store == "redis" %}
            ("REDIS_URL", "127.0.0.1:6379"),
{%- endif %}
            ("SESSION_INACTIVITY_SECS", "soon"),
            ("RUST_LOG", "info,[=bad"),
            ("AUTH_ATTEMPTS_PER_IP", "0"),
{%- if auth == "oidc" %}
            ("OIDC_CLIENT_ID", ""),
{%- else %}
            ("SMTP_URL", "smtp://mail.example.com?tls=none"),
            ("RESET_PASSWORD_URL", "/reset-password.html"),
{%- endif %}
            ("REQUEST_TIMEOUT_SECS", "0"),
        ] {
            let err = config(&[(var, value)]).expect_err("refused");
            let message = err.to_string();
            assert_eq!(err.var, var, "{message}");
            assert!(message.contains("Fix: "), "{message}");
            assert!(!message.contains('\n'), "one line only: {message}");
        }
    }
}
