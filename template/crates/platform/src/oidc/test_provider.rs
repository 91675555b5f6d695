//! A small OpenID provider for tests (feature `testing`), so that the
//! OpenID client is tested over real HTTP against a provider that can also
//! misbehave: one a certified provider never will (forged ID tokens, key
//! rotation, garbage answers, going down).
//!
//! It serves discovery, its keys (JWKS), an authorization endpoint that
//! approves at once (the test's stand-in for the provider's login page: the
//! user is named by `login_hint`, and `sub` when a test picks the subject),
//! a token endpoint that checks the code (once only), the PKCE verifier
//! (S256), the redirect URL and the client's credentials, a UserInfo
//! endpoint, and an end-session endpoint. Like a conforming provider (and
//! `oidc-provider` at its defaults), it puts the `email` and `profile`
//! claims in the UserInfo answer only, not in the ID token, unless a test
//! asks for them there too ([`TestProvider::claims_in_id_token`]). ID tokens are signed by the `openidconnect` crate's
//! own provider-side types; the forgeries it will not make are made by hand.

use std::{
    collections::{HashMap, HashSet},
    net::SocketAddr,
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use axum::{
    Form, Json, Router,
    extract::{Query, State},
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use base64::{Engine, engine::general_purpose::STANDARD, engine::general_purpose::URL_SAFE_NO_PAD};
use openidconnect::{
    AccessToken, Audience, CsrfToken, EmptyAdditionalClaims, EndUserEmail, EndUserName, IssuerUrl,
    JsonWebKeyId, LocalizedClaim, Nonce, PkceCodeChallenge, PkceCodeVerifier, PrivateSigningKey,
    StandardClaims, SubjectIdentifier,
    core::{
        CoreIdToken, CoreIdTokenClaims, CoreJsonWebKeySet, CoreJwsSigningAlgorithm,
        CoreRsaPrivateSigningKey,
    },
    url::Url,
};
use serde_json::{Value, json};
use tokio::net::TcpListener;

/// The client this provider knows: the tests configure the app with these.
pub const CLIENT_ID: &str = "test-client";
pub const CLIENT_SECRET: &str = "test-client-secret";

/// A forged or broken ID token, for the client to refuse.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Forgery {
    /// An honest, valid token.
    None,
    WrongNonce,
    WrongAudience,
    WrongIssuer,
    Expired,
    /// `alg: none` and no signature.
    AlgNone,
    /// A valid token whose signature has one byte changed.
    BadSignature,
    /// Signed by a key the provider never published.
    UnknownKeyId,
}

/// An endpoint that can be told to misbehave.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Endpoint {
    Discovery,
    Jwks,
    Token,
    UserInfo,
}

/// How an endpoint misbehaves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Misbehaviour {
    /// 200 with an HTML page, as a captive portal or a login wall answers.
    Html,
    /// 200 `application/json` that is not JSON.
    Garbage,
    /// 302 to somewhere else, which the client must not follow.
    Redirect,
    /// An answer that takes two minutes.
    Slow,
    /// 500 with an HTML body.
    ServerError,
}

/// What the provider remembers between the authorization and the token
/// request.
#[derive(Clone)]
struct Grant {
    redirect_uri: String,
    code_challenge: String,
    nonce: String,
    subject: String,
    email: String,
}

struct Knobs {
    /// The key ID tokens are signed with, and the keys the JWKS publishes.
    signing_key: usize,
    published_keys: Vec<usize>,
    forgery: Forgery,
    deny: bool,
    end_session: bool,
    /// Email and name in the ID token too, as many providers do.
    claims_in_id_token: bool,
    /// UserInfo answers about this subject instead of the token's.
    user_info_subject: Option<String>,
    /// Discovery names this as the authorization endpoint.
    authorization_endpoint: Option<String>,
    /// The grant of each access token given out, for UserInfo.
    access_tokens: HashMap<String, Grant>,
    misbehaving: HashMap<Endpoint, Misbehaviour>,
    codes: HashMap<String, Grant>,
    used_codes: HashSet<String>,
    /// Why the token endpoint refused, newest last.
    refusals: Vec<String>,
    /// The query of each end-session request.
    end_sessions: Vec<HashMap<String, String>>,
}

struct Shared {
    issuer: String,
    /// `Some`: a confidential client, which must authenticate.
    client_secret: Option<String>,
    knobs: Mutex<Knobs>,
    discovery_fetches: AtomicUsize,
    jwks_fetches: AtomicUsize,
    token_requests: AtomicUsize,
    user_info_requests: AtomicUsize,
}

/// A running test provider. It serves until [`TestProvider::stop`] or the
/// end of the test's runtime.
#[derive(Clone)]
pub struct TestProvider {
    shared: Arc<Shared>,
    /// The server's stop signal and task, until stopped.
    server: Arc<Mutex<Option<Server>>>,
}

/// A running server: what stops it, and its task.
struct Server {
    stop: Arc<tokio::sync::Notify>,
    task: tokio::task::JoinHandle<()>,
}

impl TestProvider {
    /// A provider for a confidential client (`CLIENT_ID`, `CLIENT_SECRET`)
    /// on a free loopback port.
    pub async fn start() -> TestProvider {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("provider port");
        Self::serve(listener, Some(CLIENT_SECRET))
    }

    /// A provider for a public client (PKCE only, no secret).
    pub async fn start_public() -> TestProvider {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("provider port");
        Self::serve(listener, None)
    }

    /// A provider on `address`, which was free (see `free_address`).
    pub async fn start_on(address: SocketAddr) -> TestProvider {
        let listener = TcpListener::bind(address).await.expect("provider port");
        Self::serve(listener, Some(CLIENT_SECRET))
    }

    fn serve(listener: TcpListener, client_secret: Option<&str>) -> TestProvider {
        let address = listener.local_addr().expect("provider address");
        let mut provider = TestProvider {
            server: Arc::new(Mutex::new(None)),
            shared: Arc::new(Shared {
                issuer: format!("http://{address}"),
                client_secret: client_secret.map(str::to_owned),
                knobs: Mutex::new(Knobs {
                    signing_key: 0,
                    published_keys: vec![0],
                    forgery: Forgery::None,
                    deny: false,
                    end_session: true,
                    claims_in_id_token: false,
                    user_info_subject: None,
                    authorization_endpoint: None,
                    access_tokens: HashMap::new(),
                    misbehaving: HashMap::new(),
                    codes: HashMap::new(),
                    used_codes: HashSet::new(),
                    refusals: Vec::new(),
                    end_sessions: Vec::new(),
                }),
                discovery_fetches: AtomicUsize::new(0),
                jwks_fetches: AtomicUsize::new(0),
                token_requests: AtomicUsize::new(0),
                user_info_requests: AtomicUsize::new(0),
            }),
        };
        let router = Router::new()
            .route("/.well-known/openid-configuration", get(discovery))
            .route("/jwks", get(jwks))
            .route("/authorize", get(authorize))
            .route("/token", post(token))
            .route("/userinfo", get(user_info))
            .route("/logout", get(end_session))
            .with_state(Arc::clone(&provider.shared));
        let stop = Arc::new(tokio::sync::Notify::new());
        let stopped = Arc::clone(&stop);
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, router)
                .with_graceful_shutdown(async move { stopped.notified().await })
                .await;
        });
        provider.server = Arc::new(Mutex::new(Some(Server { stop, task })));
        provider
    }

    /// Goes down: stops listening and closes its connections, as a
    /// provider does in an outage. `start_on` the same address brings one
    /// back (with its own codes and sessions, and the same keys).
    pub async fn stop(&self) {
        let server = self.server.lock().expect("provider server").take();
        if let Some(server) = server {
            server.stop.notify_one();
            let _ = server.task.await;
        }
    }

    /// The address it listens on.
    pub fn address(&self) -> SocketAddr {
        self.shared
            .issuer
            .trim_start_matches("http://")
            .parse()
            .expect("a socket address")
    }

    /// The issuer URL, `http://127.0.0.1:<port>`.
    pub fn issuer(&self) -> &str {
        &self.shared.issuer
    }

    fn knobs(&self) -> std::sync::MutexGuard<'_, Knobs> {
        self.shared.knobs.lock().expect("provider knobs")
    }

    /// The ID tokens issued from now on are forged this way.
    pub fn forge(&self, forgery: Forgery) {
        self.knobs().forgery = forgery;
    }

    /// The user declines at the provider: the authorization endpoint answers
    /// `error=access_denied` from now on.
    pub fn deny(&self, deny: bool) {
        self.knobs().deny = deny;
    }

    /// Whether discovery names an end-session endpoint (RP-initiated
    /// logout). Set before the app starts: it reads discovery then.
    pub fn offer_end_session(&self, offer: bool) {
        self.knobs().end_session = offer;
    }

    /// Whether ID tokens carry the email and name too (default: no, as a
    /// conforming provider, which returns them from UserInfo only).
    pub fn claims_in_id_token(&self, include: bool) {
        self.knobs().claims_in_id_token = include;
    }

    /// UserInfo answers about `subject` instead of the ID token's (a
    /// provider mixing up users, or an attacker's substitution).
    pub fn user_info_subject(&self, subject: Option<&str>) {
        self.knobs().user_info_subject = subject.map(str::to_owned);
    }

    /// Discovery names `url` as the authorization endpoint (`None`: its
    /// own). Set before the app starts: it reads discovery then.
    pub fn authorization_endpoint(&self, url: Option<&str>) {
        self.knobs().authorization_endpoint = url.map(str::to_owned);
    }

    /// `endpoint` answers the way `how` says from now on (`None`: properly).
    pub fn misbehave(&self, endpoint: Endpoint, how: Option<Misbehaviour>) {
        let mut knobs = self.knobs();
        match how {
            Some(how) => knobs.misbehaving.insert(endpoint, how),
            None => knobs.misbehaving.remove(&endpoint),
        };
    }

    /// Key rotation: a new key signs from now on and is published next to
    /// the old one.
    pub fn rotate_key(&self) {
        let mut knobs = self.knobs();
        knobs.signing_key = 1;
        knobs.published_keys = vec![0, 1];
    }

    pub fn discovery_fetches(&self) -> usize {
        self.shared.discovery_fetches.load(Ordering::SeqCst)
    }

    pub fn jwks_fetches(&self) -> usize {
        self.shared.jwks_fetches.load(Ordering::SeqCst)
    }

    pub fn token_requests(&self) -> usize {
        self.shared.token_requests.load(Ordering::SeqCst)
    }

    pub fn user_info_requests(&self) -> usize {
        self.shared.user_info_requests.load(Ordering::SeqCst)
    }

    /// Why the token endpoint refused requests, oldest first.
    pub fn refusals(&self) -> Vec<String> {
        self.knobs().refusals.clone()
    }

    /// The queries of the end-session requests received.
    pub fn end_sessions(&self) -> Vec<HashMap<String, String>> {
        self.knobs().end_sessions.clone()
    }
}

/// A loopback address nothing listens on (yet): a provider that is down.
pub async fn free_address() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("a free port");
    listener.local_addr().expect("address")
}

/// The test keys. TEST-ONLY: generated for these tests, published here,
/// never to be trusted anywhere else.
const KEYS: [(&str, &str); 2] = [
    ("test-key-1", TEST_KEY_1_PEM),
    ("test-key-2", TEST_KEY_2_PEM),
];

fn signing_key(index: usize, kid: Option<&str>) -> CoreRsaPrivateSigningKey {
    let (name, pem) = KEYS[index];
    let kid = JsonWebKeyId::new(kid.unwrap_or(name).to_owned());
    CoreRsaPrivateSigningKey::from_pem(pem, Some(kid)).expect("test key")
}

/// The canned answer of a misbehaving endpoint, if it misbehaves.
async fn misbehaviour(shared: &Shared, endpoint: Endpoint) -> Option<Response> {
    let how = shared
        .knobs
        .lock()
        .expect("provider knobs")
        .misbehaving
        .get(&endpoint)
        .copied()?;
    let html = "<!doctype html><title>Sign in</title><p>Please sign in to continue.</p>";
    Some(match how {
        Misbehaviour::Html => {
            (StatusCode::OK, [(header::CONTENT_TYPE, "text/html")], html).into_response()
        }
        Misbehaviour::Garbage => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/json")],
            "{\"issuer\": \"http://127.0.0.1\", \u{0}\u{ff}",
        )
            .into_response(),
        Misbehaviour::Redirect => (
            StatusCode::FOUND,
            [(header::LOCATION, "http://127.0.0.1:9/elsewhere")],
        )
            .into_response(),
        Misbehaviour::Slow => {
            tokio::time::sleep(Duration::from_secs(120)).await;
            (StatusCode::OK, Json(json!({}))).into_response()
        }
        Misbehaviour::ServerError => (
            StatusCode::INTERNAL_SERVER_ERROR,
            [(header::CONTENT_TYPE, "text/html")],
            html,
        )
            .into_response(),
    })
}

async fn discovery(State(shared): State<Arc<Shared>>) -> Response {
    shared.discovery_fetches.fetch_add(1, Ordering::SeqCst);
    if let Some(response) = misbehaviour(&shared, Endpoint::Discovery).await {
        return response;
    }
    let issuer = &shared.issuer;
    let knobs = shared.knobs.lock().expect("provider knobs");
    let authorization_endpoint = knobs
        .authorization_endpoint
        .clone()
        .unwrap_or_else(|| format!("{issuer}/authorize"));
    let mut document = json!({
        "issuer": issuer,
        "authorization_endpoint": authorization_endpoint,
        "token_endpoint": format!("{issuer}/token"),
        "jwks_uri": format!("{issuer}/jwks"),
        "userinfo_endpoint": format!("{issuer}/userinfo"),
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "scopes_supported": ["openid", "email", "profile"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "code_challenge_methods_supported": ["S256"],
        "grant_types_supported": ["authorization_code"],
        "claims_supported": ["iss", "sub", "aud", "exp", "iat", "nonce", "email", "name"],
    });
    if knobs.end_session {
        document["end_session_endpoint"] = json!(format!("{issuer}/logout"));
    }
    Json(document).into_response()
}

async fn jwks(State(shared): State<Arc<Shared>>) -> Response {
    shared.jwks_fetches.fetch_add(1, Ordering::SeqCst);
    if let Some(response) = misbehaviour(&shared, Endpoint::Jwks).await {
        return response;
    }
    let published = shared
        .knobs
        .lock()
        .expect("provider knobs")
        .published_keys
        .clone();
    let keys = published
        .into_iter()
        .map(|index| signing_key(index, None).as_verification_key())
        .collect();
    Json(CoreJsonWebKeySet::new(keys)).into_response()
}

fn bad_request(message: &str) -> Response {
    (StatusCode::BAD_REQUEST, message.to_owned()).into_response()
}

/// Approves at once and sends the browser back to `redirect_uri`, as the
/// provider's login page would after the user signed in (or declined).
async fn authorize(
    State(shared): State<Arc<Shared>>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let param = |name: &str| query.get(name).map(String::as_str).unwrap_or_default();
    if param("client_id") != CLIENT_ID {
        return bad_request("unknown client_id");
    }
    if param("response_type") != "code" {
        return bad_request("response_type must be code");
    }
    if !param("scope").split(' ').any(|scope| scope == "openid") {
        return bad_request("scope must contain openid");
    }
    if param("code_challenge_method") != "S256" || param("code_challenge").is_empty() {
        return bad_request("PKCE with S256 is required");
    }
    if param("nonce").is_empty() || param("state").is_empty() {
        return bad_request("nonce and state are required");
    }
    let Ok(mut back) = Url::parse(param("redirect_uri")) else {
        return bad_request("redirect_uri must be a URL");
    };
    let email = match param("login_hint") {
        "" => "someone@example.com",
        hint => hint,
    };
    let subject = match param("sub") {
        "" => format!("subject-of-{email}"),
        subject => subject.to_owned(),
    };
    let mut knobs = shared.knobs.lock().expect("provider knobs");
    {
        let mut pairs = back.query_pairs_mut();
        if knobs.deny {
            pairs.append_pair("error", "access_denied");
            pairs.append_pair("error_description", "The user declined.");
        } else {
            let code = CsrfToken::new_random_len(24).secret().clone();
            knobs.codes.insert(
                code.clone(),
                Grant {
                    redirect_uri: param("redirect_uri").to_owned(),
                    code_challenge: param("code_challenge").to_owned(),
                    nonce: param("nonce").to_owned(),
                    subject,
                    email: email.to_owned(),
                },
            );
            pairs.append_pair("code", &code);
        }
        pairs.append_pair("state", param("state"));
        pairs.append_pair("iss", &shared.issuer);
    }
    (StatusCode::FOUND, [(header::LOCATION, back.to_string())]).into_response()
}

/// OAuth's error answer from the token endpoint, remembered for the test.
fn refuse(knobs: &mut Knobs, status: StatusCode, error: &str, why: &str) -> Response {
    knobs.refusals.push(why.to_owned());
    (
        status,
        Json(json!({ "error": error, "error_description": why })),
    )
        .into_response()
}

/// The client's credentials, from HTTP Basic or the form.
fn client_credentials(
    headers: &HeaderMap,
    form: &HashMap<String, String>,
) -> (Option<String>, Option<String>) {
    let basic = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Basic "))
        .and_then(|encoded| STANDARD.decode(encoded).ok())
        .and_then(|decoded| String::from_utf8(decoded).ok());
    if let Some(pair) = basic {
        let (id, secret) = pair.split_once(':').unwrap_or((&pair, ""));
        // RFC 6749 2.3.1: both are form-urlencoded inside Basic.
        let decode = |text: &str| {
            url::form_urlencoded::parse(format!("x={text}").as_bytes())
                .next()
                .map(|(_, value)| value.into_owned())
        };
        return (decode(id), decode(secret));
    }
    (
        form.get("client_id").cloned(),
        form.get("client_secret").cloned(),
    )
}

async fn token(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    shared.token_requests.fetch_add(1, Ordering::SeqCst);
    if let Some(response) = misbehaviour(&shared, Endpoint::Token).await {
        return response;
    }
    let mut knobs = shared.knobs.lock().expect("provider knobs");
    let knobs = &mut *knobs;
    let (client_id, client_secret) = client_credentials(&headers, &form);
    if client_id.as_deref() != Some(CLIENT_ID) {
        return refuse(
            knobs,
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "unknown client",
        );
    }
    if let Some(expected) = &shared.client_secret
        && client_secret.as_deref() != Some(expected.as_str())
    {
        return refuse(
            knobs,
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "wrong client secret",
        );
    }
    let param = |name: &str| form.get(name).map(String::as_str).unwrap_or_default();
    if param("grant_type") != "authorization_code" {
        return refuse(
            knobs,
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "not a code grant",
        );
    }
    let code = param("code");
    // A code is good once: taken out of the map by its first use.
    let Some(grant) = knobs.codes.remove(code) else {
        let why = if knobs.used_codes.contains(code) {
            "code already used"
        } else {
            "unknown code"
        };
        return refuse(knobs, StatusCode::BAD_REQUEST, "invalid_grant", why);
    };
    knobs.used_codes.insert(code.to_owned());
    if param("redirect_uri") != grant.redirect_uri {
        return refuse(
            knobs,
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "redirect_uri differs",
        );
    }
    let verifier = PkceCodeVerifier::new(param("code_verifier").to_owned());
    if PkceCodeChallenge::from_code_verifier_sha256(&verifier).as_str() != grant.code_challenge {
        return refuse(
            knobs,
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "PKCE verifier does not match",
        );
    }
    let access_token = AccessToken::new(CsrfToken::new_random_len(24).secret().clone());
    let id_token = mint(&shared.issuer, knobs, &grant, &access_token);
    knobs
        .access_tokens
        .insert(access_token.secret().clone(), grant);
    (
        StatusCode::OK,
        [(header::CACHE_CONTROL, "no-store")],
        Json(json!({
            "access_token": access_token.secret(),
            "token_type": "Bearer",
            "expires_in": 300,
            "scope": "openid email profile",
            "id_token": id_token,
        })),
    )
        .into_response()
}

/// The ID token for `grant`, honest or forged as the knobs say.
fn mint(issuer: &str, knobs: &Knobs, grant: &Grant, access_token: &AccessToken) -> String {
    let forgery = knobs.forgery;
    let now = chrono::Utc::now();
    let (issued, expires) = if forgery == Forgery::Expired {
        (
            now - chrono::Duration::minutes(20),
            now - chrono::Duration::minutes(10),
        )
    } else {
        (now, now + chrono::Duration::minutes(5))
    };
    let issuer = if forgery == Forgery::WrongIssuer {
        "http://127.0.0.1:1/another-issuer"
    } else {
        issuer
    };
    let audience = if forgery == Forgery::WrongAudience {
        "another-client"
    } else {
        CLIENT_ID
    };
    let nonce = if forgery == Forgery::WrongNonce {
        "a-nonce-from-another-login"
    } else {
        grant.nonce.as_str()
    };
    let subject = StandardClaims::new(SubjectIdentifier::new(grant.subject.clone()));
    let standard = if knobs.claims_in_id_token {
        with_profile(subject, grant)
    } else {
        subject
    };
    let claims = CoreIdTokenClaims::new(
        IssuerUrl::new(issuer.to_owned()).expect("issuer URL"),
        vec![Audience::new(audience.to_owned())],
        expires,
        issued,
        standard,
        EmptyAdditionalClaims {},
    )
    .set_nonce(Some(Nonce::new(nonce.to_owned())));

    if forgery == Forgery::AlgNone {
        // The library will not mint an unsigned token: made by hand.
        let header = URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#);
        let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims).expect("claims JSON"));
        return format!("{header}.{payload}.");
    }
    let key = if forgery == Forgery::UnknownKeyId {
        signing_key(1, Some("a-key-never-published"))
    } else {
        signing_key(knobs.signing_key, None)
    };
    let token = CoreIdToken::new(
        claims,
        &key,
        CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
        Some(access_token),
        None,
    )
    .expect("signed ID token");
    let token = match serde_json::to_value(&token).expect("token JSON") {
        Value::String(token) => token,
        other => panic!("an ID token serializes as a string, not {other}"),
    };
    if forgery != Forgery::BadSignature {
        return token;
    }
    // One byte of the signature changed, the rest left as signed.
    let (signed, signature) = token.rsplit_once('.').expect("three parts");
    let mut signature = URL_SAFE_NO_PAD
        .decode(signature)
        .expect("base64url signature");
    signature[10] ^= 0x01;
    format!("{signed}.{}", URL_SAFE_NO_PAD.encode(signature))
}

/// The `email` and `profile` claims of `grant`'s user.
fn with_profile(
    claims: StandardClaims<openidconnect::core::CoreGenderClaim>,
    grant: &Grant,
) -> StandardClaims<openidconnect::core::CoreGenderClaim> {
    let name: LocalizedClaim<EndUserName> =
        LocalizedClaim::from(EndUserName::new(format!("Name of {}", grant.email)));
    claims
        .set_email(Some(EndUserEmail::new(grant.email.clone())))
        .set_email_verified(Some(true))
        .set_name(Some(name))
}

/// UserInfo: the claims of the access token's user (OpenID Connect Core
/// 5.3), as JSON.
async fn user_info(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    shared.user_info_requests.fetch_add(1, Ordering::SeqCst);
    if let Some(response) = misbehaviour(&shared, Endpoint::UserInfo).await {
        return response;
    }
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .unwrap_or_default();
    let knobs = shared.knobs.lock().expect("provider knobs");
    let Some(grant) = knobs.access_tokens.get(token) else {
        return (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Bearer error=\"invalid_token\"")],
        )
            .into_response();
    };
    let subject = knobs
        .user_info_subject
        .clone()
        .unwrap_or_else(|| grant.subject.clone());
    let claims = with_profile(StandardClaims::new(SubjectIdentifier::new(subject)), grant);
    Json(claims).into_response()
}

/// RP-initiated logout: records what the client sent and says goodbye.
async fn end_session(
    State(shared): State<Arc<Shared>>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    shared
        .knobs
        .lock()
        .expect("provider knobs")
        .end_sessions
        .push(query);
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/html")],
        "<!doctype html><title>Signed out</title><p>You are signed out.</p>",
    )
        .into_response()
}

// TEST-ONLY RSA keys (PKCS#1 PEM), generated with `openssl genrsa` for these
// tests alone. Never use them for anything else.
const TEST_KEY_1_PEM: &str = "\
-----BEGIN RSA PRIVATE KEY-----\n\
MIIEogIBAAKCAQEAkcLxnm9k3pcQu65lv5khSTGwqAzh91YRQrI4Qyjy/pr7ktf9\n\
Ecgv34oIo8cHMLB1pAwQs+7UBlByShKxlccrElY9SoD6dSEpDQFMmIYLTpIdfXLU\n\
3W/I7fuwORTEPbLdvRPVZ0eECUvnAOe4XySH4Z0K9UNfLE9ATRyfPYRVGXd/Y2xS\n\
I++VPow7GomtrUcnATppsPy2+mg7JB+LFF0ni+mO8bDc3+t8ESrlnxJ1vAtnP0VB\n\
yWEpZ86CdCy1cQUYAMqzJUJu8SEx6vLk9rbDkikq2tBfi9aX8apewm1UOWKJ2GIr\n\
9Rjr6SsIgbzDqP82vrTXl3wik5XrspnCJWYfOwIDAQABAoIBADIdYN5UtU0UilPE\n\
68W6u+eC9pZoy34y8L9KMC7jEty343wC18c32UHVnw/UO6QhX2kWHt4GZI6BNTJD\n\
iBwTfLsSvILzomkIDCmlAzVDjPqoIQyDIS27I82y5c1SVwBRkYxTF+GpBHv/xT4Z\n\
7VmE4VUQHfbigYPmAZkhmJxZdbrJxsJ86+ux+GgEVxZZ52wqvYeRYCU85qxRWsoc\n\
Ii5fBfmCOIh1e9Mr2EuuFi+0rjtkoAyhxcD2Sedwru9S+43drMBE5elAwHvqVsmv\n\
IOdRtT8Ak6adyp/F8eW0N0kYw1uaCUKNI1Dbs6ZbHO+h0VGYA7ssFQSy+Cv3bIk9\n\
RCB4WhkCgYEAw6saKtyix3K2sfFe3rk0qV88EGFevNZIOyIX/2s1Ou+FEPXsfIje\n\
mm557wihvV79e6241UqdyoJPn3rBlFQeIWEaIytHLStXaaAf+xo3QnP2/3ej9lq7\n\
I+JeT+ixEQjY5XA3qIIOJRRTCoqur1Uho3RniMn2gqOxtkHFQLCzXnMCgYEAvrR9\n\
dVRscyfHY8NAC53ayhdecN4VGiBl7ZMTQvE5dlgqUkqRwKYJzYaOYXjZ5J7wyNzB\n\
0tMHqlbKSx5Awi3VbnPoL4RK+41BjTaBSWqsRelW15y2uiWBqfkyrUUWoZwaRK+3\n\
JtNtEcgdskdNmfMbvEHYdyHqEnLzC/J6FngHAhkCgYAhY134uGNyYym3nXdRzAqn\n\
aB/Ir8TJtkrnBD9SD0oq/1oWddBfw78wXO+jkTaAKOhaJV+nza61Mp1BmmHT3LKz\n\
gW1DWQwxMfcdh/xNDcEmLsGUACdTT1IlomfzfMJSJM9V/1sP/vlI7HnrD5UVSBKQ\n\
YLmWBthwnFwjvH9bNYu17wKBgD/Dp8NIZC6o2VFxIoP/1v0FjU1d5F5lAM/MAn+6\n\
moUIe7YiOtPYcKSo3giXWPvJbScsMR6l8wUwmdk+F1cV7ixNUxA4Qr4TgByQYfBD\n\
W7DQkXnsa2iYS9+idCBdXnDQ+jOHMU0pGmn8qHlIwBi+ocJzncZPr61VhBC1lb7X\n\
iThZAoGAAOTxGVFfshP0gsXdqmn777+vRlDOLSu3XjFVbOBY1u7x0HuXAD+agSm6\n\
xom7ztl30nxIUn1nkLVHNsPsuauUNrvHS/UgWaImuJRV1eWFu5Q2ARDyd6dkQTsT\n\
YgMgLVcusHMgSPnOV1BzkdOMg41kG39vgwDF1QuLhqE2EIMU8LE=\n\
-----END RSA PRIVATE KEY-----\n\
";
const TEST_KEY_2_PEM: &str = "\
-----BEGIN RSA PRIVATE KEY-----\n\
MIIEogIBAAKCAQEAm1wO9qGePFkBLx6zWODE5TKT2XUIcofTvOVE6tMhl73VJ9lo\n\
gLtUzCXELR92bflWEoTZArAm+gEBPA5ncrU29nRcGLP6tbpwBj3394NuKz6X0Y9y\n\
yJxIuu0+0NLwHG1ph3+gkRrueklGU2Sq4aP8Hknj6Lng7T47IRswVmKTFryg9ceH\n\
eaTDHLfjRnuWMamlIlH0oVNcfRoduEIF0OOce/ITKq3QgYhsEqijDrruY+ltowQM\n\
SwPzipAjQTrM2TgyN4QkmG9F8UKAfZUOC73qP9OFEsjeewzJjRg0QIBfu4RcNmXD\n\
fjS4dYRLvJUrkSTN0slm+3VKp59lySetm/anWQIDAQABAoIBAAn7beMzInaEbf7r\n\
8TBXXdNPrwAAhOrN9yD6lrVjXDPSoM7jCVPHJZVJ4mtXS43YoMsHEeX6MUDsPlrw\n\
Xn14bwgCFTZJnyTcziyaf/OddF9PMeRHPCPvZb1r97albQPYlFieTs/v++1rxpre\n\
W5vspEsCaqRGCDGaJ2SyyWXthr+lxKXN47oBM3d8o/qdDorH+4LOLoK4Mbks+Sai\n\
vTrjlf0f/MNGRxAFvJE0wJTM5JiiNxX8oAPZUUeOB4lMjncP/j40sf2euBO4M+eY\n\
ngtjcr2jndw+YPEH5R2oiCBjo66DKT4Hr8MMRAovkH7clpYyGaX/v0REr4voaFgY\n\
14gJKYECgYEA0WSA5mj/1I75zzUaJRa5KYKq28dWb0Y99j0zn1MIvm37zCN6RUZK\n\
puOOrARnMvyrcwFCpaWK3dPMGTvJVOM3lf1/HnlifOrq0fczTN/DgQMTomKqoOqn\n\
7oNFm7maEpx/jXnzb1zWeWJTq1QBwZq9MvK3Yt4gNGZT6wXy1X0TY9kCgYEAvfCt\n\
FvAMIBzqbDxMuVy/meejL95QlX688lED/1R47THivRs++7Tne0anvoNVW2QnLNgE\n\
cUeMHvw+RPzT13KJKuZ7xmGjWOJ02xO6kzfRhMO3J2MdR4B9pqr5OKaG+G6huggK\n\
t10mlVDIu2+04IiPRJnndWmj+sr3w8bpRK1wr4ECgYBWP/LEdc2jTX1it3ncex6s\n\
FZGxU8urrCBLtGv2HarFXeJQ9PAhZtHLKoKTIoErxF4O0h8UwjqQIvS4FCNbHvi/\n\
hJp+//rsf4tYD14HNUh/dLf6tG+aNu4TVekvOuVW8zWrHeeDIJeLik/yi3jpuYZj\n\
XQzi4aIcU2YPsfSTsaByCQKBgFxFOADFmk5bXbI41NjTaqy8b3UIncMR734Tx0pZ\n\
Yelwa4KMYttqNW2YlFKjgGrGS5WoVvgk1rgSt7lRzSODm4kAsK5drjm2wSfP/LoZ\n\
yqmhXi8/IfEjRWca9bkEhNrY+63gzDvpf53Xwbv0dz0AegDMdzl9mVBzG0u7LITV\n\
cMGBAoGAVHlr7lBdDQ7ygTeFLfraWBhKEAuu/eBVd0+mf3y5I9VTkF+zvXMoikbE\n\
guMSq9a0iIr1XFMr//fNZW15fCbPR+tSvIGJn9f4mpBjIJuMoEuXUGp96yEbyubK\n\
WzqV2E6UgpYC71uhrjd1foHkOLV38EzZI4SubRUsJFLQoVt+w+4=\n\
-----END RSA PRIVATE KEY-----\n\
";
