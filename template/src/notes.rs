//! The notes tables: the example resource, and the model for new ones.
//!
//! Every query takes the owner's id and filters on it, so a note of another
//! user is indistinguishable from a missing one: there is no function here
//! that could return it. A note's versions (`note_revisions`) are reached
//! through the note, joined on its owner. A write that touches both tables
//! runs in one transaction. Handlers (`routes/notes.rs`) validate input and
//! shape answers; this module only speaks SQL, each statement a constant
//! (values are bound, never formatted in).

use platform::database::now;
use time::OffsetDateTime;

use crate::{
    database::{Pool, Transaction},
    users::OwnerGone,
};

/// A note as stored. The API's answer is built from it in `routes/notes.rs`.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct Note {
    pub id: i64,
    pub title: String,
    pub body: String,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

/// One version of a note: what it was after a create or an update.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct Revision {
    pub id: i64,
    pub title: String,
    pub body: String,
    pub created_at: OffsetDateTime,
}

/// What may change in a note; `None` leaves a field as it is.
pub struct Changes<'a> {
    pub title: Option<&'a str>,
    pub body: Option<&'a str>,
}

/// The owner's notes, newest first: at most `limit`, with ids below
/// `before` (the previous page's last id, or `i64::MAX`).
pub async fn list(
    db: &Pool,
    owner: i64,
    limit: u32,
    before: i64,
) -> Result<Vec<Note>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, title, body, created_at, updated_at FROM notes \
         WHERE user_id = $1 AND id < $2 ORDER BY id DESC LIMIT $3",
    )
    .bind(owner)
    .bind(before)
    .bind(i64::from(limit))
    .fetch_all(db)
    .await
}

/// Creates the note and its first version, together or not at all.
pub async fn create(
    db: &Pool,
    owner: i64,
    title: &str,
    body: &str,
) -> Result<Result<Note, OwnerGone>, sqlx::Error> {
    let mut tx = db.begin().await?;
    let inserted = sqlx::query_as::<_, Note>(
        "INSERT INTO notes (user_id, title, body, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $4) RETURNING id, title, body, created_at, updated_at",
    )
    .bind(owner)
    .bind(title)
    .bind(body)
    .bind(now())
    .fetch_one(&mut *tx)
    .await;
    let note = match inserted {
        Ok(note) => note,
        Err(sqlx::Error::Database(err)) if err.is_foreign_key_violation() => {
            return Ok(Err(OwnerGone));
        }
        Err(err) => return Err(err),
    };
    record_revision(&mut tx, &note).await?;
    tx.commit().await?;
    Ok(Ok(note))
}

pub async fn find(db: &Pool, owner: i64, id: i64) -> Result<Option<Note>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, title, body, created_at, updated_at FROM notes \
         WHERE id = $1 AND user_id = $2",
    )
    .bind(id)
    .bind(owner)
    .fetch_optional(db)
    .await
}

/// Applies `changes` and records the note's new version, in one
/// transaction; returns the note as it now is, or `None` if the owner has no
/// such note. Two updates of one note at once are ordered by the row's
/// lock: the second waits for the first to commit, and its version is
/// recorded after the first's.
pub async fn update(
    db: &Pool,
    owner: i64,
    id: i64,
    changes: Changes<'_>,
) -> Result<Option<Note>, sqlx::Error> {
    if changes.title.is_none() && changes.body.is_none() {
        return find(db, owner, id).await;
    }
    let mut tx = db.begin().await?;
    let updated: Option<Note> = sqlx::query_as(
        "UPDATE notes SET title = COALESCE($3, title), body = COALESCE($4, body), \
         updated_at = $5 WHERE id = $1 AND user_id = $2 \
         RETURNING id, title, body, created_at, updated_at",
    )
    .bind(id)
    .bind(owner)
    .bind(changes.title)
    .bind(changes.body)
    .bind(now())
    .fetch_optional(&mut *tx)
    .await?;
    if let Some(note) = &updated {
        record_revision(&mut tx, note).await?;
    }
    tx.commit().await?;
    Ok(updated)
}

/// Deletes the note (its versions go with it); `false` if the owner has no
/// such note.
pub async fn delete(db: &Pool, owner: i64, id: i64) -> Result<bool, sqlx::Error> {
    let done = sqlx::query("DELETE FROM notes WHERE id = $1 AND user_id = $2")
        .bind(id)
        .bind(owner)
        .execute(db)
        .await?;
    Ok(done.rows_affected() > 0)
}

/// The versions of the owner's note `note_id`, newest first: at most
/// `limit`, with ids below `before`. Both tables have `title`, `body` and
/// `created_at`, so every column is named with its table's alias.
pub async fn revisions(
    db: &Pool,
    owner: i64,
    note_id: i64,
    limit: u32,
    before: i64,
) -> Result<Vec<Revision>, sqlx::Error> {
    sqlx::query_as(
        "SELECT r.id, r.title, r.body, r.created_at \
         FROM note_revisions AS r JOIN notes AS n ON n.id = r.note_id \
         WHERE r.note_id = $1 AND n.user_id = $2 AND r.id < $3 \
         ORDER BY r.id DESC LIMIT $4",
    )
    .bind(note_id)
    .bind(owner)
    .bind(before)
    .bind(i64::from(limit))
    .fetch_all(db)
    .await
}

/// Records `note` as it is now as its newest version.
async fn record_revision(tx: &mut Transaction<'_>, note: &Note) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO note_revisions (note_id, title, body, created_at) VALUES ($1, $2, $3, $4)",
    )
    .bind(note.id)
    .bind(&note.title)
    .bind(&note.body)
    .bind(note.updated_at)
    .execute(&mut **tx)
    .await?;
    Ok(())
}
