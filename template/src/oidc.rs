//! Hosted login: this backend as the OpenID Connect client of one provider.
//!
//! The browser never holds a token. The backend builds the provider's
//! authorization URL (authorization code flow with PKCE S256, `state` and
//! `nonce`), the provider sends the browser back to a frontend page, that
//! page relays the answer to the API, and the backend exchanges the code
//! and validates the ID token itself (`routes/auth.rs` keeps what it needs
//! in the session). The protocol is the `openidconnect` crate's; this module
//! owns the settings, the HTTP client that talks to the provider, and the
//! provider's discovery document and keys, which can change or be
//! unreachable while the server runs:
//!
//! - discovery runs at start-up; if the provider cannot be reached the server
//!   starts anyway and keeps trying in the background (backoff up to
//!   [`MAX_RETRY`]), and until it succeeds sign-in answers 503 and
//!   `/api/ready` names the provider;
//! - an ID token signed with a key id this server has not seen (the provider
//!   rotated its keys) triggers one fetch of the provider's key set, at most
//!   one per [`KEY_REFRESH_INTERVAL`], so forged key ids cannot make this
//!   server hammer the provider;
//! - the HTTP client follows no redirects (a redirect is an error, never a
//!   hop to another host with the code or client secret), has connect and
//!   total timeouts, and refuses answers over [`MAX_RESPONSE_BYTES`]. Any
//!   misbehaviour of the provider ends in a 503 or a 401, never a 500.

use std::{
    future::Future,
    pin::Pin,
    sync::{Arc, RwLock},
    time::{Duration, Instant},
};

use openidconnect::{
    AsyncHttpClient, AuthenticationFlow, AuthorizationCode, ClientId, ClientSecret, CsrfToken,
    EndpointMaybeSet, EndpointNotSet, EndpointSet, HttpRequest, HttpResponse, IssuerUrl,
    JsonWebKeySet, LogoutRequest, Nonce, PkceCodeChallenge, PkceCodeVerifier,
    PostLogoutRedirectUrl, ProviderMetadataWithLogout, RedirectUrl, RequestTokenError, Scope,
    TokenResponse,
    core::{CoreClient, CoreIdToken, CoreJwsSigningAlgorithm, CoreResponseType},
    http,
};
use serde::{Deserialize, Serialize};
use url::Url;

use crate::{
    origin::Origin,
    settings::{ConfigError, Env},
};

/// Longest wait between two discovery attempts while the provider is down.
pub const MAX_RETRY: Duration = Duration::from_secs(30);
/// First wait after a failed discovery; doubled after each failure.
const FIRST_RETRY: Duration = Duration::from_secs(1);
/// At most one fetch of the provider's keys per this interval.
pub const KEY_REFRESH_INTERVAL: Duration = Duration::from_secs(10);
/// Largest answer accepted from the provider (discovery, keys, tokens).
pub const MAX_RESPONSE_BYTES: usize = 1024 * 1024;
/// Longest wait for a TCP (and TLS) connection to the provider.
const MAX_CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

/// ID token signature algorithms accepted: the asymmetric ones, whose keys
/// come from the provider's key set. Never `none`, and no HMAC algorithm
/// (whose key would be the client secret, which this server may not have).
const ALLOWED_ALGS: [CoreJwsSigningAlgorithm; 9] = [
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha384,
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha512,
    CoreJwsSigningAlgorithm::RsaSsaPssSha256,
    CoreJwsSigningAlgorithm::RsaSsaPssSha384,
    CoreJwsSigningAlgorithm::RsaSsaPssSha512,
    CoreJwsSigningAlgorithm::EcdsaP256Sha256,
    CoreJwsSigningAlgorithm::EcdsaP384Sha384,
    CoreJwsSigningAlgorithm::EdDsa,
];

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

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(domain)) => domain.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// Why a sign-in could not go on. Each becomes its own JSON answer (see
/// `routes/auth.rs`); the details are logged, not sent.
#[derive(Debug, thiserror::Error)]
pub enum OidcError {
    /// The provider could not be reached, or answered something that is not
    /// a usable answer (HTML, garbage, a redirect, a timeout): 503.
    #[error("the identity provider is unavailable: {0}")]
    Unavailable(String),
    /// The code was refused, or the ID token failed validation: 401.
    #[error("the sign-in could not be verified: {0}")]
    InvalidToken(String),
}

impl OidcError {
    /// What went wrong, without the summary of the variant.
    pub fn reason(&self) -> &str {
        match self {
            Self::Unavailable(reason) | Self::InvalidToken(reason) => reason,
        }
    }
}

/// The client configured from the provider's discovery document.
type Client = CoreClient<
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

/// What a successful discovery gives: the document (with the keys) and the
/// client built from it.
struct Discovered {
    metadata: ProviderMetadataWithLogout,
    client: Client,
}

/// A sign-in started in this browser and not finished yet, kept in its
/// session until the provider's answer comes back.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PendingLogin {
    pub state: String,
    pub nonce: String,
    pub pkce_verifier: String,
    /// Where the frontend goes once signed in: a path on its own origin.
    pub return_to: String,
    /// Unix time the sign-in started.
    pub started_at: i64,
}

/// Who the provider says signed in, from a validated ID token.
#[derive(Clone, Debug)]
pub struct Identity {
    pub issuer: String,
    pub subject: String,
    pub email: Option<String>,
    pub name: Option<String>,
    /// The ID token itself, kept server-side as the hint of a later logout.
    pub id_token: String,
}

/// The provider, shared by every request: cheap to clone.
#[derive(Clone)]
pub struct Provider(Arc<Inner>);

struct Inner {
    settings: Settings,
    http: ProviderHttp,
    discovered: RwLock<Option<Arc<Discovered>>>,
    /// When the key set was last fetched because of an unknown key id.
    last_key_refresh: tokio::sync::Mutex<Option<Instant>>,
}

impl Provider {
    pub fn new(settings: Settings) -> anyhow::Result<Self> {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(settings.http_timeout.min(MAX_CONNECT_TIMEOUT))
            .timeout(settings.http_timeout)
            .build()
            .map_err(|e| anyhow::anyhow!("cannot build the HTTP client for the provider: {e}"))?;
        Ok(Self(Arc::new(Inner {
            settings,
            http: ProviderHttp(client),
            discovered: RwLock::new(None),
            last_key_refresh: tokio::sync::Mutex::new(None),
        })))
    }

    pub fn settings(&self) -> &Settings {
        &self.0.settings
    }

    /// The issuer, as configured.
    pub fn issuer(&self) -> &str {
        self.0.settings.issuer.as_str()
    }

    /// Whether discovery has succeeded, so sign-in can start.
    pub fn is_ready(&self) -> bool {
        self.current().is_some()
    }

    fn current(&self) -> Option<Arc<Discovered>> {
        self.0
            .discovered
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    fn set_current(&self, discovered: Discovered) {
        *self
            .0
            .discovered
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(Arc::new(discovered));
    }

    /// Tries discovery once now; if the provider cannot be reached, keeps
    /// trying in the background until it can, and returns that task.
    pub async fn discover_or_keep_trying(&self) -> Option<tokio::task::JoinHandle<()>> {
        match self.discover().await {
            Ok(()) => None,
            Err(err) => {
                tracing::warn!(
                    issuer = self.issuer(),
                    error = err.reason(),
                    retry_in_secs = FIRST_RETRY.as_secs(),
                    "identity provider discovery failed; serving anyway, sign-in answers 503 until it succeeds"
                );
                let provider = self.clone();
                Some(tokio::spawn(async move {
                    let mut wait = FIRST_RETRY;
                    loop {
                        tokio::time::sleep(wait).await;
                        wait = (wait * 2).min(MAX_RETRY);
                        match provider.discover().await {
                            Ok(()) => return,
                            Err(err) => tracing::warn!(
                                issuer = provider.issuer(),
                                error = err.reason(),
                                retry_in_secs = wait.as_secs(),
                                "identity provider discovery failed"
                            ),
                        }
                    }
                }))
            }
        }
    }

    /// Fetches the discovery document and the key set once.
    async fn discover(&self) -> Result<(), OidcError> {
        let settings = &self.0.settings;
        let metadata =
            ProviderMetadataWithLogout::discover_async(settings.issuer.clone(), &self.0.http)
                .await
                .map_err(|e| OidcError::Unavailable(describe(&e)))?;
        if metadata.token_endpoint().is_none() {
            return Err(OidcError::Unavailable(
                "the discovery document has no token_endpoint".to_owned(),
            ));
        }
        let discovered = self.client_for(metadata);
        tracing::info!(
            issuer = self.issuer(),
            end_session = discovered
                .metadata
                .additional_metadata()
                .end_session_endpoint
                .is_some(),
            "identity provider discovered"
        );
        self.set_current(discovered);
        Ok(())
    }

    fn client_for(&self, metadata: ProviderMetadataWithLogout) -> Discovered {
        let settings = &self.0.settings;
        let client = CoreClient::from_provider_metadata(
            metadata.clone(),
            settings.client_id.clone(),
            settings.client_secret.clone(),
        )
        .set_redirect_uri(settings.redirect_url.clone());
        Discovered { metadata, client }
    }

    /// The provider's authorization URL for a new sign-in, and what the
    /// session must keep until the answer comes back.
    pub fn start(&self, return_to: String, now: i64) -> Result<(Url, PendingLogin), OidcError> {
        let discovered = self
            .current()
            .ok_or_else(|| OidcError::Unavailable("discovery has not succeeded yet".to_owned()))?;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let mut request = discovered
            .client
            .authorize_url(
                AuthenticationFlow::<CoreResponseType>::AuthorizationCode,
                CsrfToken::new_random,
                Nonce::new_random,
            )
            .set_pkce_challenge(challenge);
        for scope in &self.0.settings.scopes {
            request = request.add_scope(scope.clone());
        }
        let (url, state, nonce) = request.url();
        let pending = PendingLogin {
            state: state.secret().clone(),
            nonce: nonce.secret().clone(),
            pkce_verifier: verifier.secret().clone(),
            return_to,
            started_at: now,
        };
        Ok((url, pending))
    }

    /// Exchanges `code` for tokens and validates the ID token against
    /// `pending` (nonce) and the provider's keys.
    pub async fn finish(
        &self,
        pending: &PendingLogin,
        code: String,
    ) -> Result<Identity, OidcError> {
        let discovered = self
            .current()
            .ok_or_else(|| OidcError::Unavailable("discovery has not succeeded yet".to_owned()))?;
        let request = discovered
            .client
            .exchange_code(AuthorizationCode::new(code))
            .map_err(|e| OidcError::Unavailable(describe(&e)))?
            .set_pkce_verifier(PkceCodeVerifier::new(pending.pkce_verifier.clone()));
        let tokens = request.request_async(&self.0.http).await.map_err(|err| {
            match err {
                RequestTokenError::ServerResponse(response) => {
                    if response.error().as_ref() == "invalid_client" {
                        tracing::error!(
                            "the provider refused this client's credentials: check OIDC_CLIENT_ID and OIDC_CLIENT_SECRET"
                        );
                    }
                    OidcError::InvalidToken(format!("the provider refused the code: {response}"))
                }
                other => OidcError::Unavailable(format!("token endpoint: {}", describe(&other))),
            }
        })?;
        let id_token = tokens
            .id_token()
            .ok_or_else(|| OidcError::InvalidToken("the provider sent no ID token".to_owned()))?
            .clone();
        let nonce = Nonce::new(pending.nonce.clone());

        match self.verify(&discovered, &id_token, &nonce) {
            Err(VerifyError::UnknownKey) => {
                // The provider may have rotated its keys: fetch them (at most
                // once per interval) and try once more.
                let discovered = self.refresh_keys(&discovered).await?;
                match self.verify(&discovered, &id_token, &nonce) {
                    Err(VerifyError::UnknownKey) => Err(OidcError::InvalidToken(
                        "the ID token is signed with a key the provider does not publish"
                            .to_owned(),
                    )),
                    Err(VerifyError::Invalid(reason)) => Err(OidcError::InvalidToken(reason)),
                    Ok(identity) => Ok(identity),
                }
            }
            Err(VerifyError::Invalid(reason)) => Err(OidcError::InvalidToken(reason)),
            Ok(identity) => Ok(identity),
        }
    }

    fn verify(
        &self,
        discovered: &Discovered,
        id_token: &CoreIdToken,
        nonce: &Nonce,
    ) -> Result<Identity, VerifyError> {
        use openidconnect::{ClaimsVerificationError, SignatureVerificationError};
        let verifier = discovered
            .client
            .id_token_verifier()
            .set_allowed_algs(ALLOWED_ALGS);
        let claims = id_token.claims(&verifier, nonce).map_err(|err| match err {
            ClaimsVerificationError::SignatureVerification(
                SignatureVerificationError::NoMatchingKey,
            ) => VerifyError::UnknownKey,
            ClaimsVerificationError::SignatureVerification(inner) => {
                VerifyError::Invalid(format!("ID token signature: {inner}"))
            }
            other => VerifyError::Invalid(format!("ID token: {other}")),
        })?;
        let name = claims
            .name()
            .and_then(|localized| localized.get(None))
            .map(|name| name.as_str().to_owned())
            .or_else(|| claims.preferred_username().map(|u| u.as_str().to_owned()));
        Ok(Identity {
            issuer: claims.issuer().as_str().to_owned(),
            subject: claims.subject().as_str().to_owned(),
            email: claims.email().map(|e| e.as_str().to_owned()),
            name,
            id_token: id_token.to_string(),
        })
    }

    /// Fetches the provider's key set, unless that was done less than
    /// [`KEY_REFRESH_INTERVAL`] ago; returns the client to verify with.
    async fn refresh_keys(&self, seen: &Arc<Discovered>) -> Result<Arc<Discovered>, OidcError> {
        let mut last = self.0.last_key_refresh.lock().await;
        let current = self.current().unwrap_or_else(|| Arc::clone(seen));
        if !Arc::ptr_eq(&current, seen) {
            // Another request refreshed the keys while this one waited.
            return Ok(current);
        }
        if last.is_some_and(|at| at.elapsed() < KEY_REFRESH_INTERVAL) {
            return Err(OidcError::InvalidToken(
                "the ID token names an unknown key id, and the keys were fetched moments ago"
                    .to_owned(),
            ));
        }
        *last = Some(Instant::now());
        let keys = JsonWebKeySet::fetch_async(current.metadata.jwks_uri(), &self.0.http)
            .await
            .map_err(|e| OidcError::Unavailable(format!("key set: {}", describe(&e))))?;
        tracing::info!(
            issuer = self.issuer(),
            keys = keys.keys().len(),
            "fetched the identity provider's keys for an unknown key id"
        );
        let metadata = current.metadata.clone().set_jwks(keys);
        self.set_current(self.client_for(metadata));
        Ok(self.current().unwrap_or(current))
    }

    /// Where the browser goes to end its session at the provider too, when
    /// the provider supports RP-initiated logout; `id_token` is the one the
    /// signed-in session kept.
    pub fn end_session_url(&self, id_token: Option<&str>) -> Option<Url> {
        let discovered = self.current()?;
        let endpoint = discovered
            .metadata
            .additional_metadata()
            .end_session_endpoint
            .clone()?;
        let settings = &self.0.settings;
        let mut request = LogoutRequest::from(endpoint).set_client_id(settings.client_id.clone());
        if let Some(token) = id_token.and_then(|t| t.parse::<CoreIdToken>().ok()) {
            request = request.set_id_token_hint(&token);
        }
        if let Some(url) = &settings.post_logout_redirect_url {
            request = request.set_post_logout_redirect_uri(url.clone());
        }
        Some(request.http_get_url())
    }
}

enum VerifyError {
    /// No key in the set matches the token's key id (and algorithm).
    UnknownKey,
    Invalid(String),
}

/// An error and its causes on one line, for the logs.
fn describe(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// The HTTP client `openidconnect` sends its requests through.
struct ProviderHttp(reqwest::Client);

#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    #[error("request to the provider failed")]
    Request(#[from] reqwest::Error),
    #[error("the provider's answer is larger than 1 MiB")]
    TooLarge,
    #[error("the provider's answer is not valid HTTP")]
    Http(#[from] http::Error),
}

impl<'c> AsyncHttpClient<'c> for ProviderHttp {
    type Error = HttpError;
    type Future = Pin<Box<dyn Future<Output = Result<HttpResponse, HttpError>> + Send + 'c>>;

    fn call(&'c self, request: HttpRequest) -> Self::Future {
        Box::pin(async move {
            let mut response = self.0.execute(request.try_into()?).await?;
            let mut answer = http::Response::builder().status(response.status());
            for (name, value) in response.headers() {
                answer = answer.header(name, value);
            }
            let mut body = Vec::new();
            while let Some(chunk) = response.chunk().await? {
                if body.len() + chunk.len() > MAX_RESPONSE_BYTES {
                    return Err(HttpError::TooLarge);
                }
                body.extend_from_slice(&chunk);
            }
            Ok(answer.body(body)?)
        })
    }
}

#[cfg(test)]
mod tests {
    use std::{
        collections::HashMap,
        sync::atomic::{AtomicUsize, Ordering},
    };

    use tokio::{
        io::{AsyncReadExt, AsyncWriteExt},
        net::TcpListener,
    };

    use super::*;

    fn settings(pairs: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        let mut vars: HashMap<String, String> = HashMap::from([
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

    #[test]
    fn defaults_ask_for_openid_email_and_profile() {
        let settings = settings(&[]).unwrap();
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
            settings(&[("OIDC_ISSUER_URL", ok)]).expect(ok);
        }
        for bad in [
            "http://login.example.com",
            "ftp://localhost",
            "login.example.com",
            "",
        ] {
            let err = settings(&[("OIDC_ISSUER_URL", bad)]).expect_err(bad);
            assert_eq!(err.var, "OIDC_ISSUER_URL");
        }
    }

    #[test]
    fn the_redirect_must_be_a_page_of_an_allowed_frontend() {
        settings(&[("OIDC_REDIRECT_URL", "https://app.example.com/auth/callback")]).unwrap();
        for bad in [
            "https://evil.example.net/",
            "https://api.example.com/",
            "http://app.example.com/",
            "/relative",
            "https://app.example.com/#x",
        ] {
            let err = settings(&[("OIDC_REDIRECT_URL", bad)]).expect_err(bad);
            assert_eq!(err.var, "OIDC_REDIRECT_URL", "{err}");
            assert!(err.to_string().contains("Fix: "), "{err}");
        }
    }

    #[test]
    fn scopes_must_include_openid_and_timeouts_stay_in_range() {
        let err = settings(&[("OIDC_SCOPES", "email profile")]).unwrap_err();
        assert_eq!(err.var, "OIDC_SCOPES");
        for (var, value) in [
            ("OIDC_LOGIN_TIMEOUT_SECS", "0"),
            ("OIDC_LOGIN_TIMEOUT_SECS", "3601"),
            ("OIDC_HTTP_TIMEOUT_MS", "10"),
            ("OIDC_POST_LOGOUT_REDIRECT_URL", "not a url"),
        ] {
            assert_eq!(settings(&[(var, value)]).unwrap_err().var, var);
        }
    }

    /// A server on loopback that answers every request with `response`
    /// (raw HTTP), or holds the connection open without answering when it
    /// is `None`. Returns its origin and how many connections it accepted.
    async fn serve(response: Option<Vec<u8>>) -> (String, Arc<AtomicUsize>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let origin = format!("http://{}", listener.local_addr().unwrap());
        let hits = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&hits);
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                counter.fetch_add(1, Ordering::SeqCst);
                let response = response.clone();
                tokio::spawn(async move {
                    let mut request = [0u8; 4096];
                    let _ = socket.read(&mut request).await;
                    match response {
                        Some(bytes) => {
                            let _ = socket.write_all(&bytes).await;
                            let _ = socket.shutdown().await;
                        }
                        None => tokio::time::sleep(Duration::from_secs(60)).await,
                    }
                });
            }
        });
        (origin, hits)
    }

    fn provider_at(issuer: &str, timeout_ms: &str) -> Provider {
        Provider::new(
            settings(&[
                ("OIDC_ISSUER_URL", issuer),
                ("OIDC_HTTP_TIMEOUT_MS", timeout_ms),
            ])
            .unwrap(),
        )
        .unwrap()
    }

    #[tokio::test]
    async fn a_redirect_from_the_provider_is_not_followed() {
        let document =
            b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}";
        let (elsewhere, visits) = serve(Some(document.to_vec())).await;
        let redirect = format!(
            "HTTP/1.1 302 Found\r\nlocation: {elsewhere}/.well-known/openid-configuration\r\n\
             content-length: 0\r\n\r\n"
        );
        let (issuer, _) = serve(Some(redirect.into_bytes())).await;
        let provider = provider_at(&issuer, "2000");
        let err = provider.discover().await.unwrap_err();
        assert!(matches!(err, OidcError::Unavailable(_)), "{err}");
        assert_eq!(
            visits.load(Ordering::SeqCst),
            0,
            "the redirect was followed"
        );
        assert!(!provider.is_ready());
        assert!(matches!(
            provider.start("/".into(), 0),
            Err(OidcError::Unavailable(_))
        ));
    }

    #[tokio::test]
    async fn an_oversized_answer_is_refused() {
        let size = MAX_RESPONSE_BYTES + 1;
        let mut response = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {size}\r\n\r\n"
        )
        .into_bytes();
        response.resize(response.len() + size, b' ');
        let (issuer, _) = serve(Some(response)).await;
        let err = provider_at(&issuer, "5000").discover().await.unwrap_err();
        assert!(err.reason().contains("larger than 1 MiB"), "{err}");
    }

    #[tokio::test]
    async fn a_provider_that_never_answers_times_out() {
        let (issuer, _) = serve(None).await;
        let started = Instant::now();
        let err = provider_at(&issuer, "300").discover().await.unwrap_err();
        assert!(matches!(err, OidcError::Unavailable(_)), "{err}");
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "{:?}",
            started.elapsed()
        );
    }
}
