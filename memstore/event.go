package memstore

import (
	"context"
	"time"

	"github.com/latchkey/latchkey"
)

var _ latchkey.EventStore = (*Store)(nil)

// AddEvent implements latchkey.EventStore.
func (s *Store) AddEvent(ctx context.Context, e *latchkey.Event) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lastEventID++
	e.ID = s.lastEventID
	c := *e
	c.Time = norm(c.Time)
	s.events = append(s.events, c) // IDs only grow, so this stays sorted
	return nil
}

// ListEvents implements latchkey.EventStore, by a scan from the newest.
func (s *Store) ListEvents(ctx context.Context, userID, beforeID int64, limit int) ([]latchkey.Event, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var out []latchkey.Event
	for i := len(s.events) - 1; i >= 0 && len(out) < limit; i-- {
		e := s.events[i]
		if e.UserID == userID && (beforeID <= 0 || e.ID < beforeID) {
			out = append(out, e)
		}
	}
	return out, nil
}

// PruneEvents implements latchkey.EventStore.
func (s *Store) PruneEvents(ctx context.Context, before time.Time, limit int) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	kept, n := s.events[:0], 0
	for _, e := range s.events {
		if n < limit && e.Time.Before(before) {
			n++
			continue
		}
		kept = append(kept, e)
	}
	clear(s.events[len(kept):])
	s.events = kept
	return n, nil
}
