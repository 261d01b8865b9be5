-- Bearer tokens for scripts and apps; only the SHA-256 of each is kept.
-- Unlike sessions they belong with the users: deleting a user deletes its
-- tokens. NULL expires_at means the token never expires; NULL last_used_at
-- that it was never used. The (user_id, name) index also serves the cascade.
CREATE TABLE api_tokens (
    id           BIGINT      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    token_hash   BYTEA       NOT NULL CONSTRAINT api_tokens_token_hash_key UNIQUE,
    user_id      BIGINT      NOT NULL CONSTRAINT api_tokens_user_id_fkey REFERENCES users (id) ON DELETE CASCADE,
    name         TEXT        NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL,
    expires_at   TIMESTAMPTZ,
    last_used_at TIMESTAMPTZ,
    CONSTRAINT api_tokens_user_id_name_key UNIQUE (user_id, name)
);
