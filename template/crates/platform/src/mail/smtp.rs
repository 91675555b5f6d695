//! `SMTP_URL`: where mail goes, and how it is protected on the way.
//!
//! lettre reads such URLs itself, but there `smtp://host` means plain text
//! to any host, which is how credentials leak. Here the secure forms are
//! the defaults and plain text is for a mail catcher on this machine only:
//!
//! | `SMTP_URL` | connection |
//! |---|---|
//! | `smtps://user:pass@host` (port 465 by default) | TLS from the first byte |
//! | `smtp://user:pass@host` (port 587 by default) | STARTTLS, required: a server that does not offer it is refused |
//! | `smtp://127.0.0.1:1025?tls=none` | plain text; only to a loopback address (a local mail catcher) |
//!
//! User and password are percent-decoded (`%40` for an `@` in a user name).
//! Certificates are checked against Mozilla's roots (webpki-roots).

use std::{net::IpAddr, time::Duration};

use lettre::{AsyncSmtpTransport, Tokio1Executor, transport::smtp::authentication::Credentials};
use url::Url;

use crate::settings::{ConfigError, Env};

/// Longest an SMTP conversation may stall.
const TIMEOUT: Duration = Duration::from_secs(30);

/// How to reach the SMTP server (`SMTP_URL`).
#[derive(Clone, PartialEq, Eq)]
pub struct Relay {
    host: String,
    port: u16,
    security: Security,
    credentials: Option<(String, String)>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Security {
    /// `smtps://`
    Tls,
    /// `smtp://`: STARTTLS required.
    StartTls,
    /// `smtp://...?tls=none`, loopback only.
    Plain,
}

impl std::fmt::Debug for Relay {
    // Never the password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Relay")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("security", &self.security)
            .field("user", &self.credentials.as_ref().map(|(user, _)| user))
            .finish()
    }
}

/// Reads `SMTP_URL`: `None` when it is empty (mail goes to the log).
pub(super) fn from_env(env: &Env) -> Result<Option<Relay>, ConfigError> {
    let setting = env.var("SMTP_URL", "");
    if setting.value.trim().is_empty() {
        return Ok(None);
    }
    setting
        .parse_with(
            parse,
            "use smtps://user:password@host (TLS), smtp://user:password@host \
             (STARTTLS), or smtp://127.0.0.1:1025?tls=none for a local mail \
             catcher; or leave it empty to write mail to the log",
        )
        .map(Some)
}

fn parse(value: &str) -> Result<Relay, String> {
    let url = Url::parse(value).map_err(|err| format!("not a URL ({err})"))?;
    let host = match url.host() {
        Some(url::Host::Domain(domain)) => domain.to_owned(),
        Some(url::Host::Ipv4(ip)) => ip.to_string(),
        Some(url::Host::Ipv6(ip)) => ip.to_string(),
        None => return Err("has no host".into()),
    };
    if !matches!(url.path(), "" | "/") || url.fragment().is_some() {
        return Err("has a path or a fragment".into());
    }
    let mut tls = None;
    for (key, value) in url.query_pairs() {
        match (key.as_ref(), tls) {
            ("tls", None) => tls = Some(value.into_owned()),
            _ => return Err(format!("has an unknown or repeated parameter {key:?}")),
        }
    }
    let security = match (url.scheme(), tls.as_deref()) {
        ("smtps", None) => Security::Tls,
        ("smtp", None | Some("required")) => Security::StartTls,
        ("smtp", Some("none")) => {
            let loopback =
                host == "localhost" || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback());
            if !loopback {
                return Err("sends mail and passwords in plain text to another machine \
                     (tls=none is for a mail catcher on this one)"
                    .into());
            }
            Security::Plain
        }
        ("smtps", Some(_)) => return Err("smtps:// takes no tls parameter".into()),
        ("smtp", Some(other)) => {
            return Err(format!("tls={other:?} is not required or none"));
        }
        (scheme, _) => return Err(format!("the scheme {scheme}:// is not smtp or smtps")),
    };
    let decode = |part: &str| {
        percent_decode(part).ok_or_else(|| "has a user or password that is not UTF-8".to_owned())
    };
    let credentials = if url.username().is_empty() {
        None
    } else {
        let user = decode(url.username())?;
        let password = decode(url.password().unwrap_or(""))?;
        Some((user, password))
    };
    let port = url.port().unwrap_or(match security {
        Security::Tls => 465,
        Security::StartTls => 587,
        Security::Plain => 25,
    });
    Ok(Relay {
        host,
        port,
        security,
        credentials,
    })
}

fn percent_decode(part: &str) -> Option<String> {
    percent_encoding::percent_decode_str(part)
        .decode_utf8()
        .ok()
        .map(|decoded| decoded.into_owned())
}

impl Relay {
    /// The transport that sends through this relay.
    pub(super) fn transport(&self) -> AsyncSmtpTransport<Tokio1Executor> {
        let builder = match self.security {
            Security::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(&self.host),
            Security::StartTls => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&self.host),
            Security::Plain => Ok(AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(
                &self.host,
            )),
        }
        // Only the TLS parameters can fail, on a host name rustls refuses:
        // fall back to a transport that fails each send with that error.
        .unwrap_or_else(|_| AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous("invalid."));
        let builder = builder.port(self.port).timeout(Some(TIMEOUT));
        match &self.credentials {
            Some((user, password)) => builder
                .credentials(Credentials::new(user.clone(), password.clone()))
                .build(),
            None => builder.build(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secure_forms_are_the_defaults() {
        let tls = parse("smtps://apikey:s%40cret@smtp.example.com").unwrap();
        assert_eq!((tls.security, tls.port), (Security::Tls, 465));
        assert_eq!(
            tls.credentials,
            Some(("apikey".to_owned(), "s@cret".to_owned()))
        );
        let starttls = parse("smtp://user:pw@smtp.example.com:2525").unwrap();
        assert_eq!(
            (starttls.security, starttls.port),
            (Security::StartTls, 2525)
        );
        let required = parse("smtp://smtp.example.com?tls=required").unwrap();
        assert_eq!(
            (required.security, required.port),
            (Security::StartTls, 587)
        );
        assert_eq!(required.credentials, None);
        let catcher = parse("smtp://127.0.0.1:1025?tls=none").unwrap();
        assert_eq!((catcher.security, catcher.port), (Security::Plain, 1025));
        assert!(parse("smtp://localhost:1025?tls=none").is_ok());
        assert!(parse("smtp://[::1]:1025?tls=none").is_ok());
    }

    #[test]
    fn plain_text_to_another_machine_and_odd_urls_are_refused() {
        for bad in [
            "smtp://smtp.example.com?tls=none",
            "smtp://10.0.0.5:25?tls=none",
            "smtp://smtp.example.com?tls=opportunistic",
            "smtps://smtp.example.com?tls=none",
            "smtp://smtp.example.com?tls=required&tls=none",
            "smtp://smtp.example.com?timeout=1",
            "smtp://smtp.example.com/path",
            "http://smtp.example.com",
            "smtp.example.com:587",
            "smtp://",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_password_is_never_shown() {
        let relay = parse("smtps://user:hunter2@smtp.example.com").unwrap();
        assert!(!format!("{relay:?}").contains("hunter2"));
    }
}
