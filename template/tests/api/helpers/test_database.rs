//! Each test's own database: a SQLite file in a temporary folder, deleted
//! with it when the test ends.

use sqlx::{Connection, SqliteConnection};
use tempfile::TempDir;

pub struct TestDatabase {
    /// `DATABASE_URL` for the application under test.
    pub url: String,
    _dir: TempDir,
}

impl TestDatabase {
    pub async fn create() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}", dir.path().join("test.db").display());
        Self { url, _dir: dir }
    }
}

impl TestDatabase {
    /// Runs SQL on a connection of its own, as an operator (or a broken
    /// migration) would, behind the application's back.
    pub async fn execute(&self, sql: &str) {
        let mut connection = SqliteConnection::connect(&self.url)
            .await
            .expect("connect to the test database");
        sqlx::raw_sql(sql)
            .execute(&mut connection)
            .await
            .unwrap_or_else(|err| panic!("{sql}: {err}"));
    }
}
