package latchkey_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/apitest"
)

// upstream is a backend behind the gateway that records every request it
// gets. It answers "ok", or upgrades a WebSocket handshake without looking
// at Origin, as a backend that trusts latchkey to have checked would, and
// echoes one message.
type upstream struct {
	url  *url.URL
	mu   sync.Mutex
	reqs []seenRequest
}

type seenRequest struct {
	Method, URI string
	Header      http.Header
}

func recordingUpstream(t *testing.T) *upstream {
	t.Helper()
	up := &upstream{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		up.mu.Lock()
		up.reqs = append(up.reqs, seenRequest{r.Method, r.RequestURI, r.Header.Clone()})
		up.mu.Unlock()
		if r.Header.Get("Upgrade") == "" {
			w.Write([]byte("ok"))
			return
		}
		c, err := websocket.Accept(w, r, &websocket.AcceptOptions{InsecureSkipVerify: true})
		if err != nil {
			return
		}
		defer c.CloseNow()
		if typ, msg, err := c.Read(r.Context()); err == nil {
			c.Write(r.Context(), typ, append([]byte("echo "), msg...))
		}
	}))
	t.Cleanup(srv.Close)
	u, err := url.Parse(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	up.url = u
	return up
}

// last returns the last request the backend got, or a zero one.
func (u *upstream) last() seenRequest {
	u.mu.Lock()
	defer u.mu.Unlock()
	if len(u.reqs) == 0 {
		return seenRequest{}
	}
	return u.reqs[len(u.reqs)-1]
}

func (u *upstream) count() int { u.mu.Lock(); defer u.mu.Unlock(); return len(u.reqs) }

// cgiView is the header as CGI, PHP, WSGI and Rack present it to an
// application: HTTP_ + the name upper-cased with - read as _, so
// X-Latchkey-User-Id and X_latchkey_user_id are the same variable.
func cgiView(h http.Header) map[string][]string {
	out := map[string][]string{}
	for k, v := range h {
		name := "HTTP_" + strings.ToUpper(strings.ReplaceAll(k, "-", "_"))
		out[name] = append(out[name], v...)
	}
	return out
}

// cookieHeader is the Cookie header b would send.
func cookieHeader(b interface{ Cookies(string) []*http.Cookie }) string {
	var parts []string
	for _, c := range b.Cookies("/") {
		parts = append(parts, c.Name+"="+c.Value)
	}
	return strings.Join(parts, "; ")
}

// Client-sent copies of the identity headers, in any spelling a backend may
// read as them, never reach it beside latchkey's own.
func TestGatewayClientIdentityHeaders(t *testing.T) {
	up := recordingUpstream(t)
	e := newEnv(t, func(c *latchkey.Config) { c.Upstream = up.url })
	alice := e.addUser("alice", "correct horse battery")
	if _, err := e.auth.SetRoles(t.Context(), alice.ID, []string{"editor", "billing"}, 0); err != nil {
		t.Fatal(err)
	}
	host := strings.TrimPrefix(e.srv.URL, "http://")
	want := map[string][]string{
		"HTTP_X_LATCHKEY_USER_ID":  {fmt.Sprint(alice.ID)},
		"HTTP_X_LATCHKEY_USERNAME": {"alice"},
		"HTTP_X_LATCHKEY_ROLES":    {"billing,editor"},
		"HTTP_X_FORWARDED_FOR":     {"127.0.0.1"},
		"HTTP_X_FORWARDED_HOST":    {host},
		"HTTP_X_FORWARDED_PROTO":   {"http"},
	}
	tests := []struct {
		name   string
		header []string
	}{
		{"canonical", []string{"X-Latchkey-User-Id", "999", "X-Latchkey-Username", "root"}},
		{"underscores", []string{"X_Latchkey_User_Id", "999", "X_LATCHKEY_USERNAME", "root"}},
		{"mixed case", []string{"x-LATCHKEY-user-ID", "999", "X-latchkey-USERNAME", "root"}},
		{"mixed separators", []string{"X-Latchkey_User-Id", "999", "x_latchkey-username", "root"}},
		{"repeated", []string{"X-Latchkey-User-Id", "999", "X-Latchkey-User-Id", "998", "X_Latchkey_User_Id", "997", "x_latchkey_user_id", "996"}},
		{"roles", []string{"X-Latchkey-Roles", "admin", "X_Latchkey_Roles", "admin", "x-latchkey-roles", "root,admin"}},
		{"other latchkey names", []string{"X-Latchkey-Role", "admin", "X_Latchkey_Error", "none", "X-Latchkey-", "x"}},
		{"forwarding headers with underscores", []string{"X_Forwarded_For", "6.6.6.6", "X_Forwarded_Host", "evil.example", "X_FORWARDED_PROTO", "https", "Forwarded", "for=6.6.6.6"}},
	}

	anon := e.browser()
	for _, tc := range tests {
		if r := anon.Get("/api/orders", tc.header...); r.Status != 401 {
			t.Errorf("%s, anonymous: %d %s, want 401", tc.name, r.Status, r.Raw)
		}
	}
	if n := up.count(); n != 0 {
		t.Fatalf("anonymous requests reached the backend %d times", n)
	}

	b := e.browser()
	b.MustLogin("alice", "correct horse battery")
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if r := b.Get("/api/orders", tc.header...); r.Status != 200 {
				t.Fatalf("GET /api/orders: %d %s", r.Status, r.Raw)
			}
			got := cgiView(up.last().Header)
			for name, v := range got {
				owned := strings.HasPrefix(name, "HTTP_X_LATCHKEY_") || strings.HasPrefix(name, "HTTP_X_FORWARDED_") || name == "HTTP_FORWARDED"
				if owned && !slices.Equal(v, want[name]) {
					t.Errorf("backend saw %s = %q, want %q", name, v, want[name])
				}
			}
			for name, v := range want {
				if !slices.Equal(got[name], v) {
					t.Errorf("backend saw %s = %q, want %q", name, got[name], v)
				}
			}
		})
	}

}

// verify, nginx's auth_request target, cannot strip what nginx passes to
// the backend, so it refuses a request carrying latchkey's headers in any
// spelling nginx would not replace, and a cross-origin WebSocket handshake.
func TestVerifyClientHeaders(t *testing.T) {
	e := newEnv(t)
	alice := e.addUser("alice", "correct horse battery")
	if _, err := e.auth.ChangeRole(t.Context(), alice.ID, "editor", true, 0); err != nil {
		t.Fatal(err)
	}
	b := e.browser()
	b.MustLogin("alice", "correct horse battery")
	if r := e.browser().Get("/api/auth/verify", "X-Latchkey-Role", "admin"); r.Status != 401 {
		t.Errorf("anonymous: %d %s, want 401", r.Status, r.Raw)
	}
	for _, tc := range []struct {
		name     string
		header   []string
		want     int
		wantCode string
	}{
		{"none", nil, 204, ""},
		{"canonical identity, which nginx replaces", []string{"X-Latchkey-User-Id", "999", "x-latchkey-username", "root", "X-Latchkey-Roles", "admin"}, 204, ""},
		{"roles with underscores", []string{"X_Latchkey_Roles", "admin"}, 403, "reserved_header"},
		{"forwarding headers, which nginx replaces", []string{"X-Forwarded-For", "6.6.6.6", "Forwarded", "for=6.6.6.6"}, 204, ""},
		{"underscores", []string{"X_Latchkey_User_Id", "999"}, 403, "reserved_header"},
		{"mixed separators", []string{"X-Latchkey_Username", "root"}, 403, "reserved_header"},
		{"another latchkey name", []string{"X-Latchkey-Role", "admin"}, 403, "reserved_header"},
		{"latchkey's error header", []string{"X-Latchkey-Error", "none"}, 403, "reserved_header"},
		{"forwarding header with underscores", []string{"X_Forwarded_For", "6.6.6.6"}, 403, "reserved_header"},
		{"same-origin WebSocket", []string{"Upgrade", "websocket", "Origin", e.srv.URL}, 204, ""},
		{"cross-origin WebSocket", []string{"Upgrade", "websocket", "Origin", "https://evil.example"}, 403, "csrf_failed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := b.Get("/api/auth/verify", tc.header...)
			if r.Status != tc.want || r.ErrCode() != tc.wantCode {
				t.Fatalf("verify: %d %s, want %d %s", r.Status, r.Raw, tc.want, tc.wantCode)
			}
			if tc.want != 204 {
				if got := r.Header.Get(latchkey.HeaderError); got != tc.wantCode {
					t.Errorf("%s = %q, want %q (nginx drops the body)", latchkey.HeaderError, got, tc.wantCode)
				}
				return
			}
			if r.Header.Get(latchkey.HeaderUserID) != fmt.Sprint(alice.ID) || r.Header.Get(latchkey.HeaderUsername) != "alice" || r.Header.Get(latchkey.HeaderRoles) != "editor" {
				t.Errorf("verify answered %v", r.Header)
			}
		})
	}
}

// A WebSocket handshake is a GET, but a cross-site page must not open one
// with the victim's cookie (cross-site WebSocket hijacking).
func TestGatewayWebSocketOrigin(t *testing.T) {
	up := recordingUpstream(t)
	plain := newEnv(t, func(c *latchkey.Config) { c.Upstream = up.url })
	allowed := newEnv(t, func(c *latchkey.Config) {
		c.Upstream = up.url
		c.AllowedOrigins = []string{spaOrigin}
		c.PublicURL = "http://localhost:8080"
	})
	behindProxy := newEnv(t, func(c *latchkey.Config) {
		c.Upstream = up.url
		c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
	})
	self := plain.srv.URL
	tests := []struct {
		name   string
		e      *env
		path   string
		header []string
		want   int
	}{
		{"same origin", plain, "/api/live", []string{"Origin", self}, 101},
		{"same origin, Fetch Metadata", plain, "/api/live", []string{"Origin", self, "Sec-Fetch-Site", "same-origin"}, 101},
		{"no Origin (not a browser)", plain, "/api/live", nil, 101},
		{"cross-site, Fetch Metadata", plain, "/api/live", []string{"Origin", "https://evil.example", "Sec-Fetch-Site", "cross-site"}, 403},
		{"cross-site, no Fetch Metadata (Chromium)", plain, "/api/live", []string{"Origin", "https://evil.example"}, 403},
		{"same-site", plain, "/api/live", []string{"Origin", "http://127.0.0.1:1", "Sec-Fetch-Site", "same-site"}, 403},
		{"another port", plain, "/api/live", []string{"Origin", "http://127.0.0.1:1"}, 403},
		{"null", plain, "/api/live", []string{"Origin", "null"}, 403},
		{"two Origins", plain, "/api/live", []string{"Origin", self, "Origin", "https://evil.example"}, 403},
		{"cross-site by Fetch Metadata alone", plain, "/api/live", []string{"Sec-Fetch-Site", "cross-site"}, 403},
		{"this host over https when latchkey is http", plain, "/api/live", []string{"Origin", "https" + strings.TrimPrefix(self, "http")}, 101},
		{"an embedder's own Require route", plain, "/app/live", []string{"Origin", "https://evil.example"}, 403},
		{"allowed origin", allowed, "/api/live", []string{"Origin", spaOrigin, "Sec-Fetch-Site", "same-site"}, 101},
		{"allowed list, other origin", allowed, "/api/live", []string{"Origin", "http://localhost:5174"}, 403},
		{"forwarded host from a trusted proxy", behindProxy, "/api/live", []string{"Origin", "http://app.example.com", "X-Forwarded-Host", "app.example.com"}, 101},
		{"https forwarded by a trusted proxy, http Origin", behindProxy, "/api/live", []string{"Origin", "http://app.example.com", "X-Forwarded-Host", "app.example.com", "X-Forwarded-Proto", "https"}, 403},
		{"https forwarded by a trusted proxy, https Origin", behindProxy, "/api/live", []string{"Origin", "https://app.example.com", "X-Forwarded-Host", "app.example.com", "X-Forwarded-Proto", "https"}, 101},
		{"forwarded host, Origin of the hop", behindProxy, "/api/live", []string{"Origin", behindProxy.srv.URL, "X-Forwarded-Host", "app.example.com"}, 403},
	}
	sessions := map[*env]string{}
	for _, e := range []*env{plain, allowed, behindProxy} {
		e.addUser("alice", "correct horse battery")
		b := e.browser()
		b.MustLogin("alice", "correct horse battery")
		// The same session under its Secure name too, for requests that a
		// trusted proxy says came over https.
		v := b.Cookie("latchkey_session").Value
		sessions[e] = "latchkey_session=" + v + "; __Host-latchkey_session=" + v
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := http.Header{"Cookie": {sessions[tc.e]}}
			for i := 0; i+1 < len(tc.header); i += 2 {
				h.Add(tc.header[i], tc.header[i+1])
			}
			before := up.count()
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()
			c, res, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(tc.e.srv.URL, "http")+tc.path, &websocket.DialOptions{HTTPHeader: h})
			if tc.want != 101 {
				if err == nil {
					c.CloseNow()
				}
				var body []byte
				if res != nil && res.Body != nil {
					body, _ = io.ReadAll(res.Body)
				}
				if res == nil || res.StatusCode != tc.want || !strings.Contains(string(body), `"csrf_failed"`) {
					t.Errorf("handshake: %v %s, want %d csrf_failed", err, body, tc.want)
				}
				if up.count() != before {
					t.Errorf("a refused handshake reached the backend")
				}
				return
			}
			if err != nil {
				t.Fatalf("handshake: %v, want 101", err)
			}
			defer c.CloseNow()
			if err := c.Write(ctx, websocket.MessageText, []byte("hi")); err != nil {
				t.Fatal(err)
			}
			if _, msg, err := c.Read(ctx); err != nil || string(msg) != "echo hi" {
				t.Errorf("echo = %q, %v", msg, err)
			}
			if got := up.last().Header.Get(latchkey.HeaderUsername); got != "alice" {
				t.Errorf("backend saw user %q, want alice", got)
			}
		})
	}
}

// Paths whose segments a backend may decode to "..", "." or a separator
// are refused, so logged-in users cannot reach backend paths outside the
// API prefix; ordinary odd-looking paths pass unchanged.
func TestGatewayPath(t *testing.T) {
	up := recordingUpstream(t)
	e := newEnv(t, func(c *latchkey.Config) { c.Upstream = up.url })
	e.addUser("alice", "correct horse battery")
	b := e.browser()
	b.MustLogin("alice", "correct horse battery")
	get := func(t *testing.T, method, rawPath string) (int, string) {
		t.Helper()
		req, err := http.NewRequest(method, e.srv.URL, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.URL.Opaque = rawPath // sent as it is
		req.Header.Set("Cookie", cookieHeader(b))
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		body, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(body)
	}
	for _, tc := range []struct{ name, path string }{
		{"%2e%2e", "/api/%2e%2e/admin/users"},
		{".%2e", "/api/.%2e/admin/users"},
		{"upper-case %2E%2E", "/api/%2E%2E/admin/users"},
		{"..%2f", "/api/..%2fsecret"},
		{"%2e", "/api/%2e/admin"},
		{"dot-dot last", "/api/orders/%2e%2e"},
		{"encoded slash", "/api/a%2Fb"},
		{"double encoding", "/api/%252e%252e/admin/users"},
		{"triple encoding", "/api/%25252e%25252e/admin/users"},
		{"double-encoded slash", "/api/..%252fadmin"},
		{"%5c", "/api/..%5cadmin"},
		{"%5C inside", "/api/x%5C..%5Cadmin"},
		{"raw backslash", `/api/..\admin`},
		{"..; (Tomcat)", "/api/..;/admin"},
		{".;x", "/api/.;x/admin"},
		{"%2e%2e;param", "/api/%2e%2e;jsessionid=1/admin"},
		{"encoded ;", "/api/..%3b/admin"},
		{"NUL", "/api/x%00.json"},
		{"too deep", "/api/%2525252e"},
	} {
		t.Run("refused/"+tc.name, func(t *testing.T) {
			before := up.count()
			status, body := get(t, "GET", tc.path)
			if status != 400 || !strings.Contains(body, `"code":"invalid_path"`) {
				t.Errorf("GET %s = %d %s, want 400 invalid_path", tc.path, status, body)
			}
			if n := up.count() - before; n != 0 {
				t.Errorf("GET %s reached the backend as %s", tc.path, up.last().URI)
			}
		})
	}
	for _, tc := range []struct{ name, path string }{
		{"plain", "/api/orders/7?x=1"},
		{"dots inside a name", "/api/files/report.v1..json"},
		{"three dots", "/api/..."},
		{"dot-file name", "/api/.well-known"},
		{"encoded letters", "/api/%7Euser/caf%C3%A9"},
		{"encoded percent", "/api/100%25"},
		{"matrix parameter", "/api/items;v=1"},
		{"space", "/api/a%20b"},
	} {
		t.Run("passed/"+tc.name, func(t *testing.T) {
			if status, body := get(t, "GET", tc.path); status != 200 || body != "ok" {
				t.Fatalf("GET %s = %d %s, want 200", tc.path, status, body)
			}
			if got := up.last().URI; got != tc.path {
				t.Errorf("backend got %s, want %s", got, tc.path)
			}
		})
	}
	t.Run("CONNECT", func(t *testing.T) {
		before := up.count()
		if status, body := get(t, "CONNECT", "/api/orders"); status != 405 || !strings.Contains(body, `"method_not_allowed"`) {
			t.Errorf("CONNECT = %d %s, want 405", status, body)
		}
		if up.count() != before {
			t.Errorf("CONNECT reached the backend")
		}
	})
}

// Behind a trusted proxy the backend learns what that proxy reported about
// the client; from anyone else, what latchkey saw.
func TestGatewayForwardedHeaders(t *testing.T) {
	for _, tc := range []struct {
		name, trusted              string
		wantXFF, wantHost, wantPro string // wantHost "" is latchkey's own
		wantRealIP                 string
	}{
		{"trusted proxy", "127.0.0.1/32", "203.0.113.9, 127.0.0.1", "app.example.com", "https", "203.0.113.9"},
		{"untrusted peer", "10.0.0.0/8", "127.0.0.1", "", "http", "127.0.0.1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			up := recordingUpstream(t)
			e := newEnv(t, func(c *latchkey.Config) {
				c.Upstream = up.url
				c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix(tc.trusted)}
			})
			e.addUser("alice", "correct horse battery")
			plain, _ := e.newToken("ci", 0)
			r := e.raw("GET", "/api/orders", nil, "Authorization", "Bearer "+plain,
				"X-Forwarded-For", "203.0.113.9", "X-Forwarded-Host", "app.example.com", "X-Forwarded-Proto", "https",
				"X_Forwarded_For", "6.6.6.6", "X-Real-IP", "203.0.113.9", "X_Real_IP", "6.6.6.6")
			if r.Status != 200 {
				t.Fatalf("GET /api/orders: %d %s", r.Status, r.Raw)
			}
			if tc.wantHost == "" {
				tc.wantHost = strings.TrimPrefix(e.srv.URL, "http://")
			}
			h := cgiView(up.last().Header)
			for name, want := range map[string]string{"HTTP_X_FORWARDED_FOR": tc.wantXFF, "HTTP_X_FORWARDED_HOST": tc.wantHost,
				"HTTP_X_FORWARDED_PROTO": tc.wantPro, "HTTP_X_REAL_IP": tc.wantRealIP} {
				if got := h[name]; len(got) != 1 || got[0] != want {
					t.Errorf("backend saw %s = %q, want %q", name, got, want)
				}
			}
		})
	}
}

// An API token is latchkey's: the backend never receives it, nor a second
// Authorization header beside one that latchkey consumed.
func TestGatewayAuthorization(t *testing.T) {
	up := recordingUpstream(t)
	e := newEnv(t, func(c *latchkey.Config) { c.Upstream = up.url })
	e.addUser("alice", "correct horse battery")
	plain, _ := e.newToken("ci", 0)
	b := e.browser()
	b.MustLogin("alice", "correct horse battery")
	session := b.Cookie("latchkey_session").Value
	// An embedder's middleware in front of the API, setting a header by map
	// key as http.Header allows, so it is not in canonical form.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if v := r.Header.Get("X-Test-Authorization"); v != "" {
			r.Header["authorization"] = []string{v}
		}
		e.auth.Handler().ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	for _, tc := range []struct {
		name    string
		base    string
		cookies map[string]string
		header  []string
		want    int
		wantFwd []string // Authorization values the backend may see
	}{
		{"token", e.srv.URL, nil, []string{"Authorization", "Bearer " + plain}, 200, nil},
		{"token, then Basic", e.srv.URL, nil, []string{"Authorization", "Bearer " + plain, "Authorization", "Basic dXNlcjpwYXNz"}, 401, nil},
		{"Basic, then token, with a session", e.srv.URL, map[string]string{"latchkey_session": session},
			[]string{"Authorization", "Basic dXNlcjpwYXNz", "Authorization", "Bearer " + plain}, 401, nil},
		{"token, Basic under a non-canonical key", srv.URL, nil, []string{"Authorization", "Bearer " + plain, "X-Test-Authorization", "Basic dXNlcjpwYXNz"}, 200, nil},
		{"session with Basic (not latchkey's)", e.srv.URL, map[string]string{"latchkey_session": session}, []string{"Authorization", "Basic dXNlcjpwYXNz"}, 200, []string{"Basic dXNlcjpwYXNz"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := up.count()
			r := apitest.Raw(t, "GET", tc.base+"/api/orders", tc.cookies, tc.header...)
			if r.Status != tc.want {
				t.Fatalf("GET /api/orders = %d %s, want %d", r.Status, r.Raw, tc.want)
			}
			if tc.want != 200 {
				if up.count() != before {
					t.Errorf("a refused request reached the backend")
				}
				return
			}
			if got := cgiView(up.last().Header)["HTTP_AUTHORIZATION"]; !slices.Equal(got, tc.wantFwd) {
				t.Errorf("backend saw Authorization %q, want %q", got, tc.wantFwd)
			}
		})
	}
}
