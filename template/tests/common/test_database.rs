//! Each test's own database: a SQLite file in a temporary folder, deleted
//! with it when the test ends.

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
