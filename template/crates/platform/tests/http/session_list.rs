//! A user's list of their own sessions, and ending one of them by its
//! handle (`Sessions::list_of`, `Sessions::end_one_of`): on every store, and
//! on two instances of a shared one, a session ended from one browser is
//! refused at once everywhere, a cached copy included.

use std::sync::Arc;

use reqwest::StatusCode;
use serde_json::Value;

use crate::harness::{
    PASSWORD, Store, TestApp, TestDatabase, cookie_pair, new_email, session_set_cookie,
    spawn_instance,
};

/// Two browsers with different `User-Agent`s signed in as one account: on
/// one instance, or (shared stores) on two instances of one store; and the
/// session cookies (`name=value`) they were given.
async fn two_browsers(store: Store) -> (TestApp, TestApp, Vec<String>) {
    let database = Arc::new(TestDatabase::create(store).await);
    let first = spawn_instance(&database, &[]).await;
    let second = if Store::SHARED.contains(&store) {
        spawn_instance(&database, &[]).await
    } else {
        first.another_browser()
    };
    let email = new_email();
    first.create_account(&email).await;
    let mut cookies = Vec::new();
    for (browser, agent) in [(&first, "Laptop/1.0"), (&second, "Phone/2.0")] {
        let login = browser
            .client
            .post(browser.url("/api/auth/login"))
            .header("user-agent", agent)
            .json(&serde_json::json!({"email": email, "password": PASSWORD}))
            .send()
            .await
            .unwrap();
        assert_eq!(login.status(), StatusCode::OK, "{store:?}");
        let set_cookie = session_set_cookie(login.headers()).expect("a session cookie");
        cookies.push(cookie_pair(&set_cookie));
    }
    (first, second, cookies)
}

async fn sessions(app: &TestApp) -> Vec<Value> {
    let listed = app.get("/api/auth/sessions").await;
    assert_eq!(listed.status(), StatusCode::OK);
    let body: Value = listed.json().await.unwrap();
    body["sessions"].as_array().unwrap().clone()
}

#[tokio::test]
async fn each_browser_lists_both_sessions_and_knows_its_own() {
    for store in Store::ALL {
        let (first, second, cookies) = two_browsers(store).await;
        let seen_by_first = sessions(&first).await;
        assert_eq!(seen_by_first.len(), 2, "{store:?}: {seen_by_first:?}");
        let current: Vec<_> = seen_by_first
            .iter()
            .filter(|s| s["current"] == true)
            .collect();
        assert_eq!(current.len(), 1, "{store:?}");
        assert_eq!(current[0]["user_agent"], "Laptop/1.0", "{store:?}");
        let mut agents: Vec<_> = seen_by_first
            .iter()
            .map(|s| s["user_agent"].as_str().unwrap().to_owned())
            .collect();
        agents.sort();
        assert_eq!(agents, ["Laptop/1.0", "Phone/2.0"], "{store:?}");

        let seen_by_second = sessions(&second).await;
        let own = seen_by_second
            .iter()
            .find(|s| s["current"] == true)
            .unwrap();
        assert_eq!(own["user_agent"], "Phone/2.0", "{store:?}");
        // The handle is the same whoever lists it, and it is not the cookie.
        assert!(
            seen_by_first.iter().any(|s| s["id"] == own["id"]),
            "{store:?}"
        );
        for listed in &seen_by_first {
            let handle = listed["id"].as_str().unwrap();
            assert!(handle.len() >= 22, "{handle}");
            for cookie in &cookies {
                assert!(!cookie.contains(handle), "{cookie} {handle}");
            }
        }
    }
}

#[tokio::test]
async fn a_session_ended_from_another_browser_is_refused_at_once() {
    for store in Store::ALL {
        let (first, second, _) = two_browsers(store).await;
        // Twice: the second read is the one a cache would answer.
        for _ in 0..2 {
            assert_eq!(second.session().await.status(), StatusCode::OK, "{store:?}");
        }
        let listed = sessions(&first).await;
        let other = listed.iter().find(|s| s["current"] == false).unwrap();
        let path = format!("/api/auth/sessions/{}", other["id"].as_str().unwrap());

        let ended = first.delete(&path).await;
        assert_eq!(ended.status(), StatusCode::NO_CONTENT, "{store:?}");
        assert_eq!(
            second.session().await.status(),
            StatusCode::UNAUTHORIZED,
            "{store:?}: the ended session still answers"
        );
        assert_eq!(first.session().await.status(), StatusCode::OK, "{store:?}");
        assert_eq!(sessions(&first).await.len(), 1, "{store:?}");
        // Once ended, the handle names nothing.
        assert_eq!(first.delete(&path).await.status(), StatusCode::NOT_FOUND);
    }
}

#[tokio::test]
async fn a_handle_of_another_account_ends_nothing() {
    let database = Arc::new(TestDatabase::create(Store::SqliteCached).await);
    let mallory = spawn_instance(&database, &[]).await;
    let ada = mallory.another_browser();
    mallory.sign_in_as(&new_email()).await;
    ada.sign_in_as(&new_email()).await;
    let adas = sessions(&ada).await;
    let path = format!("/api/auth/sessions/{}", adas[0]["id"].as_str().unwrap());

    assert_eq!(mallory.delete(&path).await.status(), StatusCode::NOT_FOUND);
    assert_eq!(ada.session().await.status(), StatusCode::OK);
    for junk in ["x", "%00", &"a".repeat(5000)] {
        let answer = mallory.delete(&format!("/api/auth/sessions/{junk}")).await;
        assert_eq!(answer.status(), StatusCode::NOT_FOUND, "{junk:.20}");
    }
    mallory.logout().await;
    assert_eq!(
        mallory.delete(&path).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        mallory.get("/api/auth/sessions").await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(ada.session().await.status(), StatusCode::OK);
}
