package latchkey

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/latchkey/latchkey/device"
)

// Security events: what happened to an account, kept in the EventStore for
// the user's activity page and the admin API, and logged as "security
// event" records. Recording one never fails the action it describes.

// clientKey carries the client of the request that caused an action, so
// that events name its address and device.
type clientCtxKey struct{}

type client struct{ ip, userAgent string }

// WithClient returns ctx noting the client an action comes from: its
// address and User-Agent, which security events record. The API sets it
// for its own requests; an embedder calling Auth's methods from its own
// handlers can set it too.
func WithClient(ctx context.Context, ip, userAgent string) context.Context {
	return context.WithValue(ctx, clientCtxKey{}, client{ip: ip, userAgent: truncateUA(userAgent)})
}

// withRequestClient is WithClient for a request latchkey serves.
func (a *Auth) withRequestClient(r *http.Request) *http.Request {
	return r.WithContext(WithClient(r.Context(), a.ClientIP(r), r.UserAgent()))
}

// eventTimeout bounds writing an event, which happens after the request
// may have been abandoned by its client.
const eventTimeout = 2 * time.Second

// record stores e and logs it. Time, IP and Device are filled in from the
// clock and the context when unset. A store failure is logged and
// otherwise ignored.
func (a *Auth) record(ctx context.Context, e Event) {
	if e.Time.IsZero() {
		e.Time = a.now()
	}
	if c, ok := ctx.Value(clientCtxKey{}).(client); ok {
		if e.IP == "" {
			e.IP = c.ip
		}
		if e.Device == "" {
			e.Device = device.Name(c.userAgent)
		}
	}
	attrs := []slog.Attr{slog.String("type", string(e.Type)), slog.Int64("user_id", e.UserID), slog.String("ip", e.IP), slog.String("device", e.Device)}
	if e.ActorID != 0 {
		attrs = append(attrs, slog.Int64("actor_id", e.ActorID))
	}
	if e.Detail != "" {
		attrs = append(attrs, slog.String("detail", e.Detail))
	}
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), eventTimeout)
	defer cancel()
	if err := timedErr(a.met.op(opAddEvent), func() error { return a.events.AddEvent(wctx, &e) }); err != nil {
		a.log.LogAttrs(ctx, slog.LevelError, "security event lost: the store refused it", append(attrs, slog.Any("err", err))...)
		return
	}
	a.log.LogAttrs(ctx, slog.LevelInfo, "security event", append(attrs, slog.Int64("event_id", e.ID))...)
}

// DefaultActivityLimit and MaxActivityLimit bound a page of Activity.
const (
	DefaultActivityLimit = 20
	MaxActivityLimit     = 100
)

// Activity returns a page of the user's security events, newest first:
// those older than the event with ID before (from the newest when before is
// 0), at most limit (DefaultActivityLimit when 0, at most
// MaxActivityLimit). more reports whether older events exist.
func (a *Auth) Activity(ctx context.Context, userID, before int64, limit int) (events []Event, more bool, err error) {
	if limit <= 0 {
		limit = DefaultActivityLimit
	}
	limit = min(limit, MaxActivityLimit)
	events, err = timed(a.met.op(opListEvents), func() ([]Event, error) { return a.events.ListEvents(ctx, userID, before, limit+1) })
	if err != nil {
		return nil, false, fmt.Errorf("list events: %w", err)
	}
	if len(events) > limit {
		return events[:limit], true, nil
	}
	return events, false, nil
}

// PruneEvents deletes events older than Config.EventRetention, in batches
// of at most batch, and reports how many it deleted.
func (a *Auth) PruneEvents(ctx context.Context, batch int) (int, error) {
	before := a.now().Add(-a.cfg.EventRetention)
	total := 0
	for {
		n, err := timed(a.met.op(opPruneEvents), func() (int, error) { return a.events.PruneEvents(ctx, before, batch) })
		total += n
		if err != nil {
			return total, fmt.Errorf("prune events: %w", err)
		}
		if n < batch || batch <= 0 {
			return total, nil
		}
	}
}

// eventJSON is how an event appears in responses.
type eventJSON struct {
	ID      string    `json:"id"`
	Time    time.Time `json:"time"`
	Type    EventType `json:"type"`
	IP      string    `json:"ip"`
	Device  string    `json:"device"`
	Detail  string    `json:"detail,omitempty"`
	ActorID int64     `json:"actorId,omitempty"`
}

func eventsJSON(events []Event) []eventJSON {
	out := make([]eventJSON, len(events))
	for i, e := range events {
		out[i] = eventJSON{ID: strconv.FormatInt(e.ID, 10), Time: e.Time.UTC(), Type: e.Type, IP: e.IP, Device: e.Device, Detail: e.Detail, ActorID: e.ActorID}
	}
	return out
}

// pageQuery reads the cursor and limit query parameters of a paged list:
// the cursor is the last ID of the previous page.
func pageQuery(r *http.Request) (cursor int64, limit int, err error) {
	q := r.URL.Query()
	if c := q.Get("cursor"); c != "" {
		if cursor, err = strconv.ParseInt(c, 10, 64); err != nil || cursor <= 0 {
			return 0, 0, &InputError{Code: "invalid_input", Field: "cursor", Message: "cursor must be the nextCursor of a previous page."}
		}
	}
	if l := q.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > MaxActivityLimit {
			return 0, 0, &InputError{Code: "invalid_input", Field: "limit", Message: fmt.Sprintf("limit must be a whole number from 1 to %d.", MaxActivityLimit)}
		}
		limit = n
	}
	return cursor, limit, nil
}

func (a *Auth) activity(w http.ResponseWriter, r *http.Request, cur *current) error {
	if cur.user == nil {
		return cur.unauthenticated()
	}
	cursor, limit, err := pageQuery(r)
	if err != nil {
		return err
	}
	events, more, err := a.Activity(r.Context(), cur.user.ID, cursor, limit)
	if err != nil {
		return err
	}
	resp := map[string]any{"events": eventsJSON(events)}
	if more {
		resp["nextCursor"] = strconv.FormatInt(events[len(events)-1].ID, 10)
	}
	writeJSON(w, http.StatusOK, resp)
	return nil
}
