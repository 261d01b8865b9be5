-- WebAuthn passkeys (latchkey.PasskeyStore). data is the WebAuthn
-- library's credential record, opaque here; credential_id is unique across
-- users, as authenticators make it. No foreign key: the passkey store may
-- be another than the user store, so Auth deletes a user's passkeys itself.
CREATE TABLE passkeys (
    id            BIGINT      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id       BIGINT      NOT NULL,
    credential_id BYTEA       NOT NULL,
    data          BYTEA       NOT NULL,
    name          TEXT        NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL,
    last_used_at  TIMESTAMPTZ NOT NULL,
    CONSTRAINT passkeys_credential_id_key UNIQUE (credential_id)
);

CREATE INDEX passkeys_user_id ON passkeys (user_id, id);
