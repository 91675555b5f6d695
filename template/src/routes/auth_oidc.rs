//! Hosted login: start, callback, logout, "who am I" and account deletion,
//! as JSON over a session cookie.
//!
//! The protocol, and what a sign-in keeps in this browser's session between
//! its two calls, are the platform's (`platform::oidc`, `oidc::login`); the
//! handlers here decide what an account is (`users`: the provider's issuer
//! and subject) and what the API shows of it.

use std::sync::Arc;

use axum::{
    extract::State,
    http::StatusCode,
    response::{IntoResponse, Response},
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
use tower_sessions::Session;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{
    database::Pool,
    state::AppState,
    users::{self, User},
};

/// The paths are in each handler's `#[utoipa::path]`.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(start))
        .routes(routes!(callback))
        .routes(routes!(current_session))
        .routes(routes!(logout))
        .routes(routes!(delete_account))
}

/// `{"user": ...}`: what the API shows of an account. Built field by field
/// from the row, so a new column stays private until it is added here.
#[derive(Serialize, ToSchema)]
struct UserResponse {
    user: UserJson,
}

/// An account as the API shows it: what the provider said of it, if
/// anything (`null` otherwise).
#[derive(Serialize, ToSchema)]
#[schema(as = User)]
struct UserJson {
    id: i64,
    #[schema(required)]
    email: Option<String>,
    #[schema(required)]
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

#[derive(Deserialize, ToSchema)]
struct StartRequest {
    /// A path on the frontend to come back to once signed in.
    return_to: Option<String>,
}

/// `{"authorization_url"}`: the frontend sends the browser there. Each
/// start stores a session for the browser and, once answered, costs a call
/// to the provider, so starts draw on the client address's allowance
/// (`AUTH_ATTEMPTS_PER_IP`), as password logins do.
#[utoipa::path(post, path = "/api/auth/oidc/start", operation_id = "start_login", tag = "auth",
    request_body = StartRequest,
    responses(
        (status = 200, description = "Where to send the browser", body = AuthorizationUrl),
        (status = 400, description = "`invalid_return_to`: not a relative path", body = ApiError),
        (status = 429, description = "Too many attempts", body = ApiError),
        (status = 503, description = "The provider cannot be reached yet", body = ApiError),
    ),
)]
async fn start(
    State(provider): State<Provider>,
    State(throttle): State<Arc<AuthThrottle>>,
    client: ClientIp,
    session: Session,
    Json(input): Json<StartRequest>,
) -> Result<impl IntoResponse, ApiError> {
    throttle.check_address(client)?;
    let url = login::start(&provider, &session, input.return_to.as_deref()).await?;
    Ok(axum::Json(AuthorizationUrl {
        authorization_url: url.into(),
    }))
}

/// `{"authorization_url"}`: the provider's login page for this sign-in.
#[derive(Serialize, ToSchema)]
struct AuthorizationUrl {
    authorization_url: String,
}

/// `{"user", "return_to"}`: signed in, and where the frontend goes next.
#[derive(Serialize, ToSchema)]
struct SignedIn {
    user: UserJson,
    /// The path given to start, or `/`.
    return_to: String,
}

/// `{"end_session_url"}`: where the browser goes to sign out at the
/// provider too.
#[derive(Serialize, ToSchema)]
struct EndSession {
    end_session_url: String,
}

/// The provider's answer, relayed by the frontend page it came back to.
#[utoipa::path(post, path = "/api/auth/oidc/callback", operation_id = "finish_login", tag = "auth",
    request_body = login::Callback,
    responses(
        (status = 200, description = "Signed in with a new session id", body = SignedIn),
        (status = 400, description = "An unknown, expired or mismatched `state`: nothing signed in", body = ApiError),
        (status = 401, description = "The provider refused, or a token failed validation", body = ApiError),
        (status = 503, description = "The provider cannot be reached", body = ApiError),
    ),
)]
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
    Ok(axum::Json(SignedIn {
        user: user.into(),
        return_to: verified.return_to,
    }))
}

/// Who is signed in.
#[utoipa::path(get, path = "/api/auth/session", tag = "auth", security(("session_cookie" = [])),
    responses(
        (status = 200, description = "The signed-in user", body = UserResponse),
        (status = 401, description = "Not signed in", body = ApiError),
    ),
)]
async fn current_session(CurrentUser(user): CurrentUser<User>) -> axum::Json<UserResponse> {
    axum::Json(UserResponse { user: user.into() })
}

/// Ends the session here always; when the provider supports RP-initiated
/// logout, answers where the browser goes to end it there too.
#[utoipa::path(post, path = "/api/auth/logout", tag = "auth",
    responses(
        (status = 200, description = "Signed out here; the browser goes there to sign out at the provider", body = EndSession),
        (status = 204, description = "Signed out (the provider has no logout page)"),
    ),
)]
async fn logout(State(provider): State<Provider>, session: Session) -> Result<Response, ApiError> {
    match login::log_out(&provider, &session).await? {
        Some(url) => Ok(axum::Json(EndSession {
            end_session_url: url.into(),
        })
        .into_response()),
        None => Ok(StatusCode::NO_CONTENT.into_response()),
    }
}

/// Deletes the signed-in account, with its rows, and ends every session it
/// has, in this browser and all others, on every instance. The identity at
/// the provider is the provider's: signing in with it again starts a new,
/// empty account. (The CSRF layer keeps other sites from calling this; a
/// re-authentication at the provider, `max_age=0`, would also guard against a
/// session left open on a shared computer.)
#[utoipa::path(delete, path = "/api/auth/account", tag = "auth", security(("session_cookie" = [])),
    responses(
        (status = 204, description = "The account and its sessions are gone"),
        (status = 401, description = "Not signed in", body = ApiError),
    ),
)]
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
