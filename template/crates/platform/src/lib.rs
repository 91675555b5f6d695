//! The machinery an Axum backend for a single-page app stands on, so that
//! the application crate beside it holds only the product: its routes,
//! tables and configuration.
//!
//! Nothing here knows the application's routes or tables beyond one
//! contract: accounts live in a table `users` with an integer primary key
//! `id` (the session table follows it with a foreign key), and the
//! application's user type implements [`session::Account`].
//!
//! # What each part is for
//!
//! | module | why it exists |
//! |---|---|
//! | [`settings`] | one line naming the variable, the value and the fix for every bad setting |
//! | [`origin`], [`deployment_shape`], [`cookie_policy`] | how the frontend and this backend relate, and the session cookie that works in that shape |
//! | [`stack`] | the middleware stack, in one place, in an order that is explained |
//! | [`csrf`], `cors` | cross-site writes refused; credentialed CORS for an exact allowlist |
//! | [`server`], [`shutdown`] | connections with deadlines and a cap, a bounded graceful shutdown |
//! | [`telemetry`] | one access line per request, cheaply |
//! | [`warn_once`] | a warning, once per value, about what browsers refuse without saying why |
//! | [`error`], [`extract`], [`paging`] | JSON errors everywhere, extractors that fail in that format, cursor pages |
//! | [`session`], [`session_store`], [`user_agent`] | server-side sessions carrying their user, where they are stored, and the browser each was signed in from |
//! | [`database`] | opening SQLite or PostgreSQL and telling an outage from a bug |
//! | `password`, `rate_limit`, `known_devices`, `allocator` | Argon2 off the runtime, throttling of sign-ins a stranger cannot turn into a lock-out |
//! | `mail`, `account_tokens` | mail to accounts through an outbox that survives outages and restarts, and the one-time tokens of their links |
//! | `oidc` | this backend as the OpenID Connect client of one provider |
//! | `spa` | the built frontend served from this backend's own origin |
//! | `openapi` | the OpenAPI description's shared parts (error body, session cookie) and `GET /api/openapi.json` |
//! | `testing` | a browser's HTTP client and a database per test, for the tests |
//!
//! # Features
//!
//! The application turns on what its answers need; every combination builds,
//! and all of them at once build and pass the tests.
//!
//! | feature | brings |
//! |---|---|
//! | `sqlite`, `postgres` | the database engines (sqlx drivers) |
//! | `sql-sessions` | sessions in a table of the database |
//! | `session-cache` | sessions kept in memory in front of their store (one instance) |
//! | `redis-sessions` | sessions in Redis, shared by every instance |
//! | `password` | `password`, `known_devices`, `allocator`, and `throttle` |
//! | `mail` | `mail` (lettre over rustls) and `account_tokens`, and `password` |
//! | `oidc` | `oidc`, and `throttle` |
//! | `throttle` | `rate_limit` (attempts per client address and per account) |
//! | `cors` | `cors` (tower-http's `CorsLayer`); without it no CORS code is compiled |
//! | `spa` | `spa` (tower-http's `ServeDir`) |
//! | `openapi` | `openapi` (utoipa), and the schemas of `paging::PageQuery` and `oidc::login::Callback` |
//! | `testing` | `testing` (and `oidc::test_provider`): for dev-dependencies only |

#[cfg(feature = "mail")]
pub mod account_tokens;
#[cfg(feature = "password")]
pub mod allocator;
pub mod cookie_policy;
#[cfg(feature = "cors")]
pub mod cors;
pub mod csrf;
pub mod database;
pub mod deployment_shape;
pub mod error;
pub mod extract;
#[cfg(feature = "password")]
pub mod known_devices;
#[cfg(feature = "mail")]
pub mod mail;
#[cfg(feature = "oidc")]
pub mod oidc;
#[cfg(feature = "openapi")]
pub mod openapi;
pub mod origin;
pub mod paging;
#[cfg(feature = "password")]
pub mod password;
pub mod probes;
#[cfg(feature = "throttle")]
pub mod rate_limit;
pub mod response_hook;
pub mod server;
pub mod session;
pub mod session_store;
pub mod settings;
pub mod shutdown;
#[cfg(feature = "spa")]
pub mod spa;
pub mod stack;
pub mod telemetry;
#[cfg(feature = "testing")]
pub mod testing;
pub mod user_agent;
pub mod warn_once;

pub use error::ApiError;
