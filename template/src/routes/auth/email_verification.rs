//! Verified addresses: signup mails a link to `VERIFY_EMAIL_URL`, whose
//! page relays its token here; a signed-in user may ask for the mail again.
//!
//! Opening the link proves the address reaches the user. It need not be
//! opened in a signed-in browser (the token is the proof), and it signs no
//! one in; once it is used, every session of the account answers with
//! `email_verified: true` at once, on every instance (the platform's
//! `Sessions::refresh`).

use std::{sync::Arc, time::Duration};

use axum::{extract::State, http::StatusCode, response::IntoResponse};
use platform::{
    ApiError,
    account_tokens::{NewToken, Purpose},
    extract::{CurrentUser, Json},
    mail::{Links, Mail, Outbox},
    rate_limit::{AuthThrottle, ClientIp},
    session_store::Sessions,
};
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::{Message, UserResponse, invalid_link, take_link_token};
use crate::{
    database::{Database, Pool},
    state::AppState,
    users::{self, User},
};

/// How long a verification link works.
const LINK_LIFETIME: Duration = Duration::from_secs(48 * 3600);

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(resend))
        .routes(routes!(verify))
}

#[derive(Deserialize, ToSchema)]
#[schema(as = EmailVerification)]
struct Verify {
    token: String,
}

/// Queues the mail with a link that verifies `user`'s address; whether it
/// was queued (not when the address has had its hourly share).
pub(super) async fn mail_verification_link(
    outbox: &Outbox<Database>,
    user: &User,
) -> Result<bool, sqlx::Error> {
    let token = NewToken::new(Purpose::VerifyEmail, user.id, &user.email, LINK_LIFETIME);
    let app = outbox.app_name();
    let mail = Mail {
        to: user.email.clone(),
        subject: format!("{app}: confirm your address"),
        body: format!(
            "Welcome to {app}.\n\n\
             To confirm that {email} is your address, open this link within 48 hours:\n\n\
             {link}\n\n\
             If you did not sign up, ignore this mail.\n",
            email = user.email,
            link = Links::link(&outbox.links().verify_email, &token),
        ),
    };
    outbox.queue(&mail, Some(&token)).await
}

/// Mails the signed-in user a new verification link: 202; 409
/// `already_verified`.
#[utoipa::path(post, path = "/api/auth/email/verification", operation_id = "resend_verification", tag = "auth", security(("session_cookie" = [])),
    responses(
        (status = 202, description = "A new link is on its way", body = Message),
        (status = 401, description = "Not signed in", body = ApiError),
        (status = 409, description = "`already_verified`", body = ApiError),
        (status = 429, description = "Too many attempts", body = ApiError),
    ),
)]
async fn resend(
    State(outbox): State<Outbox<Database>>,
    State(throttle): State<Arc<AuthThrottle>>,
    client: ClientIp,
    CurrentUser(user): CurrentUser<User>,
) -> Result<impl IntoResponse, ApiError> {
    if user.email_verified {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "already_verified",
            "this address is verified already",
        ));
    }
    throttle.check_address(client)?;
    mail_verification_link(&outbox, &user).await?;
    Ok((
        StatusCode::ACCEPTED,
        Message::new("a new link is on its way"),
    ))
}

/// Verifies the address with the token from the link: 200 with the user;
/// 400 `invalid_token` for a link that is unknown, expired, used, or for an
/// address the account no longer has.
#[utoipa::path(post, path = "/api/auth/email/verify", operation_id = "verify_email", tag = "auth",
    request_body = Verify,
    responses(
        (status = 200, description = "The address is verified", body = UserResponse),
        (status = 400, description = "`invalid_token`", body = ApiError),
        (status = 429, description = "Too many attempts", body = ApiError),
    ),
)]
async fn verify(
    State(db): State<Pool>,
    State(sessions): State<Sessions>,
    State(throttle): State<Arc<AuthThrottle>>,
    client: ClientIp,
    Json(input): Json<Verify>,
) -> Result<axum::Json<UserResponse>, ApiError> {
    throttle.check_address(client)?;
    let owner = take_link_token(&db, Purpose::VerifyEmail, &input.token).await?;
    let user = users::mark_verified(&db, owner.user_id, &owner.email)
        .await?
        .ok_or_else(invalid_link)?;
    sessions.refresh(&user).await?;
    tracing::info!(user_id = user.id, "verified email");
    Ok(axum::Json(UserResponse::from(user)))
}
