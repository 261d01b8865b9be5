package latchkey_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/apitest"
	"github.com/latchkey/latchkey/sqlitestore"
)

// sharedAttempts is an AttemptLimiter as a store would keep it: the instant
// each key's bucket is full again. fail makes its calls fail with that
// error instead.
type sharedAttempts struct {
	mu   sync.Mutex
	full map[string]time.Time
	keys []string // every key it was given
	fail error
}

func (s *sharedAttempts) AttemptWait(_ context.Context, key string, burst int, refill time.Duration, now time.Time) (time.Duration, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.keys = append(s.keys, key)
	if s.fail != nil {
		return 0, s.fail
	}
	return latchkey.AttemptBucketWait(s.full[key], burst, refill, now), nil
}

func (s *sharedAttempts) AttemptFailed(_ context.Context, key string, _ int, refill time.Duration, now time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.keys = append(s.keys, key)
	if s.fail != nil {
		return s.fail
	}
	full := s.full[key]
	if full.Before(now) {
		full = now
	}
	s.full[key] = full.Add(refill)
	return nil
}

func (s *sharedAttempts) AttemptReset(_ context.Context, key string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return s.fail
	}
	delete(s.full, key)
	return nil
}

// throttlingStore is a SQLite store whose session side also counts failed
// logins in attempts, as a store shared by several instances would.
type throttlingStore struct {
	*sqlitestore.Store
	*sharedAttempts
}

// serveAuth serves a's API until the test ends and returns a client for it.
func serveAuth(t *testing.T, a *latchkey.Auth) *apitest.Client {
	t.Helper()
	srv := httptest.NewServer(a.Handler())
	t.Cleanup(srv.Close)
	c := apitest.New(t, srv.URL)
	c.UserAgent = "test-browser/1.0"
	return c
}

// Two Auths on one store that is an AttemptLimiter count failures
// together, under keys that show neither the username nor the address.
func TestLoginThrottleSharedByInstances(t *testing.T) {
	e := newEnv(t)
	e.addUser("wes", "wes's long password")
	shared := &sharedAttempts{full: map[string]time.Time{}}
	store := &throttlingStore{Store: e.store, sharedAttempts: shared}
	cfg := testConfig(e)
	cfg.LoginBurst, cfg.LoginRefill = 3, time.Hour
	var clients []*apitest.Client
	for range 2 {
		a, err := latchkey.New(cfg, store, store)
		if err != nil {
			t.Fatal(err)
		}
		clients = append(clients, serveAuth(t, a))
	}
	for i := range 3 {
		if r := clients[i%2].Login("wes", "wrong password"); r.Status != 401 {
			t.Fatalf("failure %d: got %d, want 401", i+1, r.Status)
		}
	}
	for i, c := range clients {
		r := c.Login("wes", "wes's long password")
		if r.Status != 429 || r.ErrCode() != "too_many_attempts" || r.Header.Get("Retry-After") != "3600" {
			t.Errorf("instance %d after 3 failures in all: got %d %s (Retry-After %q), want 429 after 3600 s", i, r.Status, r.Raw, r.Header.Get("Retry-After"))
		}
	}
	e.clock.Advance(time.Hour)
	clients[1].MustLogin("wes", "wes's long password")
	if r := clients[0].Login("wes", "wrong password"); r.Status != 401 {
		t.Errorf("after a success on the other instance: got %d, want 401 (the count was reset)", r.Status)
	}

	hex := regexp.MustCompile(`^[0-9a-f]{64}$`)
	shared.mu.Lock()
	defer shared.mu.Unlock()
	for _, k := range shared.keys {
		if !hex.MatchString(k) || strings.Contains(k, "wes") {
			t.Fatalf("key %q given to the store: want a hex SHA-256", k)
		}
	}
}

// A store that cannot be reached answers 503 before any password is
// checked; any other store error falls back to counting in memory, with
// an error logged, so the throttle still holds.
func TestLoginThrottleStoreErrors(t *testing.T) {
	for _, tc := range []struct {
		name       string
		err        error
		statuses   []int // of four wrong passwords in a row
		wantLogged bool
	}{
		{"unavailable", fmt.Errorf("redis: %w", latchkey.ErrStoreUnavailable), []int{503, 503, 503, 503}, false},
		{"other error", errors.New("ERR script went wrong"), []int{401, 401, 401, 429}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			e.addUser("wes", "wes's long password")
			store := &throttlingStore{Store: e.store, sharedAttempts: &sharedAttempts{fail: tc.err}}
			cfg := testConfig(e)
			var logs bytes.Buffer
			var mu sync.Mutex
			cfg.Logger = slog.New(slog.NewTextHandler(lockedWriter{&mu, &logs}, nil))
			cfg.LoginBurst, cfg.LoginRefill = 3, time.Hour
			a, err := latchkey.New(cfg, store, store)
			if err != nil {
				t.Fatal(err)
			}
			c := serveAuth(t, a)
			for i, want := range tc.statuses {
				r := c.Login("wes", "wrong password")
				if r.Status != want {
					t.Errorf("attempt %d: got %d %s, want %d", i+1, r.Status, r.Raw, want)
				}
				if want == 503 && r.ErrCode() != "store_unavailable" {
					t.Errorf("attempt %d: got code %q, want store_unavailable", i+1, r.ErrCode())
				}
			}
			mu.Lock()
			defer mu.Unlock()
			if got := strings.Contains(logs.String(), "login throttle: the store failed"); got != tc.wantLogged {
				t.Errorf("logged the fallback: got %v, want %v; log:\n%s", got, tc.wantLogged, logs.String())
			}
		})
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  *bytes.Buffer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// AttemptBucketWait is the arithmetic every AttemptLimiter shares: a bucket
// of burst tokens, refilled one per refill, full again at full.
func TestAttemptBucketWait(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, tc := range []struct {
		name   string
		full   time.Time
		burst  int
		refill time.Duration
		want   time.Duration
	}{
		{"never failed (zero full)", time.Time{}, 3, time.Minute, 0},
		{"full in the past", now.Add(-time.Hour), 3, time.Minute, 0},
		{"one token spent", now.Add(time.Minute), 3, time.Minute, 0},
		{"one token left", now.Add(2 * time.Minute), 3, time.Minute, 0},
		{"a millisecond short of one token", now.Add(2*time.Minute + time.Millisecond), 3, time.Minute, time.Millisecond},
		{"empty", now.Add(3 * time.Minute), 3, time.Minute, time.Minute},
		{"five below empty", now.Add(8 * time.Minute), 3, time.Minute, 6 * time.Minute},
		{"burst of one", now.Add(time.Second), 1, time.Minute, time.Second},
		{"burst below one counts as one", now.Add(time.Second), 0, time.Minute, time.Second},
		{"no refill never throttles", now.Add(time.Hour), 3, 0, 0},
		{"huge burst does not overflow", now.Add(time.Hour), 1 << 40, time.Hour, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := latchkey.AttemptBucketWait(tc.full, tc.burst, tc.refill, now); got != tc.want {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}
