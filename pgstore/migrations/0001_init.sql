-- An identity column draws from a sequence, so the id of a deleted user is
-- never handed out again.
CREATE TABLE users (
    id            BIGINT      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    username      TEXT        NOT NULL,
    username_key  TEXT        NOT NULL CONSTRAINT users_username_key UNIQUE,
    email         TEXT        NOT NULL DEFAULT '',
    password_hash TEXT        NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL, -- kept at millisecond precision, like every time here
    updated_at    TIMESTAMPTZ NOT NULL
);

-- No foreign key to users: sessions may live in another store.
-- user_agent is BYTEA: a User-Agent cut at 512 bytes, or sent as obs-text,
-- need not be UTF-8, and session protection compares it byte for byte.
CREATE TABLE sessions (
    token_hash      BYTEA       NOT NULL PRIMARY KEY,
    user_id         BIGINT      NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL,
    last_seen_at    TIMESTAMPTZ NOT NULL,
    idle_expires_at TIMESTAMPTZ NOT NULL, -- kept <= expires_at, so pruning needs only this index
    expires_at      TIMESTAMPTZ NOT NULL,
    remember        BOOLEAN     NOT NULL,
    fresh           BOOLEAN     NOT NULL,
    user_agent      BYTEA       NOT NULL,
    ip              TEXT        NOT NULL
);

CREATE INDEX sessions_user_id ON sessions (user_id);
CREATE INDEX sessions_idle_expires_at ON sessions (idle_expires_at);
