package main

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/latchkey/latchkey/internal/apitest"
	"github.com/latchkey/latchkey/redisstore"
)

// reuseGrace is the refresh-token reuse grace of the token-mode
// deployments: short, so a test can wait it out.
const reuseGrace = time.Second

// jwtArgs put a deployment in token mode.
var jwtArgs = []string{"--token-mode", "jwt", "--jwt-reuse-grace", reuseGrace.String()}

// tokenPair is what a token-mode login or refresh hands out.
type tokenPair struct{ access, refresh, csrf string }

// issued returns the pair that the response r set in cookies.
func issued(t *testing.T, r apitest.Resp) tokenPair {
	t.Helper()
	var p tokenPair
	for _, line := range r.Header.Values("Set-Cookie") {
		c, err := http.ParseSetCookie(line)
		if err != nil {
			t.Fatalf("Set-Cookie %q: %v", line, err)
		}
		switch c.Name {
		case "access_token_cookie":
			p.access = c.Value
		case "refresh_token_cookie":
			p.refresh = c.Value
		case "csrf_access_token":
			p.csrf = c.Value
		}
	}
	if p.access == "" || p.refresh == "" || p.csrf == "" || r.Header.Get("X-CSRFToken") != p.csrf {
		t.Fatalf("%d %v set the cookies %q and X-CSRFToken %q, want a token pair", r.Status, r.JSON,
			r.Header.Values("Set-Cookie"), r.Header.Get("X-CSRFToken"))
	}
	return p
}

// holding returns a browser that holds a copy of p for base's host, as
// another tab, or a thief, would.
func holding(t *testing.T, base string, p tokenPair) *browser {
	t.Helper()
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	br := newBrowser(t)
	br.HTTP.Jar.SetCookies(u, []*http.Cookie{
		{Name: "access_token_cookie", Value: p.access, Path: "/"},
		{Name: "refresh_token_cookie", Value: p.refresh, Path: "/api/auth/refresh"},
	})
	br.SetToken(p.csrf)
	return br
}

// jwks returns the key set an instance publishes.
func jwks(t *testing.T, in *instance) []byte {
	t.Helper()
	res, err := http.Get(in.url + "/.well-known/jwks.json")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("GET %s/.well-known/jwks.json: %d %s %v", in.url, res.StatusCode, body, err)
	}
	return body
}

// accessClaims are the claims of an access token that a service outside
// latchkey reads.
type accessClaims struct {
	jwt.RegisteredClaims
	SessionID  string `json:"sid"`
	Generation int64  `json:"gen"`
	Type       string `json:"type"`
}

// verifyAccess verifies an access token as a service outside latchkey
// would: with golang-jwt and the key of its kid in the published set.
func verifyAccess(t *testing.T, set []byte, token string) *accessClaims {
	t.Helper()
	var keys struct {
		Keys []struct{ Kty, Crv, Kid, X string } `json:"keys"`
	}
	if err := json.Unmarshal(set, &keys); err != nil {
		t.Fatalf("JWKS %s: %v", set, err)
	}
	var c accessClaims
	_, err := jwt.ParseWithClaims(token, &c, func(tk *jwt.Token) (any, error) {
		for _, k := range keys.Keys {
			if k.Kid == tk.Header["kid"] && k.Kty == "OKP" && k.Crv == "Ed25519" {
				x, err := base64.RawURLEncoding.DecodeString(k.X)
				return ed25519.PublicKey(x), err
			}
		}
		return nil, errors.New("kid not in the JWKS")
	}, jwt.WithValidMethods([]string{"EdDSA"}), jwt.WithIssuer("latchkey"), jwt.WithAudience("latchkey"),
		jwt.WithExpirationRequired())
	if err != nil || c.Type != "access" {
		t.Fatalf("an outside verifier refused the access token (type %q): %v", c.Type, err)
	}
	return &c
}

// TestTwoInstancesTokenMode runs two instances in token mode on one
// PostgreSQL and one Redis: a token either issues works on both, a refresh
// token rotates once whichever instances race to use it, and a revocation
// on one (logout, reuse detected, API token revoked) holds on the other at
// once.
func TestTwoInstancesTokenMode(t *testing.T) {
	a, b, stores := startPair(t, jwtArgs...)
	both := []*instance{a, b}

	br := newBrowser(t)
	br.do("GET", a.url, "/api/getcsrf", nil)
	if r := br.do("POST", a.url, "/api/register", creds("alice", alicePassword)); r.Status != 201 {
		t.Fatalf("register through A: %d %v", r.Status, r.JSON)
	}
	r := br.do("POST", a.url, "/api/login", creds("alice", alicePassword))
	if r.Status != 200 {
		t.Fatalf("login on A: %d %v", r.Status, r.JSON)
	}
	p0 := issued(t, r)

	// The access token from A works on B, and both publish the keys that
	// verify it.
	if r := holding(t, b.url, p0).do("GET", b.url, "/api/data", nil); r.Status != 200 || r.JSON["username"] != "alice" {
		t.Errorf("A's access token on B: %d %v, want alice's data", r.Status, r.JSON)
	}
	set := jwks(t, a)
	if other := jwks(t, b); !bytes.Equal(set, other) {
		t.Errorf("the instances publish different keys:\nA %s\nB %s", set, other)
	}
	c0 := verifyAccess(t, set, p0.access)

	// Refreshes with one refresh token racing through both instances: one
	// rotation wins, and every refresh gets the pair it made.
	const n = 8
	results := make([]apitest.Resp, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		in := both[i%2]
		c := holding(t, in.url, p0)
		wg.Go(func() {
			<-start
			results[i] = c.do("POST", in.url, "/api/auth/refresh", nil)
		})
	}
	close(start)
	wg.Wait()
	var p1 tokenPair
	for i, r := range results {
		if r.Status != 200 {
			t.Fatalf("concurrent refresh %d through %s: %d %v, want 200", i, both[i%2].url, r.Status, r.JSON)
		}
		if p := issued(t, r); i == 0 {
			p1 = p
		} else if p != p1 {
			t.Errorf("concurrent refresh %d through %s got another pair than refresh 0", i, both[i%2].url)
		}
	}
	if c1 := verifyAccess(t, set, p1.access); c1.SessionID != c0.SessionID || c1.Generation != c0.Generation+1 {
		t.Errorf("after the concurrent refreshes: family %q generation %d, want %q generation %d",
			c1.SessionID, c1.Generation, c0.SessionID, c0.Generation+1)
	}
	sessions, err := redisstore.Open(t.Context(), stores[slices.Index(stores, "--session-store")+1])
	if err != nil {
		t.Fatal(err)
	}
	defer sessions.Close()
	uid, _ := strconv.ParseInt(c0.Subject, 10, 64)
	if fams, err := sessions.ListUserSessions(t.Context(), uid); err != nil || len(fams) != 1 || fams[0].Generation != c0.Generation+1 {
		t.Errorf("alice's token families in Redis: %+v, %v; want one, at generation %d", fams, err, c0.Generation+1)
	}

	// Refresh on A; within the grace, another tab refreshing with the same
	// token on B gets the same pair. Past it, that token is a copy: B
	// revokes the login, and A then refuses its newest tokens.
	r = holding(t, a.url, p1).do("POST", a.url, "/api/auth/refresh", nil)
	if r.Status != 200 {
		t.Fatalf("refresh on A: %d %v", r.Status, r.JSON)
	}
	p2 := issued(t, r)
	if r := holding(t, b.url, p1).do("POST", b.url, "/api/auth/refresh", nil); r.Status != 200 || issued(t, r) != p2 {
		t.Errorf("the same refresh on B within the grace: %d %v, want 200 and A's pair", r.Status, r.JSON)
	}
	// The grace is counted in whole seconds from the rotation, the new
	// tokens' iat: it ends in the second after iat + grace.
	c2 := verifyAccess(t, set, p2.access)
	time.Sleep(time.Until(c2.IssuedAt.Add(reuseGrace + time.Second + 50*time.Millisecond)))
	if r := holding(t, b.url, p1).do("POST", b.url, "/api/auth/refresh", nil); r.Status != 401 || r.ErrCode() != "token_reused" {
		t.Errorf("a used refresh token on B past the grace: %d %v, want 401 token_reused", r.Status, r.JSON)
	}
	newest := holding(t, a.url, p2)
	if r := newest.do("GET", a.url, "/api/data", nil); r.Status != 401 {
		t.Errorf("the newest access token on A after reuse was detected on B: %d %v, want 401", r.Status, r.JSON)
	}
	if r := newest.do("POST", a.url, "/api/auth/refresh", nil); r.Status != 401 || r.ErrCode() != "unauthorized" {
		t.Errorf("the newest refresh token on A after reuse was detected on B: %d %v, want 401 unauthorized", r.Status, r.JSON)
	}

	// Log in on A, log out on B: a copy of the access token is dead on A.
	br = newBrowser(t)
	br.do("GET", a.url, "/api/getcsrf", nil)
	if r = br.do("POST", a.url, "/api/login", creds("alice", alicePassword)); r.Status != 200 {
		t.Fatalf("login on A: %d %v", r.Status, r.JSON)
	}
	stolen := holding(t, a.url, issued(t, r))
	if r := stolen.do("GET", a.url, "/api/data", nil); r.Status != 200 {
		t.Fatalf("a copy of the access token on A: %d %v", r.Status, r.JSON)
	}
	if r := br.do("POST", b.url, "/api/logout", nil); r.Status != 200 {
		t.Fatalf("logout on B: %d %v", r.Status, r.JSON)
	}
	if r := stolen.do("GET", a.url, "/api/data", nil); r.Status != 401 {
		t.Errorf("a copy of the access token on A after logout on B: %d %v, want 401", r.Status, r.JSON)
	}

	// An API token made with the CLI on the same PostgreSQL works on both,
	// until the CLI revokes it.
	cli := append([]string{"--data", t.TempDir()}, stores...)
	token, _, err := tokenCLI(t, cli, "create", "--user", "alice", "--name", "ci")
	if err != nil {
		t.Fatalf("token create: %v", err)
	}
	api := newBrowser(t)
	api.Header = http.Header{"Authorization": {"Bearer " + strings.TrimSpace(token)}}
	for _, in := range both {
		if r := api.do("GET", in.url, "/api/data", nil); r.Status != 200 || r.JSON["username"] != "alice" {
			t.Errorf("API token on %s: %d %v, want alice's data", in.url, r.Status, r.JSON)
		}
	}
	if _, _, err := tokenCLI(t, cli, "revoke", "--user", "alice", "--name", "ci"); err != nil {
		t.Fatalf("token revoke: %v", err)
	}
	for _, in := range both {
		if r := api.do("GET", in.url, "/api/data", nil); r.Status != 401 {
			t.Errorf("revoked API token on %s: %d %v, want 401", in.url, r.Status, r.JSON)
		}
	}
}
