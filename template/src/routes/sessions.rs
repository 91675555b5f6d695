//! The signed-in user's own sessions: every browser signed in to the
//! account, and a way to end any of them ("sign out the laptop I left at
//! work").
//!
//! The platform's `Sessions` finds a user's sessions through the store's
//! index by user, so the list is complete across instances, and ending one
//! deletes it from the store, so no instance serves it again. Each session
//! is named by a random handle it was given at sign-in, never by its
//! cookie's id: the list can be shown without handing anyone a session.

use axum::{extract::State, http::StatusCode};
use platform::{
    ApiError,
    extract::{CurrentUser, Path},
    session::{self, Summary},
    session_store::Sessions,
};
use serde::Serialize;
use time::OffsetDateTime;
use tower_sessions::Session;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{state::AppState, users::User};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list))
        .routes(routes!(end))
}

/// `{"sessions": [...]}`, the most recently active first.
#[derive(Serialize, ToSchema)]
struct SessionsResponse {
    sessions: Vec<SessionJson>,
}

/// One session as the API shows it.
#[derive(Serialize, ToSchema)]
#[schema(as = Session)]
struct SessionJson {
    /// The handle `DELETE /api/auth/sessions/{id}` takes.
    id: String,
    #[serde(with = "time::serde::rfc3339")]
    created_at: OffsetDateTime,
    /// As precise as the store's writes: a session is written again once
    /// half of its idle timeout has passed, not on every request.
    #[serde(with = "time::serde::rfc3339")]
    last_seen_at: OffsetDateTime,
    /// The browser's `User-Agent` at sign-in, shortened; `null` if it sent
    /// none.
    #[schema(required)]
    user_agent: Option<String>,
    /// Whether this is the session that asked.
    current: bool,
}

impl SessionJson {
    fn new(summary: Summary, current: Option<&str>) -> Self {
        Self {
            current: current == Some(summary.handle.as_str()),
            id: summary.handle,
            created_at: summary.signed_in_at,
            last_seen_at: summary.last_seen_at,
            user_agent: summary.user_agent,
        }
    }
}

/// The signed-in user's sessions, the most recently active first.
#[utoipa::path(get, path = "/api/auth/sessions", operation_id = "list_sessions", tag = "sessions", security(("session_cookie" = [])),
    responses(
        (status = 200, description = "Every session of the account", body = SessionsResponse),
        (status = 401, description = "Not signed in", body = ApiError),
    ),
)]
async fn list(
    State(sessions): State<Sessions>,
    CurrentUser(user): CurrentUser<User>,
    session: Session,
) -> Result<axum::Json<SessionsResponse>, ApiError> {
    let current = session::handle(&session).await?;
    let listed = sessions.list_of(user.id).await?;
    Ok(axum::Json(SessionsResponse {
        sessions: listed
            .into_iter()
            .map(|summary| SessionJson::new(summary, current.as_deref()))
            .collect(),
    }))
}

/// Ends one of the caller's sessions, at once on every instance: 204, or
/// 404 for a handle that names none of them (another user's included).
/// Ending the caller's own session is a logout: its cookie is removed too.
#[utoipa::path(delete, path = "/api/auth/sessions/{id}", operation_id = "end_session", tag = "sessions", security(("session_cookie" = [])),
    params(("id" = String, Path, description = "A session's `id` from the list")),
    responses(
        (status = 204, description = "That session ended"),
        (status = 401, description = "Not signed in", body = ApiError),
        (status = 404, description = "Not one of the caller's sessions", body = ApiError),
    ),
)]
async fn end(
    State(sessions): State<Sessions>,
    CurrentUser(user): CurrentUser<User>,
    session: Session,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    if session::handle(&session).await?.as_deref() == Some(id.as_str()) {
        session::sign_out(&session).await?;
    } else if !sessions.end_one_of(user.id, &id).await? {
        return Err(ApiError::not_found());
    }
    tracing::info!(user_id = user.id, "ended a session");
    Ok(StatusCode::NO_CONTENT)
}
