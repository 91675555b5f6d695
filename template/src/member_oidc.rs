//! Who may use the product's resources (the notes, and what you add next):
//! any signed-in user. The provider has vouched for who they are; to admit
//! only some (a domain, a role), check the user here and answer 403.
//!
//! Resource handlers take a `Member` where account handlers take the
//! platform's `CurrentUser`, so that rule has one place. The user is the
//! copy the session carries: no query per request.

use axum::{extract::FromRequestParts, http::request::Parts};
use platform::{ApiError, extract::CurrentUser};

use crate::{state::AppState, users::User};

/// The signed-in user, admitted to the product's resources.
pub struct Member(pub User);

impl FromRequestParts<AppState> for Member {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let CurrentUser(user) = CurrentUser::<User>::from_request_parts(parts, state).await?;
        Ok(Self(user))
    }
}
