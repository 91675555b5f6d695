//! Typed configuration, read from the environment and validated up front.
//!
//! Every setting is checked before anything starts, so a mistake costs one
//! clear line naming the variable, the value and the fix, rather than a panic
//! deep inside a library (tower-http panics on `*` with credentials) or a
//! server that starts and then misbehaves in the browser.

{% if cross_origin -%}
use std::{fmt, net::SocketAddr, num::NonZeroU32, ops::RangeInclusive, time::Duration};
{% else -%}
use std::{
    fmt, net::SocketAddr, num::NonZeroU32, ops::RangeInclusive, path::PathBuf, time::Duration,
};
{% endif %}
use crate::{cookie_policy::CookiePolicy, origin::Origin, rate_limit::Limits};

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
    /// Where users (and sessions, unless Redis holds them) are kept.
    pub database: DatabaseConfig,
{%- if session_store == "redis" %}
    /// The Redis server that holds the sessions.
    pub redis: RedisConfig,
{%- endif %}
    /// Idle time after which a session ends (`SESSION_INACTIVITY_SECS`).
    pub session_inactivity: Duration,
    /// Session cookie attributes, derived from the origins unless overridden.
    pub cookie: CookiePolicy,
    /// `tracing` filter directives (`RUST_LOG`).
    pub log_filter: String,
    /// Login and signup attempts allowed per client address and per account.
    pub auth_attempts: Limits,
    /// Whether `X-Forwarded-For` names the client (`TRUST_PROXY`).
    pub trust_proxy: bool,
    /// Longest a request may take, body upload included (`REQUEST_TIMEOUT_SECS`).
    pub request_timeout: Duration,
}

/// The database connection pool.
#[derive(Clone, Debug)]
pub struct DatabaseConfig {
    /// sqlx connection URL (`DATABASE_URL`).
    pub url: String,
    /// Upper bound of open connections (`DATABASE_MAX_CONNECTIONS`).
    pub max_connections: u32,
    /// How long a request waits for a connection before it fails with 503
    /// (`DATABASE_TIMEOUT_MS`): an outage answers fast instead of hanging.
    pub timeout: Duration,
}
{%- if session_store == "redis" %}

/// The Redis connection that holds the sessions.
#[derive(Clone, Debug)]
pub struct RedisConfig {
    /// `redis://[user:password@]host[:port][/db]` (`REDIS_URL`).
    pub url: String,
    /// Longest wait for one Redis command, reconnecting included
    /// (`REDIS_TIMEOUT_MS`): while Redis is down requests answer 503 after
    /// this long instead of hanging.
    pub timeout: Duration,
}
{%- endif %}

/// A setting that cannot be used, with what to do about it.
#[derive(Debug, thiserror::Error)]
#[error("{var}={value:?}: {problem}. Fix: {fix}")]
pub struct ConfigError {
    pub var: &'static str,
    pub value: String,
    pub problem: String,
    pub fix: String,
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

    /// Reads the process environment (after `.env`, see `main.rs`).
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Builds the configuration from any name-to-value lookup; tests pass a
    /// map instead of mutating the process environment.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let var = |name: &'static str, default: &str| Setting {
            name,
            value: lookup(name).unwrap_or_else(|| default.to_owned()),
        };
        let seconds = |name: &'static str, default: &str, range: RangeInclusive<u64>| {
            var(name, default).parse_with(
                |v| match v.parse::<u64>() {
                    Ok(secs) if range.contains(&secs) => Ok(Duration::from_secs(secs)),
                    _ => Err(format!(
                        "not a whole number of seconds from {} to {}",
                        range.start(),
                        range.end()
                    )),
                },
                "use a whole number of seconds",
            )
        };

        let bind_addr = var("BIND_ADDR", "127.0.0.1:8080").parse_with(
            |v| v.parse::<SocketAddr>().map_err(|e| e.to_string()),
            "use host:port, e.g. 127.0.0.1:8080 (or 0.0.0.0:8080 in a container)",
        )?;
        let public_origin = var("PUBLIC_ORIGIN", "http://localhost:8080").parse_with(
            Origin::parse,
            "set it to this backend's origin as browsers reach it, e.g. https://api.example.com",
        )?;
{%- if cross_origin %}
        let frontend_origins = var("FRONTEND_ORIGINS", "").parse_with(
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
        let static_dir = var("STATIC_DIR", "frontend").parse_with(
            parse_static_dir,
            "point it at the folder of the built frontend (the one holding index.html), \
             e.g. frontend/dist, or set it empty when a proxy serves the frontend",
        )?;
{%- endif %}
        let database = DatabaseConfig {
            url: var("DATABASE_URL", DEFAULT_DATABASE_URL)
                .parse_with(parse_database_url, DATABASE_URL_FIX)?,
            max_connections: var("DATABASE_MAX_CONNECTIONS", "10").parse_with(
                |v| parse_in_range(v, 1, 1000),
                "use a whole number from 1 to 1000, e.g. 10",
            )?,
            timeout: var("DATABASE_TIMEOUT_MS", "3000").parse_with(
                |v| parse_in_range(v, 100, 60_000).map(Duration::from_millis),
                "use milliseconds from 100 to 60000, e.g. 3000",
            )?,
        };
{%- if session_store == "redis" %}
        let redis = RedisConfig {
            url: var("REDIS_URL", "redis://127.0.0.1:6379").parse_with(
                parse_redis_url,
                "use redis://[user:password@]host[:port][/db], e.g. redis://127.0.0.1:6379",
            )?,
            timeout: var("REDIS_TIMEOUT_MS", "2000").parse_with(
                |v| parse_in_range(v, 100, 60_000).map(Duration::from_millis),
                "use milliseconds from 100 to 60000, e.g. 2000",
            )?,
        };
{%- endif %}
        let session_inactivity = var("SESSION_INACTIVITY_SECS", "86400").parse_with(
            |v| match v.parse::<u64>() {
                Ok(secs) if (60..=31_536_000).contains(&secs) => Ok(Duration::from_secs(secs)),
                _ => Err("not a whole number of seconds from 60 to 31536000".to_owned()),
            },
            "use e.g. 86400 for one day",
        )?;
        let cookie = CookiePolicy::derive(
            &public_origin,
            &frontend_origins,
            &var("COOKIE_SECURE", "auto").value,
            &var("COOKIE_SAME_SITE", "auto").value,
        )?;
        let log_filter = var("RUST_LOG", "info,tower_http=info").value;
        let attempts = |name: &'static str, default: &str| {
            var(name, default).parse_with(
                |v| {
                    v.parse::<NonZeroU32>()
                        .ok()
                        .filter(|n| n.get() <= 10_000)
                        .ok_or_else(|| "not a whole number from 1 to 10000".to_owned())
                },
                "use e.g. 10; attempts beyond it within AUTH_ATTEMPTS_WINDOW_SECS get 429",
            )
        };
        let auth_attempts = Limits {
            per_ip: attempts("AUTH_ATTEMPTS_PER_IP", "60")?,
            per_account: attempts("AUTH_ATTEMPTS_PER_ACCOUNT", "10")?,
            window: seconds("AUTH_ATTEMPTS_WINDOW_SECS", "300", 1..=86_400)?,
        };
        let trust_proxy = var("TRUST_PROXY", "false").parse_with(
            |v| match v.to_ascii_lowercase().as_str() {
                "true" => Ok(true),
                "false" => Ok(false),
                _ => Err("not one of true, false".to_owned()),
            },
            "use true only behind a reverse proxy that appends the client address to \
             X-Forwarded-For, otherwise false",
        )?;
        let request_timeout = seconds("REQUEST_TIMEOUT_SECS", "30", 1..=3_600)?;

        Ok(Self {
            bind_addr,
            public_origin,
{%- if cross_origin %}
            frontend_origins,
{%- else %}
            static_dir,
{%- endif %}
            database,
{%- if session_store == "redis" %}
            redis,
{%- endif %}
            session_inactivity,
            cookie,
            log_filter,
            auth_attempts,
            trust_proxy,
            request_timeout,
        })
    }
}
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

{%- if database == "postgres" %}

const DEFAULT_DATABASE_URL: &str = "postgres://postgres@127.0.0.1:5432/{{crate_name}}";
const DATABASE_URL_FIX: &str =
    "use postgres://user[:password]@host[:port]/database (created at start-up if missing)";

/// Accepts a PostgreSQL URL that this build can connect with.
fn parse_database_url(value: &str) -> Result<String, String> {
    let url = url::Url::parse(value).map_err(|e| format!("not a URL ({e})"))?;
    if !matches!(url.scheme(), "postgres" | "postgresql") {
        return Err("not a PostgreSQL URL".to_owned());
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err("has no host".to_owned());
    }
    // sqlx is built without a TLS stack (see Cargo.toml): refuse up front a
    // URL that demands TLS instead of failing at the first connection.
    let tls_required = url.query_pairs().any(|(key, value)| {
        key == "sslmode" && matches!(&*value, "require" | "verify-ca" | "verify-full")
    });
    if tls_required {
        return Err("requires TLS, which this build leaves out; enable sqlx's \
                    `tls-rustls` feature in Cargo.toml, or drop sslmode"
            .to_owned());
    }
    Ok(value.to_owned())
}
{%- else %}

const DEFAULT_DATABASE_URL: &str = "sqlite://data/app.db";
const DATABASE_URL_FIX: &str = "use sqlite://path/to/file.db (the file is created if missing)";

/// Accepts a SQLite URL; the file is created at start-up if missing.
fn parse_database_url(value: &str) -> Result<String, String> {
    if value.starts_with("sqlite:") {
        Ok(value.to_owned())
    } else {
        Err("not a SQLite URL".to_owned())
    }
}
{%- endif %}
{%- if session_store == "redis" %}

/// Accepts a plain `redis://` URL (this build has no TLS for `rediss://`).
fn parse_redis_url(value: &str) -> Result<String, String> {
    let url = url::Url::parse(value).map_err(|e| format!("not a URL ({e})"))?;
    match url.scheme() {
        "redis" if url.host_str().is_some_and(|h| !h.is_empty()) => Ok(value.to_owned()),
        "redis" => Err("has no host".to_owned()),
        "rediss" => Err("asks for TLS, which this build leaves out; enable \
                         tower-sessions-redis-store's `enable-rustls` feature"
            .to_owned()),
        _ => Err("not a redis:// URL".to_owned()),
    }
}
{%- endif %}

/// Parses a whole number within `min..=max`.
fn parse_in_range<T>(value: &str, min: T, max: T) -> Result<T, String>
where
    T: std::str::FromStr + PartialOrd + fmt::Display + Copy,
{
    match value.parse::<T>() {
        Ok(n) if (min..=max).contains(&n) => Ok(n),
        _ => Err(format!("not a whole number from {min} to {max}")),
    }
}

/// Hides the password of a connection URL, so error messages and logs never
/// carry it.
pub fn redact_url(value: &str) -> String {
    match url::Url::parse(value) {
        Ok(mut url) if url.password().is_some() => {
            let _ = url.set_password(Some("***"));
            url.to_string()
        }
        _ => value.to_owned(),
    }
}

/// One environment variable, kept with its name for error messages.
struct Setting {
    name: &'static str,
    value: String,
}

impl Setting {
    fn parse_with<T>(
        &self,
        parse: impl FnOnce(&str) -> Result<T, String>,
        fix: &str,
    ) -> Result<T, ConfigError> {
        parse(self.value.trim()).map_err(|problem| self.error(problem, fix.to_owned()))
    }

    fn error(&self, problem: String, fix: String) -> ConfigError {
        ConfigError {
            var: self.name,
            value: if self.name.ends_with("_URL") {
                redact_url(&self.value)
            } else {
                self.value.clone()
            },
            problem,
            fix,
        }
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
        for (k, v) in pairs {
            env.insert((*k).into(), (*v).into());
        }
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
    fn errors_name_the_variable_the_value_and_a_fix() {
        for (var, value) in [
            ("BIND_ADDR", "localhost"),
            ("PUBLIC_ORIGIN", "https://api.example.com/"),
            ("DATABASE_URL", "mysql://x"),
            ("DATABASE_MAX_CONNECTIONS", "0"),
            ("DATABASE_TIMEOUT_MS", "5s"),
{%- if session_store == "redis" %}
            ("REDIS_URL", "rediss://cache.example.com"),
            ("REDIS_URL", "127.0.0.1:6379"),
            ("REDIS_TIMEOUT_MS", "0"),
{%- endif %}
            ("SESSION_INACTIVITY_SECS", "soon"),
            ("COOKIE_SECURE", "yes"),
            ("COOKIE_SAME_SITE", "none"),
            ("AUTH_ATTEMPTS_PER_IP", "0"),
            ("AUTH_ATTEMPTS_PER_ACCOUNT", "lots"),
            ("AUTH_ATTEMPTS_WINDOW_SECS", "0"),
            ("TRUST_PROXY", "yes"),
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
