-- AUTOINCREMENT so the id of a deleted user is never handed out again.
CREATE TABLE users (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    username      TEXT    NOT NULL,
    username_key  TEXT    NOT NULL UNIQUE,
    email         TEXT    NOT NULL DEFAULT '',
    password_hash TEXT    NOT NULL,
    created_at    INTEGER NOT NULL, -- Unix milliseconds, like every time here
    updated_at    INTEGER NOT NULL
) STRICT;

-- No foreign key to users: sessions may live in another store.
CREATE TABLE sessions (
    token_hash      BLOB    NOT NULL PRIMARY KEY,
    user_id         INTEGER NOT NULL,
    created_at      INTEGER NOT NULL,
    last_seen_at    INTEGER NOT NULL,
    idle_expires_at INTEGER NOT NULL, -- kept <= expires_at, so pruning needs only this index
    expires_at      INTEGER NOT NULL,
    remember        INTEGER NOT NULL,
    fresh           INTEGER NOT NULL,
    user_agent      TEXT    NOT NULL,
    ip              TEXT    NOT NULL
) STRICT, WITHOUT ROWID;

CREATE INDEX sessions_user_id ON sessions (user_id);
CREATE INDEX sessions_idle_expires_at ON sessions (idle_expires_at);
