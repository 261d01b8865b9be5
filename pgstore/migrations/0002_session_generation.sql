-- Refresh-token rotation (token mode). generation counts the rotations of a
-- session and only RotateSession changes it. rotated_at defaults to the zero
-- time.Time (0001-01-01 00:00:00 UTC), so sessions from before this
-- migration, and cookie sessions, read back as never rotated.
ALTER TABLE sessions
    ADD COLUMN generation BIGINT      NOT NULL DEFAULT 0,
    ADD COLUMN rotated_at TIMESTAMPTZ NOT NULL DEFAULT '0001-01-01 00:00:00+00';
