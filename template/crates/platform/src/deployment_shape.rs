//! How the frontend and this backend relate, worked out from their origins.
//!
//! Browsers decide two things from two different notions. Whether page code
//! may read a response needs CORS when the *origins* (scheme, host, port)
//! differ. Whether a cookie goes along with a request depends on the *site*:
//! the scheme plus the registrable domain, which only the public suffix list
//! can tell (`a.github.io` and `b.github.io` are different sites, while
//! `app.example.co.uk` and `api.example.co.uk` are one). The `psl` crate
//! compiles that list in. The session cookie's attributes follow from the
//! shape found here (see `cookie_policy`).

use std::fmt;

use url::{Host, Url};

use crate::origin::Origin;

/// The three ways a frontend and this backend can relate, nearest first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum DeploymentShape {
    /// The frontend is served from the backend's own origin.
    SameOrigin,
    /// Another origin on the same site: `app.example.com` calling
    /// `api.example.com`, or `localhost:5173` calling `localhost:8080`.
    /// CORS is needed; `SameSite=Lax` cookies are still sent.
    CrossOriginSameSite,
    /// Another site: `app.example.com` calling `api.other.net`, or
    /// `localhost` calling `127.0.0.1`. Only `SameSite=None` cookies are sent,
    /// and browsers that block third-party cookies accept them only when
    /// they are `Partitioned`.
    CrossSite,
}

impl DeploymentShape {
    /// The shape of a backend at `public` called by pages on `frontends`.
    /// With several frontends the farthest one decides, because the one
    /// session cookie has to work for all of them.
    pub fn classify(public: &Origin, frontends: &[Origin]) -> Self {
        frontends
            .iter()
            .map(|frontend| Self::between(public, frontend))
            .max()
            .unwrap_or(Self::SameOrigin)
    }

    /// The shape between the backend and one frontend.
    pub fn between(public: &Origin, frontend: &Origin) -> Self {
        if public == frontend {
            Self::SameOrigin
        } else if site(public) == site(frontend) {
            Self::CrossOriginSameSite
        } else {
            Self::CrossSite
        }
    }
}

impl fmt::Display for DeploymentShape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::SameOrigin => "same-origin",
            Self::CrossOriginSameSite => "cross-origin same-site",
            Self::CrossSite => "cross-site",
        })
    }
}

/// The schemeful site of an origin: `https://example.com` for
/// `https://api.example.com:8443`. An IP address, `localhost`, or a host that
/// is itself a public suffix is its own site.
pub fn site(origin: &Origin) -> String {
    let url = parse(origin);
    let host = match url.host() {
        Some(Host::Domain(domain)) => psl::domain_str(domain).unwrap_or(domain).to_owned(),
        Some(host) => host.to_string(),
        None => String::new(),
    };
    format!("{}://{host}", url.scheme())
}

/// True when browsers treat the origin's host as a secure context even over
/// plain http: `localhost`, `*.localhost` and loopback addresses. Only there
/// do they accept `Secure`, `__Host-` and `Partitioned` cookies without TLS.
pub fn is_loopback(origin: &Origin) -> bool {
    match parse(origin).host() {
        Some(Host::Domain(domain)) => domain == "localhost" || domain.ends_with(".localhost"),
        Some(Host::Ipv4(ip)) => ip.is_loopback(),
        Some(Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// Combinations that work but leave sessions or passwords readable on the
/// network, each as one line for the start-up log. Refusing them would
/// break legitimate set-ups (a test host on a private network, a frontend
/// being moved to https), so the server starts and says so instead.
pub fn warnings(public: &Origin, frontends: &[Origin]) -> Vec<String> {
    let mut warnings = Vec::new();
    if public.is_https() {
        for frontend in frontends.iter().filter(|f| !f.is_https()) {
            warnings.push(format!(
                "FRONTEND_ORIGINS includes {frontend}, a plain-http page: anyone on its network can change \
                 its code and use this https API ({public}) with the user's session; serve it over https"
            ));
        }
    } else if is_public_host(public) {
        warnings.push(format!(
            "PUBLIC_ORIGIN={public} is plain http on a public host: passwords and the session cookie \
             cross the network unencrypted; serve the API over https and set PUBLIC_ORIGIN to https://"
        ));
    }
    warnings
}

/// True for a host reachable from the internet: a name under a known public
/// suffix (`example.com`, not `localhost`, `db.internal` or `printer`), or
/// an IP address that is not loopback, private or link-local.
pub fn is_public_host(origin: &Origin) -> bool {
    if is_loopback(origin) {
        return false;
    }
    match parse(origin).host() {
        Some(Host::Domain(domain)) => {
            psl::suffix(domain.as_bytes()).is_some_and(|suffix| suffix.is_known())
        }
        Some(Host::Ipv4(ip)) => !(ip.is_private() || ip.is_link_local() || ip.is_unspecified()),
        Some(Host::Ipv6(ip)) => {
            // Unique local (fc00::/7) and link-local (fe80::/10) addresses.
            let first = ip.segments()[0];
            !((first & 0xfe00) == 0xfc00 || (first & 0xffc0) == 0xfe80 || ip.is_unspecified())
        }
        None => false,
    }
}

fn parse(origin: &Origin) -> Url {
    Url::parse(origin.as_str()).expect("a validated origin is a URL")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn origin(value: &str) -> Origin {
        Origin::parse(value).unwrap()
    }

    fn shape(public: &str, frontends: &[&str]) -> DeploymentShape {
        let frontends: Vec<Origin> = frontends.iter().map(|f| origin(f)).collect();
        DeploymentShape::classify(&origin(public), &frontends)
    }

    #[test]
    fn sites_follow_the_public_suffix_list() {
        for (input, expected) in [
            ("https://api.example.com", "https://example.com"),
            ("https://api.example.com:8443", "https://example.com"),
            ("https://api.example.co.uk", "https://example.co.uk"),
            ("https://alice.github.io", "https://alice.github.io"),
            ("http://localhost:5173", "http://localhost"),
            ("http://127.0.0.1:8080", "http://127.0.0.1"),
            ("http://[::1]:8080", "http://[::1]"),
        ] {
            assert_eq!(site(&origin(input)), expected, "{input}");
        }
    }

    #[test]
    fn classifies_the_three_shapes() {
        use DeploymentShape::*;
        for (public, frontends, expected) in [
            ("http://localhost:8080", &[][..], SameOrigin),
            (
                "https://example.com",
                &["https://example.com"][..],
                SameOrigin,
            ),
            (
                "http://localhost:8080",
                &["http://localhost:5173"],
                CrossOriginSameSite,
            ),
            (
                "https://api.example.com",
                &["https://app.example.com"],
                CrossOriginSameSite,
            ),
            (
                "https://api.example.co.uk",
                &["https://example.co.uk"],
                CrossOriginSameSite,
            ),
            (
                "http://127.0.0.1:8080",
                &["http://localhost:5173"],
                CrossSite,
            ),
            (
                "https://api.other.net",
                &["https://app.example.com"],
                CrossSite,
            ),
            // Different subdomains of a public suffix are different sites.
            (
                "https://api.github.io",
                &["https://app.github.io"],
                CrossSite,
            ),
            // Sites are schemeful: http and https are different sites.
            (
                "https://api.example.com",
                &["http://app.example.com"],
                CrossSite,
            ),
            // The farthest frontend decides.
            (
                "https://api.example.com",
                &["https://app.example.com", "https://partner.net"],
                CrossSite,
            ),
        ] {
            assert_eq!(
                shape(public, frontends),
                expected,
                "{public} <- {frontends:?}"
            );
        }
    }

    #[test]
    fn plain_http_is_flagged_only_where_the_network_is_public() {
        for (input, expected) in [
            ("http://api.example.com", true),
            ("http://api.example.co.uk:8080", true),
            ("http://203.0.113.5", true),
            ("http://[2001:db8::1]", true),
            ("http://localhost:8080", false),
            ("http://127.0.0.1:8080", false),
            ("http://192.168.1.10:8080", false),
            ("http://10.0.0.5", false),
            ("http://[fd00::1]", false),
            ("http://[fe80::1]", false),
            ("http://printer", false),
            ("http://db.internal", false),
        ] {
            assert_eq!(is_public_host(&origin(input)), expected, "{input}");
        }
    }

    #[test]
    fn warnings_for_what_works_but_leaks_on_the_network() {
        let warnings = |public: &str, frontends: &[&str]| {
            let frontends: Vec<Origin> = frontends.iter().map(|f| origin(f)).collect();
            warnings(&origin(public), &frontends)
        };
        // An https API trusting a plain-http frontend.
        let found = warnings(
            "https://api.example.com",
            &["https://app.example.com", "http://old.example.com"],
        );
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].contains("http://old.example.com"), "{found:?}");
        // A plain-http API on a public host name.
        let found = warnings("http://api.example.com", &[]);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(
            found[0].starts_with("PUBLIC_ORIGIN=http://api.example.com"),
            "{found:?}"
        );
        // Nothing to say about development or https everywhere.
        for (public, frontends) in [
            ("http://localhost:8080", &["http://localhost:5173"][..]),
            ("http://192.168.1.10:8080", &[]),
            ("https://api.example.com", &["https://app.example.com"]),
        ] {
            assert_eq!(
                warnings(public, frontends),
                Vec::<String>::new(),
                "{public}"
            );
        }
        for warning in warnings("https://api.example.com", &["http://a.example.com"])
            .iter()
            .chain(&warnings("http://api.example.com", &[]))
        {
            assert!(!warning.contains('\n'), "one line: {warning}");
        }
    }

    #[test]
    fn loopback_hosts_are_secure_contexts() {
        for (input, expected) in [
            ("http://localhost:8080", true),
            ("http://app.localhost", true),
            ("http://127.0.0.1:8080", true),
            ("http://[::1]:8080", true),
            ("http://192.168.1.10:8080", false),
            ("http://example.com", false),
        ] {
            assert_eq!(is_loopback(&origin(input)), expected, "{input}");
        }
    }
}
