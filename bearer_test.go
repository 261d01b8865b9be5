package latchkey_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/latchkey/latchkey"
)

// newToken creates an API token for alice in e.
func (e *env) newToken(name string, ttl time.Duration) (string, *latchkey.APIToken) {
	e.t.Helper()
	plain, tok, err := e.auth.CreateAPIToken(e.t.Context(), "alice", name, ttl)
	if err != nil {
		e.t.Fatalf("CreateAPIToken: %v", err)
	}
	return plain, tok
}

func TestBearerToken(t *testing.T) {
	for _, mode := range []latchkey.TokenMode{latchkey.TokenModeSession, latchkey.TokenModeJWT} {
		t.Run(string(mode), func(t *testing.T) {
			e := newEnv(t, func(c *latchkey.Config) { c.TokenMode = mode })
			e.addUser("alice", "correct horse battery")
			plain, tok := e.newToken("ci", 0)
			auth := []string{"Authorization", "Bearer " + plain}
			r := e.raw("GET", "/api/data", nil, auth...)
			if r.status != 200 || r.body["username"] != "alice" {
				t.Fatalf("data with a bearer token: %d %s", r.status, r.raw)
			}
			if len(r.header.Values("Set-Cookie")) != 0 {
				t.Errorf("a bearer request got cookies: %v", r.header.Values("Set-Cookie"))
			}
			r = e.raw("GET", "/api/getsession", nil, auth...)
			if api, _ := r.body["apiToken"].(map[string]any); r.status != 200 || r.body["login"] != true || api["name"] != "ci" {
				t.Errorf("getsession with a bearer token: %d %s", r.status, r.raw)
			}
			// No CSRF token is needed: browsers never send one on their own.
			if r := e.raw("POST", "/app/", nil, auth...); r.status != 200 || r.raw != "hello alice" {
				t.Errorf("Require, POST with a bearer token and no CSRF token: %d %s", r.status, r.raw)
			}
			if r := e.raw("GET", "/api/auth/verify", nil, append(auth, "X-Original-Method", "DELETE")...); r.status != 204 || r.header.Get(latchkey.HeaderUsername) != "alice" {
				t.Errorf("verify: %d %v", r.status, r.header)
			}
			if toks, _ := e.auth.ListAPITokens(t.Context(), "alice"); len(toks) != 1 || !toks[0].LastUsedAt.Equal(e.clock.Now()) {
				t.Errorf("last use not noted: %+v", toks)
			}
			// Auth routes ignore bearer tokens: login still needs its CSRF token.
			if r := e.raw("POST", "/api/login", nil, auth...); r.status != 403 {
				t.Errorf("login with only a bearer token: %d %s", r.status, r.raw)
			}
			if err := e.auth.RevokeAPIToken(t.Context(), tok.ID); err != nil {
				t.Fatal(err)
			}
			r = e.raw("GET", "/api/data", nil, auth...)
			if r.status != 401 || r.errCode() != "unauthorized" || !strings.Contains(r.header.Get("WWW-Authenticate"), "invalid_token") {
				t.Errorf("revoked token replayed: %d %v %s", r.status, r.header, r.raw)
			}
		})
	}
}

func TestBearerTokenRefused(t *testing.T) {
	e := newEnv(t)
	e.addUser("alice", "correct horse battery")
	plain, _ := e.newToken("ci", time.Hour)
	b := e.browser()
	b.mustLogin("alice", "correct horse battery")
	session := b.cookie("latchkey_session").Value
	cases := []struct {
		name    string
		cookies map[string]string
		header  []string
	}{
		{"garbage", nil, []string{"Authorization", "Bearer nonsense"}},
		{"wrong prefix", nil, []string{"Authorization", "Bearer xx" + plain[2:]}},
		{"one character changed", nil, []string{"Authorization", "Bearer " + plain[:10] + flip(plain[10]) + plain[11:]}},
		{"empty", nil, []string{"Authorization", "Bearer "}},
		{"two Authorization headers", nil, []string{"Authorization", "Bearer " + plain, "Authorization", "Bearer " + plain}},
		{"bad bearer with a valid session cookie", map[string]string{"latchkey_session": session}, []string{"Authorization", "Bearer nonsense", "X-CSRFToken", b.token}},
		{"token in the session cookie", map[string]string{"latchkey_session": plain}, nil},
		{"token in a cookie named Authorization", map[string]string{"Authorization": "Bearer " + plain}, nil},
		{"a CSRF token instead", nil, []string{"X-CSRFToken", b.token}},
	}
	for _, tc := range cases {
		for _, path := range []string{"/api/data", "/app/"} {
			if r := e.raw("GET", path, tc.cookies, tc.header...); r.status != 401 {
				t.Errorf("%s on %s: %d %s, want 401", tc.name, path, r.status, r.raw)
			}
		}
	}
	// A bad bearer is refused even where login is optional.
	if r := e.raw("GET", "/api/getsession", nil, "Authorization", "Bearer nonsense"); r.status != 401 {
		t.Errorf("getsession with a bad bearer: %d %s", r.status, r.raw)
	}
	// Another scheme (a staging proxy's Basic auth) is not ours: cookies work.
	if r := e.raw("GET", "/api/data", map[string]string{"latchkey_session": session}, "Authorization", "Basic dXNlcjpwYXNz"); r.status != 200 {
		t.Errorf("session cookie beside Basic auth: %d %s", r.status, r.raw)
	}
	e.clock.Advance(time.Hour)
	if r := e.raw("GET", "/api/data", nil, "Authorization", "Bearer "+plain); r.status != 401 {
		t.Errorf("expired token: %d", r.status)
	}
	plain2, _ := e.newToken("deploy", 0)
	if err := e.auth.DeleteUser(t.Context(), "alice"); err != nil {
		t.Fatal(err)
	}
	if r := e.raw("GET", "/api/data", nil, "Authorization", "Bearer "+plain2); r.status != 401 {
		t.Errorf("token of a deleted user: %d", r.status)
	}
}

func flip(c byte) string {
	if c == 'A' {
		return "B"
	}
	return "A"
}

// The gateway passes the user's identity to the backend, never the token.
func TestBearerTokenThroughGateway(t *testing.T) {
	var mu sync.Mutex
	var seen http.Header
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = r.Header.Clone()
		mu.Unlock()
		w.Write([]byte("ok"))
	}))
	t.Cleanup(upstream.Close)
	u, _ := url.Parse(upstream.URL)
	e := newEnv(t, func(c *latchkey.Config) { c.Upstream = u })
	e.addUser("alice", "correct horse battery")
	plain, _ := e.newToken("ci", 0)
	if r := e.raw("POST", "/api/orders", nil, "Authorization", "Bearer "+plain); r.status != 200 {
		t.Fatalf("gateway with a bearer token: %d %s", r.status, r.raw)
	}
	mu.Lock()
	defer mu.Unlock()
	if seen.Get("Authorization") != "" || seen.Get(latchkey.HeaderUsername) != "alice" {
		t.Errorf("backend saw Authorization %q, user %q; want none and alice", seen.Get("Authorization"), seen.Get(latchkey.HeaderUsername))
	}
	if r := e.raw("POST", "/api/orders", nil, "Authorization", "Bearer lk_x"); r.status != 401 {
		t.Errorf("gateway with a bad bearer: %d", r.status)
	}
}
