-- Devices (browsers) a user has signed in from, known by the digest of a
-- long-lived cookie. Login throttling lets them through when the account's
-- shared allowance is spent, so a stranger cannot lock the owner out
-- (see the platform crate's known_devices.rs). Rows older than the cookie's year are
-- deleted when the same user signs in from a new browser.
{%- if database == "postgres" %}
CREATE TABLE known_devices (
    token_digest TEXT        PRIMARY KEY,
    user_id      BIGINT      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at   TIMESTAMPTZ NOT NULL
);
{%- else %}
CREATE TABLE known_devices (
    token_digest TEXT    PRIMARY KEY,
    user_id      INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at   TEXT    NOT NULL
);
{%- endif %}
CREATE INDEX known_devices_by_user ON known_devices (user_id);
