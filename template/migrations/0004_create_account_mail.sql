-- Verified addresses, mail to accounts and the one-time tokens their links
-- carry (the platform crate's mail.rs and account_tokens.rs). A mail is queued in mail_outbox in
-- the same transaction as its token, and a background task sends it,
-- retrying while SMTP is down; sent rows stay a day, for the per-address cap.
-- Times are Unix seconds. Tokens are stored only as digests.
{%- if database == "postgres" %}
ALTER TABLE users ADD COLUMN email_verified BOOLEAN NOT NULL DEFAULT FALSE;
CREATE TABLE account_tokens (
    digest     TEXT   PRIMARY KEY,
    user_id    BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    purpose    TEXT   NOT NULL,
    email      TEXT   NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE TABLE mail_outbox (
    id              BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    recipient       TEXT    NOT NULL,
    subject         TEXT    NOT NULL,
    body            TEXT    NOT NULL,
    created_at      BIGINT  NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at BIGINT  NOT NULL,
    sent_at         BIGINT
);
{%- else %}
ALTER TABLE users ADD COLUMN email_verified BOOLEAN NOT NULL DEFAULT FALSE;
CREATE TABLE account_tokens (
    digest     TEXT    PRIMARY KEY,
    user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    purpose    TEXT    NOT NULL,
    email      TEXT    NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE TABLE mail_outbox (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    recipient       TEXT    NOT NULL,
    subject         TEXT    NOT NULL,
    body            TEXT    NOT NULL,
    created_at      INTEGER NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    sent_at         INTEGER
);
{%- endif %}
CREATE INDEX account_tokens_by_user ON account_tokens (user_id);
CREATE INDEX mail_outbox_due ON mail_outbox (next_attempt_at) WHERE sent_at IS NULL;
CREATE INDEX mail_outbox_by_recipient ON mail_outbox (recipient, created_at);
