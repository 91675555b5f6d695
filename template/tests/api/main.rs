//! The project's tests against the real application: one test binary, so
//! the application and its dependencies are linked once, not once per file.
//!
//! Each module is one concern; `helpers` starts the application on a random
//! port with a database of its own (`spawn_app`) and talks to it over HTTP.
//! To test a new resource, add a module here (see `notes.rs`).

mod helpers;

mod accounts;
{% if auth == "password" %}mod auth;
{% endif %}mod cookie_policy;
{%- if cross_origin %}
mod cors;
{%- endif %}
mod csrf;
mod csrf_matrix;
mod errors;
{%- if auth == "password" %}
mod hash_flood;
{%- endif %}
mod hostile_input;
mod limits;
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
mod properties;
mod restart;
{%- if database == "sqlite" and session_store == "database" %}
mod session_cache;
{%- endif %}
{%- if session_store == "database" %}
mod session_cleanup;
{%- endif %}
mod session_races;
{%- if database == "postgres" or session_store == "redis" %}
mod shared_store;
{%- endif %}
mod slow_clients;
{%- unless cross_origin %}
mod spa;
{%- endunless %}
mod startup;
{%- if auth == "password" %}
mod throttling;
{%- endif %}
