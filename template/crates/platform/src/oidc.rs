//! Hosted login: this backend as the OpenID Connect client of one provider.
//!
//! The browser never holds a token. The backend builds the provider's
//! authorization URL (authorization code flow with PKCE S256, `state` and
//! `nonce`), the provider sends the browser back to a frontend page, that
//! page relays the answer to the API, and the backend exchanges the code
//! and validates the ID token itself (keeping what it needs in the session:
//! [`login`]). A conforming provider returns the `email` and `profile`
//! claims from its UserInfo endpoint rather than in the ID token (OpenID
//! Connect Core 5.4); when the ID token lacks them they are fetched from
//! there, for the subject the ID token names. Logging out at the provider
//! names this client (`client_id`), not the user's ID token, unless
//! `OIDC_LOGOUT_ID_TOKEN_HINT` says the provider requires it. The protocol is the `openidconnect` crate's; this module
//! owns the provider's discovery document and keys, which can change or be
//! unreachable while the server runs (the `OIDC_*` settings are in
//! `oidc/settings.rs`, the HTTP client that talks to the provider in
//! `oidc/http_client.rs`):
//!
//! - discovery runs at start-up; if the provider cannot be reached the server
//!   starts anyway and keeps trying in the background (backoff up to
//!   [`MAX_RETRY`]), and until it succeeds sign-in answers 503 and
//!   `/api/ready` names the provider;
//! - an ID token signed with a key id this server has not seen (the provider
//!   rotated its keys) triggers one fetch of the provider's key set, at most
//!   one per [`KEY_REFRESH_INTERVAL`], so forged key ids cannot make this
//!   server hammer the provider;
//! - every endpoint the discovery document names must be https (plain http
//!   only on this machine): an `authorization_endpoint` of `javascript:`
//!   or `http://` elsewhere would reach the browser, or carry the code and
//!   the client's secret in clear;
//! - the HTTP client follows no redirects (a redirect is an error, never a
//!   hop to another host with the code or client secret), has connect and
//!   total timeouts, and refuses answers over [`MAX_RESPONSE_BYTES`]. Any
//!   misbehaviour of the provider ends in a 503 or a 401, never a 500.

mod http_client;
pub mod login;
mod settings;
#[cfg(feature = "testing")]
pub mod test_provider;

use std::{
    sync::{Arc, RwLock},
    time::{Duration, Instant},
};

use openidconnect::{
    AuthenticationFlow, AuthorizationCode, CsrfToken, EndpointMaybeSet, EndpointNotSet,
    EndpointSet, JsonWebKeySet, LocalizedClaim, LogoutRequest, Nonce, OAuth2TokenResponse,
    PkceCodeChallenge, PkceCodeVerifier, ProviderMetadataWithLogout, RequestTokenError,
    SubjectIdentifier, TokenResponse, UserInfoError,
    core::{
        CoreClient, CoreIdToken, CoreJwsSigningAlgorithm, CoreResponseType, CoreUserInfoClaims,
    },
};
use serde::{Deserialize, Serialize};
use url::Url;

use http_client::ProviderHttp;
pub use http_client::{HttpError, MAX_RESPONSE_BYTES};
pub use settings::Settings;

/// Longest wait between two discovery attempts while the provider is down.
pub const MAX_RETRY: Duration = Duration::from_secs(30);
/// First wait after a failed discovery; doubled after each failure.
const FIRST_RETRY: Duration = Duration::from_secs(1);
/// At most one fetch of the provider's keys per this interval.
pub const KEY_REFRESH_INTERVAL: Duration = Duration::from_secs(10);

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

/// Why a sign-in could not go on. Each becomes its own JSON answer (see
/// [`login`]); the details are logged, not sent.
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
    /// The ID token itself, kept server-side as the hint of a later logout
    /// when the provider requires one (`OIDC_LOGOUT_ID_TOKEN_HINT`).
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
        let http = ProviderHttp::new(settings.http_timeout)?;
        Ok(Self(Arc::new(Inner {
            settings,
            http,
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
        check_endpoints(&metadata).map_err(OidcError::Unavailable)?;
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

        let (discovered, identity) = match self.verify(&discovered, &id_token, &nonce) {
            Err(VerifyError::UnknownKey) => {
                // The provider may have rotated its keys: fetch them (at most
                // once per interval) and try once more.
                let discovered = self.refresh_keys(&discovered).await?;
                match self.verify(&discovered, &id_token, &nonce) {
                    Err(VerifyError::UnknownKey) => {
                        return Err(OidcError::InvalidToken(
                            "the ID token is signed with a key the provider does not publish"
                                .to_owned(),
                        ));
                    }
                    Err(VerifyError::Invalid(reason)) => {
                        return Err(OidcError::InvalidToken(reason));
                    }
                    Ok(identity) => (discovered, identity),
                }
            }
            Err(VerifyError::Invalid(reason)) => return Err(OidcError::InvalidToken(reason)),
            Ok(identity) => (discovered, identity),
        };
        self.with_user_info(&discovered, identity, tokens.access_token())
            .await
    }

    /// Completes `identity` from the UserInfo endpoint when the ID token
    /// lacks the email or the name and the scopes asked for them: a
    /// conforming provider returns the claims of the `email` and `profile`
    /// scopes there, not in the ID token (OpenID Connect Core 5.4). The
    /// answer must be about the ID token's subject (5.3.2), or the sign-in
    /// is refused.
    async fn with_user_info(
        &self,
        discovered: &Discovered,
        mut identity: Identity,
        access_token: &openidconnect::AccessToken,
    ) -> Result<Identity, OidcError> {
        let asked = |scope: &str| self.0.settings.scopes.iter().any(|s| s.as_str() == scope);
        let missing = (identity.email.is_none() && asked("email"))
            || (identity.name.is_none() && asked("profile"));
        if !missing {
            return Ok(identity);
        }
        let subject = SubjectIdentifier::new(identity.subject.clone());
        let Ok(request) = discovered
            .client
            .user_info(access_token.clone(), Some(subject))
        else {
            // No UserInfo endpoint: the ID token is all there is.
            return Ok(identity);
        };
        let claims: CoreUserInfoClaims =
            request
                .request_async(&self.0.http)
                .await
                .map_err(|err| match err {
                    UserInfoError::ClaimsVerification(reason) => {
                        OidcError::InvalidToken(format!("UserInfo: {reason}"))
                    }
                    other => {
                        OidcError::Unavailable(format!("UserInfo endpoint: {}", describe(&other)))
                    }
                })?;
        if identity.email.is_none() {
            identity.email = claims.email().map(|email| email.as_str().to_owned());
        }
        if identity.name.is_none() {
            identity.name = display_name(claims.name(), claims.preferred_username());
        }
        Ok(identity)
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
        let name = display_name(claims.name(), claims.preferred_username());
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
    /// the provider supports RP-initiated logout. It names this client;
    /// `id_token` is the hint some providers require, which the signed-in
    /// session keeps only when `OIDC_LOGOUT_ID_TOKEN_HINT` asks for it (the
    /// URL passes through the browser, its history and the provider's logs,
    /// and the token holds the user's email and name).
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

/// The name to show: the `name` claim, else `preferred_username`.
fn display_name(
    name: Option<&LocalizedClaim<openidconnect::EndUserName>>,
    username: Option<&openidconnect::EndUserUsername>,
) -> Option<String> {
    name.and_then(|localized| localized.get(None))
        .map(|name| name.as_str().to_owned())
        .or_else(|| username.map(|u| u.as_str().to_owned()))
}

/// Every endpoint the discovery document names is https, or plain http on
/// this machine (a development provider); otherwise says which is not.
fn check_endpoints(metadata: &ProviderMetadataWithLogout) -> Result<(), String> {
    let additional = metadata.additional_metadata();
    let endpoints = [
        (
            "authorization_endpoint",
            Some(metadata.authorization_endpoint().url()),
        ),
        ("token_endpoint", metadata.token_endpoint().map(|u| u.url())),
        ("jwks_uri", Some(metadata.jwks_uri().url())),
        (
            "userinfo_endpoint",
            metadata.userinfo_endpoint().map(|u| u.url()),
        ),
        (
            "end_session_endpoint",
            additional.end_session_endpoint.as_ref().map(|u| u.url()),
        ),
    ];
    for (name, url) in endpoints {
        let Some(url) = url else { continue };
        let safe = match url.scheme() {
            "https" => true,
            "http" => settings::is_loopback(url),
            _ => false,
        };
        if !safe {
            return Err(format!(
                "the discovery document's {name} ({url}) is not an https URL \
                 (plain http is allowed only on this machine)"
            ));
        }
    }
    Ok(())
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
