//! The platform's tests over real HTTP, against a small application of
//! their own (`harness`), on every store: SQLite (with and without the
//! session cache), PostgreSQL and Redis. One test binary, so the platform is
//! linked once.
//!
//! They need every feature, and PostgreSQL and Redis as the application's
//! own tests do: `cargo test -p platform --all-features`.

#![cfg(all(
    feature = "sqlite",
    feature = "postgres",
    feature = "sql-sessions",
    feature = "session-cache",
    feature = "redis-sessions",
    feature = "password",
    feature = "mail",
    feature = "oidc",
    feature = "cors",
    feature = "spa",
    feature = "testing"
))]

#[macro_use]
mod harness;

mod cookie_policy;
mod csrf_matrix;
mod errors;
mod hash_flood;
mod hostile_input;
mod limits;
mod mail_outbox;
mod properties;
mod redis_index;
mod session_cache;
mod session_cleanup;
mod session_list;
mod session_races;
mod slow_clients;
mod spa;
mod user_copies;
