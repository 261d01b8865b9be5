-- Roles and a lock flag. roles holds the user's roles separated by single
-- spaces (a role has none: latchkey.ValidRole), in no particular order:
-- ChangeRole appends or cuts one in a single UPDATE, and readers sort
-- (latchkey.SplitRoles). Users from before have no roles and are unlocked.
ALTER TABLE users ADD COLUMN roles TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN locked INTEGER NOT NULL DEFAULT 0;

-- Security events (latchkey.EventStore). No foreign key to users: the log
-- is the audit trail, so it outlives the user, and only retention
-- (PruneEvents, through the time index) deletes from it. AUTOINCREMENT so
-- an id is never handed out again, even once pruning has emptied the
-- table. user_id and actor_id are 0 when there is none.
CREATE TABLE events (
    id       INTEGER PRIMARY KEY AUTOINCREMENT,
    time     INTEGER NOT NULL, -- Unix milliseconds
    type     TEXT    NOT NULL,
    user_id  INTEGER NOT NULL,
    actor_id INTEGER NOT NULL,
    ip       TEXT    NOT NULL,
    device   TEXT    NOT NULL,
    detail   TEXT    NOT NULL
) STRICT;

CREATE INDEX events_user_id ON events (user_id, id);
CREATE INDEX events_time ON events (time);
