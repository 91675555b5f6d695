//! Expired sessions are deleted by a background task that outlives database
//! errors: while the session table is unreachable it logs and retries, and
//! once the table is back the expired rows go.

use std::time::Duration;

use crate::helpers::TestDatabase;
use tower_sessions::{
    SessionStore,
    cookie::time::{self, OffsetDateTime},
    session::{Id, Record},
};

use {{crate_name}}::{database, session_store};

/// The session table as the store creates it.
const TABLE: &str = "{% if database == "postgres" %}tower_sessions.session{% else %}tower_sessions{% endif %}";
/// The same table renamed out of the way (ALTER TABLE keeps the schema).
const RENAMED: &str = "{% if database == "postgres" %}session_away{% else %}tower_sessions_away{% endif %}";
const RENAMED_QUALIFIED: &str = "{% if database == "postgres" %}tower_sessions.session_away{% else %}tower_sessions_away{% endif %}";
const ORIGINAL_NAME: &str = "{% if database == "postgres" %}session{% else %}tower_sessions{% endif %}";

#[tokio::test]
async fn clean_up_survives_database_errors_and_resumes() {
    let test_database = TestDatabase::create().await;
    let db = database::connect(&database::Settings {
        url: test_database.url.clone(),
        max_connections: 4,
        timeout: Duration::from_secs(3),
    })
    .await
    .expect("database");
    let store = session_store::open(&session_store::Settings, &db)
        .await
        .expect("session store");
    let mut expired = Record {
        id: Id::default(),
        data: Default::default(),
        expiry_date: OffsetDateTime::now_utc() - time::Duration::hours(1),
    };
    store.create(&mut expired).await.expect("session saved");
    let rows = || async {
        let count: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {TABLE}"))
            .fetch_one(&db)
            .await
            .expect("count");
        count
    };
    assert_eq!(rows().await, 1);

    // The table disappears: every clean-up run fails.
    sqlx::query(&format!("ALTER TABLE {TABLE} RENAME TO {RENAMED}"))
        .execute(&db)
        .await
        .unwrap();
    let cleanup = session_store::spawn_cleanup_every(store.clone(), Duration::from_millis(20));
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(!cleanup.is_finished(), "the clean-up task died on an error");

    // It comes back: the next run deletes the expired session.
    sqlx::query(&format!(
        "ALTER TABLE {RENAMED_QUALIFIED} RENAME TO {ORIGINAL_NAME}"
    ))
    .execute(&db)
    .await
    .unwrap();
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
