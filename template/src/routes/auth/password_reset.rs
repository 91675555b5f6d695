//! "Forgot password": a link by mail to a frontend page where a new password
//! is chosen.
//!
//! Asking says nothing about whether the address has an account: the answer
//! is the same 202, and it is sent before the account is even looked up (the
//! look-up and the queueing run after it), so it takes the same time too.
//! The link carries a one-time token (the platform's `account_tokens`)
//! valid for 30 minutes, queued with its mail in one transaction (the
//! platform's `mail`). Using it sets the password, voids every other link,
//! ends every session of the account and signs in the browser that used it,
//! which need not be the one that asked: the token is the proof, and the
//! browser that asked is never signed in by someone else's use of it.

use std::{sync::Arc, time::Duration};

use axum::{extract::State, http::StatusCode, response::IntoResponse};
use platform::{
    ApiError,
    account_tokens::{self, NewToken, Purpose},
    extract::{Json, UserAgent},
    mail::{Links, Mail, Outbox},
    password::Passwords,
    rate_limit::{AuthThrottle, ClientIp},
    session,
    session_store::Sessions,
};
use serde::Deserialize;
use tower_sessions::Session;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::{
    Message, UserResponse, check_new_password, invalid_link, normalise_email, take_link_token,
};
use crate::{
    database::{Database, Pool},
    state::AppState,
    users,
};

/// How long a reset link works.
const LINK_LIFETIME: Duration = Duration::from_secs(30 * 60);

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(forgot))
        .routes(routes!(reset))
}

#[derive(Deserialize, ToSchema)]
#[schema(as = ForgottenPassword)]
struct Forgot {
    email: String,
}

#[derive(Deserialize, ToSchema)]
#[schema(as = PasswordReset)]
struct Reset {
    token: String,
    password: String,
}

/// 202 for any well-formed address; a reset link is mailed if an account
/// has it.
#[utoipa::path(post, path = "/api/auth/password/forgot", operation_id = "forgot_password", tag = "auth",
    request_body = Forgot,
    responses(
        (status = 202, description = "The same answer whether or not an account has the address", body = Message),
        (status = 422, description = "Not an address", body = ApiError),
        (status = 429, description = "Too many attempts", body = ApiError),
    ),
)]
async fn forgot(
    State(db): State<Pool>,
    State(outbox): State<Outbox<Database>>,
    State(throttle): State<Arc<AuthThrottle>>,
    client: ClientIp,
    Json(input): Json<Forgot>,
) -> Result<impl IntoResponse, ApiError> {
    let email = normalise_email(&input.email)?;
    throttle.check_address(client)?;
    tokio::spawn(async move {
        if let Err(err) = mail_reset_link(&db, &outbox, &email).await {
            tracing::warn!(error = %err, "queueing a password reset mail failed");
        }
    });
    Ok((
        StatusCode::ACCEPTED,
        Message::new("if an account uses this address, a link to reset its password is on its way"),
    ))
}

/// Queues the reset mail for the account with `email`, if there is one.
async fn mail_reset_link(
    db: &Pool,
    outbox: &Outbox<Database>,
    email: &str,
) -> Result<(), sqlx::Error> {
    let Some(account) = users::credentials_by_email(db, email).await? else {
        return Ok(());
    };
    let user = account.user;
    let token = NewToken::new(Purpose::ResetPassword, user.id, &user.email, LINK_LIFETIME);
    let app = outbox.app_name();
    let mail = Mail {
        to: user.email.clone(),
        subject: format!("{app}: reset your password"),
        body: format!(
            "Someone, hopefully you, asked to reset the password of the {app} account\n\
             of {email}.\n\n\
             To choose a new password, open this link within 30 minutes:\n\n\
             {link}\n\n\
             If you did not ask for this, ignore this mail: your password stays as it is.\n",
            email = user.email,
            link = Links::link(&outbox.links().reset_password, &token),
        ),
    };
    outbox.queue(&mail, Some(&token)).await?;
    Ok(())
}

/// Sets a new password with the token from a reset link: 200 and this
/// browser signed in; 400 `invalid_token` for a link that is unknown,
/// expired, used, or for an address the account no longer has.
#[utoipa::path(post, path = "/api/auth/password/reset", operation_id = "reset_password", tag = "auth",
    request_body = Reset,
    responses(
        (status = 200, description = "The password is set; this browser is signed in, every other session ended", body = UserResponse),
        (status = 400, description = "`invalid_token`", body = ApiError),
        (status = 422, description = "A password of other than 8 to 128 characters", body = ApiError),
        (status = 429, description = "Too many attempts", body = ApiError),
    ),
)]
#[expect(
    clippy::too_many_arguments,
    reason = "an axum handler takes one extractor per part of the request it uses"
)]
async fn reset(
    State(db): State<Pool>,
    State(passwords): State<Passwords>,
    State(sessions): State<Sessions>,
    State(throttle): State<Arc<AuthThrottle>>,
    client: ClientIp,
    session: Session,
    user_agent: UserAgent,
    Json(input): Json<Reset>,
) -> Result<axum::Json<UserResponse>, ApiError> {
    throttle.check_address(client)?;
    // Before the token is used up: a refused password keeps the link good.
    check_new_password(&input.password)?;
    let owner = take_link_token(&db, Purpose::ResetPassword, &input.token).await?;
    let user = users::find_by_id(&db, owner.user_id)
        .await?
        .filter(|user| user.email == owner.email)
        .ok_or_else(invalid_link)?;
    let hash = passwords.hash(input.password).await?;
    if !users::set_password_hash(&db, user.id, &hash).await? {
        return Err(invalid_link());
    }
    account_tokens::void_all_of(&db, user.id).await?;
    sessions.end_all_of(user.id).await?;
    session::sign_in(&session, &user, user_agent).await?;
    tracing::info!(user_id = user.id, "reset password");
    Ok(axum::Json(UserResponse::from(user)))
}
