package sqlitestore

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/latchkey/latchkey"
)

const eventColumns = `id, time, type, user_id, actor_id, ip, device, detail`

func scanEvent(row interface{ Scan(...any) error }) (*latchkey.Event, error) {
	var e latchkey.Event
	var t int64
	if err := row.Scan(&e.ID, &t, &e.Type, &e.UserID, &e.ActorID, &e.IP, &e.Device, &e.Detail); err != nil {
		return nil, err
	}
	e.Time = fromMS(t)
	return &e, nil
}

// AddEvent implements latchkey.EventStore. The id comes from AUTOINCREMENT,
// so it grows with every event and is never reused, pruning or not.
func (s *Store) AddEvent(ctx context.Context, e *latchkey.Event) error {
	res, err := s.writer.ExecContext(ctx, `INSERT INTO events (time, type, user_id, actor_id, ip, device, detail)
		VALUES (?, ?, ?, ?, ?, ?, ?)`,
		toMS(e.Time), string(e.Type), e.UserID, e.ActorID, e.IP, e.Device, e.Detail)
	if err != nil {
		return wrap("add event", err)
	}
	id, err := res.LastInsertId()
	if err != nil {
		return wrap("add event", err)
	}
	e.ID = id
	return nil
}

// ListEvents implements latchkey.EventStore, through the (user_id, id)
// index.
func (s *Store) ListEvents(ctx context.Context, userID, beforeID int64, limit int) ([]latchkey.Event, error) {
	if limit <= 0 {
		return nil, nil // SQLite would read LIMIT -1 as no limit
	}
	if beforeID <= 0 {
		beforeID = math.MaxInt64
	}
	return queryAll(ctx, s.reader, fmt.Sprintf("list events of user %d", userID), scanEvent,
		`SELECT `+eventColumns+` FROM events WHERE user_id = ? AND id < ? ORDER BY id DESC LIMIT ?`,
		userID, beforeID, limit)
}

// PruneEvents implements latchkey.EventStore. It finds the batch through
// the time index, so each batch holds the write lock briefly, as
// PruneSessions does.
func (s *Store) PruneEvents(ctx context.Context, before time.Time, limit int) (int, error) {
	if limit <= 0 {
		return 0, nil // SQLite would read LIMIT -1 as no limit
	}
	res, err := s.writer.ExecContext(ctx, `DELETE FROM events WHERE id IN
		(SELECT id FROM events WHERE time < ? LIMIT ?)`, ceilMS(before), limit)
	if err != nil {
		return 0, wrap("prune events", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, wrap("prune events", err)
	}
	return int(n), nil
}

// ceilMS is t in Unix milliseconds, rounded up: a time kept at millisecond
// m is before t exactly when m < ceilMS(t).
func ceilMS(t time.Time) int64 {
	m := t.UnixMilli()
	if time.UnixMilli(m).Before(t) {
		m++
	}
	return m
}
