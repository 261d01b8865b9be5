-- A user's epoch counts credential changes; a session keeps the epoch it
-- was made in and is dead once the user's has moved on (User.Epoch). Rows
-- from before read as epoch 0 on both sides, so their sessions live on.
ALTER TABLE users ADD COLUMN epoch INTEGER NOT NULL DEFAULT 0;
ALTER TABLE sessions ADD COLUMN user_epoch INTEGER NOT NULL DEFAULT 0;
