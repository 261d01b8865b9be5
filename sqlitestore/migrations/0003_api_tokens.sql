-- Bearer tokens for scripts and apps; only the SHA-256 of each is kept.
-- Unlike sessions they belong with the users: deleting a user deletes its
-- tokens. NULL expires_at means the token never expires; NULL last_used_at
-- that it was never used. The (user_id, name) index also serves the cascade.
CREATE TABLE api_tokens (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    token_hash   BLOB    NOT NULL UNIQUE,
    user_id      INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name         TEXT    NOT NULL,
    created_at   INTEGER NOT NULL, -- Unix milliseconds
    expires_at   INTEGER,
    last_used_at INTEGER,
    UNIQUE (user_id, name)
) STRICT;
