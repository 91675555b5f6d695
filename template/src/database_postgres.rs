//! The database: PostgreSQL, shared by every instance of the backend. The
//! platform connects (creating the database when it is missing and the role
//! may); this crate brings its schema up to date with the migrations in
//! `migrations/`, at every start-up. sqlx takes a lock while migrating, so
//! instances starting together do not collide.
//!
//! Choosing SQLite at generation gives this file with the same names.

use anyhow::Context;
use platform::{
    database::postgres,
    settings::{ConfigError, Env},
};

pub use postgres::Settings;

/// The connection pool handlers query through.
pub type Pool = sqlx::Pool<Database>;

/// The engine, for the platform's types that take it (the mail outbox).
pub type Database = sqlx::Postgres;

/// A transaction on it: `pool.begin()`, statements on `&mut *tx`, then
/// `tx.commit()` (dropped without a commit, it rolls back).
pub type Transaction<'a> = sqlx::Transaction<'a, sqlx::Postgres>;

/// `DATABASE_URL` when it is not set: a database named after the project on
/// a local server.
const DEFAULT_URL: &str = "postgres://postgres@127.0.0.1:5432/{{crate_name}}";

/// `DATABASE_URL` and the pool's settings, read from the environment.
pub fn settings(env: &Env) -> Result<Settings, ConfigError> {
    Settings::from_env(env, DEFAULT_URL)
}

/// Connects and applies the migrations the database lacks.
pub async fn connect(settings: &Settings) -> anyhow::Result<Pool> {
    let pool = postgres::connect(settings).await?;
    // `build.rs` rebuilds this crate when a migration is added or changed,
    // so the binary always embeds every file in `migrations/`.
    sqlx::migrate!()
        .run(&pool)
        .await
        .context("cannot apply the database migrations in migrations/")?;
    Ok(pool)
}
