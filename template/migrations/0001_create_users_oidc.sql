-- Accounts of a hosted login: one per (issuer, subject), the identity the
-- OpenID provider vouches for. Email and name are copies, refreshed at each
-- sign-in and never used to identify anyone. The UNIQUE constraint is what
-- makes a first sign-in race-free.
{%- if database == "postgres" %}
CREATE TABLE users (
    id         BIGINT      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    issuer     TEXT        NOT NULL,
    subject    TEXT        NOT NULL,
    email      TEXT,
    name       TEXT,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (issuer, subject)
);
{%- else %}
CREATE TABLE users (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    issuer     TEXT    NOT NULL,
    subject    TEXT    NOT NULL,
    email      TEXT,
    name       TEXT,
    created_at TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')),
    UNIQUE (issuer, subject)
);
{%- endif %}
