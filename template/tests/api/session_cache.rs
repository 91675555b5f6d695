//! The in-memory session cache of the SQLite project (`src/session_cache.rs`):
//! warm reads stay off the store, every write is seen at once, and a deleted
//! account still ends its sessions at once.

use reqwest::StatusCode;

use crate::helpers::{LOGGED_OUT, cookie_pair, session_set_cookie, spawn_app};

#[tokio::test]
async fn a_warm_session_read_does_not_touch_the_store() {
    let app = spawn_app().await;
    app.sign_in_new_user().await;
    // The first read after signing in loads the session from the table.
    assert_eq!(app.session().await.status(), StatusCode::OK);
    let loads = app.state.session_store.store_loads();
    for _ in 0..20 {
        assert_eq!(app.session().await.status(), StatusCode::OK);
    }
    assert_eq!(
        app.state.session_store.store_loads(),
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

/// The session is in memory, but the account is read on every request: an
/// account deleted behind the application's back (by an operator, on a
/// connection of their own) is signed out at its next request.
#[tokio::test]
async fn a_deleted_account_is_signed_out_at_once_despite_a_warm_session() {
    let app = spawn_app().await;
    app.sign_in_new_user().await;
    for _ in 0..3 {
        assert_eq!(app.session().await.status(), StatusCode::OK);
    }
    app.database.execute("DELETE FROM users").await;
    assert_eq!(app.session().await.status(), StatusCode::UNAUTHORIZED);
}
