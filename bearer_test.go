package latchkey_test

import (
	"strings"
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
			if r.Status != 200 || r.JSON["username"] != "alice" {
				t.Fatalf("data with a bearer token: %d %s", r.Status, r.Raw)
			}
			if len(r.Header.Values("Set-Cookie")) != 0 {
				t.Errorf("a bearer request got cookies: %v", r.Header.Values("Set-Cookie"))
			}
			r = e.raw("GET", "/api/getsession", nil, auth...)
			if api, _ := r.JSON["apiToken"].(map[string]any); r.Status != 200 || r.JSON["login"] != true || api["name"] != "ci" {
				t.Errorf("getsession with a bearer token: %d %s", r.Status, r.Raw)
			}
			// No CSRF token is needed: browsers never send one on their own.
			if r := e.raw("POST", "/app/", nil, auth...); r.Status != 200 || r.Raw != "hello alice" {
				t.Errorf("Require, POST with a bearer token and no CSRF token: %d %s", r.Status, r.Raw)
			}
			if r := e.raw("GET", "/api/auth/verify", nil, append(auth, "X-Original-Method", "DELETE")...); r.Status != 204 || r.Header.Get(latchkey.HeaderUsername) != "alice" {
				t.Errorf("verify: %d %v", r.Status, r.Header)
			}
			if toks, _ := e.auth.ListAPITokens(t.Context(), "alice"); len(toks) != 1 || !toks[0].LastUsedAt.Equal(e.clock.Now()) {
				t.Errorf("last use not noted: %+v", toks)
			}
			// Auth routes ignore bearer tokens: login still needs its CSRF token.
			if r := e.raw("POST", "/api/login", nil, auth...); r.Status != 403 {
				t.Errorf("login with only a bearer token: %d %s", r.Status, r.Raw)
			}
			if err := e.auth.RevokeAPIToken(t.Context(), tok.ID); err != nil {
				t.Fatal(err)
			}
			r = e.raw("GET", "/api/data", nil, auth...)
			if r.Status != 401 || r.ErrCode() != "unauthorized" || !strings.Contains(r.Header.Get("WWW-Authenticate"), "invalid_token") {
				t.Errorf("revoked token replayed: %d %v %s", r.Status, r.Header, r.Raw)
			}
		})
	}
}

func TestBearerTokenRefused(t *testing.T) {
	e := newEnv(t)
	e.addUser("alice", "correct horse battery")
	plain, _ := e.newToken("ci", time.Hour)
	b := e.browser()
	b.MustLogin("alice", "correct horse battery")
	session := b.Cookie("latchkey_session").Value
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
		{"bad bearer with a valid session cookie", map[string]string{"latchkey_session": session}, []string{"Authorization", "Bearer nonsense", "X-CSRFToken", b.Token()}},
		{"token in the session cookie", map[string]string{"latchkey_session": plain}, nil},
		{"token in a cookie named Authorization", map[string]string{"Authorization": "Bearer " + plain}, nil},
		{"a CSRF token instead", nil, []string{"X-CSRFToken", b.Token()}},
	}
	for _, tc := range cases {
		for _, path := range []string{"/api/data", "/app/"} {
			if r := e.raw("GET", path, tc.cookies, tc.header...); r.Status != 401 {
				t.Errorf("%s on %s: %d %s, want 401", tc.name, path, r.Status, r.Raw)
			}
		}
	}
	// A bad bearer is refused even where login is optional.
	if r := e.raw("GET", "/api/getsession", nil, "Authorization", "Bearer nonsense"); r.Status != 401 {
		t.Errorf("getsession with a bad bearer: %d %s", r.Status, r.Raw)
	}
	// Another scheme (a staging proxy's Basic auth) is not ours: cookies work.
	if r := e.raw("GET", "/api/data", map[string]string{"latchkey_session": session}, "Authorization", "Basic dXNlcjpwYXNz"); r.Status != 200 {
		t.Errorf("session cookie beside Basic auth: %d %s", r.Status, r.Raw)
	}
	e.clock.Advance(time.Hour)
	if r := e.raw("GET", "/api/data", nil, "Authorization", "Bearer "+plain); r.Status != 401 {
		t.Errorf("expired token: %d", r.Status)
	}
	plain2, _ := e.newToken("deploy", 0)
	if err := e.auth.DeleteUser(t.Context(), "alice"); err != nil {
		t.Fatal(err)
	}
	if r := e.raw("GET", "/api/data", nil, "Authorization", "Bearer "+plain2); r.Status != 401 {
		t.Errorf("token of a deleted user: %d", r.Status)
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
	up := recordingUpstream(t)
	e := newEnv(t, func(c *latchkey.Config) { c.Upstream = up.url })
	e.addUser("alice", "correct horse battery")
	plain, _ := e.newToken("ci", 0)
	if r := e.raw("POST", "/api/orders", nil, "Authorization", "Bearer "+plain); r.Status != 200 {
		t.Fatalf("gateway with a bearer token: %d %s", r.Status, r.Raw)
	}
	if seen := up.last().Header; seen.Get("Authorization") != "" || seen.Get(latchkey.HeaderUsername) != "alice" {
		t.Errorf("backend saw Authorization %q, user %q; want none and alice", seen.Get("Authorization"), seen.Get(latchkey.HeaderUsername))
	}
	if r := e.raw("POST", "/api/orders", nil, "Authorization", "Bearer lk_x"); r.Status != 401 {
		t.Errorf("gateway with a bad bearer: %d", r.Status)
	}
}
