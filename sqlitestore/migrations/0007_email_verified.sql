-- Verified addresses: email_verified is set once the user followed a link
-- mailed to the address; a verified address (compared by email_key, its
-- lower-case form, latchkey.EmailKey) belongs to one user only. email_key
-- is NULL for users from before this migration until Open fills it in.
ALTER TABLE users ADD COLUMN email_verified INTEGER NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN email_key TEXT;
CREATE UNIQUE INDEX users_verified_email ON users (email_key) WHERE email_verified = 1;
CREATE INDEX users_email_key ON users (email_key);
