-- Second factors (latchkey.MFAStore): authenticator app secrets (sealed
-- by latchkey before they get here), recovery code hashes, and later
-- passkeys, each keyed by user, kind and id. They belong with the users:
-- deleting a user deletes its factors. last_used_at is NULL until used.
CREATE TABLE factors (
    user_id      INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind         TEXT    NOT NULL,
    id           TEXT    NOT NULL,
    name         TEXT    NOT NULL,
    secret       BLOB    NOT NULL,
    counter      INTEGER NOT NULL,
    created_at   INTEGER NOT NULL, -- Unix milliseconds
    last_used_at INTEGER,
    PRIMARY KEY (user_id, kind, id)
) STRICT, WITHOUT ROWID;

-- Logins waiting for their second factor (latchkey.PendingLoginStore):
-- minutes-lived, like account tokens, and like sessions not tied to the
-- users table, as users may live in another store.
CREATE TABLE pending_logins (
    token_hash BLOB    PRIMARY KEY,
    user_id    INTEGER NOT NULL,
    user_epoch INTEGER NOT NULL,
    remember   INTEGER NOT NULL,
    attempts   INTEGER NOT NULL,
    created_at INTEGER NOT NULL, -- Unix milliseconds
    expires_at INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

CREATE INDEX pending_logins_expires_at ON pending_logins (expires_at);
