//! Who may use the product's resources (the notes, and what you add next):
//! a signed-in user, and, with `REQUIRE_VERIFIED_EMAIL=true`, only one whose
//! address is verified (403 `email_unverified` otherwise).
//!
//! Resource handlers take a `Member` where account handlers take the
//! platform's `CurrentUser`: signing in, verifying the address and managing
//! the account stay open to an unverified user, the product does not. The
//! user is the copy the session carries, so the check costs no query, and
//! verifying refreshes every session's copy at once.

use axum::{
    extract::FromRequestParts,
    http::{StatusCode, request::Parts},
};
use platform::{ApiError, extract::CurrentUser};

use crate::{state::AppState, users::User};

/// The signed-in user, admitted to the product's resources.
pub struct Member(pub User);

impl FromRequestParts<AppState> for Member {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let CurrentUser(user) = CurrentUser::<User>::from_request_parts(parts, state).await?;
        if state.require_verified_email && !user.email_verified {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "email_unverified",
                "verify your address first: open the link mailed to it, or ask for a new one",
            ));
        }
        Ok(Self(user))
    }
}
