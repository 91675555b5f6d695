//! The session cookie's name and attributes, derived from the deployment
//! shape, and the response step that makes every session `Set-Cookie` carry
//! them.
//!
//! | shape | cookie over https | over plain http (development) |
//! |---|---|---|
//! | same-origin, cross-origin same-site | `__Host-sid; Path=/; Secure; HttpOnly; SameSite=Lax` | `sid; Path=/; HttpOnly; SameSite=Lax` |
//! | cross-site | `__Host-sid; Path=/; Secure; HttpOnly; SameSite=None; Partitioned` | the same, on `localhost`/loopback only |
//!
//! A cross-site frontend's requests carry only `SameSite=None` cookies, and
//! browsers that block third-party cookies (Chrome's setting, Safari and
//! Firefox by default) still accept them when they are `Partitioned` (CHIPS):
//! kept in a jar of their own for the frontend's site.
//!
//! tower-sessions 0.14 cannot emit `Partitioned`, and the removal cookie it
//! sends on logout copies only the name and path, so browsers ignore it for a
//! `Secure`, `__Host-` or `Partitioned` cookie and the user stays signed in
//! as far as the browser knows. [`finish_session_cookies`] rewrites the
//! session cookie on the way out instead of forking the crate.

use std::fmt;

use axum::{
    http::{HeaderMap, HeaderValue, header},
    response::Response,
};
use tower_sessions::cookie::{Cookie, SameSite};

use crate::{
    deployment_shape::{self, DeploymentShape},
    origin::Origin,
    settings::ConfigError,
    warn_once::WarnOnce,
};

/// How the session cookie is named and scoped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CookiePolicy {
    /// The shape the attributes were derived from, for the start-up log.
    pub shape: DeploymentShape,
    pub name: &'static str,
    pub secure: bool,
    pub same_site: SameSite,
    pub partitioned: bool,
}

impl CookiePolicy {
    /// Derives the policy from the origins, then applies the
    /// `COOKIE_SECURE` and `COOKIE_SAME_SITE` settings (`auto` keeps the
    /// derived value). Combinations a browser would refuse, or with which no
    /// frontend could stay signed in, are configuration errors.
    pub fn derive(
        public: &Origin,
        frontends: &[Origin],
        cookie_secure: &str,
        cookie_same_site: &str,
    ) -> Result<Self, ConfigError> {
        let shape = DeploymentShape::classify(public, frontends);
        let cross_site = shape == DeploymentShape::CrossSite;
        let error = |var: &'static str, value: &str, problem: String, fix: &str| ConfigError {
            var,
            value: value.to_owned(),
            problem,
            fix: fix.to_owned(),
        };
        // The first frontend on another site, named in messages.
        let other_site = || {
            frontends
                .iter()
                .find(|f| DeploymentShape::between(public, f) == DeploymentShape::CrossSite)
                .map_or_else(String::new, ToString::to_string)
        };

        let secure = match cookie_secure.trim().to_ascii_lowercase().as_str() {
            "auto" => public.is_https() || cross_site,
            "true" => true,
            "false" => false,
            _ => {
                return Err(error(
                    "COOKIE_SECURE",
                    cookie_secure,
                    "not one of auto, true, false".into(),
                    "use auto (Secure on https, and for cross-site frontends), true or false",
                ));
            }
        };
        let same_site = match cookie_same_site.trim().to_ascii_lowercase().as_str() {
            "auto" if cross_site => SameSite::None,
            "auto" | "lax" => SameSite::Lax,
            "strict" => SameSite::Strict,
            "none" => SameSite::None,
            _ => {
                return Err(error(
                    "COOKIE_SAME_SITE",
                    cookie_same_site,
                    "not one of auto, lax, strict, none".into(),
                    "use auto (None for cross-site frontends, else Lax), lax, strict or none",
                ));
            }
        };

        if !secure && public.is_https() {
            return Err(error(
                "COOKIE_SECURE",
                cookie_secure,
                format!(
                    "PUBLIC_ORIGIN is https ({public}), and a cookie without Secure loses the __Host- prefix and is also sent over any plain-http request to the host, where anyone on the network can read the session id"
                ),
                "use COOKIE_SECURE=auto (or true); set PUBLIC_ORIGIN to http:// only if browsers really reach the API without TLS",
            ));
        }
        if secure && !public.is_https() && !deployment_shape::is_loopback(public) {
            let (var, value, fix) = if cross_site {
                (
                    "PUBLIC_ORIGIN",
                    public.as_str(),
                    "serve the API over https, or put the frontend on the same site (e.g. app.example.com and api.example.com)",
                )
            } else {
                (
                    "COOKIE_SECURE",
                    cookie_secure,
                    "use COOKIE_SECURE=auto, or serve the API over https",
                )
            };
            return Err(error(
                var,
                value,
                format!(
                    "{}the session cookie must be Secure, and browsers drop Secure cookies from plain-http hosts other than localhost ({public})",
                    if cross_site {
                        format!("{} is on another site than this backend, so ", other_site())
                    } else {
                        String::new()
                    }
                ),
                fix,
            ));
        }
        if cross_site && same_site != SameSite::None {
            return Err(error(
                "COOKIE_SAME_SITE",
                cookie_same_site,
                format!(
                    "{} is on another site than PUBLIC_ORIGIN ({public}); browsers never send a SameSite={same_site} cookie with its requests, so nobody could stay signed in",
                    other_site()
                ),
                "use COOKIE_SAME_SITE=auto, or put the frontend on the same site as the API",
            ));
        }
        if same_site == SameSite::None && !secure {
            let (var, value) = if cross_site {
                ("COOKIE_SECURE", cookie_secure)
            } else {
                ("COOKIE_SAME_SITE", cookie_same_site)
            };
            return Err(error(
                var,
                value,
                "SameSite=None needs a Secure cookie; browsers drop it otherwise".into(),
                "set COOKIE_SECURE=true or auto (with an https PUBLIC_ORIGIN), or use COOKIE_SAME_SITE=lax",
            ));
        }

        Ok(Self {
            shape,
            // `__Host-` makes browsers refuse the cookie unless it is Secure,
            // host-only and Path=/, so no sibling subdomain can plant or
            // shadow it.
            name: if secure { "__Host-sid" } else { "sid" },
            secure,
            same_site,
            partitioned: cross_site,
        })
    }

    /// The name of the device cookie (see `known_devices.rs`), prefixed like
    /// the session cookie's.
    #[cfg(feature = "password")]
    pub fn device_cookie_name(&self) -> &'static str {
        if self.secure {
            "__Host-device"
        } else {
            "device"
        }
    }

    /// Another cookie with the session cookie's attributes (so it reaches
    /// the API in every deployment shape), kept for `max_age`.
    #[cfg(feature = "password")]
    pub fn companion_cookie(
        &self,
        name: &'static str,
        value: String,
        max_age: tower_sessions::cookie::time::Duration,
    ) -> Cookie<'static> {
        let mut cookie = Cookie::new(name, value);
        self.apply(&mut cookie);
        cookie.set_max_age(max_age);
        cookie
    }

    /// Gives `cookie` exactly this policy's attributes, keeping its value and
    /// lifetime (`Max-Age`, `Expires`).
    fn apply(&self, cookie: &mut Cookie<'_>) {
        cookie.set_path("/");
        cookie.set_http_only(true);
        cookie.set_secure(self.secure);
        cookie.set_same_site(self.same_site);
        cookie.set_partitioned(self.partitioned);
    }
}

impl fmt::Display for CookiePolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}; Path=/", self.name)?;
        if self.secure {
            f.write_str("; Secure")?;
        }
        write!(f, "; HttpOnly; SameSite={}", self.same_site)?;
        if self.partitioned {
            f.write_str("; Partitioned")?;
        }
        Ok(())
    }
}

/// Response middleware: rewrites each `Set-Cookie` for the session cookie,
/// the removal cookie of a logout included, to carry the policy's attributes.
/// Other cookies pass untouched.
pub fn finish_session_cookies(policy: &CookiePolicy, mut response: Response) -> Response {
    let headers = response.headers_mut();
    let set_cookies: Vec<HeaderValue> = headers
        .get_all(header::SET_COOKIE)
        .iter()
        .cloned()
        .collect();
    if set_cookies.is_empty() {
        return response;
    }
    headers.remove(header::SET_COOKIE);
    for value in set_cookies {
        let rewritten = value
            .to_str()
            .ok()
            .and_then(|text| Cookie::parse(text).ok())
            .filter(|cookie| cookie.name() == policy.name)
            .and_then(|mut cookie| {
                policy.apply(&mut cookie);
                HeaderValue::try_from(cookie.to_string()).ok()
            });
        headers.append(header::SET_COOKIE, rewritten.unwrap_or(value));
    }
    response
}

/// Warns, once per host, when API requests arrive under another host than
/// `PUBLIC_ORIGIN`'s (say `127.0.0.1:8080` when it is `localhost:8080`).
/// Browsers keep cookies per host and decide same-site from the host names,
/// so a page calling the API under another name than the one the cookie
/// policy was derived for gets a signup's 201 and then 401s, with nothing
/// in the console saying why.
#[derive(Debug)]
pub struct HostCheck {
    public_origin: Origin,
    /// `host[:port]` of `PUBLIC_ORIGIN`, as a `Host` header carries it.
    expected: String,
    warned: WarnOnce,
}

impl HostCheck {
    pub fn new(public_origin: &Origin) -> Self {
        let expected = public_origin
            .as_str()
            .split_once("://")
            .map_or(public_origin.as_str(), |(_, authority)| authority)
            .to_owned();
        Self {
            public_origin: public_origin.clone(),
            expected,
            warned: WarnOnce::default(),
        }
    }

    /// Looks at a request's `Host`.
    pub fn check(&self, headers: &HeaderMap) {
        let Some(host) = headers.get(header::HOST).and_then(|h| h.to_str().ok()) else {
            return;
        };
        if host.eq_ignore_ascii_case(&self.expected) {
            return;
        }
        self.warned.warn(
            &host.to_ascii_lowercase(),
            || {
                tracing::warn!(
                    host = %host,
                    public_origin = %self.public_origin,
                    "a request arrived for another host than PUBLIC_ORIGIN's: browsers keep \
                     the session cookie per host, so a page calling the API under this name \
                     may not get it back (a 201 at signup, then 401). Fix: call the API at \
                     PUBLIC_ORIGIN, or set PUBLIC_ORIGIN to the origin browsers use"
                );
            },
            || {
                tracing::warn!(
                    "requests arrived under many host names other than PUBLIC_ORIGIN's; \
                     not naming more"
                );
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(
        public: &str,
        frontends: &[&str],
        secure: &str,
        same_site: &str,
    ) -> Result<CookiePolicy, ConfigError> {
        let frontends: Vec<Origin> = frontends
            .iter()
            .map(|f| Origin::parse(f).unwrap())
            .collect();
        CookiePolicy::derive(
            &Origin::parse(public).unwrap(),
            &frontends,
            secure,
            same_site,
        )
    }

    fn cookie(public: &str, frontends: &[&str]) -> String {
        policy(public, frontends, "auto", "auto")
            .unwrap()
            .to_string()
    }

    #[test]
    fn derived_from_the_deployment_shape() {
        for (public, frontends, expected) in [
            (
                "http://localhost:8080",
                &[][..],
                "sid; Path=/; HttpOnly; SameSite=Lax",
            ),
            (
                "https://example.com",
                &[],
                "__Host-sid; Path=/; Secure; HttpOnly; SameSite=Lax",
            ),
            (
                "http://localhost:8080",
                &["http://localhost:5173"],
                "sid; Path=/; HttpOnly; SameSite=Lax",
            ),
            (
                "https://api.example.com",
                &["https://app.example.com"],
                "__Host-sid; Path=/; Secure; HttpOnly; SameSite=Lax",
            ),
            (
                "https://api.other.net",
                &["https://app.example.com"],
                "__Host-sid; Path=/; Secure; HttpOnly; SameSite=None; Partitioned",
            ),
            // Browsers treat localhost and loopback as secure over plain http.
            (
                "http://127.0.0.1:8080",
                &["http://localhost:5173"],
                "__Host-sid; Path=/; Secure; HttpOnly; SameSite=None; Partitioned",
            ),
        ] {
            assert_eq!(
                cookie(public, frontends),
                expected,
                "{public} <- {frontends:?}"
            );
        }
    }

    #[test]
    fn settings_override_the_derived_values() {
        let strict = policy(
            "https://api.example.com",
            &["https://app.example.com"],
            "auto",
            "strict",
        )
        .unwrap();
        assert_eq!(
            strict.to_string(),
            "__Host-sid; Path=/; Secure; HttpOnly; SameSite=Strict"
        );
        let secure_on_localhost = policy("http://localhost:8080", &[], "true", "auto").unwrap();
        assert_eq!(
            secure_on_localhost.to_string(),
            "__Host-sid; Path=/; Secure; HttpOnly; SameSite=Lax"
        );
        let not_secure = policy("http://localhost:8080", &[], "false", "auto").unwrap();
        assert_eq!(
            not_secure.to_string(),
            "sid; Path=/; HttpOnly; SameSite=Lax"
        );
    }

    #[test]
    fn impossible_combinations_are_refused_with_the_variable_and_a_fix() {
        for (public, frontends, secure, same_site, var) in [
            // Cross-site needs Secure, which plain http only allows on loopback.
            (
                "http://api.example.com",
                &["http://app.other.net"][..],
                "auto",
                "auto",
                "PUBLIC_ORIGIN",
            ),
            (
                "http://192.168.1.10:8080",
                &["http://localhost:5173"],
                "auto",
                "auto",
                "PUBLIC_ORIGIN",
            ),
            // A cross-site frontend never sends a Lax or Strict cookie.
            (
                "https://api.other.net",
                &["https://app.example.com"],
                "auto",
                "lax",
                "COOKIE_SAME_SITE",
            ),
            (
                "http://127.0.0.1:8080",
                &["http://localhost:5173"],
                "auto",
                "strict",
                "COOKIE_SAME_SITE",
            ),
            // SameSite=None without Secure is dropped by browsers.
            (
                "https://api.other.net",
                &["https://app.example.com"],
                "false",
                "auto",
                "COOKIE_SECURE",
            ),
            (
                "http://localhost:8080",
                &[],
                "auto",
                "none",
                "COOKIE_SAME_SITE",
            ),
            // An https API whose cookie would also travel over plain http.
            ("https://example.com", &[], "false", "auto", "COOKIE_SECURE"),
            (
                "https://api.example.com",
                &["https://app.example.com"],
                "false",
                "lax",
                "COOKIE_SECURE",
            ),
            // Secure over plain http to a real host name is dropped too.
            ("http://example.com", &[], "true", "auto", "COOKIE_SECURE"),
            ("https://example.com", &[], "maybe", "auto", "COOKIE_SECURE"),
            (
                "https://example.com",
                &[],
                "auto",
                "sometimes",
                "COOKIE_SAME_SITE",
            ),
        ] {
            let err = policy(public, frontends, secure, same_site).expect_err("should be refused");
            let message = err.to_string();
            assert_eq!(err.var, var, "{message}");
            assert!(message.contains("Fix: "), "{message}");
            assert!(!message.contains('\n'), "{message}");
        }
    }

    fn rewritten(policy: &CookiePolicy, set_cookies: &[&str]) -> Vec<String> {
        let mut response = Response::new(axum::body::Body::empty());
        for value in set_cookies {
            response
                .headers_mut()
                .append(header::SET_COOKIE, HeaderValue::from_str(value).unwrap());
        }
        let response = finish_session_cookies(policy, response);
        response
            .headers()
            .get_all(header::SET_COOKIE)
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .collect()
    }

    #[test]
    fn session_cookies_get_partitioned_and_removal_cookies_get_secure() {
        let cross_site = policy(
            "https://api.other.net",
            &["https://app.example.com"],
            "auto",
            "auto",
        )
        .unwrap();
        let cookies = rewritten(
            &cross_site,
            &[
                "__Host-sid=abc; HttpOnly; SameSite=None; Secure; Path=/; Max-Age=86400",
                // What tower-sessions sends on logout: name and path only.
                "__Host-sid=; Path=/; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT",
                "theme=dark; Path=/",
            ],
        );
        let [session, removal, other] = &cookies[..] else {
            panic!("{cookies:?}")
        };
        let partitioned = [
            "Secure",
            "HttpOnly",
            "SameSite=None",
            "Partitioned",
            "Path=/",
        ];
        for attribute in partitioned.iter().chain(&["Max-Age=86400"]) {
            assert!(
                session.contains(attribute),
                "missing {attribute}: {session}"
            );
        }
        for attribute in partitioned.iter().chain(&["Max-Age=0"]) {
            assert!(
                removal.contains(attribute),
                "missing {attribute}: {removal}"
            );
        }
        assert_eq!(other, "theme=dark; Path=/");
    }
}
