//! The project's tests against the real application: one test binary, so
//! the application and its dependencies are linked once, not once per file.
//!
//! Each module is one concern of this application's API; `helpers` starts
//! the application on a random port with a database of its own
//! (`spawn_app`) and talks to it over HTTP. To test a new resource, add a
//! module here (the README's "Extending" says how). The machinery under the API (the server,
//! the middleware stack, the session stores) is tested in the platform
//! crate, against routes of its own.

mod helpers;

mod accounts;
{% if auth == "password" %}mod auth;
{% endif %}
{%- if cross_origin %}mod cors;
{% endif %}mod csrf;
{%- if auth == "password" %}
mod email_change;
mod email_verification;
{%- endif %}
{%- if auth == "password" %}
mod login_timing;
{%- endif %}
{%- unless cross_origin %}
mod no_cors;
{%- endunless %}
mod notes;
{%- if auth == "oidc" %}
mod oidc;
mod oidc_hostile;
{%- endif %}
mod openapi;
{%- if auth == "password" %}
mod password_change;
mod password_reset;
{%- endif %}
mod restart;
mod sessions;
{%- if database == "postgres" or session_store == "redis" %}
mod shared_store;
{%- endif %}
mod startup;
{%- if auth == "password" %}
mod throttling;
{%- endif %}
