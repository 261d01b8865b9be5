// Package nginx_test runs the shipped nginx configurations under a real
// nginx in front of a real latchkey, driven over HTTP like a browser.
package nginx_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/apitest"
	"github.com/latchkey/latchkey/internal/nginxtest"
	"github.com/latchkey/latchkey/memstore"
	"github.com/latchkey/latchkey/pages"
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
	hosted, err := pages.Handler(a, pages.Options{Logger: cfg.Logger})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle(a.Config().PagesPrefix+"/", a.SecurityHeaders(hosted))
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

// newBrowser returns a browser's scripts talking to nginx at base: they
// ask for JSON, so a refusal is a JSON error, not the login page.
func newBrowser(t *testing.T, base string) *apitest.Client {
	b := apitest.New(t, base)
	b.UserAgent = "nginx-test/1.0"
	b.Header = http.Header{"Accept": {"application/json"}}
	return b
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
			r := b.Get(tt.path, "Accept", tt.accept)
			if r.Status != tt.wantStatus || !strings.Contains(r.Raw, tt.wantBody) {
				t.Errorf("GET %s = %d %.80q, want %d containing %q", tt.path, r.Status, r.Raw, tt.wantStatus, tt.wantBody)
			}
			if strings.Contains(r.Raw, "SECRET") {
				t.Errorf("GET %s leaked a dot-file: %q", tt.path, r.Raw)
			}
			if tt.wantCache != "" && r.Header.Get("Cache-Control") != tt.wantCache {
				t.Errorf("GET %s: Cache-Control = %q, want %q", tt.path, r.Header.Get("Cache-Control"), tt.wantCache)
			}
			if got := r.Header.Get("Server"); got != "nginx" {
				t.Errorf("GET %s: Server = %q, want nginx without a version", tt.path, got)
			}
		}
		r := b.Get("/")
		if csp := r.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "frame-ancestors 'none'") {
			t.Errorf("index.html CSP = %q", csp)
		}
		if r.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("index.html lacks nosniff")
		}
	})

	// The pages mailed links open hold a token in their URL: no Referer.
	t.Run("referrer policy", func(t *testing.T) {
		for _, tt := range []struct{ path, want string }{
			{"/reset-password?token=1.abc", "no-referrer"},
			{"/verify-email?token=1.abc", "no-referrer"},
			{"/confirm-email?token=1.abc", "no-referrer"},
			{"/reset-password", "no-referrer"},
			{"/reset-password/", "no-referrer"},
			{"/", "strict-origin-when-cross-origin"},
			{"/index.html", "strict-origin-when-cross-origin"},
			{"/user", "strict-origin-when-cross-origin"},
			{"/user?next=/reset-password", "strict-origin-when-cross-origin"},
			{"/reset-password-help", "strict-origin-when-cross-origin"},
			{"/settings/verify-email", "strict-origin-when-cross-origin"},
		} {
			r := b.Get(tt.path, "Accept", nav)
			if got := r.Header.Values("Referrer-Policy"); r.Status != 200 || !strings.Contains(r.Raw, `<meta name="latchkey-api"`) || len(got) != 1 || got[0] != tt.want {
				t.Errorf("GET %s = %d, Referrer-Policy %q; want the app with %q", tt.path, r.Status, got, tt.want)
			}
			if r.Header.Get("X-Frame-Options") != "DENY" || !strings.Contains(r.Header.Get("Content-Security-Policy"), "frame-ancestors 'none'") {
				t.Errorf("GET %s lacks the page's other headers: %v", tt.path, r.Header)
			}
		}
	})

	// The hosted pages are latchkey's, not the SPA's fallback.
	t.Run("hosted pages", func(t *testing.T) {
		r := b.Get("/auth/login", "Accept", nav)
		if r.Status != 200 || !strings.Contains(r.Raw, `action="/api/login"`) || strings.Contains(r.Raw, `<meta name="latchkey-api"`) {
			t.Errorf("GET /auth/login = %d %.200q, want latchkey's login page", r.Status, r.Raw)
		}
	})

	t.Run("forwarding headers", func(t *testing.T) {
		r := b.Get("/api/ping", "X-Forwarded-For", "6.6.6.6", "X-Forwarded-Host", "evil.example", "X-Forwarded-Proto", "https")
		if r.Status != 200 {
			t.Fatalf("GET /api/ping = %d %q", r.Status, r.Raw)
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
		if r := b.Get("/api/nope.json"); r.Status != 404 || r.ErrCode() != "not_found" {
			t.Errorf("GET /api/nope.json = %d %q, want latchkey's 404 not_found", r.Status, r.Raw)
		}
		if host != ngx.Addr {
			t.Errorf("latchkey saw Host %q, want %q (with the port, for the Origin check)", host, ngx.Addr)
		}
		if r.Header.Get("Cache-Control") != "no-store" || len(r.Header.Values("X-Content-Type-Options")) != 1 {
			t.Errorf("API headers through nginx: Cache-Control %q, X-Content-Type-Options %q", r.Header.Get("Cache-Control"), r.Header.Values("X-Content-Type-Options"))
		}
	})

	t.Run("login, session, data, logout", func(t *testing.T) {
		if r := b.Get("/api/getcsrf"); r.Status != 200 || b.Token() == "" {
			t.Fatalf("GET /api/getcsrf = %d %q", r.Status, r.Raw)
		}
		tok := b.Token()
		b.SetToken("")
		if r := b.Post("/api/login", map[string]any{"username": "alice", "password": "correct horse battery"}); r.Status != 403 || r.ErrCode() != "csrf_failed" {
			t.Errorf("login without a token = %d %q, want 403 csrf_failed", r.Status, r.Raw)
		}
		b.SetToken(tok)
		if r := b.Post("/api/login", map[string]any{"username": "alice", "password": "correct horse battery"},
			"Origin", "http://evil.example", "Sec-Fetch-Site", "cross-site"); r.Status != 403 {
			t.Errorf("cross-site login = %d %q, want 403", r.Status, r.Raw)
		}
		if r := b.Post("/api/login", map[string]any{"username": "alice", "password": "correct horse battery"},
			"Origin", ngx.URL, "Sec-Fetch-Site", "same-origin"); r.Status != 200 || r.JSON["login"] != true {
			t.Fatalf("login = %d %q", r.Status, r.Raw)
		}
		if r := b.Get("/api/getsession"); r.Status != 200 || r.JSON["login"] != true {
			t.Errorf("getsession = %d %q, want logged in", r.Status, r.Raw)
		}
		if r := b.Get("/api/data"); r.Status != 200 || r.JSON["username"] != "alice" {
			t.Errorf("data = %d %q, want alice's", r.Status, r.Raw)
		}
		if r := b.Post("/api/logout", nil, "Origin", ngx.URL); r.Status != 200 || r.JSON["logout"] != true {
			t.Errorf("logout = %d %q", r.Status, r.Raw)
		}
		if r := b.Get("/api/data"); r.Status != 401 || r.ErrCode() != "unauthorized" {
			t.Errorf("data after logout = %d %q, want 401", r.Status, r.Raw)
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
	Roles              []string
	Authorization      []string
	// Owned is every header a CGI-style backend reads as latchkey's
	// (HTTP_X_LATCHKEY_*, HTTP_X_FORWARDED_*, HTTP_FORWARDED), by its CGI name.
	Owned map[string][]string
}

func startBackend(t *testing.T) *backend {
	t.Helper()
	be := &backend{}
	be.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		be.mu.Lock()
		be.hits++
		be.mu.Unlock()
		if r.Header.Get("Upgrade") != "" {
			// A backend that trusts nginx and latchkey to have checked Origin.
			c, err := websocket.Accept(w, r, &websocket.AcceptOptions{InsecureSkipVerify: true})
			if err != nil {
				return
			}
			defer c.CloseNow()
			c.Write(r.Context(), websocket.MessageText, []byte("hello "+r.Header.Get("X-Latchkey-Username")))
			return
		}
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(backendSaw{
			Method: r.Method, Path: r.URL.RequestURI(), Body: string(body),
			UserID: r.Header.Values("X-Latchkey-User-Id"), Username: r.Header.Values("X-Latchkey-Username"),
			Roles:         r.Header.Values("X-Latchkey-Roles"),
			Authorization: r.Header.Values("Authorization"), Owned: owned(r.Header),
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

// owned returns the headers that CGI, PHP, WSGI or Rack would present as
// HTTP_X_LATCHKEY_*, HTTP_X_FORWARDED_* or HTTP_FORWARDED, whatever their
// spelling.
func owned(h http.Header) map[string][]string {
	out := map[string][]string{}
	for k, v := range h {
		cgi := "HTTP_" + strings.ToUpper(strings.ReplaceAll(k, "-", "_"))
		if strings.HasPrefix(cgi, "HTTP_X_LATCHKEY_") || strings.HasPrefix(cgi, "HTTP_X_FORWARDED_") || cgi == "HTTP_FORWARDED" {
			out[cgi] = append(out[cgi], v...)
		}
	}
	return out
}

func (be *backend) count() int { be.mu.Lock(); defer be.mu.Unlock(); return be.hits }

func TestAuthRequest(t *testing.T) {
	lk := startLatchkey(t)
	alice := lk.addUser(t, "alice", "correct horse battery")
	if _, err := lk.auth.SetRoles(context.Background(), alice.ID, []string{"editor", "billing"}, 0); err != nil {
		t.Fatal(err)
	}
	zoe := lk.addUser(t, "Zoë", "correct horse battery")
	be, ngx := startAuthRequest(t, lk)
	spoof := []string{
		"X-Latchkey-User-Id", "999", "X-Latchkey-Username", "admin", "X-Latchkey-Roles", "admin",
		"x-latchkey-user-id", "998", "X-Latchkey_User_Id", "997",
	}
	saw := func(r apitest.Resp) backendSaw {
		t.Helper()
		var s backendSaw
		if err := json.Unmarshal([]byte(r.Raw), &s); err != nil {
			t.Fatalf("backend answer %q: %v", r.Raw, err)
		}
		return s
	}

	anon := newBrowser(t, ngx.URL)
	for _, r := range []apitest.Resp{anon.Get("/notes"), anon.Get("/notes", spoof...), anon.Do("POST", "/notes", strings.NewReader("x"), spoof...)} {
		if r.Status != 401 || r.ErrCode() != "unauthorized" || !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
			t.Errorf("anonymous = %d %q %q, want 401 JSON unauthorized", r.Status, r.Header.Get("Content-Type"), r.Raw)
		}
	}
	if r := anon.Get("/_latchkey/verify"); r.Status != 404 {
		t.Errorf("GET /_latchkey/verify from outside = %d, want 404 (internal)", r.Status)
	}
	if n := be.count(); n != 0 {
		t.Fatalf("the backend was reached %d times by anonymous requests", n)
	}

	b := newBrowser(t, ngx.URL)
	b.MustLogin("alice", "correct horse battery")

	r := b.Get("/notes?page=2", spoof...)
	if r.Status != 200 {
		t.Fatalf("GET /notes logged in = %d %q", r.Status, r.Raw)
	}
	s := saw(r)
	wantID := strconv.FormatInt(alice.ID, 10)
	if s.Path != "/notes?page=2" || len(s.UserID) != 1 || s.UserID[0] != wantID || len(s.Username) != 1 || s.Username[0] != "alice" ||
		len(s.Roles) != 1 || s.Roles[0] != "billing,editor" {
		t.Errorf("backend saw %+v, want /notes?page=2 as user %s alice, once each", s, wantID)
	}

	before := be.count()
	tok := b.Token()
	b.SetToken("")
	if r := b.Post("/notes", map[string]string{"text": "hi"}, spoof...); r.Status != 403 || r.ErrCode() != "csrf_failed" {
		t.Errorf("POST without a token = %d %q, want 403 csrf_failed", r.Status, r.Raw)
	}
	b.SetToken("not-a-token")
	if r := b.Post("/notes", map[string]string{"text": "hi"}); r.Status != 403 {
		t.Errorf("POST with a bad token = %d %q, want 403", r.Status, r.Raw)
	}
	b.SetToken(tok)
	if r := b.Post("/notes", map[string]string{"text": "hi"}, "Origin", "http://evil.example", "Sec-Fetch-Site", "cross-site"); r.Status != 403 {
		t.Errorf("cross-site POST with a token = %d %q, want 403", r.Status, r.Raw)
	}
	if n := be.count(); n != before {
		t.Fatalf("refused writes reached the backend (%d hits)", n-before)
	}
	r = b.Post("/notes", map[string]string{"text": "hi"}, append([]string{"Origin", ngx.URL}, spoof...)...)
	if r.Status != 200 {
		t.Fatalf("POST with a token = %d %q", r.Status, r.Raw)
	}
	if s := saw(r); s.Method != "POST" || s.Body != `{"text":"hi"}` || len(s.UserID) != 1 || s.UserID[0] != wantID {
		t.Errorf("backend saw %+v, want alice's POST with its body", s)
	}

	z := newBrowser(t, ngx.URL)
	z.MustLogin("Zoë", "correct horse battery")
	if s := saw(z.Get("/whoami", "X-Latchkey-Roles", "admin")); len(s.Username) != 1 || s.Username[0] != "Zo%C3%AB" || s.UserID[0] != strconv.FormatInt(zoe.ID, 10) ||
		len(s.Roles) != 0 {
		t.Errorf("backend saw %+v for Zoë, want the percent-encoded name and no roles (nginx drops the client's)", s)
	}

	if r := b.Post("/api/logout", nil); r.Status != 200 {
		t.Fatalf("logout = %d %q", r.Status, r.Raw)
	}
	if r := b.Get("/notes"); r.Status != 401 {
		t.Errorf("GET /notes after logout = %d, want 401", r.Status)
	}

	// The backend down: a JSON 502, not nginx's HTML page.
	be.Close()
	if r := z.Get("/notes"); r.Status != 502 || r.ErrCode() != "bad_gateway" {
		t.Errorf("with the backend down = %d %q, want 502 bad_gateway", r.Status, r.Raw)
	}
}

// TestAuthRequestHeaderSpellings: whatever spelling of latchkey's headers
// a client sends, exactly as written on the wire, the backend behind
// auth-request.conf sees only the values nginx got from latchkey. nginx
// replaces the names it sets in any case and drops names with '_';
// latchkey refuses other X-Latchkey-* names, which nginx would pass on.
func TestAuthRequestHeaderSpellings(t *testing.T) {
	lk := startLatchkey(t)
	alice := lk.addUser(t, "alice", "correct horse battery")
	be, ngx := startAuthRequest(t, lk)
	b := newBrowser(t, ngx.URL)
	b.MustLogin("alice", "correct horse battery")
	want := map[string][]string{
		"HTTP_X_LATCHKEY_USER_ID":  {strconv.FormatInt(alice.ID, 10)},
		"HTTP_X_LATCHKEY_USERNAME": {"alice"},
		"HTTP_X_FORWARDED_FOR":     {"127.0.0.1"},
		"HTTP_X_FORWARDED_HOST":    {ngx.Addr},
		"HTTP_X_FORWARDED_PROTO":   {"http"},
	}
	for _, tc := range []struct {
		name       string
		header     http.Header // sent with these exact names
		wantStatus int
	}{
		{"underscores", http.Header{"X_Latchkey_User_Id": {"999"}, "X_LATCHKEY_USERNAME": {"root"}}, 200},
		{"mixed case", http.Header{"x-LATCHKEY-user-ID": {"999"}, "X-latchkey-USERNAME": {"root"}}, 200},
		{"mixed separators", http.Header{"X-Latchkey_User-Id": {"999"}, "x_latchkey-username": {"root"}}, 200},
		{"repeated", http.Header{"X-Latchkey-User-Id": {"999", "998"}, "x-latchkey-user-id": {"997"}, "X_Latchkey_User_Id": {"996"}}, 200},
		{"forwarding headers", http.Header{"X-Forwarded-For": {"6.6.6.6"}, "X_Forwarded_For": {"6.6.6.6"}, "X_FORWARDED_HOST": {"evil.example"}, "x_forwarded_proto": {"https"}, "Forwarded": {"for=6.6.6.6"}}, 200},
		{"another latchkey name", http.Header{"X-Latchkey-Role": {"admin"}}, 403},
		{"another latchkey name, odd case", http.Header{"x-LATCHKEY-role": {"admin"}, "X_Latchkey_Role": {"admin"}}, 403},
		{"latchkey's error header", http.Header{"X-Latchkey-Error": {"none"}}, 403},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b.Header = tc.header
			defer func() { b.Header = nil }()
			before := be.count()
			r := b.Get("/notes")
			if r.Status != tc.wantStatus {
				t.Fatalf("GET /notes = %d %q, want %d", r.Status, r.Raw, tc.wantStatus)
			}
			if tc.wantStatus != 200 {
				if r.ErrCode() != "reserved_header" || be.count() != before {
					t.Errorf("GET /notes = %d %q, backend reached: %v; want 403 reserved_header, not reached", r.Status, r.Raw, be.count() != before)
				}
				return
			}
			var s backendSaw
			if err := json.Unmarshal([]byte(r.Raw), &s); err != nil {
				t.Fatal(err)
			}
			for name, v := range s.Owned {
				if !slices.Equal(v, want[name]) {
					t.Errorf("backend saw %s = %q, want %q", name, v, want[name])
				}
			}
			for name, v := range want {
				if !slices.Equal(s.Owned[name], v) {
					t.Errorf("backend saw %s = %q, want %q", name, s.Owned[name], v)
				}
			}
		})
	}
}

// TestAuthRequestWebSocket: WebSockets reach the backend with the user's
// identity, but a page of another origin cannot open one with the user's
// cookies, although the handshake is a GET.
func TestAuthRequestWebSocket(t *testing.T) {
	lk := startLatchkey(t, func(c *latchkey.Config) { c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")} })
	lk.addUser(t, "alice", "correct horse battery")
	be, ngx := startAuthRequest(t, lk)
	b := newBrowser(t, ngx.URL)
	b.MustLogin("alice", "correct horse battery")
	var cookies []string
	for _, c := range b.Cookies("/") {
		cookies = append(cookies, c.Name+"="+c.Value)
	}
	for _, tc := range []struct {
		name     string
		header   []string
		want     int
		wantCode string
	}{
		{"same origin", []string{"Origin", ngx.URL}, 101, ""},
		{"no Origin", nil, 101, ""},
		{"cross-site", []string{"Origin", "https://evil.example"}, 403, "csrf_failed"},
		{"cross-site, Fetch Metadata", []string{"Origin", "https://evil.example", "Sec-Fetch-Site", "cross-site"}, 403, "csrf_failed"},
		{"no cookie", []string{"Origin", ngx.URL, "Cookie", ""}, 401, "unauthorized"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := http.Header{"Cookie": {strings.Join(cookies, "; ")}}
			for i := 0; i+1 < len(tc.header); i += 2 {
				h.Set(tc.header[i], tc.header[i+1])
			}
			before := be.count()
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()
			c, res, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(ngx.URL, "http")+"/live", &websocket.DialOptions{HTTPHeader: h})
			if tc.want == 101 {
				if err != nil {
					t.Fatalf("handshake: %v", err)
				}
				defer c.CloseNow()
				if _, msg, err := c.Read(ctx); err != nil || string(msg) != "hello alice" {
					t.Errorf("first message = %q, %v; want hello alice", msg, err)
				}
				return
			}
			if err == nil {
				c.CloseNow()
			}
			var body []byte
			if res != nil && res.Body != nil {
				body, _ = io.ReadAll(res.Body)
			}
			if res == nil || res.StatusCode != tc.want || !strings.Contains(string(body), `"`+tc.wantCode+`"`) {
				t.Errorf("handshake: %v %s, want %d %s", err, body, tc.want, tc.wantCode)
			}
			if be.count() != before {
				t.Error("a refused handshake reached the backend")
			}
		})
	}
}

func TestAuthRequestLatchkeyDown(t *testing.T) {
	lk := startLatchkey(t)
	lk.addUser(t, "alice", "correct horse battery")
	be, ngx := startAuthRequest(t, lk)
	b := newBrowser(t, ngx.URL)
	b.MustLogin("alice", "correct horse battery")
	lk.Close()
	if r := b.Get("/notes"); r.Status != 502 || r.ErrCode() != "bad_gateway" {
		t.Errorf("with latchkey down = %d %q, want 502 bad_gateway", r.Status, r.Raw)
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
	b.MustLogin("alice", "correct horse battery")
	if r := b.Get("/notes", "Authorization", "Basic dXNlcjpwYXNz"); r.Status != 200 || !strings.Contains(r.Raw, `"Authorization":["Basic dXNlcjpwYXNz"]`) {
		t.Errorf("GET /notes in token mode = %d %q, want 200 with the Basic header passed on", r.Status, r.Raw)
	}
	if r := b.Post("/notes", map[string]string{"text": "hi"}); r.Status != 200 {
		t.Errorf("POST /notes with the pair's CSRF value = %d %q", r.Status, r.Raw)
	}
	mu.Lock()
	now = now.Add(16 * time.Minute)
	mu.Unlock()
	before := be.count()
	r := b.Get("/notes")
	if r.Status != 401 || r.ErrCode() != "token_expired" {
		t.Fatalf("GET /notes with an expired access token = %d %q, want 401 token_expired", r.Status, r.Raw)
	}
	if be.count() != before {
		t.Error("a request with an expired access token reached the backend")
	}
	if r := b.Refresh(); r.Status != 200 {
		t.Fatalf("refresh through nginx = %d %q", r.Status, r.Raw)
	}
	if r := b.Get("/notes"); r.Status != 200 {
		t.Errorf("GET /notes after the refresh = %d %q", r.Status, r.Raw)
	}

	plain, _, err := lk.auth.CreateAPIToken(t.Context(), "alice", "ci", 0)
	if err != nil {
		t.Fatal(err)
	}
	script := newBrowser(t, ngx.URL)
	r = script.Do("POST", "/notes", strings.NewReader("x"), "Authorization", "Bearer "+plain)
	if r.Status != 200 || strings.Contains(r.Raw, plain) || !strings.Contains(r.Raw, `"Username":["alice"]`) {
		t.Errorf("POST /notes with an API token = %d %q, want 200 as alice, without the token", r.Status, r.Raw)
	}
	if r := script.Get("/notes", "Authorization", "Bearer lk_"+strings.Repeat("A", 43)); r.Status != 401 || r.ErrCode() != "unauthorized" {
		t.Errorf("an unknown API token = %d %q, want 401 unauthorized", r.Status, r.Raw)
	}
}

// TestAuthRequestLoginRedirect: behind auth-request.conf, a logged-out
// page load goes to latchkey's login page with the URI it asked for, logs
// in there with a plain HTML form, and comes back; scripts still get 401
// JSON, and nothing reaches the backend before the login.
func TestAuthRequestLoginRedirect(t *testing.T) {
	lk := startLatchkey(t, func(c *latchkey.Config) { c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")} })
	lk.addUser(t, "alice", "correct horse battery")
	be, ngx := startAuthRequest(t, lk)
	b := apitest.New(t, ngx.URL).NoRedirects()
	nav := []string{"Accept", apitest.NavigationAccept, "Sec-Fetch-Mode", "navigate", "Sec-Fetch-Site", "none"}

	for _, tc := range []struct{ uri, want string }{
		{"/notes?page=2&sort=new", "/auth/login?next=%2Fnotes%3Fpage%3D2%26sort%3Dnew"},
		{"/", "/auth/login"},
		{"/%2F%2Fevil.example", "/auth/login"}, // a next that could leave the site is dropped
	} {
		r := b.Get(tc.uri, nav...)
		if r.Status != 303 || r.Header.Get("Location") != tc.want {
			t.Errorf("logged-out page load of %s = %d Location %q, want 303 to %s", tc.uri, r.Status, r.Header.Get("Location"), tc.want)
		}
	}
	for _, h := range [][]string{{"Accept", "application/json"}, {"Accept", "*/*", "Sec-Fetch-Mode", "cors"}} {
		if r := b.Get("/notes", h...); r.Status != 401 || r.ErrCode() != "unauthorized" {
			t.Errorf("logged-out script (%v) = %d %q, want 401 JSON", h, r.Status, r.Raw)
		}
	}
	if be.count() != 0 {
		t.Fatalf("the backend was reached %d times while logged out", be.count())
	}

	page := b.Get("/auth/login?next=%2Fnotes%3Fpage%3D2", nav...)
	m := regexp.MustCompile(`name="csrf_token" value="([^"]+)"`).FindStringSubmatch(page.Raw)
	if page.Status != 200 || m == nil {
		t.Fatalf("the login page through nginx = %d:\n%s", page.Status, page.Raw)
	}
	login := url.Values{"csrf_token": {m[1]}, "username": {"alice"}, "password": {"correct horse battery"}, "next": {"/notes?page=2"}}
	if r := b.PostForm("/api/login", login, "Origin", "http://evil.example", "Sec-Fetch-Site", "cross-site"); r.Status != 303 || r.Header.Get("Location") != "/auth/login?next=%2Fnotes%3Fpage%3D2" {
		t.Errorf("login form from another site = %d %q, want 303 back to the login page", r.Status, r.Header.Get("Location"))
	}
	r := b.PostForm("/api/login", login, "Origin", ngx.URL, "Sec-Fetch-Site", "same-origin")
	if r.Status != 303 || r.Header.Get("Location") != "/notes?page=2" {
		t.Fatalf("login form = %d %q %s", r.Status, r.Header.Get("Location"), r.Raw)
	}
	r = b.Get("/notes?page=2", nav...)
	var s backendSaw
	if err := json.Unmarshal([]byte(r.Raw), &s); r.Status != 200 || err != nil || len(s.Username) != 1 || s.Username[0] != "alice" || s.Path != "/notes?page=2" {
		t.Errorf("back at /notes?page=2 = %d %s, want the backend as alice", r.Status, r.Raw)
	}
}
