//! The `OIDC_*` settings: which provider, this application's registration at
//! it, and the limits of a sign-in, read from the environment and checked
//! before anything starts (a wrong value is one clear line naming the fix).

use std::time::Duration;

use openidconnect::{ClientId, ClientSecret, IssuerUrl, PostLogoutRedirectUrl, RedirectUrl, Scope};
use url::Url;

use crate::{
    origin::Origin,
    settings::{ConfigError, Env},
};

/// The provider and this application's registration at it.
#[derive(Clone, Debug)]
pub struct Settings {
    /// The provider's issuer identifier (`OIDC_ISSUER_URL`).
    pub issuer: IssuerUrl,
    /// This application's id at the provider (`OIDC_CLIENT_ID`).
    pub client_id: ClientId,
    /// Set for a confidential client (`OIDC_CLIENT_SECRET`); without it this
    /// is a public client, protected by PKCE alone.
    pub client_secret: Option<ClientSecret>,
    /// The frontend page the provider sends the browser back to
    /// (`OIDC_REDIRECT_URL`).
    pub redirect_url: RedirectUrl,
    /// Scopes asked for besides `openid` (`OIDC_SCOPES`).
    pub scopes: Vec<Scope>,
    /// Where the provider sends the browser after logging out there
    /// (`OIDC_POST_LOGOUT_REDIRECT_URL`).
    pub post_logout_redirect_url: Option<PostLogoutRedirectUrl>,
    /// How long a started sign-in stays valid (`OIDC_LOGIN_TIMEOUT_SECS`).
    pub login_timeout: Duration,
    /// Longest a request to the provider may take (`OIDC_HTTP_TIMEOUT_MS`).
    pub http_timeout: Duration,
    /// Whether logging out at the provider carries the user's ID token as
    /// `id_token_hint` (`OIDC_LOGOUT_ID_TOKEN_HINT`, default false). Off, the
    /// logout URL names this client only, as RP-Initiated Logout allows, and
    /// the provider asks the user to confirm; turn it on only for a provider
    /// that requires the hint (Okta does): the URL then carries the token,
    /// with the user's email and name, through the browser.
    pub logout_id_token_hint: bool,
}

impl Settings {
    /// Reads the `OIDC_*` variables. The redirect URL must be a page of a
    /// frontend allowed to call this API (`frontend_origins`), or of this
    /// backend when it serves the frontend itself (`frontend_origins` empty).
    pub fn from_env(
        env: &Env,
        public_origin: &Origin,
        frontend_origins: &[Origin],
    ) -> Result<Self, ConfigError> {
        let issuer = env.var("OIDC_ISSUER_URL", "").parse_with(
            parse_issuer,
            "set it to the provider's issuer URL, exactly as its discovery document \
             (/.well-known/openid-configuration) gives `issuer`, e.g. https://login.example.com",
        )?;
        let client_id = env.var("OIDC_CLIENT_ID", "").parse_with(
            |v| {
                if v.is_empty() {
                    Err("not set".to_owned())
                } else {
                    Ok(ClientId::new(v.to_owned()))
                }
            },
            "set it to the client id the provider gave this application when it was registered",
        )?;
        let secret = env.var("OIDC_CLIENT_SECRET", "").value;
        let secret = secret.trim();
        let client_secret = (!secret.is_empty()).then(|| ClientSecret::new(secret.to_owned()));

        let allowed: Vec<&Origin> = if frontend_origins.is_empty() {
            vec![public_origin]
        } else {
            frontend_origins.iter().collect()
        };
        let allowed_list = allowed
            .iter()
            .map(|o| o.as_str())
            .collect::<Vec<_>>()
            .join(", ");
        let redirect = env.var("OIDC_REDIRECT_URL", "");
        let redirect_url = redirect.parse_with(
            |v| parse_redirect(v, &allowed),
            &format!(
                "use the frontend page that relays the provider's answer to the API, on {} \
                 (e.g. {}/), and register the same URL at the provider",
                allowed_list,
                allowed[0].as_str()
            ),
        )?;
        let scopes = env.var("OIDC_SCOPES", "openid email profile").parse_with(
            parse_scopes,
            "list the scopes separated by spaces, including openid, e.g. openid email profile",
        )?;
        let post_logout_redirect_url = env.var("OIDC_POST_LOGOUT_REDIRECT_URL", "").parse_with(
            |v| {
                if v.is_empty() {
                    return Ok(None);
                }
                let url = parse_http_url(v)?;
                Ok(Some(PostLogoutRedirectUrl::from_url(url)))
            },
            "use the absolute URL of the page the provider should show after logging out \
                 (registered at the provider too), or leave it empty",
        )?;
        Ok(Self {
            issuer,
            client_id,
            client_secret,
            redirect_url,
            scopes,
            post_logout_redirect_url,
            login_timeout: env.seconds("OIDC_LOGIN_TIMEOUT_SECS", "600", 1..=3_600)?,
            http_timeout: env.millis("OIDC_HTTP_TIMEOUT_MS", "5000", 100..=60_000)?,
            logout_id_token_hint: env.flag("OIDC_LOGOUT_ID_TOKEN_HINT", "false")?,
        })
    }
}

/// An https URL, or http on this machine (development providers).
fn parse_issuer(value: &str) -> Result<IssuerUrl, String> {
    if value.is_empty() {
        return Err("not set".to_owned());
    }
    let url = parse_http_url(value)?;
    if url.scheme() == "http" && !is_loopback(&url) {
        return Err("plain http is allowed only for a provider on this machine \
                    (localhost, 127.0.0.0/8, ::1)"
            .to_owned());
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err("an issuer has no query or fragment".to_owned());
    }
    // The string as given: discovery compares it byte for byte with the
    // `issuer` of the provider's document, trailing slash included.
    IssuerUrl::new(value.to_owned()).map_err(|e| e.to_string())
}

fn parse_redirect(value: &str, allowed: &[&Origin]) -> Result<RedirectUrl, String> {
    if value.is_empty() {
        return Err("not set".to_owned());
    }
    let url = parse_http_url(value)?;
    if url.fragment().is_some() {
        return Err("a redirect URL has no fragment".to_owned());
    }
    let origin = Origin::parse(&url.origin().ascii_serialization())?;
    if !allowed.iter().any(|o| **o == origin) {
        return Err(format!(
            "its origin {origin} is not one whose pages may call this API, so the page could \
             not relay the provider's answer with the session cookie"
        ));
    }
    Ok(RedirectUrl::from_url(url))
}

fn parse_scopes(value: &str) -> Result<Vec<Scope>, String> {
    let all: Vec<&str> = value.split_whitespace().collect();
    if !all.contains(&"openid") {
        return Err("`openid` is missing, without which the provider sends no ID token".to_owned());
    }
    let mut scopes: Vec<Scope> = Vec::new();
    // `openid` is added by the client library itself.
    for scope in all.into_iter().filter(|s| *s != "openid") {
        if !scope
            .chars()
            .all(|c| c.is_ascii_graphic() && c != '"' && c != '\\')
        {
            return Err(format!("{scope:?} is not a valid scope"));
        }
        if !scopes.iter().any(|s| s.as_str() == scope) {
            scopes.push(Scope::new(scope.to_owned()));
        }
    }
    Ok(scopes)
}

/// An absolute http(s) URL without credentials.
fn parse_http_url(value: &str) -> Result<Url, String> {
    let url = Url::parse(value).map_err(|e| format!("not an absolute URL ({e})"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err("the scheme must be https (or http on this machine)".to_owned());
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("contains credentials (user@)".to_owned());
    }
    if url.host().is_none() {
        return Err("has no host".to_owned());
    }
    Ok(url)
}

pub(super) fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(domain)) => domain.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// Settings of a provider at login.example.com for a frontend at
/// app.example.com, with `pairs` set on top: for the tests of this module and
/// of the provider's HTTP client.
#[cfg(test)]
pub(super) fn test_settings(pairs: &[(&str, &str)]) -> Result<Settings, ConfigError> {
    let mut vars: std::collections::HashMap<String, String> = std::collections::HashMap::from([
        ("OIDC_ISSUER_URL".into(), "https://login.example.com".into()),
        ("OIDC_CLIENT_ID".into(), "app".into()),
        (
            "OIDC_REDIRECT_URL".into(),
            "https://app.example.com/".into(),
        ),
    ]);
    for (k, v) in pairs {
        vars.insert((*k).into(), (*v).into());
    }
    let lookup = |name: &str| vars.get(name).cloned();
    let env = Env::new(&lookup);
    let public = Origin::parse("https://api.example.com").unwrap();
    let frontends = [Origin::parse("https://app.example.com").unwrap()];
    Settings::from_env(&env, &public, &frontends)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_ask_for_openid_email_and_profile() {
        let settings = test_settings(&[]).unwrap();
        let scopes: Vec<&str> = settings.scopes.iter().map(|s| s.as_str()).collect();
        assert_eq!(scopes, ["email", "profile"]);
        assert!(settings.client_secret.is_none());
        assert_eq!(settings.login_timeout, Duration::from_secs(600));
    }

    #[test]
    fn http_issuers_are_allowed_on_loopback_only() {
        for ok in [
            "http://localhost:3000",
            "http://127.0.0.1:9",
            "http://[::1]:3000/realm",
        ] {
            test_settings(&[("OIDC_ISSUER_URL", ok)]).expect(ok);
        }
        for bad in [
            "http://login.example.com",
            "ftp://localhost",
            "login.example.com",
            "",
        ] {
            let err = test_settings(&[("OIDC_ISSUER_URL", bad)]).expect_err(bad);
            assert_eq!(err.var, "OIDC_ISSUER_URL");
        }
    }

    #[test]
    fn the_redirect_must_be_a_page_of_an_allowed_frontend() {
        test_settings(&[("OIDC_REDIRECT_URL", "https://app.example.com/auth/callback")]).unwrap();
        for bad in [
            "https://evil.example.net/",
            "https://api.example.com/",
            "http://app.example.com/",
            "/relative",
            "https://app.example.com/#x",
        ] {
            let err = test_settings(&[("OIDC_REDIRECT_URL", bad)]).expect_err(bad);
            assert_eq!(err.var, "OIDC_REDIRECT_URL", "{err}");
            assert!(err.to_string().contains("Fix: "), "{err}");
        }
    }

    #[test]
    fn scopes_must_include_openid_and_timeouts_stay_in_range() {
        let err = test_settings(&[("OIDC_SCOPES", "email profile")]).unwrap_err();
        assert_eq!(err.var, "OIDC_SCOPES");
        for (var, value) in [
            ("OIDC_LOGIN_TIMEOUT_SECS", "0"),
            ("OIDC_LOGIN_TIMEOUT_SECS", "3601"),
            ("OIDC_HTTP_TIMEOUT_MS", "10"),
            ("OIDC_POST_LOGOUT_REDIRECT_URL", "not a url"),
        ] {
            assert_eq!(test_settings(&[(var, value)]).unwrap_err().var, var);
        }
    }
}
