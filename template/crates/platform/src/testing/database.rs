//! A database of one test's own (with `sqlite` or `postgres`).

/// A database of one test's own, dropped with it, so tests run in parallel
/// and leave nothing behind.
pub struct TestDatabase {
    /// `DATABASE_URL` for the application under test.
    pub url: String,
    engine: TestEngine,
    /// Whether [`Self::spread_user_ids`] has run.
    spread: std::sync::atomic::AtomicBool,
}

enum TestEngine {
    /// A SQLite file in a temporary folder, deleted with it.
    #[cfg(feature = "sqlite")]
    Sqlite(#[allow(dead_code)] tempfile::TempDir),
    /// A database on the PostgreSQL server at `server`, named `name`.
    #[cfg(feature = "postgres")]
    Postgres { server: String, name: String },
}

impl TestDatabase {
    /// A SQLite file in a temporary folder (created by the application when
    /// it connects).
    #[cfg(feature = "sqlite")]
    pub fn sqlite() -> Self {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let url = format!("sqlite://{}", dir.path().join("test.db").display());
        Self {
            url,
            engine: TestEngine::Sqlite(dir),
            spread: Default::default(),
        }
    }

    /// A fresh database on the PostgreSQL server at `TEST_DATABASE_URL`
    /// (default `postgres://postgres@127.0.0.1:5432`, a user that may
    /// `CREATE DATABASE`). A server that is not there fails the test with a
    /// message saying how to provide one.
    #[cfg(feature = "postgres")]
    pub async fn postgres() -> Self {
        use std::sync::atomic::{AtomicU32, Ordering};

        use sqlx::Executor;

        static NEXT: AtomicU32 = AtomicU32::new(0);
        let server = std::env::var("TEST_DATABASE_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".to_owned())
            .trim_end_matches('/')
            .to_owned();
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .subsec_nanos();
        let name = format!(
            "test_{}_{}_{nanos}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        admin_connection(&server)
            .await
            .execute(format!(r#"CREATE DATABASE "{name}""#).as_str())
            .await
            .expect("create the test database");
        Self {
            url: format!("{server}/{name}"),
            engine: TestEngine::Postgres { server, name },
            spread: Default::default(),
        }
    }

    /// Makes the `users` table (which must exist, and be empty) number its
    /// rows from a point no other test database uses at the same time.
    ///
    /// Every test database numbers its users from 1, but tests whose
    /// sessions are in Redis share one Redis, where the stores keep an index
    /// of sessions per user id: without this, one test listing (or ending)
    /// the sessions of its user 1 would see (or end) another test's. Runs
    /// once per database; later calls do nothing.
    pub async fn spread_user_ids(&self) {
        use std::sync::atomic::{AtomicI64, Ordering};

        if self.spread.swap(true, Ordering::Relaxed) {
            return;
        }
        static NEXT: AtomicI64 = AtomicI64::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos();
        // A million ids apart, below 2^53 so JavaScript reads them exactly.
        let slot = i64::try_from(nanos % 1_000_000_000).unwrap_or_default();
        let first = (slot * 8 + NEXT.fetch_add(1, Ordering::Relaxed) % 8) * 1_000_000 + 1;
        let sql = match &self.engine {
            #[cfg(feature = "sqlite")]
            TestEngine::Sqlite(_) => format!(
                "DELETE FROM sqlite_sequence WHERE name = 'users';
                 INSERT INTO sqlite_sequence (name, seq) VALUES ('users', {});",
                first - 1
            ),
            #[cfg(feature = "postgres")]
            TestEngine::Postgres { .. } => {
                format!("ALTER TABLE users ALTER COLUMN id RESTART WITH {first}")
            }
        };
        self.execute(&sql).await;
    }

    /// Runs SQL on a connection of its own, as an operator (or a broken
    /// migration) would, behind the application's back.
    pub async fn execute(&self, sql: &str) {
        use sqlx::Connection;

        let done: Result<(), sqlx::Error> = match &self.engine {
            #[cfg(feature = "sqlite")]
            TestEngine::Sqlite(_) => {
                let url = format!("{}?mode=rwc", self.url);
                match sqlx::SqliteConnection::connect(&url).await {
                    Ok(mut connection) => {
                        sqlx::raw_sql(sql).execute(&mut connection).await.map(drop)
                    }
                    Err(err) => Err(err),
                }
            }
            #[cfg(feature = "postgres")]
            TestEngine::Postgres { .. } => match sqlx::PgConnection::connect(&self.url).await {
                Ok(mut connection) => sqlx::raw_sql(sql).execute(&mut connection).await.map(drop),
                Err(err) => Err(err),
            },
        };
        done.unwrap_or_else(|err| panic!("{sql}: {err}"));
    }

    /// The number a `SELECT COUNT(*) ...` answers, on a connection of its
    /// own.
    pub async fn count(&self, sql: &str) -> i64 {
        use sqlx::Connection;

        let counted: Result<i64, sqlx::Error> = match &self.engine {
            #[cfg(feature = "sqlite")]
            TestEngine::Sqlite(_) => match sqlx::SqliteConnection::connect(&self.url).await {
                Ok(mut connection) => sqlx::query_scalar(sql).fetch_one(&mut connection).await,
                Err(err) => Err(err),
            },
            #[cfg(feature = "postgres")]
            TestEngine::Postgres { .. } => match sqlx::PgConnection::connect(&self.url).await {
                Ok(mut connection) => sqlx::query_scalar(sql).fetch_one(&mut connection).await,
                Err(err) => Err(err),
            },
        };
        counted.unwrap_or_else(|err| panic!("{sql}: {err}"))
    }
}

#[cfg(feature = "postgres")]
async fn admin_connection(server: &str) -> sqlx::PgConnection {
    use sqlx::Connection;

    sqlx::PgConnection::connect(&format!("{server}/postgres"))
        .await
        .unwrap_or_else(|err| {
            panic!(
                "PostgreSQL is not reachable at {server} ({err}). Start it, or set \
                 TEST_DATABASE_URL to a server where this user may CREATE DATABASE."
            )
        })
}

#[cfg(feature = "postgres")]
impl Drop for TestDatabase {
    // With only `postgres`, every database is one: the pattern is then
    // irrefutable.
    #[allow(irrefutable_let_patterns)]
    fn drop(&mut self) {
        let TestEngine::Postgres { server, name } = &self.engine else {
            return;
        };
        let (server, name) = (server.clone(), name.clone());
        let shown = name.clone();
        // Drop runs inside the test's runtime, which cannot block on async
        // work: drop the database from a thread with its own runtime.
        let dropped = std::thread::spawn(move || {
            use sqlx::Executor;

            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime")
                .block_on(async {
                    admin_connection(&server)
                        .await
                        .execute(
                            format!(r#"DROP DATABASE IF EXISTS "{name}" WITH (FORCE)"#).as_str(),
                        )
                        .await
                        .map(drop)
                })
        })
        .join();
        if !matches!(dropped, Ok(Ok(()))) {
            eprintln!("could not drop test database {shown}");
        }
    }
}
