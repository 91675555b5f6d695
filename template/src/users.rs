//! The users table: the only place that writes SQL about accounts.
//!
//! Handlers speak in `User` values and validated inputs; keeping the queries
//! here means a change of database touches one file.
//!
//! `User` is the row, not the API's answer: `routes/auth.rs` decides which
//! fields a response shows, so a column added here reaches no client until
//! a handler chooses to send it.

use platform::session::Account;

use crate::database::Pool;

/// An account. The password hash never leaves this module except as a
/// `Credentials` value for verification.
///
/// Each signed-in session keeps a copy of it, hence the serde derives (the
/// API's answers are built in `routes/auth.rs`, not from these). After
/// changing an account, refresh its sessions' copies with
/// `Sessions::refresh`; see the README, "Adding a field to the user".
#[derive(Clone, Debug, sqlx::FromRow, serde::Serialize, serde::Deserialize)]
pub struct User {
    pub id: i64,
    pub email: String,
    /// Whether a link mailed to `email` has been opened.
    pub email_verified: bool,
}

impl Account for User {
    type Source = Pool;

    fn id(&self) -> i64 {
        self.id
    }

    /// Reads the account again, for a session whose copy is of an older
    /// shape than this struct.
    async fn find(db: &Pool, id: i64) -> Result<Option<Self>, sqlx::Error> {
        find_by_id(db, id).await
    }
}

/// What login needs to check a password: the user's columns and the hash.
#[derive(sqlx::FromRow)]
pub struct Credentials {
    #[sqlx(flatten)]
    pub user: User,
    pub password_hash: String,
}

/// Creation failed because the email is registered already.
pub struct EmailTaken;

pub async fn insert(
    db: &Pool,
    email: &str,
    password_hash: &str,
) -> Result<Result<User, EmailTaken>, sqlx::Error> {
    let inserted = sqlx::query_as::<_, User>(
        "INSERT INTO users (email, password_hash) VALUES ($1, $2) \
         RETURNING id, email, email_verified",
    )
    .bind(email)
    .bind(password_hash)
    .fetch_one(db)
    .await;
    match inserted {
        Ok(user) => Ok(Ok(user)),
        Err(sqlx::Error::Database(err)) if err.is_unique_violation() => Ok(Err(EmailTaken)),
        Err(err) => Err(err),
    }
}

/// A row for an owner whose account does not exist (any more) was refused
/// by the foreign key: the account was deleted while its session was in
/// use. Handlers answer it as for no session (401).
pub struct OwnerGone;

pub async fn find_by_id(db: &Pool, id: i64) -> Result<Option<User>, sqlx::Error> {
    sqlx::query_as::<_, User>("SELECT id, email, email_verified FROM users WHERE id = $1")
        .bind(id)
        .fetch_optional(db)
        .await
}

pub async fn credentials_by_email(
    db: &Pool,
    email: &str,
) -> Result<Option<Credentials>, sqlx::Error> {
    sqlx::query_as("SELECT id, email, email_verified, password_hash FROM users WHERE email = $1")
        .bind(email)
        .fetch_optional(db)
        .await
}

/// Marks the account's address verified, if it is still `email`: the
/// account as it is now, `None` if it has another address (or is gone).
pub async fn mark_verified(db: &Pool, id: i64, email: &str) -> Result<Option<User>, sqlx::Error> {
    sqlx::query_as::<_, User>(
        "UPDATE users SET email_verified = TRUE WHERE id = $1 AND email = $2 \
         RETURNING id, email, email_verified",
    )
    .bind(id)
    .bind(email)
    .fetch_optional(db)
    .await
}

/// Moves the account to `email`, verified (the link that asked for it was
/// opened there): the account as it is now, `None` if it is gone, or
/// `EmailTaken` if another account has the address by now.
pub async fn change_email(
    db: &Pool,
    id: i64,
    email: &str,
) -> Result<Result<Option<User>, EmailTaken>, sqlx::Error> {
    let changed = sqlx::query_as::<_, User>(
        "UPDATE users SET email = $2, email_verified = TRUE WHERE id = $1 \
         RETURNING id, email, email_verified",
    )
    .bind(id)
    .bind(email)
    .fetch_optional(db)
    .await;
    match changed {
        Ok(user) => Ok(Ok(user)),
        Err(sqlx::Error::Database(err)) if err.is_unique_violation() => Ok(Err(EmailTaken)),
        Err(err) => Err(err),
    }
}

/// Replaces the account's password hash; `false` if there is no such
/// account.
pub async fn set_password_hash(
    db: &Pool,
    id: i64,
    password_hash: &str,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2")
        .bind(password_hash)
        .bind(id)
        .execute(db)
        .await?;
    Ok(done.rows_affected() > 0)
}

/// Deletes the account; its rows in other tables (`ON DELETE CASCADE`),
/// sessions in the database included, go with it. `false` if there was no
/// such account.
pub async fn delete(db: &Pool, id: i64) -> Result<bool, sqlx::Error> {
    let done = sqlx::query("DELETE FROM users WHERE id = $1")
        .bind(id)
        .execute(db)
        .await?;
    Ok(done.rows_affected() > 0)
}
