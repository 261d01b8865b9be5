-- Mailed single-use tokens (password reset, email verification, change of
-- email): one per user and purpose, so a newer link replaces the older.
-- Only the SHA-256 of each token is kept. No foreign key to users, as for
-- sessions: users may live in another store.
CREATE TABLE account_tokens (
    user_id    INTEGER NOT NULL,
    purpose    TEXT    NOT NULL,
    token_hash BLOB    NOT NULL,
    email      TEXT    NOT NULL,
    user_epoch INTEGER NOT NULL,
    created_at INTEGER NOT NULL, -- Unix milliseconds
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (user_id, purpose)
) STRICT, WITHOUT ROWID;

CREATE INDEX account_tokens_expires_at ON account_tokens (expires_at);
