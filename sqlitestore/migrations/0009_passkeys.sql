-- WebAuthn passkeys (latchkey.PasskeyStore). data is the WebAuthn
-- library's credential record, opaque here; credential_id is unique across
-- users, as authenticators make it. No foreign key: the passkey store may
-- be another than the user store, so Auth deletes a user's passkeys itself.
CREATE TABLE passkeys (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id       INTEGER NOT NULL,
    credential_id BLOB    NOT NULL UNIQUE,
    data          BLOB    NOT NULL,
    name          TEXT    NOT NULL,
    created_at    INTEGER NOT NULL, -- Unix milliseconds
    last_used_at  INTEGER NOT NULL
) STRICT;

CREATE INDEX passkeys_user_id ON passkeys (user_id, id);
