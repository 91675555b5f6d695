//! The notes API: the example resource, and the model for new ones.
//!
//! What a resource needs, in one place: its routes (`router`), the signed-in
//! user (`Member`: 401 without a session, 403 where the product admits only
//! some users), input validation (422 with a
//! reason), answers built from rows by dedicated types (so columns stay
//! private until listed here), ownership (another user's note answers 404,
//! exactly like a missing one), bounded lists (a page of at most `MAX_PAGE`
//! notes and about `MAX_PAGE_BYTES`, with a cursor to the next: the
//! platform's `paging`), and a
//! sub-resource in a second table (`/api/notes/{id}/revisions`, every
//! version of a note).
//! `Cache-Control: no-store` comes from the platform's stack, for every API
//! answer.

use axum::{extract::State, http::StatusCode, response::IntoResponse};
use platform::{
    ApiError,
    extract::{Json, Path, Query},
    paging::{PageQuery, json_len},
};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{
    database::Pool,
    member::Member,
    notes::{self, Changes, Note, Revision},
    state::AppState,
    users,
};

/// Notes per page unless the client asks for another number.
const DEFAULT_PAGE: u32 = 20;
/// The largest page a client may ask for: a list never grows with the data.
const MAX_PAGE: u32 = 100;
/// A page also ends before its notes' text passes this many bytes of JSON
/// (at least one note): a hundred long notes of control characters, six
/// bytes each in JSON, would otherwise make a 6 MB answer.
const MAX_PAGE_BYTES: usize = 512 * 1024;
/// Longest title, in characters.
const MAX_TITLE_CHARS: usize = 200;
/// Longest body, in characters.
const MAX_BODY_CHARS: usize = 10_000;

/// The paths are in each handler's `#[utoipa::path]`.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(read, update, remove))
        .routes(routes!(revisions))
}

/// One note as the API shows it.
#[derive(Serialize, ToSchema)]
#[schema(as = Note)]
struct NoteJson {
    id: i64,
    title: String,
    body: String,
    #[serde(with = "time::serde::rfc3339")]
    created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    updated_at: OffsetDateTime,
}

impl From<Note> for NoteJson {
    fn from(note: Note) -> Self {
        Self {
            id: note.id,
            title: note.title,
            body: note.body,
            created_at: note.created_at,
            updated_at: note.updated_at,
        }
    }
}

/// `{"note": ...}`
#[derive(Serialize, ToSchema)]
struct NoteResponse {
    note: NoteJson,
}

impl From<Note> for NoteResponse {
    fn from(note: Note) -> Self {
        Self { note: note.into() }
    }
}

/// One version of a note as the API shows it.
#[derive(Serialize, ToSchema)]
#[schema(as = Revision)]
struct RevisionJson {
    title: String,
    body: String,
    /// When the note became this.
    #[serde(with = "time::serde::rfc3339")]
    created_at: OffsetDateTime,
}

impl From<Revision> for RevisionJson {
    fn from(revision: Revision) -> Self {
        Self {
            title: revision.title,
            body: revision.body,
            created_at: revision.created_at,
        }
    }
}

/// `{"revisions": [...], "next": cursor or null}`
#[derive(Serialize, ToSchema)]
struct RevisionsPage {
    revisions: Vec<RevisionJson>,
    #[schema(required)]
    next: Option<String>,
}

/// `{"notes": [...], "next": cursor or null}`
#[derive(Serialize, ToSchema)]
struct NotesPage {
    notes: Vec<NoteJson>,
    /// Pass as `after` to get the next page; `null` on the last one.
    #[schema(required)]
    next: Option<String>,
}

/// `GET /api/notes?limit=&after=`: newest first.
#[utoipa::path(get, path = "/api/notes", operation_id = "list_notes", tag = "notes", security(("session_cookie" = [])),
    params(PageQuery),
    responses(
        (status = 200, description = "A page of notes, newest first", body = NotesPage),
        (status = 401, description = "Not signed in", body = ApiError),
        (status = 403, description = "Signed in, but not admitted to the product's resources (`src/member.rs`)", body = ApiError),
        (status = 422, description = "A bad `limit` or `after`", body = ApiError),
    ),
)]
async fn list(
    Member(user): Member,
    State(db): State<Pool>,
    Query(query): Query<PageQuery>,
) -> Result<axum::Json<NotesPage>, ApiError> {
    let page = query.check(DEFAULT_PAGE, MAX_PAGE)?;
    let rows = notes::list(&db, user.id, page.fetch(), page.before_id()).await?;
    let (rows, next) = page.split_within(
        rows,
        |note| note.id,
        MAX_PAGE_BYTES,
        |note| json_len(&note.title) + json_len(&note.body),
    );
    Ok(axum::Json(NotesPage {
        notes: rows.into_iter().map(NoteJson::from).collect(),
        next,
    }))
}

/// `POST /api/notes`
#[derive(Deserialize, ToSchema)]
struct NewNote {
    title: String,
    #[serde(default)]
    body: String,
}

/// Creates a note.
#[utoipa::path(post, path = "/api/notes", operation_id = "create_note", tag = "notes", security(("session_cookie" = [])),
    request_body = NewNote,
    responses(
        (status = 201, description = "The new note", body = NoteResponse),
        (status = 401, description = "Not signed in", body = ApiError),
        (status = 403, description = "Signed in, but not admitted to the product's resources (`src/member.rs`)", body = ApiError),
        (status = 422, description = "An empty or too long title, a too long body", body = ApiError),
    ),
)]
async fn create(
    Member(user): Member,
    State(db): State<Pool>,
    Json(input): Json<NewNote>,
) -> Result<impl IntoResponse, ApiError> {
    let title = valid_title(&input.title)?;
    valid_body(&input.body)?;
    // The session outlives its account only if the account was deleted
    // behind the application's back; the note is refused as for no session.
    let note = notes::create(&db, user.id, title, &input.body)
        .await?
        .map_err(|users::OwnerGone| ApiError::unauthenticated())?;
    Ok((StatusCode::CREATED, axum::Json(NoteResponse::from(note))))
}

/// One note.
#[utoipa::path(get, path = "/api/notes/{id}", operation_id = "read_note", tag = "notes", security(("session_cookie" = [])),
    params(("id" = i64, Path, description = "The note's id")),
    responses(
        (status = 200, description = "The note", body = NoteResponse),
        (status = 401, description = "Not signed in", body = ApiError),
        (status = 403, description = "Signed in, but not admitted to the product's resources (`src/member.rs`)", body = ApiError),
        (status = 404, description = "No such note of the caller's", body = ApiError),
    ),
)]
async fn read(
    Member(user): Member,
    State(db): State<Pool>,
    Path(id): Path<i64>,
) -> Result<axum::Json<NoteResponse>, ApiError> {
    let note = notes::find(&db, user.id, id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    Ok(axum::Json(note.into()))
}

/// `PATCH /api/notes/{id}`: the fields given change, the others stay.
#[derive(Deserialize, ToSchema)]
struct NoteChanges {
    title: Option<String>,
    body: Option<String>,
}

/// Changes a note's title or body, or both.
#[utoipa::path(patch, path = "/api/notes/{id}", operation_id = "update_note", tag = "notes", security(("session_cookie" = [])),
    params(("id" = i64, Path, description = "The note's id")),
    request_body = NoteChanges,
    responses(
        (status = 200, description = "The note as changed", body = NoteResponse),
        (status = 401, description = "Not signed in", body = ApiError),
        (status = 403, description = "Signed in, but not admitted to the product's resources (`src/member.rs`)", body = ApiError),
        (status = 404, description = "No such note of the caller's", body = ApiError),
        (status = 422, description = "An empty or too long title, a too long body", body = ApiError),
    ),
)]
async fn update(
    Member(user): Member,
    State(db): State<Pool>,
    Path(id): Path<i64>,
    Json(input): Json<NoteChanges>,
) -> Result<axum::Json<NoteResponse>, ApiError> {
    let title = input.title.as_deref().map(valid_title).transpose()?;
    if let Some(body) = &input.body {
        valid_body(body)?;
    }
    let changes = Changes {
        title,
        body: input.body.as_deref(),
    };
    let note = notes::update(&db, user.id, id, changes)
        .await?
        .ok_or_else(ApiError::not_found)?;
    Ok(axum::Json(note.into()))
}

/// Deletes a note, with its revisions.
#[utoipa::path(delete, path = "/api/notes/{id}", operation_id = "delete_note", tag = "notes", security(("session_cookie" = [])),
    params(("id" = i64, Path, description = "The note's id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "Not signed in", body = ApiError),
        (status = 403, description = "Signed in, but not admitted to the product's resources (`src/member.rs`)", body = ApiError),
        (status = 404, description = "No such note of the caller's", body = ApiError),
    ),
)]
async fn remove(
    Member(user): Member,
    State(db): State<Pool>,
    Path(id): Path<i64>,
) -> Result<StatusCode, ApiError> {
    if notes::delete(&db, user.id, id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found())
    }
}

/// `GET /api/notes/{id}/revisions?limit=&after=`: every version of the
/// note, newest first (the first is the note as it is now).
#[utoipa::path(get, path = "/api/notes/{id}/revisions", operation_id = "list_revisions", tag = "notes", security(("session_cookie" = [])),
    params(("id" = i64, Path, description = "The note's id"), PageQuery),
    responses(
        (status = 200, description = "A page of the note's versions, newest first", body = RevisionsPage),
        (status = 401, description = "Not signed in", body = ApiError),
        (status = 403, description = "Signed in, but not admitted to the product's resources (`src/member.rs`)", body = ApiError),
        (status = 404, description = "No such note of the caller's", body = ApiError),
        (status = 422, description = "A bad `limit` or `after`", body = ApiError),
    ),
)]
async fn revisions(
    Member(user): Member,
    State(db): State<Pool>,
    Path(id): Path<i64>,
    Query(query): Query<PageQuery>,
) -> Result<axum::Json<RevisionsPage>, ApiError> {
    let page = query.check(DEFAULT_PAGE, MAX_PAGE)?;
    // Another user's note, or none: 404 as for the note itself.
    notes::find(&db, user.id, id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let rows = notes::revisions(&db, user.id, id, page.fetch(), page.before_id()).await?;
    let (rows, next) = page.split_within(
        rows,
        |revision| revision.id,
        MAX_PAGE_BYTES,
        |revision| json_len(&revision.title) + json_len(&revision.body),
    );
    Ok(axum::Json(RevisionsPage {
        revisions: rows.into_iter().map(RevisionJson::from).collect(),
        next,
    }))
}

/// A title without its surrounding blanks, between 1 and `MAX_TITLE_CHARS`.
fn valid_title(title: &str) -> Result<&str, ApiError> {
    let title = title.trim();
    if title.contains('\0') {
        return Err(ApiError::unprocessable(
            "title must not contain NUL characters",
        ));
    }
    match title.chars().count() {
        0 => Err(ApiError::unprocessable("title must not be empty")),
        n if n > MAX_TITLE_CHARS => Err(ApiError::unprocessable(format!(
            "title must be at most {MAX_TITLE_CHARS} characters"
        ))),
        _ => Ok(title),
    }
}

/// At most `MAX_BODY_CHARS`, and no NUL, which PostgreSQL cannot store in
/// text.
fn valid_body(body: &str) -> Result<(), ApiError> {
    if body.contains('\0') {
        return Err(ApiError::unprocessable(
            "body must not contain NUL characters",
        ));
    }
    if body.chars().count() > MAX_BODY_CHARS {
        return Err(ApiError::unprocessable(format!(
            "body must be at most {MAX_BODY_CHARS} characters"
        )));
    }
    Ok(())
}
