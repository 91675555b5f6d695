//! The example resource, end to end: what every resource of this API must
//! do. Copy these tests when you add one.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_no_store, error_code, spawn_app};

async fn create(user: &TestApp, title: &str, body: &str) -> Value {
    let response = user
        .post_json("/api/notes", &json!({ "title": title, "body": body }))
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    assert_no_store(&response);
    response.json::<Value>().await.unwrap()["note"].clone()
}

#[tokio::test]
async fn create_read_update_delete() {
    let app = spawn_app().await;
    let ada = app.user("ada@example.com").await;

    let note = create(&ada, "  Groceries ", "milk, eggs").await;
    assert_eq!(note["title"], "Groceries", "titles are trimmed");
    assert_eq!(note["body"], "milk, eggs");
    assert_eq!(note["created_at"], note["updated_at"]);
    assert!(note["created_at"].as_str().unwrap().ends_with('Z'));
    let keys: Vec<&str> = note
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys, ["body", "created_at", "id", "title", "updated_at"]);
    let path = format!("/api/notes/{}", note["id"]);

    let read = ada.get(&path).await;
    assert_eq!(read.status(), StatusCode::OK);
    assert_no_store(&read);
    assert_eq!(read.json::<Value>().await.unwrap()["note"], note);

    let patched = ada.patch_json(&path, &json!({ "body": "milk" })).await;
    assert_eq!(patched.status(), StatusCode::OK);
    let patched = patched.json::<Value>().await.unwrap()["note"].clone();
    assert_eq!(patched["title"], "Groceries", "fields not given stay");
    assert_eq!(patched["body"], "milk");
    assert_eq!(patched["created_at"], note["created_at"]);
    assert!(patched["updated_at"].as_str() >= note["updated_at"].as_str());

    let unchanged = ada.patch_json(&path, &json!({})).await;
    assert_eq!(unchanged.status(), StatusCode::OK);
    assert_eq!(unchanged.json::<Value>().await.unwrap()["note"], patched);

    let deleted = ada.delete(&path).await;
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    assert_no_store(&deleted);
    assert_eq!(
        error_code(ada.get(&path).await, StatusCode::NOT_FOUND).await,
        "not_found"
    );
    assert_eq!(
        error_code(ada.delete(&path).await, StatusCode::NOT_FOUND).await,
        "not_found"
    );
}

#[tokio::test]
async fn another_users_notes_are_indistinguishable_from_missing_ones() {
    let app = spawn_app().await;
    let ada = app.user("ada@example.com").await;
    let bob = app.user("bob@example.com").await;
    let secret = create(&ada, "Ada's secret", "only Ada may read this").await;
    let path = format!("/api/notes/{}", secret["id"]);
    let missing = "/api/notes/999999999";

    for target in [path.as_str(), missing] {
        let read = bob.get(target).await;
        assert_no_store(&read);
        let read = read.json::<Value>().await.unwrap();
        let patch = bob
            .patch_json(target, &json!({ "title": "Bob was here" }))
            .await
            .json::<Value>()
            .await
            .unwrap();
        let delete = bob.delete(target).await.json::<Value>().await.unwrap();
        // The same answers, byte for byte, for Ada's note and for none.
        for body in [read, patch, delete] {
            assert_eq!(
                body,
                json!({ "error": { "code": "not_found", "message": "no such resource" } }),
                "{target}"
            );
        }
    }
    let bobs_list = bob.get("/api/notes").await.json::<Value>().await.unwrap();
    assert_eq!(bobs_list, json!({ "notes": [], "next": null }));

    // Ada's note is untouched.
    let read = ada.get(&path).await.json::<Value>().await.unwrap();
    assert_eq!(read["note"], secret);
}

#[tokio::test]
async fn lists_are_newest_first_and_paged() {
    let app = spawn_app().await;
    let ada = app.user("ada@example.com").await;
    let bob = app.user("bob@example.com").await;
    for n in 0..5 {
        create(&ada, &format!("note {n}"), "").await;
        create(&bob, &format!("bob's {n}"), "").await;
    }

    let mut titles = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let path = match &cursor {
            Some(after) => format!("/api/notes?limit=2&after={after}"),
            None => "/api/notes?limit=2".to_owned(),
        };
        let page = ada.get(&path).await;
        assert_eq!(page.status(), StatusCode::OK);
        assert_no_store(&page);
        let page = page.json::<Value>().await.unwrap();
        let notes = page["notes"].as_array().unwrap();
        assert!(notes.len() <= 2);
        titles.extend(
            notes
                .iter()
                .map(|n| n["title"].as_str().unwrap().to_owned()),
        );
        pages += 1;
        match page["next"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(titles, ["note 4", "note 3", "note 2", "note 1", "note 0"]);

    // The default page holds them all; `next` is null on the last page.
    let all = ada.get("/api/notes").await.json::<Value>().await.unwrap();
    assert_eq!(all["notes"].as_array().unwrap().len(), 5);
    assert_eq!(all["next"], Value::Null);
}

#[tokio::test]
async fn a_page_never_holds_more_than_the_maximum() {
    let app = spawn_app().await;
    let ada = app.user("ada@example.com").await;
    for n in 0..101 {
        create(&ada, &format!("note {n}"), "").await;
    }
    let page = ada
        .get("/api/notes?limit=100")
        .await
        .json::<Value>()
        .await
        .unwrap();
    assert_eq!(page["notes"].as_array().unwrap().len(), 100);
    let rest = ada
        .get(&format!(
            "/api/notes?after={}",
            page["next"].as_str().unwrap()
        ))
        .await
        .json::<Value>()
        .await
        .unwrap();
    assert_eq!(rest["notes"].as_array().unwrap().len(), 1);
    assert_eq!(rest["notes"][0]["title"], "note 0");
    // Without `limit`, 20.
    let first = ada.get("/api/notes").await.json::<Value>().await.unwrap();
    assert_eq!(first["notes"].as_array().unwrap().len(), 20);
}

/// Notes of control characters take six bytes per character in JSON: a
/// full page of the longest would be 6 MB. Pages end near 512 KiB instead,
/// and the cursors still lead through every note.
#[tokio::test]
async fn a_page_stays_bounded_in_bytes_whatever_the_notes_hold() {
    let app = spawn_app().await;
    let ada = app.user("ada@example.com").await;
    let body = "\u{1}".repeat(10_000);
    for n in 0..30 {
        create(&ada, &format!("note {n}"), &body).await;
    }
    let mut seen = 0;
    let mut path = "/api/notes?limit=100".to_owned();
    loop {
        let response = ada.get(&path).await;
        assert_eq!(response.status(), StatusCode::OK);
        let bytes = response.bytes().await.unwrap();
        assert!(bytes.len() <= 600 * 1024, "a page of {} bytes", bytes.len());
        let page: Value = serde_json::from_slice(&bytes).unwrap();
        let notes = page["notes"].as_array().unwrap();
        assert!(!notes.is_empty());
        seen += notes.len();
        match page["next"].as_str() {
            Some(next) => path = format!("/api/notes?limit=100&after={next}"),
            None => break,
        }
    }
    assert_eq!(seen, 30);
}

#[tokio::test]
async fn bad_input_gets_json_422_and_changes_nothing() {
    let app = spawn_app().await;
    let ada = app.user("ada@example.com").await;
    let note = create(&ada, "kept", "as it was").await;
    let path = format!("/api/notes/{}", note["id"]);

    for query in [
        "limit=0",
        "limit=101",
        "limit=-1",
        "limit=ten",
        "limit=99999999999",
        "after=abc",
        "after=1.5",
    ] {
        let response = ada.get(&format!("/api/notes?{query}")).await;
        assert_no_store(&response);
        let code = error_code(response, StatusCode::UNPROCESSABLE_ENTITY).await;
        assert!(
            ["invalid_input", "invalid_query"].contains(&code.as_str()),
            "{query}: {code}"
        );
    }

    let long_title = "t".repeat(201);
    let long_body = "b".repeat(10_001);
    let invalid = [
        json!({ "title": "", "body": "x" }),
        json!({ "title": "   ", "body": "x" }),
        json!({ "title": long_title, "body": "x" }),
        json!({ "title": "ok", "body": long_body }),
        json!({ "title": "nul\u{0}", "body": "x" }),
        json!({ "title": "ok", "body": "nul\u{0}" }),
        json!({ "title": 42 }),
    ];
    for body in &invalid {
        for response in [
            ada.post_json("/api/notes", body).await,
            ada.patch_json(&path, body).await,
        ] {
            assert_no_store(&response);
            let code = error_code(response, StatusCode::UNPROCESSABLE_ENTITY).await;
            assert!(
                ["invalid_input", "invalid_body"].contains(&code.as_str()),
                "{body}: {code}"
            );
        }
    }
    // A new note needs a title; a change does not.
    let untitled = ada.post_json("/api/notes", &json!({ "body": "x" })).await;
    error_code(untitled, StatusCode::UNPROCESSABLE_ENTITY).await;

    // The longest allowed title and body, in characters, not bytes.
    let longest = create(&ada, &"é".repeat(200), &"é".repeat(10_000)).await;
    assert_eq!(longest["title"].as_str().unwrap().chars().count(), 200);

    let kept = ada.get(&path).await.json::<Value>().await.unwrap();
    assert_eq!(kept["note"]["title"], "kept");
    assert_eq!(kept["note"]["body"], "as it was");

    // Ids that are not numbers name nothing.
    for id in ["abc", "1e3", "-", "99999999999999999999"] {
        let response = ada.get(&format!("/api/notes/{id}")).await;
        assert_eq!(
            error_code(response, StatusCode::NOT_FOUND).await,
            "not_found",
            "{id}"
        );
    }
}

#[tokio::test]
async fn every_route_needs_a_session() {
    let app = spawn_app().await;
    let ada = app.user("ada@example.com").await;
    let note = create(&ada, "private", "").await;
    let path = format!("/api/notes/{}", note["id"]);
    ada.logout().await;

    let anonymous = app.another_browser();
    for response in [
        anonymous.get("/api/notes").await,
        anonymous
            .post_json("/api/notes", &json!({ "title": "x" }))
            .await,
        anonymous.get(&path).await,
        anonymous.patch_json(&path, &json!({ "title": "x" })).await,
        anonymous.delete(&path).await,
        ada.get(&path).await,
    ] {
        assert_no_store(&response);
        assert_eq!(
            error_code(response, StatusCode::UNAUTHORIZED).await,
            "unauthenticated"
        );
    }
}

/// Deleting a user behind the application's back (on a connection of its
/// own, not through `DELETE /api/auth/account`) may leave a session that
/// still names the user (a Redis store keeps it until it expires); a note
/// for an account that is gone is refused as for nobody signed in.
#[tokio::test]
async fn an_account_deleted_behind_the_apps_back_cannot_write_notes() {
    let app = spawn_app().await;
    let ada = app.user("ada@example.com").await;
    app.database.execute("DELETE FROM users").await;
    let refused = ada
        .post_json("/api/notes", &json!({ "title": "orphan", "body": "" }))
        .await;
    assert_eq!(
        error_code(refused, StatusCode::UNAUTHORIZED).await,
        "unauthenticated"
    );
}

#[tokio::test]
async fn deleting_a_user_deletes_their_notes() {
    let app = spawn_app().await;
    let ada = app.user("ada@example.com").await;
    create(&ada, "gone with Ada", "").await;
    assert_eq!(ada.delete_account().await.status(), StatusCode::NO_CONTENT);
    let left: Vec<(i64,)> = sqlx::query_as("SELECT id FROM notes")
        .fetch_all(&app.state.db)
        .await
        .unwrap();
    assert!(left.is_empty(), "{left:?}");
    // Her session ends with her account.
    assert_eq!(
        error_code(ada.get("/api/notes").await, StatusCode::UNAUTHORIZED).await,
        "unauthenticated"
    );
}

/// A resource with a second table: every version of a note is kept in
/// `note_revisions`, written in the same transaction as the note, read
/// through the note (so only its owner sees them), newest first and paged,
/// and deleted with it.
#[tokio::test]
async fn every_version_of_a_note_is_kept_in_its_own_table() {
    let app = spawn_app().await;
    let ada = app.user("ada@example.com").await;
    let bob = app.user("bob@example.com").await;
    let note = create(&ada, "draft", "first").await;
    let path = format!("/api/notes/{}", note["id"]);
    for change in [json!({ "title": "final" }), json!({ "body": "second" })] {
        let updated = ada.patch_json(&path, &change).await;
        assert_eq!(updated.status(), StatusCode::OK);
    }

    let response = ada.get(&format!("{path}/revisions")).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_no_store(&response);
    let page: Value = response.json().await.unwrap();
    let versions: Vec<(&str, &str)> = page["revisions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["title"].as_str().unwrap(), r["body"].as_str().unwrap()))
        .collect();
    assert_eq!(
        versions,
        [("final", "second"), ("final", "first"), ("draft", "first")],
        "newest first, the first being the note as it is"
    );
    assert_eq!(page["next"], Value::Null);

    // Paged like the notes themselves.
    let first: Value = ada
        .get(&format!("{path}/revisions?limit=2"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(first["revisions"].as_array().unwrap().len(), 2);
    let next = first["next"].as_str().expect("a next cursor");
    let rest: Value = ada
        .get(&format!("{path}/revisions?limit=2&after={next}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(rest["revisions"][0]["title"], "draft");

    // Another user's note's versions are as missing as the note.
    assert_eq!(
        error_code(
            bob.get(&format!("{path}/revisions")).await,
            StatusCode::NOT_FOUND
        )
        .await,
        "not_found"
    );
    // They go with the note.
    assert_eq!(ada.delete(&path).await.status(), StatusCode::NO_CONTENT);
    let left: (i64,) = sqlx::query_as("SELECT COUNT(*) FROM note_revisions")
        .fetch_one(&app.state.db)
        .await
        .unwrap();
    assert_eq!(left.0, 0);
}
