-- Roles and a lock flag. roles holds the user's roles separated by single
-- spaces (a role has none: latchkey.ValidRole), in no particular order:
-- ChangeRole appends or cuts one in a single UPDATE, and readers sort
-- (latchkey.SplitRoles). Users from before have no roles and are unlocked.
ALTER TABLE users
    ADD COLUMN roles  TEXT    NOT NULL DEFAULT '',
    ADD COLUMN locked BOOLEAN NOT NULL DEFAULT false;

-- Security events (latchkey.EventStore). No foreign key to users: the log
-- is the audit trail, so it outlives the user, and only retention
-- (PruneEvents, through the time index) deletes from it. The identity
-- column never hands an id out again. user_id and actor_id are 0 when
-- there is none.
CREATE TABLE events (
    id       BIGINT      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    time     TIMESTAMPTZ NOT NULL, -- kept at millisecond precision, like every time here
    type     TEXT        NOT NULL,
    user_id  BIGINT      NOT NULL,
    actor_id BIGINT      NOT NULL,
    ip       TEXT        NOT NULL,
    device   TEXT        NOT NULL,
    detail   TEXT        NOT NULL
);

CREATE INDEX events_user_id ON events (user_id, id);
CREATE INDEX events_time ON events (time);
