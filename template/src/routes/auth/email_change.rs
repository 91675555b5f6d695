//! Changing the account's address: confirmed with the password, and done
//! only once a link mailed to the new address is opened there.
//!
//! Asking answers 202 whatever the new address. If another account has it,
//! that address gets a mail saying so instead of a link, so the answer does
//! not reveal which addresses have accounts; the current address gets a
//! notice either way, so a change made from a stolen session does not go
//! unseen. Opening the link moves the account, verified, voids every other
//! link, and every session of the account answers with the new address at
//! once, on every instance (the platform's `Sessions::refresh`).

use std::{sync::Arc, time::Duration};

use axum::{extract::State, http::StatusCode, response::IntoResponse};
use platform::{
    ApiError,
    account_tokens::{self, NewToken, Purpose},
    extract::{CurrentUser, Json},
    known_devices::DeviceCookie,
    mail::{Links, Mail, Outbox},
    password::Passwords,
    rate_limit::AuthThrottle,
    session_store::Sessions,
};
use serde::Deserialize;
use tower_sessions::Session;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::{
    Confirmation, Message, UserResponse, confirm_password, invalid_link, normalise_email,
    signed_out_everywhere, take_link_token,
};
use crate::{
    database::{Database, Pool},
    state::AppState,
    users::{self, User},
};

/// How long a confirmation link works.
const LINK_LIFETIME: Duration = Duration::from_secs(48 * 3600);

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(change))
        .routes(routes!(confirm))
}

#[derive(Deserialize, ToSchema)]
#[schema(as = EmailChange)]
struct Change {
    current_password: String,
    email: String,
}

#[derive(Deserialize, ToSchema)]
#[schema(as = EmailConfirmation)]
struct Confirm {
    token: String,
}

/// 202 and mail to both addresses; 403 wrong password; 422 not an address,
/// or the current one.
#[utoipa::path(post, path = "/api/auth/email", operation_id = "change_email", tag = "auth", security(("session_cookie" = [])),
    request_body = Change,
    responses(
        (status = 202, description = "A link is mailed to the new address, a notice to the old", body = Message),
        (status = 401, description = "Not signed in", body = ApiError),
        (status = 403, description = "`invalid_credentials`: wrong current password", body = ApiError),
        (status = 422, description = "Not an address, or the current one", body = ApiError),
        (status = 429, description = "Too many attempts", body = ApiError),
    ),
)]
#[expect(
    clippy::too_many_arguments,
    reason = "an axum handler takes one extractor per part of the request it uses"
)]
async fn change(
    State(db): State<Pool>,
    State(passwords): State<Passwords>,
    State(throttle): State<Arc<AuthThrottle>>,
    State(sessions): State<Sessions>,
    State(outbox): State<Outbox<Database>>,
    CurrentUser(user): CurrentUser<User>,
    session: Session,
    device: DeviceCookie,
    Json(input): Json<Change>,
) -> Result<impl IntoResponse, ApiError> {
    let new_email = normalise_email(&input.email)?;
    if new_email == user.email {
        return Err(ApiError::unprocessable(
            "this is the account's address already",
        ));
    }
    let confirmed = confirm_password(
        &db,
        &passwords,
        &throttle,
        &device,
        &user,
        input.current_password,
    );
    if let Confirmation::AccountGone = confirmed.await? {
        return Err(signed_out_everywhere(&sessions, &session, user.id).await);
    }
    let app = outbox.app_name();
    let taken = users::credentials_by_email(&db, &new_email)
        .await?
        .is_some();
    if taken {
        let mail = Mail {
            to: new_email.clone(),
            subject: format!("{app}: this address has an account already"),
            body: format!(
                "Someone asked to move another {app} account to {new_email}, which\n\
                 already has an account of its own, so nothing was changed.\n\n\
                 If that was you, sign in to the account this address has instead.\n"
            ),
        };
        outbox.queue(&mail, None).await?;
    } else {
        let token = NewToken::new(Purpose::ConfirmEmail, user.id, &new_email, LINK_LIFETIME);
        let mail = Mail {
            to: new_email.clone(),
            subject: format!("{app}: confirm your new address"),
            body: format!(
                "To make {new_email} the address of your {app} account, open this\n\
                 link within 48 hours:\n\n\
                 {link}\n\n\
                 If you did not ask for this, ignore this mail: nothing changes.\n",
                link = Links::link(&outbox.links().confirm_email, &token),
            ),
        };
        outbox.queue(&mail, Some(&token)).await?;
    }
    let notice = Mail {
        to: user.email.clone(),
        subject: format!("{app}: a new address was asked for"),
        body: format!(
            "Someone signed in to your {app} account asked to change its address\n\
             from {old} to {new_email}. Nothing changes until a link mailed to the\n\
             new address is opened.\n\n\
             If this was not you, change your password now: that signs out every\n\
             other browser.\n",
            old = user.email,
        ),
    };
    outbox.queue(&notice, None).await?;
    Ok((
        StatusCode::ACCEPTED,
        Message::new("a link to confirm it is on its way to the new address"),
    ))
}

/// Moves the account to the address the link was mailed to: 200 with the
/// user; 400 `invalid_token`; 409 `email_taken` if another account took the
/// address meanwhile.
#[utoipa::path(post, path = "/api/auth/email/confirm", operation_id = "confirm_email", tag = "auth",
    request_body = Confirm,
    responses(
        (status = 200, description = "The account has the new address, verified", body = UserResponse),
        (status = 400, description = "`invalid_token`", body = ApiError),
        (status = 409, description = "`email_taken` by another account meanwhile", body = ApiError),
        (status = 429, description = "Too many attempts", body = ApiError),
    ),
)]
async fn confirm(
    State(db): State<Pool>,
    State(sessions): State<Sessions>,
    State(throttle): State<Arc<AuthThrottle>>,
    client: platform::rate_limit::ClientIp,
    Json(input): Json<Confirm>,
) -> Result<axum::Json<UserResponse>, ApiError> {
    throttle.check_address(client)?;
    let owner = take_link_token(&db, Purpose::ConfirmEmail, &input.token).await?;
    let user = users::change_email(&db, owner.user_id, &owner.email)
        .await?
        .map_err(|users::EmailTaken| {
            ApiError::new(
                StatusCode::CONFLICT,
                "email_taken",
                "another account has this address by now",
            )
        })?
        .ok_or_else(invalid_link)?;
    // No link mailed before (to either address) works any more.
    account_tokens::void_all_of(&db, user.id).await?;
    sessions.refresh(&user).await?;
    tracing::info!(user_id = user.id, "changed email");
    Ok(axum::Json(UserResponse::from(user)))
}
