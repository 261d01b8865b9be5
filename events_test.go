package latchkey_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/apitest"
	"github.com/latchkey/latchkey/sqlitestore"
)

// faultyEvents is a SQLite store whose event writes fail while fail is set.
type faultyEvents struct {
	*sqlitestore.Store
	fail atomic.Bool
}

func (f *faultyEvents) AddEvent(ctx context.Context, e *latchkey.Event) error {
	if f.fail.Load() {
		return fmt.Errorf("disk full: %w", latchkey.ErrStoreUnavailable)
	}
	return f.Store.AddEvent(ctx, e)
}

// syncBuffer is a bytes.Buffer safe for a logger's concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// records returns the JSON log records with this message.
func (s *syncBuffer) records(t *testing.T, msg string) []map[string]any {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(s.b.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		if m["msg"] == msg {
			out = append(out, m)
		}
	}
	return out
}

// A store that cannot take an event fails no request, and the loss is
// logged; every event is also a structured log record.
func TestEventStoreFault(t *testing.T) {
	st, err := sqlitestore.Open(context.Background(), filepath.Join(t.TempDir(), "latchkey.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	f := &faultyEvents{Store: st}
	logs := &syncBuffer{}
	a, err := latchkey.New(latchkey.Config{Secrets: [][]byte{testSecret}, Argon2: cheapArgon2,
		Logger: slog.New(slog.NewJSONHandler(logs, nil))}, f, f)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(a.Handler())
	t.Cleanup(srv.Close)
	if _, err := a.CreateUser(context.Background(), "alice", "correct horse battery", ""); err != nil {
		t.Fatal(err)
	}
	b := apitest.New(t, srv.URL)
	b.UserAgent = firefoxLinux

	f.fail.Store(true)
	if r := b.Login("alice", "wrong password here"); r.Status != 401 {
		t.Errorf("failed login while events fail: %d, want 401", r.Status)
	}
	b.MustLogin("alice", "correct horse battery")
	r := b.Post("/api/password/change", map[string]any{"currentPassword": "correct horse battery", "newPassword": "another fine password"})
	if r.Status != 200 {
		t.Errorf("password change while events fail: %d %s", r.Status, r.Raw)
	}
	lost := logs.records(t, "security event lost: the store refused it")
	var lostTypes []string
	for _, m := range lost {
		lostTypes = append(lostTypes, m["type"].(string))
		if m["level"] != "ERROR" || !strings.Contains(m["err"].(string), "disk full") || m["device"] != "Firefox on Linux" {
			t.Errorf("lost event record: %v", m)
		}
	}
	if got := strings.Join(lostTypes, " "); got != "login_failed login_succeeded password_changed" {
		t.Errorf("lost events logged: %q", got)
	}
	if evs, _, err := a.Activity(context.Background(), 1, 0, 10); err != nil || len(evs) != 0 {
		t.Errorf("stored while failing: %v, %v", evs, err)
	}

	f.fail.Store(false)
	b.Post("/api/logout", nil)
	recs := logs.records(t, "security event")
	if len(recs) != 1 || recs[0]["type"] != "logout" || recs[0]["user_id"] != float64(1) || recs[0]["event_id"] == nil {
		t.Errorf("security event records: %v", recs)
	}
	for _, secret := range []string{"correct horse battery", "another fine password", "wrong password here"} {
		logs.mu.Lock()
		leaked := strings.Contains(logs.b.String(), secret)
		logs.mu.Unlock()
		if leaked {
			t.Errorf("the log holds a password")
		}
	}
}

// Events older than EventRetention are pruned; younger ones stay.
func TestPruneEvents(t *testing.T) {
	e := newEnv(t, func(c *latchkey.Config) { c.EventRetention = 24 * time.Hour })
	e.addUser("alice", "correct horse battery")
	e.loggedIn("alice", "correct horse battery", firefoxLinux)
	e.clock.Advance(23 * time.Hour)
	e.loggedIn("alice", "correct horse battery", chromeWin).Post("/api/logout", nil)
	e.clock.Advance(2 * time.Hour)
	n, err := e.auth.PruneEvents(context.Background(), 1)
	if err != nil || n != 1 {
		t.Fatalf("PruneEvents: %d, %v; want 1 pruned", n, err)
	}
	evs, _, err := e.auth.Activity(context.Background(), 1, 0, 0)
	if err != nil || len(evs) != 2 || evs[0].Type != latchkey.EventLogout || evs[1].Device != "Chrome on Windows" {
		t.Errorf("after pruning: %+v, %v; want the second login and its logout", evs, err)
	}
}

// Refresh-token reuse and API tokens are security events of their user.
func TestTokenEvents(t *testing.T) {
	e, b := newJWTEnv(t)
	ctx := context.Background()
	_, gen0, csrf0 := tokens(t, b)
	if r := b.Refresh(); r.Status != 200 {
		t.Fatalf("refresh: %d %s", r.Status, r.Raw)
	}
	e.clock.Advance(11 * time.Second)
	if r := e.raw("POST", "/api/auth/refresh", map[string]string{"refresh_token_cookie": gen0}, "X-CSRF-TOKEN", csrf0); r.ErrCode() != "token_reused" {
		t.Fatalf("reuse: %d %s", r.Status, r.Raw)
	}
	if _, _, err := e.auth.CreateAPIToken(ctx, "alice", "ci", 0); err != nil {
		t.Fatal(err)
	}
	if err := e.auth.RevokeAPITokenByName(ctx, "alice", "ci"); err != nil {
		t.Fatal(err)
	}
	evs, _, err := e.auth.Activity(ctx, 1, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, ev := range evs {
		got = append(got, string(ev.Type)+":"+ev.Detail)
	}
	want := "api_token_revoked:ci api_token_created:ci refresh_token_reuse:generation 0 used after 1: that login was ended login_succeeded:"
	if strings.Join(got, " ") != want {
		t.Errorf("events:\n got %q\nwant %q", strings.Join(got, " "), want)
	}
	if evs[2].IP != "127.0.0.1" || evs[2].Device != "Go-http-client" {
		t.Errorf("reuse event from %q %q, want the replaying client (Go's default agent)", evs[2].IP, evs[2].Device)
	}
}
