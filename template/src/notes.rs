//! The notes table: the example resource, and the model for new ones.
//!
//! Every query takes the owner's id and filters on it, so a note of another
//! user is indistinguishable from a missing one: there is no function here
//! that could return it. Handlers (`routes/notes.rs`) validate input and
//! shape answers; this module only speaks SQL.

use time::OffsetDateTime;

use crate::database::Pool;

/// A note as stored. The API's answer is built from it in `routes/notes.rs`.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct Note {
    pub id: i64,
    pub title: String,
    pub body: String,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

/// What may change in a note; `None` leaves a field as it is.
pub struct Changes<'a> {
    pub title: Option<&'a str>,
    pub body: Option<&'a str>,
}

const COLUMNS: &str = "id, title, body, created_at, updated_at";

/// The owner's notes, newest first: at most `limit`, and only those older
/// than the note `before` when given (the previous page's last id).
pub async fn list(
    db: &Pool,
    owner: i64,
    limit: u32,
    before: Option<i64>,
) -> Result<Vec<Note>, sqlx::Error> {
    sqlx::query_as::<_, Note>(&format!(
        "SELECT {COLUMNS} FROM notes WHERE user_id = $1 AND id < $2 ORDER BY id DESC LIMIT $3"
    ))
    .bind(owner)
    .bind(before.unwrap_or(i64::MAX))
    .bind(i64::from(limit))
    .fetch_all(db)
    .await
}

/// The owner's account does not exist (any more): the foreign key refused
/// the row.
pub struct OwnerGone;

pub async fn create(
    db: &Pool,
    owner: i64,
    title: &str,
    body: &str,
) -> Result<Result<Note, OwnerGone>, sqlx::Error> {
    let now = now();
    let inserted = sqlx::query_as::<_, Note>(&format!(
        "INSERT INTO notes (user_id, title, body, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $4) RETURNING {COLUMNS}"
    ))
    .bind(owner)
    .bind(title)
    .bind(body)
    .bind(now)
    .fetch_one(db)
    .await;
    match inserted {
        Ok(note) => Ok(Ok(note)),
        Err(sqlx::Error::Database(err)) if err.is_foreign_key_violation() => Ok(Err(OwnerGone)),
        Err(err) => Err(err),
    }
}

pub async fn find(db: &Pool, owner: i64, id: i64) -> Result<Option<Note>, sqlx::Error> {
    sqlx::query_as::<_, Note>(&format!(
        "SELECT {COLUMNS} FROM notes WHERE id = $1 AND user_id = $2"
    ))
    .bind(id)
    .bind(owner)
    .fetch_optional(db)
    .await
}

/// Applies `changes` and returns the note as it now is, or `None` if the
/// owner has no such note.
pub async fn update(
    db: &Pool,
    owner: i64,
    id: i64,
    changes: Changes<'_>,
) -> Result<Option<Note>, sqlx::Error> {
    if changes.title.is_none() && changes.body.is_none() {
        return find(db, owner, id).await;
    }
    sqlx::query_as::<_, Note>(&format!(
        "UPDATE notes SET title = COALESCE($3, title), body = COALESCE($4, body), \
         updated_at = $5 WHERE id = $1 AND user_id = $2 RETURNING {COLUMNS}"
    ))
    .bind(id)
    .bind(owner)
    .bind(changes.title)
    .bind(changes.body)
    .bind(now())
    .fetch_optional(db)
    .await
}

/// Deletes the note; `false` if the owner has no such note.
pub async fn delete(db: &Pool, owner: i64, id: i64) -> Result<bool, sqlx::Error> {
    let done = sqlx::query("DELETE FROM notes WHERE id = $1 AND user_id = $2")
        .bind(id)
        .bind(owner)
        .execute(db)
        .await?;
    Ok(done.rows_affected() > 0)
}

/// Now, to the microsecond: what both databases store, so a note reads back
/// exactly as it was written.
fn now() -> OffsetDateTime {
    let now = OffsetDateTime::now_utc();
    now.replace_nanosecond(now.nanosecond() / 1_000 * 1_000)
        .unwrap_or(now)
}
