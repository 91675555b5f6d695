-- Devices (browsers) a user has signed in from, known by the digest of a
-- long-lived cookie. Login throttling lets them through when the account's
-- shared allowance is spent, so a stranger cannot lock the owner out
-- (see src/known_devices.rs).
{%- if database == "postgres" %}
CREATE TABLE known_devices (
    token_digest TEXT        PRIMARY KEY,
    user_id      BIGINT      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now()
);
{%- else %}
CREATE TABLE known_devices (
    token_digest TEXT    PRIMARY KEY,
    user_id      INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at   TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))
);
{%- endif %}
CREATE INDEX known_devices_by_user ON known_devices (user_id);
