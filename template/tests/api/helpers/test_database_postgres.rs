//! Each test's own database: a fresh PostgreSQL database on the server at
//! `TEST_DATABASE_URL` (default `postgres://postgres@127.0.0.1:5432`), dropped
//! when the test ends. Tests therefore run in parallel and leave nothing
//! behind. A server that is not there fails the test with a message saying
//! how to provide one.

use std::sync::atomic::{AtomicU32, Ordering};

use sqlx::{Connection, Executor, PgConnection};

const DEFAULT_SERVER: &str = "postgres://postgres@127.0.0.1:5432";

pub struct TestDatabase {
    /// `DATABASE_URL` for the application under test.
    pub url: String,
    server: String,
    name: String,
}

impl TestDatabase {
    pub async fn create() -> Self {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let server = std::env::var("TEST_DATABASE_URL")
            .unwrap_or_else(|_| DEFAULT_SERVER.to_owned())
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
        let mut admin = admin_connection(&server).await;
        admin
            .execute(format!(r#"CREATE DATABASE "{name}""#).as_str())
            .await
            .expect("create the test database");
        Self {
            url: format!("{server}/{name}"),
            server,
            name,
        }
    }
}

impl TestDatabase {
    /// Runs SQL on a connection of its own, as an operator (or a broken
    /// migration) would, behind the application's back.
    pub async fn execute(&self, sql: &str) {
        let mut connection = PgConnection::connect(&self.url)
            .await
            .expect("connect to the test database");
        sqlx::raw_sql(sql)
            .execute(&mut connection)
            .await
            .unwrap_or_else(|err| panic!("{sql}: {err}"));
    }
}

async fn admin_connection(server: &str) -> PgConnection {
    PgConnection::connect(&format!("{server}/postgres"))
        .await
        .unwrap_or_else(|err| {
            panic!(
                "PostgreSQL is not reachable at {server} ({err}). Start it, or set \
                 TEST_DATABASE_URL to a server where this user may CREATE DATABASE."
            )
        })
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let (server, name) = (self.server.clone(), self.name.clone());
        // Drop runs inside the test's runtime, which cannot block on async
        // work: drop the database from a thread with its own runtime.
        let dropped = std::thread::spawn(move || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime")
                .block_on(async {
                    let mut admin = admin_connection(&server).await;
                    admin
                        .execute(
                            format!(r#"DROP DATABASE IF EXISTS "{name}" WITH (FORCE)"#).as_str(),
                        )
                        .await
                        .map(|_| ())
                })
        })
        .join();
        if !matches!(dropped, Ok(Ok(()))) {
            eprintln!("could not drop test database {}", self.name);
        }
    }
}
