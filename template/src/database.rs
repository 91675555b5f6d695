//! The database: SQLite, the embedded default, which needs nothing
//! installed. The platform opens it (creating the file and its folder when
//! missing); this crate brings its schema up to date with the migrations in
//! `migrations/`, at every start-up (already-applied ones are skipped).
//!
//! Choosing PostgreSQL at generation gives this file with the same names.

use anyhow::Context;
use platform::{
    database::sqlite,
    settings::{ConfigError, Env},
};

pub use sqlite::Settings;

/// The connection pool handlers query through.
pub type Pool = sqlx::Pool<Database>;

/// The engine, for the platform's types that take it (the mail outbox).
pub type Database = sqlx::Sqlite;

/// A transaction on it: `pool.begin()`, statements on `&mut *tx`, then
/// `tx.commit()` (dropped without a commit, it rolls back).
pub type Transaction<'a> = sqlx::Transaction<'a, sqlx::Sqlite>;

/// `DATABASE_URL` when it is not set: a file beside the project.
const DEFAULT_URL: &str = "sqlite://data/app.db";

/// `DATABASE_URL` and the pool's settings, read from the environment.
pub fn settings(env: &Env) -> Result<Settings, ConfigError> {
    Settings::from_env(env, DEFAULT_URL)
}

/// Opens the database and applies the migrations it lacks.
pub async fn connect(settings: &Settings) -> anyhow::Result<Pool> {
    let pool = sqlite::connect(settings).await?;
    // `build.rs` rebuilds this crate when a migration is added or changed,
    // so the binary always embeds every file in `migrations/`.
    sqlx::migrate!()
        .run(&pool)
        .await
        .context("cannot apply the database migrations in migrations/")?;
    Ok(pool)
}
