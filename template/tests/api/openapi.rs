//! The OpenAPI description at `GET /api/openapi.json` against the API it
//! describes: a valid OpenAPI 3.1 document, listing the routes that are
//! served and no others, and whose response schemas the real answers of the
//! API's flows fit, so that the description cannot drift from the code
//! unnoticed. A new resource's answers get a line in
//! `answers_fit_their_schemas`.

use reqwest::{Method, Response, StatusCode};
use serde_json::{Map, Value, json};

use crate::helpers::{TestApp, spawn_app};

/// The served description, and checks of answers against it.
struct Description {
    doc: Value,
    /// The components, every object schema closed to properties it does not
    /// list: an answer with a field the description lacks fails too.
    strict_components: Value,
}

impl Description {
    async fn of(app: &TestApp) -> Self {
        let response = app.get("/api/openapi.json").await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()["content-type"], "application/json");
        let doc: Value = response.json().await.expect("JSON");
        let mut strict_components = doc["components"].clone();
        close_objects(&mut strict_components);
        Self {
            doc,
            strict_components,
        }
    }

    /// Every operation: (method, path template).
    fn operations(&self) -> Vec<(Method, String)> {
        let mut operations = Vec::new();
        for (path, item) in self.doc["paths"].as_object().expect("paths") {
            for method in item.as_object().expect("path item").keys() {
                let method = Method::from_bytes(method.to_uppercase().as_bytes()).expect("method");
                operations.push((method, path.clone()));
            }
        }
        operations
    }

    /// Checks `response`, an answer to `method path` (a path template, as
    /// the description lists it), against the description: its status is
    /// listed for the operation, and its body fits the schema given there
    /// (or it has none, if none is given). Returns the body.
    async fn check(&self, method: &str, path: &str, response: Response) -> Value {
        let status = response.status();
        let operation = &self.doc["paths"][path][method.to_lowercase()];
        assert!(
            operation.is_object(),
            "{method} {path} is not in the description"
        );
        let described = &operation["responses"][status.as_str()];
        assert!(
            described.is_object(),
            "{method} {path} answered {status}, which its description does not list"
        );
        let text = response.text().await.expect("body");
        let Some(content) = described.get("content") else {
            assert_eq!(
                text, "",
                "{method} {path} {status} is described without a body"
            );
            return Value::Null;
        };
        let schema = content["application/json"]["schema"].clone();
        assert!(
            schema.is_object(),
            "{method} {path} {status}: no JSON schema"
        );
        let body: Value = serde_json::from_str(&text).expect("a JSON body");
        let mut root = json!({
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "components": self.strict_components,
            "allOf": [schema],
        });
        close_objects(&mut root["allOf"]);
        let validator = jsonschema::options()
            .with_draft(jsonschema::Draft::Draft202012)
            .should_validate_formats(true)
            .build(&root)
            .expect("a valid JSON Schema");
        let errors: Vec<String> = validator
            .iter_errors(&body)
            .map(|err| format!("{err} at {}", err.instance_path()))
            .collect();
        assert!(
            errors.is_empty(),
            "{method} {path} {status} does not fit its schema: {errors:?}\nbody: {body}"
        );
        body
    }
}

/// Sets `additionalProperties: false` on every object schema with
/// properties that does not say otherwise.
fn close_objects(value: &mut Value) {
    match value {
        Value::Object(object) => {
            if object.contains_key("properties") && !object.contains_key("additionalProperties") {
                object.insert("additionalProperties".into(), Value::Bool(false));
            }
            object.values_mut().for_each(close_objects);
        }
        Value::Array(items) => items.iter_mut().for_each(close_objects),
        _ => {}
    }
}

/// Every `$ref` in `value`, with where it is.
fn refs<'a>(value: &'a Value, at: String, found: &mut Vec<(String, &'a str)>) {
    match value {
        Value::Object(object) => {
            for (key, item) in object {
                match (key.as_str(), item) {
                    ("$ref", Value::String(target)) => found.push((at.clone(), target)),
                    _ => refs(item, format!("{at}/{key}"), found),
                }
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                refs(item, format!("{at}/{i}"), found);
            }
        }
        _ => {}
    }
}

#[tokio::test]
async fn the_description_is_valid_openapi_3_1() {
    let app = spawn_app().await;
    let text = app
        .get("/api/openapi.json")
        .await
        .text()
        .await
        .expect("body");
    let spec = oas3::from_json(&text).expect("an OpenAPI 3.1 document");
    let version = spec.validate_version().expect("a supported version");
    assert_eq!((version.major, version.minor), (3, 1));
    let description = Description::of(&app).await;
    assert_eq!(
        spec.operations().count(),
        description.operations().len(),
        "oas3 reads every operation"
    );

    // Operation ids name the functions of generated clients: unique.
    let mut ids: Vec<&str> = spec
        .operations()
        .map(|(_, _, operation)| operation.operation_id.as_deref().expect("an operationId"))
        .collect();
    let count = ids.len();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), count, "operation ids repeat: {ids:?}");

    let mut found = Vec::new();
    refs(&description.doc, String::new(), &mut found);
    assert!(!found.is_empty());
    for (at, target) in found {
        let pointer = target
            .strip_prefix('#')
            .unwrap_or_else(|| panic!("{at}: {target} is not local"));
        assert!(
            description.doc.pointer(pointer).is_some(),
            "{at}: {target} resolves to nothing"
        );
    }

    // The session cookie is the security scheme, named as this server
    // (plain http) names it, and every operation that can answer 401
    // `unauthenticated` requires it.
    let scheme = &description.doc["components"]["securitySchemes"]["session_cookie"];
    assert_eq!(scheme["type"], "apiKey");
    assert_eq!(scheme["in"], "cookie");
    assert_eq!(scheme["name"], "sid");
    for (method, path) in description.operations() {
        let operation = &description.doc["paths"][&path][method.as_str().to_lowercase()];
        let requires_session = operation["security"]
            .as_array()
            .is_some_and(|list| list.iter().any(|s| s.get("session_cookie").is_some()));
        // Any other failure is the error body.
        if path != "/api/openapi.json" {
            assert_eq!(
                operation["responses"]["default"]["content"]["application/json"]["schema"]["$ref"],
                "#/components/schemas/Error",
                "{method} {path}: default answer"
            );
        }
        let answers_401 = operation["responses"].get("401").is_some();
        let open_with_401 = path == "/api/auth/login" || path == "/api/auth/oidc/callback";
        assert_eq!(
            requires_session,
            answers_401 && !open_with_401,
            "{method} {path}: security requirement"
        );
    }
}

/// What a route the router does not have answers.
async fn is_unrouted(response: Response) -> bool {
    let status = response.status();
    let code = response
        .json::<Value>()
        .await
        .map(|body| body["error"]["code"].clone())
        .unwrap_or_default();
    status == StatusCode::METHOD_NOT_ALLOWED
        || (status == StatusCode::NOT_FOUND && code == "not_found")
}

#[tokio::test]
async fn the_routes_described_are_the_routes_served() {
    let app = spawn_app().await;
    let description = Description::of(&app).await;
    let operations = description.operations();
    assert!(operations.len() >= 10, "{operations:?}");
    // The routers take each path from its handler's description
    // (`utoipa_axum::routes!`); this checks it from the outside. Every
    // operation described is served: without a session, with an empty
    // body, a protected one answers 401 and the others something of their
    // own, never the API's 404 for an unknown route or a 405. A path
    // parameter is given a value no row has, so a 404 there is not the
    // route's absence: an unknown id answers the same `not_found`, hence
    // the session-less requests (401 comes first).
    let mut paths: Vec<&str> = operations.iter().map(|(_, path)| path.as_str()).collect();
    paths.dedup();
    for (method, path) in &operations {
        let url = app.url(&path.replace("{id}", "987654321"));
        let response = reqwest::Client::new()
            .request(method.clone(), url)
            .json(&json!({}))
            .send()
            .await
            .expect("request sent");
        assert!(
            !is_unrouted(response).await,
            "{method} {path} is described but not served"
        );
    }
    // And no other method is served on a described path.
    for path in paths {
        for method in [
            Method::GET,
            Method::POST,
            Method::PUT,
            Method::PATCH,
            Method::DELETE,
        ] {
            if operations.contains(&(method.clone(), path.to_owned())) {
                continue;
            }
            let url = app.url(&path.replace("{id}", "987654321"));
            let response = reqwest::Client::new()
                .request(method.clone(), url)
                .json(&json!({}))
                .send()
                .await
                .expect("request sent");
            assert_eq!(
                response.status(),
                StatusCode::METHOD_NOT_ALLOWED,
                "{method} {path} is served but not described"
            );
        }
    }
}

#[tokio::test]
async fn answers_fit_their_schemas() {
    let app = spawn_app().await;
    let d = Description::of(&app).await;

    d.check("GET", "/api/health", app.get("/api/health").await)
        .await;
    d.check("GET", "/api/ready", app.get("/api/ready").await)
        .await;
    d.check(
        "GET",
        "/api/openapi.json",
        app.get("/api/openapi.json").await,
    )
    .await;

    // Not signed in: an error answer.
    d.check("GET", "/api/auth/session", app.session().await)
        .await;
    d.check("GET", "/api/notes", app.get("/api/notes").await)
        .await;

    // Signing in ({% if auth == "password" %}signup, then login from another browser{% else %}the provider's answer relayed, twice{% endif %}).
    let ada = app.another_browser();
    let signed_in = ada.sign_in_as("ada@example.com").await;
    let path = signed_in.url().path().to_owned();
    d.check("POST", &path, signed_in).await;
    let again = app.another_browser();
    let signed_in = again.sign_in_as("ada@example.com").await;
    let path = signed_in.url().path().to_owned();
    d.check("POST", &path, signed_in).await;
{%- if auth == "password" %}
    let wrong = again
        .post_json(
            "/api/auth/login",
            &json!({ "email": "ada@example.com", "password": "not the password" }),
        )
        .await;
    d.check("POST", "/api/auth/login", wrong).await;
    let forgot = app
        .post_json(
            "/api/auth/password/forgot",
            &json!({ "email": "ada@example.com" }),
        )
        .await;
    d.check("POST", "/api/auth/password/forgot", forgot).await;
{%- else %}
    let bad_return = app
        .post_json(
            "/api/auth/oidc/start",
            &json!({ "return_to": "https://elsewhere.example/" }),
        )
        .await;
    d.check("POST", "/api/auth/oidc/start", bad_return).await;
{%- endif %}
    let session = d
        .check("GET", "/api/auth/session", ada.session().await)
        .await;
    assert!(session["user"]["id"].is_i64());
    let sessions = d
        .check(
            "GET",
            "/api/auth/sessions",
            ada.get("/api/auth/sessions").await,
        )
        .await;
    assert_eq!(sessions["sessions"].as_array().map(Vec::len), Some(2));

    // The notes, created, listed, read, changed, their revisions, deleted.
    let created = ada
        .post_json(
            "/api/notes",
            &json!({ "title": "Groceries", "body": "milk" }),
        )
        .await;
    let note = d.check("POST", "/api/notes", created).await["note"].clone();
    let path = format!("/api/notes/{}", note["id"]);
    ada.post_json("/api/notes", &json!({ "title": "Second" }))
        .await;
    let page = d
        .check("GET", "/api/notes", ada.get("/api/notes?limit=1").await)
        .await;
    assert!(page["next"].is_string(), "a page with a next one: {page}");
    let last = d
        .check("GET", "/api/notes", ada.get("/api/notes").await)
        .await;
    assert!(last["next"].is_null(), "the last page: {last}");
    d.check("GET", "/api/notes/{id}", ada.get(&path).await)
        .await;
    let patched = ada.patch_json(&path, &json!({ "body": "eggs" })).await;
    d.check("PATCH", "/api/notes/{id}", patched).await;
    let revisions = ada.get(&format!("{path}/revisions")).await;
    d.check("GET", "/api/notes/{id}/revisions", revisions).await;
    let refused = ada.post_json("/api/notes", &json!({ "title": " " })).await;
    d.check("POST", "/api/notes", refused).await;
    d.check("DELETE", "/api/notes/{id}", ada.delete(&path).await)
        .await;
    d.check("GET", "/api/notes/{id}", ada.get(&path).await)
        .await;

    // Ending the other browser's session, then signing out.
    let other = sessions["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["current"] == false)
        .expect("the other session");
    let ended = ada
        .delete(&format!(
            "/api/auth/sessions/{}",
            other["id"].as_str().unwrap()
        ))
        .await;
    d.check("DELETE", "/api/auth/sessions/{id}", ended).await;
    d.check("POST", "/api/auth/logout", ada.logout().await)
        .await;
}

/// The error body every failure has, as the description names it.
#[tokio::test]
async fn errors_are_described_once() {
    let app = spawn_app().await;
    let d = Description::of(&app).await;
    let error = &d.doc["components"]["schemas"]["Error"];
    assert_eq!(error["required"], json!(["error"]));
    let detail = &d.doc["components"]["schemas"]["ErrorDetail"];
    let mut properties: Vec<&String> = detail["properties"]
        .as_object()
        .map(Map::keys)
        .unwrap()
        .collect();
    properties.sort();
    assert_eq!(properties, ["code", "message"]);
}
