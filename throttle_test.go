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
	"sync/atomic"
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

func (s *sharedAttempts) AttemptTake(_ context.Context, key string, burst int, refill time.Duration, now time.Time) (time.Duration, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.keys = append(s.keys, key)
	if s.fail != nil {
		return 0, s.fail
	}
	if wait := latchkey.AttemptBucketWait(s.full[key], burst, refill, now); wait > 0 {
		return wait, nil
	}
	full := s.full[key]
	if full.Before(now) {
		full = now
	}
	s.full[key] = full.Add(refill)
	return 0, nil
}

func (s *sharedAttempts) AttemptRefund(_ context.Context, key string, refill time.Duration, now time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return s.fail
	}
	if full, ok := s.full[key]; ok {
		s.full[key] = full.Add(-refill)
	}
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

	shared.checkHashed(t, "wes")
}

// checkHashed fails t unless every key the limiter was given is a hex
// SHA-256, and none contains plain (a name or address).
func (s *sharedAttempts) checkHashed(t *testing.T, plain string) {
	t.Helper()
	hex := regexp.MustCompile(`^[0-9a-f]{64}$`)
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, k := range s.keys {
		if !hex.MatchString(k) || strings.Contains(k, plain) {
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

// gatedUsers holds every username lookup, the step after the throttle and
// before the hash, until the test opens the gate: so all the guesses that
// got past the throttle are in flight together, the worst case for it.
type gatedUsers struct {
	latchkey.UserStore
	latchkey.MFAStore
	arrived chan struct{}
	gate    chan struct{}
}

func (g *gatedUsers) UserByUsernameKey(ctx context.Context, key string) (*latchkey.User, error) {
	g.arrived <- struct{}{}
	<-g.gate
	return g.UserStore.UserByUsernameKey(ctx, key)
}

// Concurrent guesses get no more password checks than the burst: each
// takes its token before hashing, not after.
func TestLoginThrottleConcurrentGuesses(t *testing.T) {
	const n, right = 60, 49
	e := newEnv(t)
	e.addUser("wes", "wes's long password")
	users := &gatedUsers{UserStore: e.store, MFAStore: e.store, arrived: make(chan struct{}, n), gate: make(chan struct{})}
	a, err := latchkey.New(testConfig(e), users, e.store) // default LoginBurst: 20
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(a.Handler())
	t.Cleanup(srv.Close)
	results := make(chan apitest.Resp, n)
	for i := range n {
		b := apitest.New(t, srv.URL)
		b.CSRF()
		pw := fmt.Sprintf("guess %d", i)
		if i == right {
			pw = "wes's long password"
		}
		go func() { results <- b.Login("wes", pw) }()
	}
	// Open the gate once every guess is either held there or answered.
	statuses := map[int]int{}
	for arrived, answered := 0, 0; arrived+answered < n; {
		select {
		case <-users.arrived:
			arrived++
		case r := <-results:
			statuses[r.Status]++
			answered++
		}
	}
	close(users.gate)
	for answered := sum(statuses); answered < n; answered++ {
		statuses[(<-results).Status]++
	}
	if checked := statuses[401] + statuses[200]; checked > 20 || statuses[429] != n-checked {
		t.Errorf("%d concurrent guesses with a burst of 20: statuses %v; want at most 20 checked (401 or 200), the rest 429", n, statuses)
	}
}

func sum(m map[int]int) int {
	s := 0
	for _, v := range m {
		s += v
	}
	return s
}

func TestAttemptSpan(t *testing.T) {
	for _, tc := range []struct {
		name   string
		burst  int
		refill time.Duration
		want   time.Duration
	}{
		{"burst-1 refills", 3, time.Minute, 2 * time.Minute},
		{"burst of one", 1, time.Minute, 0},
		{"burst below one counts as one", -5, time.Minute, 0},
		{"no refill", 3, 0, 0},
		{"capped at 100 years", 1 << 40, time.Hour, 100 * 365 * 24 * time.Hour},
		{"no overflow", 1 << 62, 1 << 62, 100 * 365 * 24 * time.Hour},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := latchkey.AttemptSpan(tc.burst, tc.refill); got != tc.want {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

// failingUsers fails username lookups while fail is set.
type failingUsers struct {
	latchkey.UserStore
	latchkey.MFAStore
	fail atomic.Bool
}

func (f *failingUsers) UserByUsernameKey(ctx context.Context, key string) (*latchkey.User, error) {
	if f.fail.Load() {
		return nil, fmt.Errorf("users: %w", latchkey.ErrStoreUnavailable)
	}
	return f.UserStore.UserByUsernameKey(ctx, key)
}

// A login whose password was never checked (here the user store was down)
// gives its tokens back: only checked failures count.
func TestLoginThrottleRefundsUncheckedAttempts(t *testing.T) {
	e := newEnv(t)
	e.addUser("wes", "wes's long password")
	users := &failingUsers{UserStore: e.store, MFAStore: e.store}
	cfg := testConfig(e)
	cfg.LoginBurst, cfg.LoginRefill = 2, time.Hour
	cfg.LoginIPBurst, cfg.LoginIPRefill = 3, time.Hour
	a, err := latchkey.New(cfg, users, e.store)
	if err != nil {
		t.Fatal(err)
	}
	c := serveAuth(t, a)
	users.fail.Store(true)
	for i := range 5 {
		if r := c.Login("wes", "wrong password"); r.Status != 503 || r.ErrCode() != "store_unavailable" {
			t.Fatalf("with the user store down, attempt %d: got %d %s, want 503 store_unavailable", i+1, r.Status, r.Raw)
		}
	}
	users.fail.Store(false)
	for i := range 2 {
		if r := c.Login("wes", "wrong password"); r.Status != 401 {
			t.Fatalf("failure %d once the store is back: got %d %s, want 401", i+1, r.Status, r.Raw)
		}
	}
	want429(t, "a 3rd failure for wes", c.Login("wes", "wrong password"), "3600")
	if r := c.Login("ann", "wrong password"); r.Status != 401 {
		t.Fatalf("a 3rd failure from the client: got %d %s, want 401", r.Status, r.Raw)
	}
	want429(t, "a 4th failure from the client", c.Login("bob", "wrong password"), "3600")
}

// Registration, like login, gets 503 at once when the store that counts
// it cannot be reached, and creates nobody.
func TestRegisterThrottleStoreUnavailable(t *testing.T) {
	e := newEnv(t)
	store := &throttlingStore{Store: e.store, sharedAttempts: &sharedAttempts{fail: fmt.Errorf("redis: %w", latchkey.ErrStoreUnavailable)}}
	a, err := latchkey.New(testConfig(e), store, store)
	if err != nil {
		t.Fatal(err)
	}
	c := serveAuth(t, a)
	c.CSRF()
	if r := c.Post("/api/register", map[string]any{"username": "ann", "password": "ann's long password"}); r.Status != 503 || r.ErrCode() != "store_unavailable" {
		t.Errorf("register: got %d %s, want 503 store_unavailable", r.Status, r.Raw)
	}
	if _, err := e.auth.LookupUser(context.Background(), "ann"); err == nil {
		t.Errorf("the refused registration created its user")
	}
}
