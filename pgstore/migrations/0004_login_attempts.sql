-- Failed-login throttling shared by every instance (latchkey.AttemptLimiter).
-- key is latchkey's hex SHA-256 of a client address and a username, never
-- either of them; full_at is when the key's token bucket is full again.
-- After that the row means nothing, and failures of other keys delete it,
-- through the full_at index.
CREATE TABLE login_attempts (
    key     TEXT        NOT NULL PRIMARY KEY,
    full_at TIMESTAMPTZ NOT NULL
);

CREATE INDEX login_attempts_full_at ON login_attempts (full_at);
