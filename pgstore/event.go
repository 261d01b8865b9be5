package pgstore

import (
	"context"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/latchkey/latchkey"
)

const eventColumns = `id, time, type, user_id, actor_id, ip, device, detail`

func scanEvent(row pgx.Row) (*latchkey.Event, error) {
	var e latchkey.Event
	if err := row.Scan(&e.ID, &e.Time, &e.Type, &e.UserID, &e.ActorID, &e.IP, &e.Device, &e.Detail); err != nil {
		return nil, err
	}
	e.Time = e.Time.UTC()
	return &e, nil
}

// text makes s storable in a TEXT column, which refuses invalid UTF-8 and
// NUL: a Device named from a User-Agent cut mid-character must not cost
// the audit trail its record. Such bytes become U+FFFD, as encoding/json
// (and so the Redis store) writes them.
func text(s string) string {
	return strings.ToValidUTF8(strings.ReplaceAll(s, "\x00", "\uFFFD"), "\uFFFD")
}

// AddEvent implements latchkey.EventStore. The id comes from an identity
// column, so it grows with every event and is never reused.
func (s *Store) AddEvent(ctx context.Context, e *latchkey.Event) error {
	ctx, cancel := s.op(ctx)
	defer cancel()
	var id int64
	err := s.pool.QueryRow(ctx, `INSERT INTO events (time, type, user_id, actor_id, ip, device, detail)
		VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id`,
		ms(e.Time), string(e.Type), e.UserID, e.ActorID, text(e.IP), text(e.Device), text(e.Detail)).Scan(&id)
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
		return nil, nil
	}
	if beforeID <= 0 {
		beforeID = math.MaxInt64
	}
	ctx, cancel := s.op(ctx)
	defer cancel()
	return queryAll(ctx, s, fmt.Sprintf("list events of user %d", userID), scanEvent,
		`SELECT `+eventColumns+` FROM events WHERE user_id = $1 AND id < $2 ORDER BY id DESC LIMIT $3`,
		userID, beforeID, limit)
}

// PruneEvents implements latchkey.EventStore. It finds the batch through
// the time index; SKIP LOCKED lets instances prune at the same time
// without waiting for each other, as PruneSessions does.
func (s *Store) PruneEvents(ctx context.Context, before time.Time, limit int) (int, error) {
	if limit <= 0 {
		return 0, nil
	}
	ctx, cancel := s.op(ctx)
	defer cancel()
	tag, err := s.pool.Exec(ctx, `DELETE FROM events WHERE id IN
		(SELECT id FROM events WHERE time < $1 LIMIT $2 FOR UPDATE SKIP LOCKED)`, ceilMS(before), limit)
	if err != nil {
		return 0, wrap("prune events", err)
	}
	return int(tag.RowsAffected()), nil
}

// ceilMS is t rounded up to the millisecond: a time kept at millisecond
// precision is before t exactly when it is before ceilMS(t).
func ceilMS(t time.Time) time.Time {
	m := ms(t)
	if m.Before(t) {
		m = m.Add(time.Millisecond)
	}
	return m
}
