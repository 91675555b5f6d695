//! Each test's own database, on the engine and session store the test picks:
//! a SQLite file in a temporary folder, or a fresh PostgreSQL database on
//! the server at `TEST_DATABASE_URL` (default
//! `postgres://postgres@127.0.0.1:5432`), dropped when the test ends; and
//! Redis at `TEST_REDIS_URL` (default `redis://127.0.0.1:6379`) for sessions
//! when the test picks it. Tests therefore run in parallel and leave nothing
//! behind.

/// Where a test keeps its users and its sessions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Store {
    /// SQLite, sessions in its table.
    Sqlite,
    /// SQLite, sessions in its table behind the in-memory cache (the
    /// default project's store).
    SqliteCached,
    /// PostgreSQL, sessions in its table.
    Postgres,
    /// SQLite for users, sessions in Redis.
    Redis,
    /// PostgreSQL for users, sessions in Redis.
    PostgresRedis,
}

impl Store {
    /// Every store, for tests of what each must do.
    pub const ALL: [Store; 5] = [
        Store::Sqlite,
        Store::SqliteCached,
        Store::Postgres,
        Store::Redis,
        Store::PostgresRedis,
    ];
    /// The stores several instances can share.
    pub const SHARED: [Store; 3] = [Store::Postgres, Store::Redis, Store::PostgresRedis];

    pub fn is_postgres(self) -> bool {
        matches!(self, Store::Postgres | Store::PostgresRedis)
    }

    pub fn is_redis(self) -> bool {
        matches!(self, Store::Redis | Store::PostgresRedis)
    }

    /// The session table, where sessions are in a table.
    pub fn session_table(self) -> &'static str {
        if self.is_postgres() {
            "tower_sessions.session"
        } else {
            "tower_sessions"
        }
    }
}

/// The users table every store's sessions follow, and a table the tests'
/// own routes read (`things`).
const SCHEMA_SQLITE: &str = "
    CREATE TABLE IF NOT EXISTS users (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        email TEXT NOT NULL UNIQUE,
        password_hash TEXT NOT NULL DEFAULT ''
    );
    CREATE TABLE IF NOT EXISTS known_devices (
        token_digest TEXT PRIMARY KEY,
        user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        created_at TEXT NOT NULL
    );
    CREATE TABLE IF NOT EXISTS things (id INTEGER PRIMARY KEY, title TEXT NOT NULL);
    CREATE TABLE IF NOT EXISTS account_tokens (
        digest TEXT PRIMARY KEY,
        user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        purpose TEXT NOT NULL,
        email TEXT NOT NULL,
        expires_at INTEGER NOT NULL
    );
    CREATE TABLE IF NOT EXISTS mail_outbox (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        recipient TEXT NOT NULL,
        subject TEXT NOT NULL,
        body TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at INTEGER NOT NULL,
        sent_at INTEGER
    );";
const SCHEMA_POSTGRES: &str = "
    CREATE TABLE IF NOT EXISTS users (
        id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        email TEXT NOT NULL UNIQUE,
        password_hash TEXT NOT NULL DEFAULT ''
    );
    CREATE TABLE IF NOT EXISTS known_devices (
        token_digest TEXT PRIMARY KEY,
        user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        created_at TIMESTAMPTZ NOT NULL
    );
    CREATE TABLE IF NOT EXISTS things (id BIGINT PRIMARY KEY, title TEXT NOT NULL);
    CREATE TABLE IF NOT EXISTS account_tokens (
        digest TEXT PRIMARY KEY,
        user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        purpose TEXT NOT NULL,
        email TEXT NOT NULL,
        expires_at BIGINT NOT NULL
    );
    CREATE TABLE IF NOT EXISTS mail_outbox (
        id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        recipient TEXT NOT NULL,
        subject TEXT NOT NULL,
        body TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at BIGINT NOT NULL,
        sent_at BIGINT
    );";

/// A test's database (the platform's test support: a SQLite file or a
/// fresh PostgreSQL database), with the tables the tests' application uses,
/// and where its sessions are.
pub struct TestDatabase {
    pub store: Store,
    /// `DATABASE_URL` for the application under test.
    pub url: String,
    /// `REDIS_URL`, when sessions are in Redis.
    pub redis_url: Option<String>,
    database: platform::testing::TestDatabase,
}

impl TestDatabase {
    pub async fn create(store: Store) -> Self {
        let redis_url = store.is_redis().then(|| {
            std::env::var("TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
        });
        let (database, schema) = if store.is_postgres() {
            (
                platform::testing::TestDatabase::postgres().await,
                SCHEMA_POSTGRES,
            )
        } else {
            (platform::testing::TestDatabase::sqlite(), SCHEMA_SQLITE)
        };
        database.execute(schema).await;
        database.spread_user_ids().await;
        Self {
            store,
            url: database.url.clone(),
            redis_url,
            database,
        }
    }

    /// Runs SQL on a connection of its own, as an operator (or a broken
    /// migration) would, behind the application's back.
    pub async fn execute(&self, sql: &str) {
        self.database.execute(sql).await;
    }

    /// The number a `SELECT COUNT(*) ...` answers, on a connection of its
    /// own.
    pub async fn count(&self, sql: &str) -> i64 {
        self.database.count(sql).await
    }
}
