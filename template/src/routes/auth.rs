//! Signup, login, logout and "who am I", as JSON over a session cookie.
//!
//! The handlers validate input, delegate hashing to `password`, storage to
//! `users` and cookie state to `session`, and answer the shapes documented in
//! the README. Unknown email and wrong password share one answer, so login
//! does not reveal which accounts exist.

use axum::{
    extract::State,
    http::{StatusCode, header},
    response::IntoResponse,
};
use serde::Deserialize;
use serde_json::json;
use tower_sessions::Session;

use super::AppState;
use crate::{
    error::ApiError,
    extract::{CurrentUser, Json},
    password,
    rate_limit::ClientIp,
    session, users,
};

/// Passwords are counted in characters; the upper bound caps Argon2 work
/// per request and still allows long passphrases.
const PASSWORD_CHARS: std::ops::RangeInclusive<usize> = 8..=128;
/// RFC 5321's limit on a forward path.
const MAX_EMAIL_LEN: usize = 254;

/// The body of signup and login.
#[derive(Deserialize)]
pub struct EmailPassword {
    email: String,
    password: String,
}

pub async fn signup(
    State(state): State<AppState>,
    client: ClientIp,
    session: Session,
    Json(input): Json<EmailPassword>,
) -> Result<impl IntoResponse, ApiError> {
    let email = normalise_email(&input.email)?;
    let count = input.password.chars().count();
    if !PASSWORD_CHARS.contains(&count) {
        return Err(invalid(format!(
            "password must be {} to {} characters",
            PASSWORD_CHARS.start(),
            PASSWORD_CHARS.end()
        )));
    }
    state.throttle.check(client, &email)?;
    let hash = password::hash(input.password).await.map_err(internal)?;
    let user = users::insert(&state.db, &email, &hash)
        .await?
        .map_err(|users::EmailTaken| {
            ApiError::new(
                StatusCode::CONFLICT,
                "email_taken",
                "an account with this email exists",
            )
        })?;
    session::sign_in(&session, user.id).await?;
    tracing::info!(user_id = user.id, "signed up");
    Ok((StatusCode::CREATED, axum::Json(json!({ "user": user }))))
}

pub async fn login(
    State(state): State<AppState>,
    client: ClientIp,
    session: Session,
    Json(input): Json<EmailPassword>,
) -> Result<impl IntoResponse, ApiError> {
    let wrong = || {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "invalid_credentials",
            "email or password is incorrect",
        )
    };
    // Over-long input cannot match any stored account; refuse it before
    // spending Argon2 time on it.
    let (Ok(email), true) = (
        normalise_email(&input.email),
        input.password.chars().count() <= *PASSWORD_CHARS.end(),
    ) else {
        return Err(wrong());
    };
    state.throttle.check(client, &email)?;
    let found = users::credentials_by_email(&state.db, &email).await?;
    // Verify against a dummy hash when the user is unknown, so both failures
    // cost the same time.
    let hash = found
        .as_ref()
        .map_or_else(|| state.dummy_hash.clone(), |c| c.password_hash.clone());
    let matches = password::verify(input.password, hash)
        .await
        .map_err(internal)?;
    let Some(credentials) = found.filter(|_| matches) else {
        return Err(wrong());
    };
    session::sign_in(&session, credentials.user.id).await?;
    tracing::info!(user_id = credentials.user.id, "logged in");
    Ok(axum::Json(json!({ "user": credentials.user })))
}

pub async fn current_session(CurrentUser(user): CurrentUser) -> impl IntoResponse {
    // Per-user data must not be stored by shared caches or the back/forward cache.
    (
        [(header::CACHE_CONTROL, "no-store")],
        axum::Json(json!({ "user": user })),
    )
}

pub async fn logout(session: Session) -> Result<StatusCode, ApiError> {
    session::sign_out(&session).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Trims and lowercases an email and checks its basic shape. Delivery is the
/// only real proof of an address; this only refuses what cannot be one.
fn normalise_email(raw: &str) -> Result<String, ApiError> {
    let email = raw.trim().to_lowercase();
    let shape_ok = email.len() <= MAX_EMAIL_LEN
        && !email.chars().any(|c| c.is_whitespace() || c.is_control())
        && matches!(email.split_once('@'), Some((local, domain))
            if !local.is_empty() && domain.contains('.') && !domain.starts_with('.')
                && !domain.ends_with('.') && !domain.contains('@'));
    if shape_ok {
        Ok(email)
    } else {
        Err(invalid("email is not a valid address".into()))
    }
}

fn invalid(message: String) -> ApiError {
    ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_input", message)
}

fn internal(err: anyhow::Error) -> ApiError {
    tracing::error!(error = %err, "password hashing or verification failed");
    ApiError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal",
        "something went wrong",
    )
}
