package latchkey_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/apicheck"
	"github.com/latchkey/latchkey/internal/apitest"
	"github.com/latchkey/latchkey/password"
	"github.com/latchkey/latchkey/sqlitestore"
)

// cheapArgon2 keeps tests fast; the real defaults are tested in package password.
var cheapArgon2 = password.Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}

var testSecret = []byte("test-secret-test-secret-test-secret-0123")

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// countingSessions counts writes to the session store, to prove that
// anonymous visitors and authenticated reads do not write.
// It wraps the whole store, used as both user and session store, so that
// Auth still reads sessions and users together (SessionUserFinder).
type countingSessions struct {
	*sqlitestore.Store
	creates, updates atomic.Int64
}

func (c *countingSessions) CreateSession(ctx context.Context, s *latchkey.Session) error {
	c.creates.Add(1)
	return c.Store.CreateSession(ctx, s)
}

func (c *countingSessions) UpdateSession(ctx context.Context, s *latchkey.Session) error {
	c.updates.Add(1)
	return c.Store.UpdateSession(ctx, s)
}

type env struct {
	t        testing.TB
	srv      *httptest.Server
	auth     *latchkey.Auth
	store    *sqlitestore.Store
	sessions *countingSessions
	clock    *clock
}

// newEnv serves the API and a Require-protected /app/ route over a real
// SQLite file, with a controllable clock.
func newEnv(t testing.TB, opts ...func(*latchkey.Config)) *env {
	t.Helper()
	st, err := sqlitestore.Open(context.Background(), filepath.Join(t.TempDir(), "latchkey.db"))
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	return newEnvWithStore(t, st, opts...)
}

func newEnvWithStore(t testing.TB, st *sqlitestore.Store, opts ...func(*latchkey.Config)) *env {
	t.Helper()
	clk := &clock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	cfg := latchkey.Config{Secrets: [][]byte{testSecret}, Argon2: cheapArgon2, Now: clk.Now, Logger: slog.New(slog.DiscardHandler)}
	for _, o := range opts {
		o(&cfg)
	}
	st.Now = clk.Now
	sessions := &countingSessions{Store: st}
	a, err := latchkey.New(cfg, sessions, sessions)
	if err != nil {
		t.Fatalf("latchkey.New: %v", err)
	}
	mux := http.NewServeMux()
	mux.Handle("/api/", a.Handler())
	mux.Handle("/app/", a.Require(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, _ := latchkey.UserFromContext(r.Context())
		io.WriteString(w, "hello "+u.Username)
	})))
	srv := httptest.NewServer(apicheck.Handler(t, mux)) // every exchange held to openapi/openapi.json
	t.Cleanup(srv.Close)
	return &env{t: t, srv: srv, auth: a, store: st, sessions: sessions, clock: clk}
}

// addUser creates a user directly.
func (e *env) addUser(name, pw string) *latchkey.User {
	e.t.Helper()
	u, err := e.auth.CreateUser(context.Background(), name, pw, "")
	if err != nil {
		e.t.Fatalf("CreateUser(%q): %v", name, err)
	}
	return u
}

// browser returns a new browser for e's server: a cookie jar, no CSRF
// token yet, and a User-Agent that its sessions remember.
func (e *env) browser() *apitest.Client {
	b := apitest.New(e.t, e.srv.URL)
	b.UserAgent = "test-browser/1.0"
	return b
}

// raw sends a request to e's server with exactly these cookies and headers
// (see apitest.Raw).
func (e *env) raw(method, path string, cookies map[string]string, header ...string) apitest.Resp {
	e.t.Helper()
	return apitest.Raw(e.t, method, e.srv.URL+path, cookies, header...)
}

// setCookieHeader finds the Set-Cookie for name in a response.
func setCookieHeader(h http.Header, name string) *http.Cookie {
	for _, line := range h.Values("Set-Cookie") {
		c, err := http.ParseSetCookie(line)
		if err == nil && c.Name == name {
			return c
		}
	}
	return nil
}
