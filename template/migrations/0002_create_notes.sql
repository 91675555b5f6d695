-- The example resource: notes, each owned by one user, and every version
-- each note has had (written in the same transaction as the note).
-- Deleting a user deletes their notes; deleting a note, its versions. The
-- indexes serve the list queries: one user's notes, and one note's
-- versions, newest first, from a cursor.
{%- if database == "postgres" %}
CREATE TABLE notes (
    id         BIGINT      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id    BIGINT      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    title      TEXT        NOT NULL,
    body       TEXT        NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE note_revisions (
    id         BIGINT      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    note_id    BIGINT      NOT NULL REFERENCES notes (id) ON DELETE CASCADE,
    title      TEXT        NOT NULL,
    body       TEXT        NOT NULL,
    created_at TIMESTAMPTZ NOT NULL
);
{%- else %}
CREATE TABLE notes (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    title      TEXT    NOT NULL,
    body       TEXT    NOT NULL,
    created_at TEXT    NOT NULL,
    updated_at TEXT    NOT NULL
);

CREATE TABLE note_revisions (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    note_id    INTEGER NOT NULL REFERENCES notes (id) ON DELETE CASCADE,
    title      TEXT    NOT NULL,
    body       TEXT    NOT NULL,
    created_at TEXT    NOT NULL
);
{%- endif %}
CREATE INDEX notes_by_owner ON notes (user_id, id DESC);
CREATE INDEX revisions_by_note ON note_revisions (note_id, id DESC);
