-- Look-alike usernames: username.Skeleton of each name, unique, so "admin"
-- and "аdmin" (Cyrillic а) cannot both exist. NULL for users from before
-- this migration until Open fills it in (several NULLs do not collide).
ALTER TABLE users ADD COLUMN username_skeleton TEXT;
CREATE UNIQUE INDEX users_username_skeleton ON users (username_skeleton);
