//! The in-memory session cache (`session_store/cached.rs`) in front of the
//! SQLite table: warm reads stay off the store, every write is seen at once,
//! and an account deleted through the application ends its sessions at once.

use reqwest::StatusCode;

use crate::harness::{LOGGED_OUT, cookie_pair, session_set_cookie, spawn_app};

#[tokio::test]
async fn a_warm_session_read_does_not_touch_the_store() {
    let app = spawn_app().await;
    app.sign_in_new_user().await;
    // The first read after signing in loads the session from the table.
    assert_eq!(app.session().await.status(), StatusCode::OK);
    let loads = app.cache().store_loads();
    for _ in 0..20 {
        assert_eq!(app.session().await.status(), StatusCode::OK);
    }
    assert_eq!(
        app.cache().store_loads(),
        loads,
        "warm reads went to the store"
    );
}

#[tokio::test]
async fn logout_ends_a_warm_session_at_once() {
    let app = spawn_app().await;
    let signed_in = app.sign_in_new_user().await;
    let cookie = cookie_pair(&session_set_cookie(signed_in.headers()).expect("a session cookie"));
    for _ in 0..3 {
        assert_eq!(
            app.session_with_cookie(&cookie).await.status(),
            StatusCode::OK
        );
    }
    assert_eq!(app.logout().await.status(), LOGGED_OUT);
    assert_eq!(
        app.session_with_cookie(&cookie).await.status(),
        StatusCode::UNAUTHORIZED,
        "the logged-out session was served from memory"
    );
}

#[tokio::test]
async fn the_old_id_of_a_warm_session_dies_at_login() {
    let app = spawn_app().await;
    let signed_in = app.sign_in_as("ada@example.com").await;
    let old = cookie_pair(&session_set_cookie(signed_in.headers()).expect("a session cookie"));
    assert_eq!(app.session_with_cookie(&old).await.status(), StatusCode::OK);
    // Signing in again from the same browser rotates the id.
    app.sign_in_as("ada@example.com").await;
    assert_eq!(
        app.session_with_cookie(&old).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(app.session().await.status(), StatusCode::OK);
}

/// Sessions carry their user and the cache holds them, so deleting the
/// account through the API must empty the cache of them: every browser of
/// the account is signed out at its next request.
#[tokio::test]
async fn a_deleted_account_is_signed_out_at_once_despite_warm_sessions() {
    let app = spawn_app().await;
    let other_browser = app.another_browser();
    app.sign_in_as("ada@example.com").await;
    other_browser.sign_in_as("ada@example.com").await;
    for _ in 0..3 {
        assert_eq!(app.session().await.status(), StatusCode::OK);
        assert_eq!(other_browser.session().await.status(), StatusCode::OK);
    }
    let loads = app.cache().store_loads();
    assert_eq!(app.delete_account().await.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        other_browser.session().await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert!(
        app.cache().store_loads() > loads,
        "the store was read again"
    );
}

/// Deleting a user behind the application's back (on a connection of its
/// own) deletes the user's session rows (the foreign key), but the cache
/// goes on serving them until they leave it (`TIME_TO_LIVE`). What needs
/// the account in the database is refused meanwhile (the application's
/// foreign keys).
#[tokio::test]
async fn an_account_deleted_behind_the_apps_back_loses_its_session_rows() {
    let app = spawn_app().await;
    app.sign_in_new_user().await;
    assert_eq!(app.session().await.status(), StatusCode::OK);
    app.database.execute("DELETE FROM users").await;
    let rows: i64 = on_db!(&app.state.db, |pool| {
        sqlx::query_scalar("SELECT COUNT(*) FROM tower_sessions")
            .fetch_one(pool)
            .await
            .unwrap()
    });
    assert_eq!(rows, 0, "the session rows went with the account");
}
