//! Hosted login: start, callback, logout, "who am I" and account deletion,
//! as JSON over a session cookie.
//!
//! The protocol, and what a sign-in keeps in this browser's session between
//! its two calls, are the platform's (`platform::oidc`, `oidc::login`); the
//! handlers here decide what an account is (`users`: the provider's issuer
//! and subject) and what the API shows of it.

use std::sync::Arc;

use axum::{
    Router,
    extract::State,
    http::StatusCode,
    response::{IntoResponse, Response},
    routing::{delete, get, post},
};
use platform::{
    ApiError,
    extract::{CurrentUser, Json, UserAgent},
    oidc::{Provider, login},
    rate_limit::{AuthThrottle, ClientIp},
    session,
    session_store::Sessions,
};
use serde::{Deserialize, Serialize};
use serde_json::json;
use tower_sessions::Session;

use crate::{
    database::Pool,
    state::AppState,
    users::{self, User},
};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/auth/oidc/start", post(start))
        .route("/api/auth/oidc/callback", post(callback))
        .route("/api/auth/session", get(current_session))
        .route("/api/auth/logout", post(logout))
        .route("/api/auth/account", delete(delete_account))
}

/// `{"user": ...}`: what the API shows of an account. Built field by field
/// from the row, so a new column stays private until it is added here.
#[derive(Serialize)]
struct UserResponse {
    user: UserJson,
}

#[derive(Serialize)]
struct UserJson {
    id: i64,
    email: Option<String>,
    name: Option<String>,
}

impl From<User> for UserJson {
    fn from(user: User) -> Self {
        Self {
            id: user.id,
            email: user.email,
            name: user.name,
        }
    }
}

#[derive(Deserialize)]
struct StartRequest {
    /// A path on the frontend to come back to once signed in.
    return_to: Option<String>,
}

/// `{"authorization_url"}`: the frontend sends the browser there. Each
/// start stores a session for the browser and, once answered, costs a call
/// to the provider, so starts draw on the client address's allowance
/// (`AUTH_ATTEMPTS_PER_IP`), as password logins do.
async fn start(
    State(provider): State<Provider>,
    State(throttle): State<Arc<AuthThrottle>>,
    client: ClientIp,
    session: Session,
    Json(input): Json<StartRequest>,
) -> Result<impl IntoResponse, ApiError> {
    throttle.check_address(client)?;
    let url = login::start(&provider, &session, input.return_to.as_deref()).await?;
    Ok(axum::Json(json!({ "authorization_url": url.as_str() })))
}

/// The provider's answer, relayed by the frontend page it came back to.
async fn callback(
    State(provider): State<Provider>,
    State(db): State<Pool>,
    State(sessions): State<Sessions>,
    session: Session,
    user_agent: UserAgent,
    Json(input): Json<login::Callback>,
) -> Result<impl IntoResponse, ApiError> {
    let verified = login::finish(&provider, &session, input).await?;
    let identity = verified.identity;
    let user = users::upsert_by_subject(
        &db,
        &identity.issuer,
        &identity.subject,
        identity.email.as_deref(),
        identity.name.as_deref(),
    )
    .await?;
    session::sign_in(&session, &user, user_agent).await?;
    login::signed_in(&provider, &session, sessions.lifetime(), identity).await?;
    // The provider may have changed the email or name: the account's other
    // sessions show the new ones.
    sessions.refresh(&user).await?;
    tracing::info!(user_id = user.id, "signed in through the identity provider");
    Ok(axum::Json(json!({
        "user": UserJson::from(user),
        "return_to": verified.return_to,
    })))
}

async fn current_session(CurrentUser(user): CurrentUser<User>) -> axum::Json<UserResponse> {
    axum::Json(UserResponse { user: user.into() })
}

/// Ends the session here always; when the provider supports RP-initiated
/// logout, answers where the browser goes to end it there too.
async fn logout(State(provider): State<Provider>, session: Session) -> Result<Response, ApiError> {
    match login::log_out(&provider, &session).await? {
        Some(url) => Ok(axum::Json(json!({ "end_session_url": url.as_str() })).into_response()),
        None => Ok(StatusCode::NO_CONTENT.into_response()),
    }
}

/// Deletes the signed-in account, with its rows, and ends every session it
/// has, in this browser and all others, on every instance. The identity at
/// the provider is the provider's: signing in with it again starts a new,
/// empty account. (The CSRF layer keeps other sites from calling this; a
/// re-authentication at the provider, `max_age=0`, would also guard against a
/// session left open on a shared computer.)
async fn delete_account(
    State(db): State<Pool>,
    State(sessions): State<Sessions>,
    CurrentUser(user): CurrentUser<User>,
    session: Session,
) -> Result<StatusCode, ApiError> {
    users::delete(&db, user.id).await?;
    sessions.end_all_of(user.id).await?;
    session::sign_out(&session).await?;
    tracing::info!(user_id = user.id, "deleted account");
    Ok(StatusCode::NO_CONTENT)
}
