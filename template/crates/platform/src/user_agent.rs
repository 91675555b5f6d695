//! The browser's description of itself (`User-Agent`), as a signed-in
//! session keeps it for the list of its user's sessions: short and
//! printable, whatever the client sent. An extractor that never fails; the
//! application takes it from `extract` and hands it to `session::sign_in`.

use std::convert::Infallible;

use axum::{
    extract::FromRequestParts,
    http::{header, request::Parts},
};

/// The request's `User-Agent`, shortened to at most [`USER_AGENT_CHARS`]
/// characters with control characters dropped, so that what a session keeps
/// of it, and the list of sessions shows, stays small and printable. `None`
/// when the header is missing or blank. Never fails.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UserAgent(pub Option<String>);

/// The longest [`UserAgent`] kept: room for a browser's usual header
/// (about 120 characters), and a bound on what a client can make a session
/// carry.
pub const USER_AGENT_CHARS: usize = 160;

impl UserAgent {
    /// Shortens a raw header value (bytes that are not UTF-8 are replaced).
    pub fn from_header(raw: &[u8]) -> Self {
        let text = String::from_utf8_lossy(raw);
        let shortened: String = text
            .chars()
            .filter(|c| !c.is_control())
            .take(USER_AGENT_CHARS)
            .collect();
        let trimmed = shortened.trim();
        Self((!trimmed.is_empty()).then(|| trimmed.to_owned()))
    }
}

impl<S: Send + Sync> FromRequestParts<S> for UserAgent {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(parts
            .headers
            .get(header::USER_AGENT)
            .map_or_else(Self::default, |value| Self::from_header(value.as_bytes())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_user_agent_is_kept_short_and_printable() {
        let chrome = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) \
                      Chrome/156.0.0.0 Safari/537.36";
        assert_eq!(
            UserAgent::from_header(chrome.as_bytes()).0.as_deref(),
            Some(chrome)
        );

        let long = "x".repeat(10_000);
        let kept = UserAgent::from_header(long.as_bytes()).0.unwrap();
        assert_eq!(kept.chars().count(), USER_AGENT_CHARS);

        let hostile = b"evil\r\nSet-Cookie: a=b\x1b[31m\xff";
        let kept = UserAgent::from_header(hostile).0.unwrap();
        assert!(!kept.chars().any(char::is_control), "{kept:?}");
        assert!(kept.starts_with("evilSet-Cookie: a=b[31m"), "{kept:?}");

        assert_eq!(UserAgent::from_header(b"  \t ").0, None);
        assert_eq!(UserAgent::from_header(b"").0, None);
    }
}
