package redisstore

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/latchkey/latchkey"
)

// The event keys; see the package doc.
func (s *Store) eventSeqKey() string  { return s.prefix() + "e:seq" }
func (s *Store) eventTimeKey() string { return s.prefix() + "e:t" }

func (s *Store) userEventsKey(userID int64) string {
	return s.prefix() + "e:{" + strconv.FormatInt(userID, 10) + "}"
}

// eventTimeMember names an event in the time index: its user and its id.
func eventTimeMember(userID, id int64) string {
	return strconv.FormatInt(userID, 10) + ":" + strconv.FormatInt(id, 10)
}

// parseEventTimeMember reads eventTimeMember's user id, and the event id
// as the decimal it was written in; ok is false for a member it did not
// write.
func parseEventTimeMember(m string) (userID int64, id string, ok bool) {
	u, id, ok := strings.Cut(m, ":")
	if !ok {
		return 0, "", false
	}
	userID, err := strconv.ParseInt(u, 10, 64)
	if _, err2 := strconv.ParseInt(id, 10, 64); err != nil || err2 != nil {
		return 0, "", false
	}
	return userID, id, true
}

// storedEvent is an event as a member of its user's sorted set. The id
// inside makes every member unique, so two events alike in all else are
// still two.
type storedEvent struct {
	ID      int64  `json:"id"`
	Time    int64  `json:"t"` // Unix milliseconds
	Type    string `json:"type"`
	UserID  int64  `json:"user"`
	ActorID int64  `json:"actor,omitempty"`
	IP      string `json:"ip,omitempty"`
	Device  string `json:"device,omitempty"`
	Detail  string `json:"detail,omitempty"`
}

// pruneEventsScript: KEYS[1] the time index; ARGV the exclusive upper
// bound on time (ms, "(" first), the batch size, and the prefix of the
// users' event keys (PREFIX "e:{"). Deletes a batch of the oldest events
// and their index entries, and returns how many events it deleted. The
// user keys come from the index, which only a single server allows.
var pruneEventsScript = redis.NewScript(`
local n = 0
for _, m in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, ARGV[2])) do
  local sep = string.find(m, ':', 1, true)
  if sep then
    local id = string.sub(m, sep + 1)
    n = n + redis.call('ZREMRANGEBYSCORE', ARGV[3] .. string.sub(m, 1, sep - 1) .. '}', id, id)
  end
  redis.call('ZREM', KEYS[1], m)
end
return n`)

// AddEvent implements latchkey.EventStore. The id comes from INCR; then
// the time index entry is added before the event, together on one server
// (MULTI), one after the other in a cluster, so an event is never out of
// the index's reach (see the package doc).
func (s *Store) AddEvent(ctx context.Context, e *latchkey.Event) error {
	ctx, cancel := s.op(ctx)
	defer cancel()
	id, err := s.client.Incr(ctx, s.eventSeqKey()).Result()
	if err != nil {
		return wrap("add event", err)
	}
	member, err := json.Marshal(storedEvent{ID: id, Time: ms(e.Time), Type: string(e.Type), UserID: e.UserID,
		ActorID: e.ActorID, IP: e.IP, Device: e.Device, Detail: e.Detail})
	if err != nil {
		return fmt.Errorf("redisstore: add event: %w", err)
	}
	index := redis.Z{Score: float64(ms(e.Time)), Member: eventTimeMember(e.UserID, id)}
	event := redis.Z{Score: float64(id), Member: member}
	if s.oneServer() {
		_, err = s.client.TxPipelined(ctx, func(p redis.Pipeliner) error {
			p.ZAdd(ctx, s.eventTimeKey(), index)
			p.ZAdd(ctx, s.userEventsKey(e.UserID), event)
			return nil
		})
		if err != nil {
			return wrap("add event", err)
		}
	} else {
		if err := s.client.ZAdd(ctx, s.eventTimeKey(), index).Err(); err != nil {
			return wrap("add event: index", err)
		}
		if err := s.client.ZAdd(ctx, s.userEventsKey(e.UserID), event).Err(); err != nil {
			return wrap("add event", err)
		}
	}
	e.ID = id
	return nil
}

// ListEvents implements latchkey.EventStore: one ZREVRANGEBYSCORE on the
// user's set, which is scored by id.
func (s *Store) ListEvents(ctx context.Context, userID, beforeID int64, limit int) ([]latchkey.Event, error) {
	if limit <= 0 {
		return nil, nil
	}
	ctx, cancel := s.op(ctx)
	defer cancel()
	maxID := "+inf"
	if beforeID > 0 {
		maxID = "(" + strconv.FormatInt(beforeID, 10)
	}
	members, err := s.client.ZRevRangeByScore(ctx, s.userEventsKey(userID),
		&redis.ZRangeBy{Max: maxID, Min: "-inf", Count: int64(limit)}).Result()
	if err != nil {
		return nil, wrap("list events", err)
	}
	var out []latchkey.Event
	for _, m := range members {
		var v storedEvent
		if err := json.Unmarshal([]byte(m), &v); err != nil {
			return nil, fmt.Errorf("redisstore: list events of user %d: %w", userID, err)
		}
		out = append(out, latchkey.Event{ID: v.ID, Time: time.UnixMilli(v.Time).UTC(), Type: latchkey.EventType(v.Type),
			UserID: v.UserID, ActorID: v.ActorID, IP: v.IP, Device: v.Device, Detail: v.Detail})
	}
	return out, nil
}

// PruneEvents implements latchkey.EventStore. It takes a batch of the
// oldest entries of the time index and deletes each one's event from its
// user's set, then the entry: on one server in a single script, in a
// cluster in one pipeline of single-key deletes (split by node), then the
// entries of the events it reached. It counts the events deleted, not the
// entries: an entry whose event never landed (see AddEvent) goes too but
// is not counted.
func (s *Store) PruneEvents(ctx context.Context, before time.Time, limit int) (int, error) {
	if limit <= 0 {
		return 0, nil
	}
	ctx, cancel := s.op(ctx)
	defer cancel()
	// Times are kept in whole milliseconds: one at m is before "before"
	// exactly when m is below before rounded up.
	end := ms(before)
	if time.UnixMilli(end).Before(before) {
		end++
	}
	maxTime := "(" + strconv.FormatInt(end, 10)
	if s.oneServer() {
		n, err := pruneEventsScript.Run(ctx, s.client, []string{s.eventTimeKey()}, maxTime, limit, s.prefix()+"e:{").Int()
		if err != nil {
			return 0, wrap("prune events", err)
		}
		return n, nil
	}
	entries, err := s.client.ZRangeByScore(ctx, s.eventTimeKey(),
		&redis.ZRangeBy{Min: "-inf", Max: maxTime, Count: int64(limit)}).Result()
	if err != nil {
		return 0, wrap("prune events", err)
	}
	if len(entries) == 0 {
		return 0, nil
	}
	cmds := make([]*redis.IntCmd, len(entries))
	_, _ = s.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, m := range entries {
			userID, id, ok := parseEventTimeMember(m)
			if ok {
				cmds[i] = p.ZRemRangeByScore(ctx, s.userEventsKey(userID), id, id)
			}
		}
		return nil
	})
	n := 0
	var done []any
	var firstErr error
	for i, c := range cmds {
		if c != nil { // nil: an entry this package did not write, dropped
			if err := c.Err(); err != nil {
				firstErr = cmp.Or(firstErr, err)
				continue // keep the entry: the next run deletes its event
			}
			n += int(c.Val())
		}
		done = append(done, entries[i])
	}
	if len(done) > 0 {
		if err := s.client.ZRem(ctx, s.eventTimeKey(), done...).Err(); err != nil {
			firstErr = cmp.Or(firstErr, err)
		}
	}
	if firstErr != nil {
		return n, wrap("prune events", firstErr)
	}
	return n, nil
}
