//! What handlers and extractors share: the application state, and the one
//! place it is built from the configuration.
//!
//! `AppState` is cloned into every request, so everything in it is cheap to
//! clone. Each field is also a sub-state (`#[derive(FromRef)]`): a handler
//! or extractor asks for exactly the part it uses (`State<Pool>`,
//! `State<Sessions>`), and the platform's extractors depend on those parts,
//! not on this struct. Something new to share is a field of its own type
//! here, built in [`AppState::new`].

use std::sync::Arc;

use axum::extract::FromRef;
{% if auth == "password" -%}
use platform::{
    cookie_policy::CookiePolicy,
    mail::Outbox,
    password::Passwords,
    rate_limit::AuthThrottle,
    session_store::{Sessions, UserSessions},
};
{%- else -%}
use platform::{
    oidc::Provider,
    rate_limit::AuthThrottle,
    session_store::{Sessions, UserSessions},
};
{%- endif %}

use crate::{config::Config, database::Pool};

#[derive(Clone, FromRef)]
pub struct AppState {
    /// The database connection pool.
    pub db: Pool,
    /// The sessions: their lifetime, and every session of a user at once
    /// (ending them when the account goes, refreshing them when it changes).
    /// A handler reaches its own session through the `Session` extractor.
    pub sessions: Sessions,
{%- if auth == "password" %}
    /// Login and signup attempts left per client and per account.
    pub throttle: Arc<AuthThrottle>,
    /// Hashing and checking passwords.
    pub passwords: Passwords,
    /// The session cookie's attributes, which the device cookie shares.
    pub cookie_policy: CookiePolicy,
    /// Mail to accounts, queued with its token and sent in the background,
    /// and the frontend pages its links open.
    pub outbox: Outbox<crate::database::Database>,
    /// Whether the product's resources need a verified address
    /// (`REQUIRE_VERIFIED_EMAIL`, see `member.rs`).
    pub require_verified_email: bool,
{%- else %}
    /// Sign-ins started per client address.
    pub throttle: Arc<AuthThrottle>,
    /// The OpenID provider: its discovery document, keys and HTTP client.
    pub provider: Provider,
{%- endif %}
}

impl AppState {
    /// Builds the state from the configuration, the open database and the
    /// session store.
    pub async fn new(
        config: &Config,
        db: Pool,
        session_store: impl UserSessions,
    ) -> anyhow::Result<Self> {
        Ok(Self {
            sessions: Sessions::new(session_store, config.sessions, config.http.request_timeout),
            throttle: Arc::new(AuthThrottle::new(config.throttle.clone())),
{%- if auth == "password" %}
            passwords: Passwords::new().await?,
            cookie_policy: config.http.cookie.clone(),
            outbox: Outbox::new(db.clone(), config.mail.clone(), config.links.clone()),
            require_verified_email: config.require_verified_email,
{%- else %}
            provider: Provider::new(config.oidc.clone())?,
{%- endif %}
            db,
        })
    }
}
