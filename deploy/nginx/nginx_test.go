// Package nginx_test runs the shipped nginx configurations under a real
// nginx in front of a real latchkey, driven over HTTP like a browser.
package nginx_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/nginxtest"
	"github.com/latchkey/latchkey/memstore"
	"github.com/latchkey/latchkey/password"
	"github.com/latchkey/latchkey/web"
)

// cheapArgon2 keeps the tests fast; the real parameters are tested in package password.
var cheapArgon2 = password.Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}

// latchkeyServer is latchkey's API over a memstore, recording the
// forwarding headers of the last request it saw.
type latchkeyServer struct {
	*httptest.Server
	auth *latchkey.Auth

	mu   sync.Mutex
	last http.Header
	host string
}

func startLatchkey(t *testing.T, opts ...func(*latchkey.Config)) *latchkeyServer {
	t.Helper()
	st := memstore.New()
	cfg := latchkey.Config{
		Secrets: [][]byte{[]byte("test-secret-test-secret-test-secret-0123")},
		Argon2:  cheapArgon2,
		Logger:  slog.New(slog.DiscardHandler),
	}
	for _, o := range opts {
		o(&cfg)
	}
	a, err := latchkey.New(cfg, st, st)
	if err != nil {
		t.Fatalf("latchkey.New: %v", err)
	}
	ls := &latchkeyServer{auth: a}
	api := a.Handler()
	mux := http.NewServeMux()
	mux.Handle("/api/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ls.mu.Lock()
		ls.last, ls.host = r.Header.Clone(), r.Host
		ls.mu.Unlock()
		api.ServeHTTP(w, r)
	}))
	ls.Server = httptest.NewServer(mux)
	t.Cleanup(ls.Close)
	return ls
}

func (ls *latchkeyServer) addr() string { return ls.Listener.Addr().String() }

// seen returns the Host and the forwarding headers of the last API request.
func (ls *latchkeyServer) seen() (host string, h http.Header) {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	return ls.host, ls.last
}

func (ls *latchkeyServer) addUser(t *testing.T, name, pw string) *latchkey.User {
	t.Helper()
	u, err := ls.auth.CreateUser(context.Background(), name, pw, "")
	if err != nil {
		t.Fatalf("CreateUser(%q): %v", name, err)
	}
	return u
}

// browser is a cookie jar and the last CSRF token it was given, talking to
// nginx.
type browser struct {
	t     *testing.T
	base  string
	c     *http.Client
	token string
}

func newBrowser(t *testing.T, base string) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, base: base, c: &http.Client{Jar: jar}}
}

type resp struct {
	status int
	header http.Header
	body   string
	json   map[string]any
}

// errCode returns the error.code of a JSON error body.
func (r resp) errCode() string {
	e, _ := r.json["error"].(map[string]any)
	c, _ := e["code"].(string)
	return c
}

// do sends a request; header holds name, value pairs.
func (b *browser) do(method, path string, body []byte, header ...string) resp {
	b.t.Helper()
	req, err := http.NewRequest(method, b.base+path, bytes.NewReader(body))
	if err != nil {
		b.t.Fatal(err)
	}
	req.Header.Set("User-Agent", "nginx-test/1.0")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Add(header[i], header[i+1])
	}
	res, err := b.c.Do(req)
	if err != nil {
		b.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	r := resp{status: res.StatusCode, header: res.Header, body: string(raw)}
	if strings.HasPrefix(res.Header.Get("Content-Type"), "application/json") && len(raw) > 0 {
		if err := json.Unmarshal(raw, &r.json); err != nil {
			b.t.Errorf("%s %s: bad JSON %q: %v", method, path, raw, err)
		}
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

// post sends v as JSON with the browser's CSRF token.
func (b *browser) post(path string, v any, header ...string) resp {
	b.t.Helper()
	body, _ := json.Marshal(v)
	return b.do("POST", path, body, append([]string{"Content-Type", "application/json", "X-CSRFToken", b.token}, header...)...)
}

func (b *browser) mustLogin(name, pw string) {
	b.t.Helper()
	if r := b.get("/api/getcsrf"); r.status != 200 || b.token == "" {
		b.t.Fatalf("GET /api/getcsrf = %d %q, token %q", r.status, r.body, b.token)
	}
	if r := b.post("/api/login", map[string]any{"username": name, "password": pw}); r.status != 200 || r.json["login"] != true {
		b.t.Fatalf("POST /api/login = %d %q", r.status, r.body)
	}
}

// spaRoot is a real frontend build: the embedded SPA, plus a hashed
// asset and a dot-file that must stay hidden.
func spaRoot(t *testing.T) string {
	t.Helper()
	root := filepath.Join(t.TempDir(), "dist")
	if err := os.CopyFS(root, web.Files()); err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string]string{
		"assets/app-1a2b3c4d.js": "console.log('app');\n",
		".env":                   "SECRET=1\n",
		"assets/.secret":         "SECRET=2\n",
		"robots.txt":             "User-agent: *\n",
	} {
		p := filepath.Join(root, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func TestSameOrigin(t *testing.T) {
	lk := startLatchkey(t)
	lk.addUser(t, "alice", "correct horse battery")
	ngx := nginxtest.Start(t, "same-origin.conf", map[string]string{
		"LATCHKEY_ADDR": lk.addr(),
		"SPA_ROOT":      spaRoot(t),
		"SERVER_NAME":   "localhost",
	})
	b := newBrowser(t, ngx.URL)
	const nav = "text/html,application/xhtml+xml,*/*;q=0.8"

	t.Run("static files", func(t *testing.T) {
		tests := []struct {
			path, accept string
			wantStatus   int
			wantBody     string
			wantCache    string
		}{
			{"/", nav, 200, `<meta name="latchkey-api"`, "no-cache"},
			{"/index.html", nav, 200, `<meta name="latchkey-api"`, "no-cache"},
			{"/user", nav, 200, `<meta name="latchkey-api"`, "no-cache"},
			{"/users/jane.doe", nav, 200, `<meta name="latchkey-api"`, "no-cache"},
			{"/robots.txt", "*/*", 200, "User-agent", "no-cache"},
			{"/assets/app-1a2b3c4d.js", "*/*", 200, "console.log('app')", "public, max-age=31536000, immutable"},
			{"/assets/missing-1a2b3c4d.js", "*/*", 404, "", ""},
			{"/favicon.ico", "*/*", 404, "", ""},
			{"/.env", nav, 404, "", ""},
			{"/assets/.secret", "*/*", 404, "", ""},
			{"/assets/", nav, 404, "", ""}, // no listing
		}
		for _, tt := range tests {
			r := b.get(tt.path, "Accept", tt.accept)
			if r.status != tt.wantStatus || !strings.Contains(r.body, tt.wantBody) {
				t.Errorf("GET %s = %d %.80q, want %d containing %q", tt.path, r.status, r.body, tt.wantStatus, tt.wantBody)
			}
			if strings.Contains(r.body, "SECRET") {
				t.Errorf("GET %s leaked a dot-file: %q", tt.path, r.body)
			}
			if tt.wantCache != "" && r.header.Get("Cache-Control") != tt.wantCache {
				t.Errorf("GET %s: Cache-Control = %q, want %q", tt.path, r.header.Get("Cache-Control"), tt.wantCache)
			}
			if got := r.header.Get("Server"); got != "nginx" {
				t.Errorf("GET %s: Server = %q, want nginx without a version", tt.path, got)
			}
		}
		r := b.get("/")
		if csp := r.header.Get("Content-Security-Policy"); !strings.Contains(csp, "frame-ancestors 'none'") {
			t.Errorf("index.html CSP = %q", csp)
		}
		if r.header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("index.html lacks nosniff")
		}
	})

	t.Run("forwarding headers", func(t *testing.T) {
		r := b.get("/api/ping", "X-Forwarded-For", "6.6.6.6", "X-Forwarded-Host", "evil.example", "X-Forwarded-Proto", "https")
		if r.status != 200 {
			t.Fatalf("GET /api/ping = %d %q", r.status, r.body)
		}
		host, h := lk.seen()
		for name, want := range map[string]string{
			"X-Forwarded-For": "127.0.0.1", "X-Forwarded-Proto": "http", "X-Forwarded-Host": ngx.Addr,
		} {
			if got := h.Values(name); len(got) != 1 || got[0] != want {
				t.Errorf("latchkey saw %s %q, want %q", name, got, want)
			}
		}
		// /api/x.json is latchkey's (its JSON 404), not the static files'.
		if r := b.get("/api/nope.json"); r.status != 404 || r.errCode() != "not_found" {
			t.Errorf("GET /api/nope.json = %d %q, want latchkey's 404 not_found", r.status, r.body)
		}
		if host != ngx.Addr {
			t.Errorf("latchkey saw Host %q, want %q (with the port, for the Origin check)", host, ngx.Addr)
		}
		if r.header.Get("Cache-Control") != "no-store" || len(r.header.Values("X-Content-Type-Options")) != 1 {
			t.Errorf("API headers through nginx: Cache-Control %q, X-Content-Type-Options %q", r.header.Get("Cache-Control"), r.header.Values("X-Content-Type-Options"))
		}
	})

	t.Run("login, session, data, logout", func(t *testing.T) {
		if r := b.get("/api/getcsrf"); r.status != 200 || b.token == "" {
			t.Fatalf("GET /api/getcsrf = %d %q", r.status, r.body)
		}
		tok := b.token
		b.token = ""
		if r := b.post("/api/login", map[string]any{"username": "alice", "password": "correct horse battery"}); r.status != 403 || r.errCode() != "csrf_failed" {
			t.Errorf("login without a token = %d %q, want 403 csrf_failed", r.status, r.body)
		}
		b.token = tok
		if r := b.post("/api/login", map[string]any{"username": "alice", "password": "correct horse battery"},
			"Origin", "http://evil.example", "Sec-Fetch-Site", "cross-site"); r.status != 403 {
			t.Errorf("cross-site login = %d %q, want 403", r.status, r.body)
		}
		if r := b.post("/api/login", map[string]any{"username": "alice", "password": "correct horse battery"},
			"Origin", ngx.URL, "Sec-Fetch-Site", "same-origin"); r.status != 200 || r.json["login"] != true {
			t.Fatalf("login = %d %q", r.status, r.body)
		}
		if r := b.get("/api/getsession"); r.status != 200 || r.json["login"] != true {
			t.Errorf("getsession = %d %q, want logged in", r.status, r.body)
		}
		if r := b.get("/api/data"); r.status != 200 || r.json["username"] != "alice" {
			t.Errorf("data = %d %q, want alice's", r.status, r.body)
		}
		if r := b.post("/api/logout", nil, "Origin", ngx.URL); r.status != 200 || r.json["logout"] != true {
			t.Errorf("logout = %d %q", r.status, r.body)
		}
		if r := b.get("/api/data"); r.status != 401 || r.errCode() != "unauthorized" {
			t.Errorf("data after logout = %d %q, want 401", r.status, r.body)
		}
	})
}

// backend is the application that auth-request.conf protects: it answers
// with what it saw.
type backend struct {
	*httptest.Server
	mu   sync.Mutex
	hits int
}

type backendSaw struct {
	Method, Path, Body string
	UserID, Username   []string
	Authorization      []string
}

func startBackend(t *testing.T) *backend {
	t.Helper()
	be := &backend{}
	be.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		be.mu.Lock()
		be.hits++
		be.mu.Unlock()
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(backendSaw{
			Method: r.Method, Path: r.URL.RequestURI(), Body: string(body),
			UserID: r.Header.Values("X-Latchkey-User-Id"), Username: r.Header.Values("X-Latchkey-Username"),
			Authorization: r.Header.Values("Authorization"),
		})
	}))
	t.Cleanup(be.Close)
	return be
}

// startAuthRequest runs auth-request.conf under nginx in front of lk and a
// new backend.
func startAuthRequest(t *testing.T, lk *latchkeyServer) (*backend, *nginxtest.Server) {
	t.Helper()
	be := startBackend(t)
	return be, nginxtest.Start(t, "auth-request.conf", map[string]string{
		"LATCHKEY_ADDR": lk.addr(),
		"BACKEND_ADDR":  be.Listener.Addr().String(),
		"SERVER_NAME":   "localhost",
	})
}

func (be *backend) count() int { be.mu.Lock(); defer be.mu.Unlock(); return be.hits }

func TestAuthRequest(t *testing.T) {
	lk := startLatchkey(t)
	alice := lk.addUser(t, "alice", "correct horse battery")
	zoe := lk.addUser(t, "Zoë", "correct horse battery")
	be, ngx := startAuthRequest(t, lk)
	spoof := []string{
		"X-Latchkey-User-Id", "999", "X-Latchkey-Username", "admin",
		"x-latchkey-user-id", "998", "X-Latchkey_User_Id", "997",
	}
	saw := func(r resp) backendSaw {
		t.Helper()
		var s backendSaw
		if err := json.Unmarshal([]byte(r.body), &s); err != nil {
			t.Fatalf("backend answer %q: %v", r.body, err)
		}
		return s
	}

	anon := newBrowser(t, ngx.URL)
	for _, r := range []resp{anon.get("/notes"), anon.get("/notes", spoof...), anon.do("POST", "/notes", []byte("x"), spoof...)} {
		if r.status != 401 || r.errCode() != "unauthorized" || !strings.HasPrefix(r.header.Get("Content-Type"), "application/json") {
			t.Errorf("anonymous = %d %q %q, want 401 JSON unauthorized", r.status, r.header.Get("Content-Type"), r.body)
		}
	}
	if r := anon.get("/_latchkey/verify"); r.status != 404 {
		t.Errorf("GET /_latchkey/verify from outside = %d, want 404 (internal)", r.status)
	}
	if n := be.count(); n != 0 {
		t.Fatalf("the backend was reached %d times by anonymous requests", n)
	}

	b := newBrowser(t, ngx.URL)
	b.mustLogin("alice", "correct horse battery")

	r := b.get("/notes?page=2", spoof...)
	if r.status != 200 {
		t.Fatalf("GET /notes logged in = %d %q", r.status, r.body)
	}
	s := saw(r)
	wantID := strconv.FormatInt(alice.ID, 10)
	if s.Path != "/notes?page=2" || len(s.UserID) != 1 || s.UserID[0] != wantID || len(s.Username) != 1 || s.Username[0] != "alice" {
		t.Errorf("backend saw %+v, want /notes?page=2 as user %s alice, once each", s, wantID)
	}

	before := be.count()
	tok := b.token
	b.token = ""
	if r := b.post("/notes", map[string]string{"text": "hi"}, spoof...); r.status != 403 || r.errCode() != "csrf_failed" {
		t.Errorf("POST without a token = %d %q, want 403 csrf_failed", r.status, r.body)
	}
	b.token = "not-a-token"
	if r := b.post("/notes", map[string]string{"text": "hi"}); r.status != 403 {
		t.Errorf("POST with a bad token = %d %q, want 403", r.status, r.body)
	}
	b.token = tok
	if r := b.post("/notes", map[string]string{"text": "hi"}, "Origin", "http://evil.example", "Sec-Fetch-Site", "cross-site"); r.status != 403 {
		t.Errorf("cross-site POST with a token = %d %q, want 403", r.status, r.body)
	}
	if n := be.count(); n != before {
		t.Fatalf("refused writes reached the backend (%d hits)", n-before)
	}
	r = b.post("/notes", map[string]string{"text": "hi"}, append([]string{"Origin", ngx.URL}, spoof...)...)
	if r.status != 200 {
		t.Fatalf("POST with a token = %d %q", r.status, r.body)
	}
	if s := saw(r); s.Method != "POST" || s.Body != `{"text":"hi"}` || len(s.UserID) != 1 || s.UserID[0] != wantID {
		t.Errorf("backend saw %+v, want alice's POST with its body", s)
	}

	z := newBrowser(t, ngx.URL)
	z.mustLogin("Zoë", "correct horse battery")
	if s := saw(z.get("/whoami")); len(s.Username) != 1 || s.Username[0] != "Zo%C3%AB" || s.UserID[0] != strconv.FormatInt(zoe.ID, 10) {
		t.Errorf("backend saw %+v for Zoë, want the percent-encoded name", s)
	}

	if r := b.post("/api/logout", nil); r.status != 200 {
		t.Fatalf("logout = %d %q", r.status, r.body)
	}
	if r := b.get("/notes"); r.status != 401 {
		t.Errorf("GET /notes after logout = %d, want 401", r.status)
	}

	// The backend down: a JSON 502, not nginx's HTML page.
	be.Close()
	if r := z.get("/notes"); r.status != 502 || r.errCode() != "bad_gateway" {
		t.Errorf("with the backend down = %d %q, want 502 bad_gateway", r.status, r.body)
	}
}

func TestAuthRequestLatchkeyDown(t *testing.T) {
	lk := startLatchkey(t)
	lk.addUser(t, "alice", "correct horse battery")
	be, ngx := startAuthRequest(t, lk)
	b := newBrowser(t, ngx.URL)
	b.mustLogin("alice", "correct horse battery")
	lk.Close()
	if r := b.get("/notes"); r.status != 502 || r.errCode() != "bad_gateway" {
		t.Errorf("with latchkey down = %d %q, want 502 bad_gateway", r.status, r.body)
	}
	if n := be.count(); n != 0 {
		t.Errorf("with latchkey down the backend was reached %d times", n)
	}
}

// TestAuthRequestTokenMode: behind auth_request, token mode's expired
// access token still reads as token_expired (so clients refresh), and API
// tokens work but never reach the backend.
func TestAuthRequestTokenMode(t *testing.T) {
	var mu sync.Mutex
	now := time.Now()
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	lk := startLatchkey(t, func(c *latchkey.Config) { c.TokenMode = latchkey.TokenModeJWT; c.Now = clock })
	lk.addUser(t, "alice", "correct horse battery")
	be, ngx := startAuthRequest(t, lk)
	b := newBrowser(t, ngx.URL)
	b.mustLogin("alice", "correct horse battery")
	if r := b.get("/notes", "Authorization", "Basic dXNlcjpwYXNz"); r.status != 200 || !strings.Contains(r.body, `"Authorization":["Basic dXNlcjpwYXNz"]`) {
		t.Errorf("GET /notes in token mode = %d %q, want 200 with the Basic header passed on", r.status, r.body)
	}
	if r := b.post("/notes", map[string]string{"text": "hi"}); r.status != 200 {
		t.Errorf("POST /notes with the pair's CSRF value = %d %q", r.status, r.body)
	}
	mu.Lock()
	now = now.Add(16 * time.Minute)
	mu.Unlock()
	before := be.count()
	r := b.get("/notes")
	if r.status != 401 || r.errCode() != "token_expired" {
		t.Fatalf("GET /notes with an expired access token = %d %q, want 401 token_expired", r.status, r.body)
	}
	if be.count() != before {
		t.Error("a request with an expired access token reached the backend")
	}
	csrf := ""
	u, _ := url.Parse(ngx.URL)
	for _, c := range b.c.Jar.Cookies(u) {
		if c.Name == "csrf_refresh_token" {
			csrf = c.Value
		}
	}
	if r := b.do("POST", "/api/auth/refresh", nil, "X-CSRF-TOKEN", csrf); r.status != 200 {
		t.Fatalf("refresh through nginx = %d %q", r.status, r.body)
	}
	if r := b.get("/notes"); r.status != 200 {
		t.Errorf("GET /notes after the refresh = %d %q", r.status, r.body)
	}

	plain, _, err := lk.auth.CreateAPIToken(t.Context(), "alice", "ci", 0)
	if err != nil {
		t.Fatal(err)
	}
	script := newBrowser(t, ngx.URL)
	r = script.do("POST", "/notes", []byte("x"), "Authorization", "Bearer "+plain)
	if r.status != 200 || strings.Contains(r.body, plain) || !strings.Contains(r.body, `"Username":["alice"]`) {
		t.Errorf("POST /notes with an API token = %d %q, want 200 as alice, without the token", r.status, r.body)
	}
	if r := script.get("/notes", "Authorization", "Bearer lk_"+strings.Repeat("A", 43)); r.status != 401 || r.errCode() != "unauthorized" {
		t.Errorf("an unknown API token = %d %q, want 401 unauthorized", r.status, r.body)
	}
}
