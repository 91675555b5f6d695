//! The users table: the only place that writes SQL about accounts.
//!
//! With a hosted login an account is whoever the provider says signed in:
//! the pair (issuer, subject) from a validated ID token, never the email,
//! which a provider may let its users change or may not verify. Email and
//! name are copies refreshed at every sign-in, for display only.
//!
//! `User` is the row, not the API's answer: `routes/auth.rs` decides which
//! fields a response shows, so a column added here reaches no client until
//! a handler chooses to send it.

use platform::session::Account;

use crate::database::Pool;

/// An account.
///
/// Each signed-in session keeps a copy of it, hence the serde derives (the
/// API's answers are built in `routes/auth.rs`, not from these). After
/// changing an account, refresh its sessions' copies with
/// `Sessions::refresh`; see the README, "Adding a field to the user".
#[derive(Clone, Debug, sqlx::FromRow, serde::Serialize, serde::Deserialize)]
pub struct User {
    pub id: i64,
    pub email: Option<String>,
    pub name: Option<String>,
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

/// The account of (`issuer`, `subject`), created at its first sign-in, with
/// `email` and `name` as the provider gives them now.
pub async fn upsert_by_subject(
    db: &Pool,
    issuer: &str,
    subject: &str,
    email: Option<&str>,
    name: Option<&str>,
) -> Result<User, sqlx::Error> {
    // One statement, so two first sign-ins of the same person at once
    // cannot create two accounts: the unique (issuer, subject) decides.
    sqlx::query_as::<_, User>(
        "INSERT INTO users (issuer, subject, email, name) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (issuer, subject) DO UPDATE SET email = excluded.email, name = excluded.name \
         RETURNING id, email, name",
    )
    .bind(issuer)
    .bind(subject)
    .bind(email)
    .bind(name)
    .fetch_one(db)
    .await
}

/// A row for an owner whose account does not exist (any more) was refused
/// by the foreign key: the account was deleted while its session was in
/// use. Handlers answer it as for no session (401).
pub struct OwnerGone;

pub async fn find_by_id(db: &Pool, id: i64) -> Result<Option<User>, sqlx::Error> {
    sqlx::query_as::<_, User>("SELECT id, email, name FROM users WHERE id = $1")
        .bind(id)
        .fetch_optional(db)
        .await
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
