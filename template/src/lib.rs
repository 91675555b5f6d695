//! {{project-name}}: an Axum backend that signs users in with a session
//! cookie, for a JavaScript single-page app.
//!
//! `main.rs` only wires these modules together; each module's opening comment
//! says why it exists.

{% if auth == "password" %}pub mod allocator;
{% endif %}pub mod config;
pub mod cookie_policy;
{%- if cross_origin %}
pub mod cors;
{%- endif %}
pub mod csrf;
pub mod database;
pub mod deployment_shape;
pub mod error;
pub mod extract;
{%- if auth == "password" %}
pub mod known_devices;
{%- endif %}
pub mod middleware;
pub mod notes;
{%- if auth == "oidc" %}
pub mod oidc;
{%- endif %}
pub mod origin;
{%- if auth == "password" %}
pub mod password;
pub mod rate_limit;
{%- endif %}
pub mod response_hook;
pub mod routes;
pub mod server;
pub mod session;
{%- if database == "sqlite" and session_store == "database" %}
pub mod session_cache;
{%- endif %}
pub mod session_store;
pub mod settings;
pub mod shutdown;
{%- unless cross_origin %}
pub mod spa;
{%- endunless %}
pub mod startup;
pub mod state;
pub mod telemetry;
pub mod users;
