//! Expired sessions are deleted by a background task that outlives database
//! errors: while the session table is unreachable it logs and retries, and
//! once the table is back the expired rows go. For each engine's table.

use std::time::Duration;

use platform::{
    database::{Engine, postgres, sqlite},
    session_store::{Table, spawn_cleanup_every},
    settings::Env,
};
use tower_sessions::{
    SessionStore,
    cookie::time::{self, OffsetDateTime},
    session::{Id, Record},
};

use crate::harness::{Store, TestDatabase};

#[tokio::test]
async fn clean_up_survives_database_errors_and_resumes() {
    for store in [Store::Sqlite, Store::Postgres] {
        let database = TestDatabase::create(store).await;
        let lookup = |name: &str| (name == "DATABASE_URL").then(|| database.url.clone());
        let env = Env::new(&lookup);
        if store.is_postgres() {
            let settings = postgres::Settings::from_env(&env, "").unwrap();
            let pool = postgres::connect(&settings).await.expect("database");
            // ALTER TABLE keeps the schema: the moved table is renamed back.
            let names = ("session_away", "tower_sessions.session_away", "session");
            check(&database, Table::open(&pool).await.unwrap(), names).await;
        } else {
            let settings = sqlite::Settings::from_env(&env, "").unwrap();
            let pool = sqlite::connect(&settings).await.expect("database");
            let names = (
                "tower_sessions_away",
                "tower_sessions_away",
                "tower_sessions",
            );
            check(&database, Table::open(&pool).await.unwrap(), names).await;
        }
    }
}

/// `(renamed, renamed as addressed, original name)` of the session table.
async fn check<E: Engine>(
    database: &TestDatabase,
    store: Table<E>,
    (renamed, renamed_qualified, original): (&str, &str, &str),
) {
    let table = database.store.session_table();
    let mut expired = Record {
        id: Id::default(),
        data: Default::default(),
        expiry_date: OffsetDateTime::now_utc() - time::Duration::hours(1),
    };
    store.create(&mut expired).await.expect("session saved");
    let count = format!("SELECT COUNT(*) FROM {table}");
    let rows = || database.count(&count);
    assert_eq!(rows().await, 1);

    // The table disappears: every clean-up run fails.
    database
        .execute(&format!("ALTER TABLE {table} RENAME TO {renamed}"))
        .await;
    let cleanup = spawn_cleanup_every(store.clone(), Duration::from_millis(20));
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(!cleanup.is_finished(), "the clean-up task died on an error");

    // It comes back: the next run deletes the expired session.
    database
        .execute(&format!(
            "ALTER TABLE {renamed_qualified} RENAME TO {original}"
        ))
        .await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while rows().await != 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "expired session still there"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    cleanup.abort();
}
