//! {{project-name}}: an Axum backend that signs users in with a session
//! cookie, for a JavaScript single-page app.
//!
//! This crate is the product: its configuration, state, routes, tables and
//! migrations. The machinery it stands on (serving connections, the
//! middleware stack, sessions and their stores, cookies, CSRF{% if cross_origin %}, CORS{% endif %},
//! {% if auth == "password" %}passwords and login throttling{% else %}the OpenID client{% endif %}, logs) is the `platform` crate in
//! `crates/platform`, the same in every project of this template. Each
//! module's opening comment says why it exists.

pub mod config;
pub mod database;
pub mod member;
pub mod notes;
pub mod routes;
pub mod startup;
pub mod state;
pub mod users;
