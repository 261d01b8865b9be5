-- Mailed single-use tokens (password reset, email verification, change of
-- email): one per user and purpose, so a newer link replaces the older.
-- Only the SHA-256 of each token is kept. No foreign key to users, as for
-- sessions: users may live in another store.
CREATE TABLE account_tokens (
    user_id    BIGINT      NOT NULL,
    purpose    TEXT        NOT NULL,
    token_hash BYTEA       NOT NULL,
    email      TEXT        NOT NULL,
    user_epoch BIGINT      NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (user_id, purpose)
);

CREATE INDEX account_tokens_expires_at ON account_tokens (expires_at);
