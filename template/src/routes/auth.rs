//! Signup, login, logout, "who am I", changing the password and deleting the
//! account, as JSON over a session cookie; `password_reset` is the way back
//! in when the password is forgotten.
//!
//! The handlers validate input, delegate hashing to the platform's
//! `password`, storage to `users` and cookie state to the platform's
//! `session`, and answer the shapes documented in the README. Unknown email
//! and wrong password share one answer, so login does not reveal which
//! accounts exist.

use std::sync::Arc;

use axum::{
    extract::State,
    http::{StatusCode, header},
    response::IntoResponse,
};
use platform::{
    ApiError, account_tokens,
    extract::{CurrentUser, Json, UserAgent},
    known_devices::DeviceCookie,
    mail::Outbox,
    password::Passwords,
    rate_limit::{AuthThrottle, ClientIp},
    session,
    session_store::Sessions,
};
use serde::{Deserialize, Serialize};
use tower_sessions::Session;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{
    database::{Database, Pool},
    state::AppState,
    users::{self, User},
};

mod email_change;
mod email_verification;
mod password_reset;

/// The paths are in each handler's `#[utoipa::path]`.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .merge(email_change::router())
        .merge(email_verification::router())
        .merge(password_reset::router())
        .routes(routes!(signup))
        .routes(routes!(login))
        .routes(routes!(current_session))
        .routes(routes!(logout))
        .routes(routes!(change_password))
        .routes(routes!(delete_account))
}

/// Passwords are counted in characters; the upper bound caps Argon2 work
/// per request and still allows long passphrases.
const PASSWORD_CHARS: std::ops::RangeInclusive<usize> = 8..=128;
/// RFC 5321's limit on a forward path.
const MAX_EMAIL_LEN: usize = 254;

/// The body of signup and login.
#[derive(Deserialize, ToSchema)]
struct EmailPassword {
    email: String,
    password: String,
}

/// The body of account deletion: the password again, so that a session
/// left open on a shared computer cannot delete the account.
#[derive(Deserialize, ToSchema)]
struct PasswordConfirmation {
    password: String,
}

/// The body of a password change: the current password, then the new one.
#[derive(Deserialize, ToSchema)]
struct PasswordChange {
    current_password: String,
    password: String,
}

/// `{"user": ...}`: what the API shows of an account. Built field by field
/// from the row, so a new column stays private until it is added here.
#[derive(Serialize, ToSchema)]
struct UserResponse {
    user: UserJson,
}

/// An account as the API shows it.
#[derive(Serialize, ToSchema)]
#[schema(as = User)]
struct UserJson {
    id: i64,
    email: String,
    email_verified: bool,
}

impl From<User> for UserResponse {
    fn from(user: User) -> Self {
        Self {
            user: UserJson {
                id: user.id,
                email: user.email,
                email_verified: user.email_verified,
            },
        }
    }
}

/// `{"message": ...}`: an answer that says only that something was done or
/// is on its way (202s).
#[derive(Serialize, ToSchema)]
struct Message {
    message: &'static str,
}

impl Message {
    fn new(message: &'static str) -> axum::Json<Self> {
        axum::Json(Self { message })
    }
}

/// Creates an account and signs it in; a verification mail is queued.
#[utoipa::path(post, path = "/api/auth/signup", tag = "auth",
    request_body = EmailPassword,
    responses(
        (status = 201, description = "Signed up and in", body = UserResponse),
        (status = 409, description = "`email_taken`", body = ApiError),
        (status = 422, description = "Not an address, or a password of other than 8 to 128 characters", body = ApiError),
        (status = 429, description = "Too many attempts", body = ApiError),
    ),
)]
#[expect(
    clippy::too_many_arguments,
    reason = "an axum handler takes one extractor per part of the request it uses"
)]
async fn signup(
    State(db): State<Pool>,
    State(passwords): State<Passwords>,
    State(throttle): State<Arc<AuthThrottle>>,
    State(outbox): State<Outbox<Database>>,
    client: ClientIp,
    session: Session,
    device: DeviceCookie,
    user_agent: UserAgent,
    Json(input): Json<EmailPassword>,
) -> Result<impl IntoResponse, ApiError> {
    let email = normalise_email(&input.email)?;
    check_new_password(&input.password)?;
    throttle.check(client, &email)?;
    let hash = passwords.hash(input.password).await?;
    let user = users::insert(&db, &email, &hash)
        .await?
        .map_err(|users::EmailTaken| {
            ApiError::new(
                StatusCode::CONFLICT,
                "email_taken",
                "an account with this email exists",
            )
        })?;
    session::sign_in(&session, &user, user_agent).await?;
    let device = device.remember(&db, user.id).await?;
    // The account exists whatever happens to its mail: a failure here is
    // logged, and the user can ask for the link again.
    if let Err(err) = email_verification::mail_verification_link(&outbox, &user).await {
        tracing::warn!(user_id = user.id, error = %err, "queueing the verification mail failed");
    }
    tracing::info!(user_id = user.id, "signed up");
    Ok((
        StatusCode::CREATED,
        [(header::SET_COOKIE, device)],
        axum::Json(UserResponse::from(user)),
    ))
}

/// Signs in with a new session id.
#[utoipa::path(post, path = "/api/auth/login", tag = "auth",
    request_body = EmailPassword,
    responses(
        (status = 200, description = "Signed in", body = UserResponse),
        (status = 401, description = "`invalid_credentials`, the same for an unknown address and a wrong password", body = ApiError),
        (status = 429, description = "Too many attempts", body = ApiError),
    ),
)]
#[expect(
    clippy::too_many_arguments,
    reason = "an axum handler takes one extractor per part of the request it uses"
)]
async fn login(
    State(db): State<Pool>,
    State(passwords): State<Passwords>,
    State(throttle): State<Arc<AuthThrottle>>,
    client: ClientIp,
    session: Session,
    device: DeviceCookie,
    user_agent: UserAgent,
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
    throttle.check_address(client)?;
    let found = users::credentials_by_email(&db, &email).await?;
    // A browser this account has signed in from before has an allowance of
    // its own, so attempts from elsewhere cannot lock the owner out (see
    // the platform's known_devices.rs); any other browser shares the
    // account's.
    let known_device = match &found {
        Some(found) => device.known_key(&db, found.user.id).await?,
        None => None,
    };
    throttle.check_account_from(&email, known_device.as_deref())?;
    // An unknown email is checked against a dummy hash, so both failures
    // cost the same time.
    let stored = found.as_ref().map(|c| Arc::from(c.password_hash.as_str()));
    let matches = passwords.verify(input.password, stored).await?;
    let Some(credentials) = found.filter(|_| matches) else {
        return Err(wrong());
    };
    session::sign_in(&session, &credentials.user, user_agent).await?;
    let new_device = match known_device {
        Some(_) => None,
        None => Some(device.remember(&db, credentials.user.id).await?),
    };
    tracing::info!(user_id = credentials.user.id, "logged in");
    let set_cookie = new_device.map(|cookie| [(header::SET_COOKIE, cookie)]);
    Ok((set_cookie, axum::Json(UserResponse::from(credentials.user))))
}

/// Who is signed in.
#[utoipa::path(get, path = "/api/auth/session", tag = "auth", security(("session_cookie" = [])),
    responses(
        (status = 200, description = "The signed-in user", body = UserResponse),
        (status = 401, description = "Not signed in", body = ApiError),
    ),
)]
async fn current_session(CurrentUser(user): CurrentUser<User>) -> axum::Json<UserResponse> {
    axum::Json(UserResponse::from(user))
}

/// Ends this session, server-side, and removes its cookie.
#[utoipa::path(post, path = "/api/auth/logout", tag = "auth",
    responses((status = 204, description = "Signed out (also when nobody was signed in)")),
)]
async fn logout(session: Session) -> Result<StatusCode, ApiError> {
    session::sign_out(&session).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Deletes the signed-in account, with its rows, and ends every session it
/// has, in this browser and all others, on every instance. Confirmed with
/// the password (see [`confirm_password`]).
#[utoipa::path(delete, path = "/api/auth/account", tag = "auth", security(("session_cookie" = [])),
    request_body = PasswordConfirmation,
    responses(
        (status = 204, description = "The account and its sessions are gone"),
        (status = 401, description = "Not signed in", body = ApiError),
        (status = 403, description = "`invalid_credentials`: wrong password", body = ApiError),
        (status = 429, description = "Too many attempts", body = ApiError),
    ),
)]
#[expect(
    clippy::too_many_arguments,
    reason = "an axum handler takes one extractor per part of the request it uses"
)]
async fn delete_account(
    State(db): State<Pool>,
    State(passwords): State<Passwords>,
    State(throttle): State<Arc<AuthThrottle>>,
    State(sessions): State<Sessions>,
    CurrentUser(user): CurrentUser<User>,
    session: Session,
    device: DeviceCookie,
    Json(input): Json<PasswordConfirmation>,
) -> Result<StatusCode, ApiError> {
    let confirmed = confirm_password(&db, &passwords, &throttle, &device, &user, input.password);
    if let Confirmation::AccountGone = confirmed.await? {
        return Err(signed_out_everywhere(&sessions, &session, user.id).await);
    }
    users::delete(&db, user.id).await?;
    sessions.end_all_of(user.id).await?;
    session::sign_out(&session).await?;
    tracing::info!(user_id = user.id, "deleted account");
    Ok(StatusCode::NO_CONTENT)
}

/// Changes the signed-in user's password, confirmed with the current one,
/// and ends every other session of the account, on every instance: a
/// browser signed in by whoever knew the old password is signed out. This
/// browser stays signed in, under a new session id.
#[utoipa::path(post, path = "/api/auth/password", tag = "auth", security(("session_cookie" = [])),
    request_body = PasswordChange,
    responses(
        (status = 200, description = "Changed; every other session ended", body = UserResponse),
        (status = 401, description = "Not signed in", body = ApiError),
        (status = 403, description = "`invalid_credentials`: wrong current password", body = ApiError),
        (status = 422, description = "A new password of other than 8 to 128 characters", body = ApiError),
        (status = 429, description = "Too many attempts", body = ApiError),
    ),
)]
#[expect(
    clippy::too_many_arguments,
    reason = "an axum handler takes one extractor per part of the request it uses"
)]
async fn change_password(
    State(db): State<Pool>,
    State(passwords): State<Passwords>,
    State(throttle): State<Arc<AuthThrottle>>,
    State(sessions): State<Sessions>,
    CurrentUser(user): CurrentUser<User>,
    session: Session,
    device: DeviceCookie,
    Json(input): Json<PasswordChange>,
) -> Result<axum::Json<UserResponse>, ApiError> {
    check_new_password(&input.password)?;
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
    let hash = passwords.hash(input.password).await?;
    if !users::set_password_hash(&db, user.id, &hash).await? {
        return Err(signed_out_everywhere(&sessions, &session, user.id).await);
    }
    // No link mailed before (a password reset) works any more.
    account_tokens::void_all_of(&db, user.id).await?;
    session.cycle_id().await?;
    if let Some(this_one) = session::handle(&session).await? {
        sessions.end_others_of(user.id, &this_one).await?;
    }
    tracing::info!(user_id = user.id, "changed password");
    Ok(axum::Json(UserResponse::from(user)))
}

/// What [`confirm_password`] found, when the password was right.
enum Confirmation {
    Confirmed,
    /// The account was deleted meanwhile (from another browser).
    AccountGone,
}

/// Checks `password` against the signed-in account's before a sensitive
/// change: a session left open on a shared computer cannot change or delete
/// the account. Attempts are throttled as at login, so guessing the password
/// from a stolen session is bounded the same way, and a stranger's wrong
/// logins do not stop the owner's known browser. A wrong password is 403
/// `invalid_credentials`.
async fn confirm_password(
    db: &Pool,
    passwords: &Passwords,
    throttle: &AuthThrottle,
    device: &DeviceCookie,
    user: &User,
    password: String,
) -> Result<Confirmation, ApiError> {
    let known_device = device.known_key(db, user.id).await?;
    throttle.check_account_from(&user.email, known_device.as_deref())?;
    let found = users::credentials_by_email(db, &user.email)
        .await?
        .filter(|found| found.user.id == user.id);
    let Some(credentials) = found else {
        return Ok(Confirmation::AccountGone);
    };
    let matches = password.chars().count() <= *PASSWORD_CHARS.end()
        && passwords
            .verify(password, Some(credentials.password_hash.into()))
            .await?;
    if matches {
        Ok(Confirmation::Confirmed)
    } else {
        Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "invalid_credentials",
            "the password is incorrect",
        ))
    }
}

/// The answer for a session whose account is gone: its sessions (this one
/// included) are ended, in case the deletion raced them, and it is 401.
async fn signed_out_everywhere(sessions: &Sessions, session: &Session, user_id: i64) -> ApiError {
    if let Err(err) = sessions.end_all_of(user_id).await {
        return err.into();
    }
    if let Err(err) = session::sign_out(session).await {
        return err.into();
    }
    ApiError::unauthenticated()
}

/// Takes the token of a mailed link for `purpose`: its owner, and the
/// token is used up. 400 `invalid_token` for one that is unknown, expired,
/// used or voided.
async fn take_link_token(
    db: &Pool,
    purpose: account_tokens::Purpose,
    token: &str,
) -> Result<account_tokens::TokenOwner, ApiError> {
    account_tokens::take(db, purpose, token)
        .await?
        .ok_or_else(invalid_link)
}

/// The answer to a link that does not work (any more).
fn invalid_link() -> ApiError {
    ApiError::new(
        StatusCode::BAD_REQUEST,
        "invalid_token",
        "this link is unknown, expired or used already: ask for a new one",
    )
}

/// The rule for a new password: 422 unless it has 8 to 128 characters.
fn check_new_password(password: &str) -> Result<(), ApiError> {
    if PASSWORD_CHARS.contains(&password.chars().count()) {
        Ok(())
    } else {
        Err(ApiError::unprocessable(format!(
            "password must be {} to {} characters",
            PASSWORD_CHARS.start(),
            PASSWORD_CHARS.end()
        )))
    }
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
        Err(ApiError::unprocessable("email is not a valid address"))
    }
}
