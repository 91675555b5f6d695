//! What handlers and extractors share: the application state.
//!
//! `AppState` is built once at start-up (`startup.rs`) and cloned into every
//! request, so everything in it is cheap to clone. Each field is also a
//! sub-state (`#[derive(FromRef)]`): a handler or extractor asks for exactly
//! the part it uses (`State<Pool>`, `State<{% if auth == "password" %}Passwords{% else %}Provider{% endif %}>`), and modules such as
//! `extract.rs`{% if auth == "password" %} and `rate_limit.rs`{% endif %} depend on those parts, not on this
//! struct. Adding a shared thing means adding a field of its own type here.

{% if auth == "password" -%}
use std::sync::Arc;

use axum::extract::FromRef;

use crate::{
    cookie_policy::CookiePolicy, database::Pool, password::Passwords, rate_limit::AuthThrottle,
    session, session_store,
};
{%- else -%}
use axum::extract::FromRef;

use crate::{database::Pool, oidc::Provider, session, session_store};
{%- endif %}

#[derive(Clone, FromRef)]
pub struct AppState {
    /// The database connection pool.
    pub db: Pool,
    /// The session store, for the readiness probe and for ending every
    /// session of a deleted account; handlers reach their own session
    /// through the `Session` extractor.
    pub session_store: session_store::Store,
    /// How long sessions last.
    pub session_lifetime: session::Lifetime,
{%- if auth == "password" %}
    /// Hashing and checking passwords.
    pub passwords: Passwords,
    /// Login and signup attempts left per client and per account.
    pub throttle: Arc<AuthThrottle>,
    /// The session cookie's attributes, which the device cookie shares.
    pub cookie_policy: CookiePolicy,
{%- else %}
    /// The OpenID provider: its discovery document, keys and HTTP client.
    pub provider: Provider,
{%- endif %}
}
