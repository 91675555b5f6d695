//! Web origins (`scheme://host[:port]`) as browsers send them in `Origin`.
//!
//! CORS and CSRF both compare origins byte for byte, so every origin the
//! configuration accepts is parsed once here and kept in the exact form a
//! browser would send: lowercase scheme and host, no default port, no path.
//! Anything that is not a plain http(s) origin is refused with a reason.

use std::fmt;

use url::Url;

/// A validated, normalised web origin such as `https://app.example.com`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Origin(String);

impl Origin {
    /// Parses one origin, returning a reason a person can act on when it is
    /// not one.
    pub fn parse(input: &str) -> Result<Self, String> {
        let trimmed = input.trim();
        if trimmed.is_empty() {
            return Err("it is empty; expected scheme://host[:port]".into());
        }
        if trimmed == "*" {
            return Err("`*` cannot be used with credentialed requests; list each origin".into());
        }
        if trimmed.eq_ignore_ascii_case("null") {
            return Err("`null` is the origin of sandboxed and file:// pages and can be forged; list real origins".into());
        }
        let url = Url::parse(trimmed)
            .map_err(|err| format!("it is not a URL ({err}); expected scheme://host[:port]"))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(format!(
                "the scheme `{}` is not http or https; expected scheme://host[:port]",
                url.scheme()
            ));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(
                "it contains credentials (user@); an origin is scheme://host[:port] only".into(),
            );
        }
        if url.host().is_none() {
            return Err("it has no host; expected scheme://host[:port]".into());
        }
        // `Url` turns "http://a.com" into "http://a.com/", so the raw text is
        // what tells a trailing slash or path apart from none.
        let after_scheme = &trimmed[trimmed.find("://").map_or(0, |i| i + 3)..];
        if after_scheme.contains(['/', '?', '#']) {
            return Err(
                "it has a path, query, fragment or trailing slash; browsers send the origin without them, \
                 e.g. https://app.example.com"
                    .into(),
            );
        }
        Ok(Self(url.origin().ascii_serialization()))
    }

    /// The origin exactly as a browser sends it in the `Origin` header.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// True for `https://` origins.
    pub fn is_https(&self) -> bool {
        self.0.starts_with("https://")
    }
}

/// Parses a comma-separated list of origins, dropping repeats, and refusing
/// an empty list.
pub fn parse_list(value: &str) -> Result<Vec<Origin>, String> {
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

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::Origin;

    #[test]
    fn normalises_case_and_default_ports() {
        for (input, expected) in [
            ("http://localhost:5173", "http://localhost:5173"),
            ("HTTPS://App.Example.COM", "https://app.example.com"),
            ("https://app.example.com:443", "https://app.example.com"),
            ("http://127.0.0.1:80", "http://127.0.0.1"),
            (" http://[::1]:8080 ", "http://[::1]:8080"),
        ] {
            assert_eq!(Origin::parse(input).unwrap().as_str(), expected, "{input}");
        }
    }

    #[test]
    fn normalising_twice_changes_nothing() {
        let once = Origin::parse("HTTP://LOCALHOST:5173").unwrap();
        assert_eq!(Origin::parse(once.as_str()).unwrap(), once);
    }

    #[test]
    fn refuses_what_is_not_an_origin() {
        for input in [
            "",
            "*",
            "null",
            "NULL",
            "localhost:5173",
            "ftp://example.com",
            "file:///tmp/x",
            "http://example.com/",
            "http://example.com/app",
            "http://example.com?x=1",
            "http://example.com#top",
            "http://user:pw@example.com",
            "http://",
        ] {
            assert!(Origin::parse(input).is_err(), "accepted {input:?}");
        }
    }
}
