-- Second factors (latchkey.MFAStore): authenticator app secrets (sealed
-- by latchkey before they get here), recovery code hashes, and later
-- passkeys, each keyed by user, kind and id. They belong with the users:
-- deleting a user deletes its factors. last_used_at is NULL until used.
CREATE TABLE factors (
    user_id      BIGINT      NOT NULL CONSTRAINT factors_user_id_fkey REFERENCES users (id) ON DELETE CASCADE,
    kind         TEXT        NOT NULL,
    id           TEXT        NOT NULL,
    name         TEXT        NOT NULL,
    secret       BYTEA       NOT NULL,
    counter      BIGINT      NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL,
    last_used_at TIMESTAMPTZ,
    CONSTRAINT factors_pkey PRIMARY KEY (user_id, kind, id)
);

-- Logins waiting for their second factor (latchkey.PendingLoginStore):
-- minutes-lived, like account tokens, and like sessions not tied to the
-- users table, as users may live in another store.
CREATE TABLE pending_logins (
    token_hash BYTEA       CONSTRAINT pending_logins_pkey PRIMARY KEY,
    user_id    BIGINT      NOT NULL,
    user_epoch BIGINT      NOT NULL,
    remember   BOOLEAN     NOT NULL,
    attempts   INTEGER     NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL
);

CREATE INDEX pending_logins_expires_at ON pending_logins (expires_at);
