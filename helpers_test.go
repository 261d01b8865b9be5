package latchkey_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/latchkey/latchkey"
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
	srv := httptest.NewServer(mux)
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

// browser is one browser: a cookie jar and the last CSRF token it was given.
type browser struct {
	t     testing.TB
	e     *env
	c     *http.Client
	token string
	ua    string
}

func (e *env) browser() *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: e.t, e: e, c: &http.Client{Jar: jar}, ua: "test-browser/1.0"}
}

type resp struct {
	status int
	header http.Header
	body   map[string]any
	raw    string
}

// errCode returns body.error.code.
func (r resp) errCode() string {
	e, _ := r.body["error"].(map[string]any)
	c, _ := e["code"].(string)
	return c
}

func (r resp) errField() string {
	e, _ := r.body["error"].(map[string]any)
	c, _ := e["field"].(string)
	return c
}

// do sends a request; header pairs are name, value, ….
func (b *browser) do(method, path string, body io.Reader, header ...string) resp {
	b.t.Helper()
	req, err := http.NewRequest(method, b.e.srv.URL+path, body)
	if err != nil {
		b.t.Fatal(err)
	}
	req.Header.Set("User-Agent", b.ua)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Add(header[i], header[i+1])
	}
	res, err := b.c.Do(req)
	if err != nil {
		b.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	r := resp{status: res.StatusCode, header: res.Header, raw: string(raw)}
	if ct := res.Header.Get("Content-Type"); method != "HEAD" && strings.HasPrefix(ct, "application/json") {
		if err := json.Unmarshal(raw, &r.body); err != nil {
			b.t.Fatalf("%s %s: bad JSON %q: %v", method, path, raw, err)
		}
	}
	if r.status == 500 { // 502 and 503 are designed answers; tests check those statuses themselves
		b.t.Errorf("%s %s: status %d: %s", method, path, r.status, raw)
	}
	if tok := res.Header.Get("X-CSRFToken"); tok != "" {
		b.token = tok
	}
	return r
}

func (b *browser) get(path string, header ...string) resp {
	b.t.Helper()
	return b.do("GET", path, nil, header...)
}

// post sends v as JSON with the browser's current CSRF token.
func (b *browser) post(path string, v any, header ...string) resp {
	b.t.Helper()
	var body []byte
	switch v := v.(type) {
	case string:
		body = []byte(v)
	case nil:
	default:
		body, _ = json.Marshal(v)
	}
	h := append([]string{"Content-Type", "application/json", "X-CSRFToken", b.token}, header...)
	return b.do("POST", path, bytes.NewReader(body), h...)
}

// csrf fetches a token.
func (b *browser) csrf() string {
	b.t.Helper()
	r := b.get("/api/getcsrf")
	if r.status != 200 {
		b.t.Fatalf("getcsrf: %d %s", r.status, r.raw)
	}
	return b.token
}

func (b *browser) login(name, pw string, header ...string) resp {
	b.t.Helper()
	if b.token == "" {
		b.csrf()
	}
	return b.post("/api/login", map[string]any{"username": name, "password": pw}, header...)
}

// mustLogin logs in and fails the test if that does not work.
func (b *browser) mustLogin(name, pw string) {
	b.t.Helper()
	if r := b.login(name, pw); r.status != 200 {
		b.t.Fatalf("login %s: %d %s", name, r.status, r.raw)
	}
}

func (b *browser) loggedIn() bool {
	b.t.Helper()
	r := b.get("/api/getsession")
	if r.status != 200 {
		b.t.Fatalf("getsession: %d %s", r.status, r.raw)
	}
	return r.body["login"] == true
}

// cookie returns the jar's cookie named name for the server.
func (b *browser) cookie(name string) *http.Cookie {
	u, _ := http.NewRequest("GET", b.e.srv.URL, nil)
	for _, c := range b.c.Jar.Cookies(u.URL) {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// setCookie overwrites a cookie in the jar, as an attacker or a stale tab would.
func (b *browser) setCookie(name, value string) {
	u, _ := http.NewRequest("GET", b.e.srv.URL, nil)
	b.c.Jar.SetCookies(u.URL, []*http.Cookie{{Name: name, Value: value, Path: "/"}})
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
