-- Refresh-token rotation (token mode). generation counts the rotations of a
-- session and only RotateSession changes it; rotated_at is Unix
-- milliseconds like every time here, and its default is the zero
-- time.Time (0001-01-01T00:00:00Z, -62135596800000 ms), so sessions from
-- before this migration, and cookie sessions, read back as never rotated.
ALTER TABLE sessions ADD COLUMN generation INTEGER NOT NULL DEFAULT 0;
ALTER TABLE sessions ADD COLUMN rotated_at INTEGER NOT NULL DEFAULT -62135596800000;
