//! The tests' own application: a few routes that use the platform the way an
//! application does (sign in, read the signed-in user, change and delete the
//! account, read a table), and the state they share. Nothing here is an
//! application's real API; it is what the platform must serve correctly.

use std::sync::Arc;

use axum::{
    Router,
    extract::{FromRef, State},
    http::StatusCode,
    response::IntoResponse,
    routing::{delete, get, patch, post},
};
use platform::{
    ApiError,
    cookie_policy::CookiePolicy,
    extract::{CurrentUser, Json, Path, UserAgent},
    password::Passwords,
    probes,
    rate_limit::{AuthThrottle, ClientIp},
    session::{self, Account},
    session_store::Sessions,
};
use serde::{Deserialize, Serialize};
use serde_json::json;
use tower_sessions::Session;

/// The database, whichever engine the test picked.
#[derive(Clone, Debug)]
pub enum Db {
    Sqlite(sqlx::SqlitePool),
    Postgres(sqlx::PgPool),
}

/// The tests' user, as the application's `User` would be.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TestUser {
    pub id: i64,
    pub email: String,
}

impl Account for TestUser {
    type Source = Db;

    fn id(&self) -> i64 {
        self.id
    }

    async fn find(db: &Db, id: i64) -> Result<Option<Self>, sqlx::Error> {
        let row: Option<(i64, String)> = on_db!(db, |pool| {
            sqlx::query_as("SELECT id, email FROM users WHERE id = $1")
                .bind(id)
                .fetch_optional(pool)
                .await?
        });
        Ok(row.map(|(id, email)| TestUser { id, email }))
    }
}

#[derive(Clone, FromRef)]
pub struct TestState {
    pub db: Db,
    pub sessions: Sessions,
    pub passwords: Passwords,
    pub throttle: Arc<AuthThrottle>,
    pub cookie_policy: CookiePolicy,
}

/// The password every test account has.
pub const PASSWORD: &str = "a long passphrase";

/// The routes the tests call; a test adds its own with `spawn_app_with_api`.
pub fn api() -> Router<TestState> {
    Router::new()
        .route("/api/auth/signup", post(signup))
        .route("/api/auth/login", post(login))
        .route("/api/auth/session", get(current_session))
        .route("/api/auth/logout", post(logout))
        .route("/api/auth/account", delete(delete_account))
        .route("/api/auth/sessions", get(list_sessions))
        .route("/api/auth/sessions/{handle}", delete(end_session))
        .route("/api/auth/email", patch(change_email))
        .route("/api/things", get(things))
        .route("/api/test/accounts", post(create_account))
        .fallback(|| async { ApiError::not_found() })
}

/// The probes, as an application lists them.
pub fn probes() -> Router<TestState> {
    Router::new()
        .route(
            "/api/health",
            get(|| async { axum::Json(json!({ "status": "ok" })) }),
        )
        .route("/api/ready", get(ready))
        .method_not_allowed_fallback(|| async {
            ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "this path does not accept that method",
            )
        })
}

async fn ready(State(db): State<Db>, State(sessions): State<Sessions>) -> impl IntoResponse {
    let mut readiness = probes::Readiness::default();
    match &db {
        Db::Sqlite(pool) => {
            readiness
                .check("database", probes::ping_database(pool))
                .await
        }
        Db::Postgres(pool) => {
            readiness
                .check("database", probes::ping_database(pool))
                .await
        }
    }
    readiness.check("session_store", sessions.ping()).await;
    readiness.answer()
}

#[derive(Deserialize)]
struct Credentials {
    email: String,
    password: String,
}

/// `{"user": ...}`
fn user_answer(user: &TestUser) -> axum::Json<serde_json::Value> {
    axum::Json(json!({ "user": { "id": user.id, "email": user.email } }))
}

/// Hashes the password with Argon2 (the platform's hashing slots), creates
/// the account and signs it in: 201, or 409 when it exists.
async fn signup(
    State(db): State<Db>,
    State(passwords): State<Passwords>,
    State(throttle): State<Arc<AuthThrottle>>,
    client: ClientIp,
    session: Session,
    user_agent: UserAgent,
    Json(input): Json<Credentials>,
) -> Result<impl IntoResponse, ApiError> {
    throttle.check(client, &input.email)?;
    let hash = passwords.hash(input.password).await?;
    let created = insert_user(&db, &input.email, &hash).await?;
    let Some(user) = created else {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "email_taken",
            "an account with this email exists",
        ));
    };
    session::sign_in(&session, &user, user_agent).await?;
    Ok((StatusCode::CREATED, user_answer(&user)))
}

#[derive(Deserialize)]
struct NewAccount {
    email: String,
}

/// Creates an account whose password is [`PASSWORD`], without Argon2, so
/// that tests that sign in often stay fast; 204 when it exists already.
async fn create_account(
    State(db): State<Db>,
    Json(input): Json<NewAccount>,
) -> Result<StatusCode, ApiError> {
    insert_user(&db, &input.email, "").await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Signs an existing account in with [`PASSWORD`]; any other password, or
/// an unknown email: 401.
async fn login(
    State(db): State<Db>,
    State(throttle): State<Arc<AuthThrottle>>,
    client: ClientIp,
    session: Session,
    user_agent: UserAgent,
    Json(input): Json<Credentials>,
) -> Result<impl IntoResponse, ApiError> {
    throttle.check_address(client)?;
    let found = find_by_email(&db, &input.email).await?;
    let Some(user) = found.filter(|_| input.password == PASSWORD) else {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "invalid_credentials",
            "email or password is incorrect",
        ));
    };
    session::sign_in(&session, &user, user_agent).await?;
    Ok(user_answer(&user))
}

async fn current_session(
    CurrentUser(user): CurrentUser<TestUser>,
) -> axum::Json<serde_json::Value> {
    user_answer(&user)
}

/// The signed-in user's sessions, as an application lists them.
async fn list_sessions(
    State(sessions): State<Sessions>,
    CurrentUser(user): CurrentUser<TestUser>,
    session: Session,
) -> Result<axum::Json<serde_json::Value>, ApiError> {
    let current = session::handle(&session).await?;
    let listed: Vec<_> = sessions
        .list_of(user.id)
        .await?
        .into_iter()
        .map(|summary| {
            json!({
                "id": summary.handle,
                "created_at": summary.signed_in_at.unix_timestamp(),
                "last_seen_at": summary.last_seen_at.unix_timestamp(),
                "user_agent": summary.user_agent,
                "current": current.as_deref() == Some(summary.handle.as_str()),
            })
        })
        .collect();
    Ok(axum::Json(json!({ "sessions": listed })))
}

/// Ends one of the signed-in user's sessions by its handle: 204, or 404.
async fn end_session(
    State(sessions): State<Sessions>,
    CurrentUser(user): CurrentUser<TestUser>,
    Path(handle): Path<String>,
) -> Result<StatusCode, ApiError> {
    if sessions.end_one_of(user.id, &handle).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found())
    }
}

async fn logout(session: Session) -> Result<StatusCode, ApiError> {
    session::sign_out(&session).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Deletes the account and ends all its sessions, as an application does.
async fn delete_account(
    State(db): State<Db>,
    State(sessions): State<Sessions>,
    CurrentUser(user): CurrentUser<TestUser>,
    session: Session,
) -> Result<StatusCode, ApiError> {
    on_db!(&db, |pool| {
        sqlx::query("DELETE FROM users WHERE id = $1")
            .bind(user.id)
            .execute(pool)
            .await
            .map(drop)?
    });
    sessions.end_all_of(user.id).await?;
    session::sign_out(&session).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
struct NewEmail {
    email: String,
}

/// Changes the account and refreshes every session's copy of it, as an
/// application does after any change to a user.
async fn change_email(
    State(db): State<Db>,
    State(sessions): State<Sessions>,
    CurrentUser(user): CurrentUser<TestUser>,
    Json(input): Json<NewEmail>,
) -> Result<impl IntoResponse, ApiError> {
    on_db!(&db, |pool| {
        sqlx::query("UPDATE users SET email = $1 WHERE id = $2")
            .bind(&input.email)
            .bind(user.id)
            .execute(pool)
            .await
            .map(drop)?
    });
    let changed = TestUser {
        id: user.id,
        email: input.email,
    };
    sessions.refresh(&changed).await?;
    Ok(user_answer(&changed))
}

/// Reads a table of the tests' own, for a signed-in user.
async fn things(
    State(db): State<Db>,
    CurrentUser(_user): CurrentUser<TestUser>,
) -> Result<impl IntoResponse, ApiError> {
    let titles: Vec<String> = on_db!(&db, |pool| {
        sqlx::query_scalar("SELECT title FROM things ORDER BY id")
            .fetch_all(pool)
            .await?
    });
    Ok(axum::Json(json!({ "things": titles })))
}

async fn insert_user(db: &Db, email: &str, hash: &str) -> Result<Option<TestUser>, sqlx::Error> {
    let inserted: Result<(i64, String), sqlx::Error> = on_db!(db, |pool| {
        sqlx::query_as(
            "INSERT INTO users (email, password_hash) VALUES ($1, $2) RETURNING id, email",
        )
        .bind(email)
        .bind(hash)
        .fetch_one(pool)
        .await
    });
    match inserted {
        Ok((id, email)) => Ok(Some(TestUser { id, email })),
        Err(sqlx::Error::Database(err)) if err.is_unique_violation() => Ok(None),
        Err(err) => Err(err),
    }
}

async fn find_by_email(db: &Db, email: &str) -> Result<Option<TestUser>, sqlx::Error> {
    let row: Option<(i64, String)> = on_db!(db, |pool| {
        sqlx::query_as("SELECT id, email FROM users WHERE email = $1")
            .bind(email)
            .fetch_optional(pool)
            .await?
    });
    Ok(row.map(|(id, email)| TestUser { id, email }))
}
