package latchkey_test

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/apitest"
	"github.com/latchkey/latchkey/jwtcookie"
	"github.com/latchkey/latchkey/memstore"
)

func jwtMode(c *latchkey.Config) { c.TokenMode = latchkey.TokenModeJWT }

// newJWTEnv is newEnv in token mode with a user alice logged in by b.
func newJWTEnv(t *testing.T, opts ...func(*latchkey.Config)) (*env, *apitest.Client) {
	t.Helper()
	e := newEnv(t, append([]func(*latchkey.Config){jwtMode}, opts...)...)
	e.addUser("alice", "correct horse battery")
	b := e.browser()
	b.MustLogin("alice", "correct horse battery")
	return e, b
}

// tokens returns b's current access and refresh tokens and CSRF value.
func tokens(t testing.TB, b *apitest.Client) (access, refresh, csrf string) {
	t.Helper()
	a, c := b.Cookie("access_token_cookie"), b.Cookie("csrf_access_token")
	for _, ck := range b.Cookies("/api/auth/refresh") {
		if ck.Name == "refresh_token_cookie" {
			refresh = ck.Value
		}
	}
	if a == nil || c == nil || refresh == "" {
		t.Fatalf("missing token cookies: access %v csrf %v refresh %q", a, c, refresh)
	}
	return a.Value, refresh, c.Value
}

func TestJWTLoginSetsTokenCookies(t *testing.T) {
	e := newEnv(t, jwtMode)
	e.addUser("alice", "correct horse battery")
	b := e.browser()
	r := b.Login("alice", "correct horse battery")
	if r.Status != 200 || r.JSON["login"] != true {
		t.Fatalf("login: %d %s", r.Status, r.Raw)
	}
	want := map[string]struct {
		path     string
		httpOnly bool
	}{
		"access_token_cookie":  {"/", true},
		"refresh_token_cookie": {"/api/auth/refresh", true},
		"csrf_access_token":    {"/", false},
		"csrf_refresh_token":   {"/", false},
	}
	for name, w := range want {
		c := setCookieHeader(r.Header, name)
		if c == nil {
			t.Errorf("login set no %s cookie", name)
			continue
		}
		if c.Path != w.path || c.HttpOnly != w.httpOnly || c.SameSite != http.SameSiteStrictMode || c.MaxAge != 0 {
			t.Errorf("%s: path %q httpOnly %v SameSite %v MaxAge %d; want path %q httpOnly %v, Strict, a browser-session cookie", name, c.Path, c.HttpOnly, c.SameSite, c.MaxAge, w.path, w.httpOnly)
		}
	}
	if setCookieHeader(r.Header, "latchkey_session") != nil {
		t.Error("token mode set a session cookie")
	}
	_, _, csrf := tokens(t, b)
	if b.Token() != csrf || b.Cookie("csrf_refresh_token").Value != csrf {
		t.Errorf("X-CSRFToken %q, csrf cookies %q and %q: want one value", b.Token(), csrf, b.Cookie("csrf_refresh_token").Value)
	}
	if r := b.Get("/api/getsession"); r.Status != 200 || r.JSON["login"] != true || r.JSON["fresh"] != true {
		t.Errorf("getsession: %d %s", r.Status, r.Raw)
	}
	if r := b.Get("/api/data"); r.Status != 200 || r.JSON["username"] != "alice" {
		t.Errorf("data: %d %s", r.Status, r.Raw)
	}
	if r := b.Get("/app/"); r.Status != 200 || r.Raw != "hello alice" {
		t.Errorf("Require: %d %s", r.Status, r.Raw)
	}
	if r := b.Get("/api/auth/verify"); r.Status != 204 || r.Header.Get(latchkey.HeaderUsername) != "alice" {
		t.Errorf("verify: %d %v", r.Status, r.Header)
	}
	if r := b.Get("/api/getcsrf"); r.JSON["csrfToken"] != csrf {
		t.Errorf("getcsrf = %v, want the pair's value %q", r.JSON["csrfToken"], csrf)
	}
	if r := b.Post("/api/login", map[string]any{"username": "alice", "password": "correct horse battery", "remember": true}); r.Status != 200 {
		t.Fatalf("second login: %d %s", r.Status, r.Raw)
	} else if c := setCookieHeader(r.Header, "refresh_token_cookie"); c.MaxAge < 29*24*3600 {
		t.Errorf("remember me: refresh cookie Max-Age %d, want about 30 days", c.MaxAge)
	}
}

func TestJWTExpiredAccessTokenSaysRefresh(t *testing.T) {
	e, b := newJWTEnv(t)
	e.clock.Advance(16 * time.Minute)
	for _, path := range []string{"/api/getsession", "/api/data", "/app/", "/api/auth/verify"} {
		r := b.Get(path)
		if r.Status != 401 || (path != "/app/" || r.JSON != nil) && r.ErrCode() != "token_expired" {
			t.Errorf("%s with an expired access token: %d %s; want 401 token_expired", path, r.Status, r.Raw)
		}
	}
	oldAccess, _, oldCSRF := tokens(t, b)
	r := b.Refresh()
	if r.Status != 200 || r.JSON["refresh"] != true {
		t.Fatalf("refresh: %d %s", r.Status, r.Raw)
	}
	access, _, csrf := tokens(t, b)
	if access == oldAccess || csrf == oldCSRF || b.Token() != csrf {
		t.Error("refresh did not hand out a new pair and CSRF value")
	}
	if r := b.Get("/api/data"); r.Status != 200 {
		t.Errorf("data after refresh: %d %s", r.Status, r.Raw)
	}
	if r := b.Get("/api/getsession"); r.JSON["fresh"] != false {
		t.Errorf("a refreshed login is still fresh: %s", r.Raw)
	}
	// A write with the old CSRF value is refused; the new one works.
	if r := b.Do("POST", "/app/", nil, "X-CSRF-TOKEN", oldCSRF); r.Status != 403 {
		t.Errorf("old CSRF value after refresh: %d", r.Status)
	}
	if r := b.Do("POST", "/app/", nil, "X-CSRF-TOKEN", csrf); r.Status != 200 {
		t.Errorf("new CSRF value: %d %s", r.Status, r.Raw)
	}
	// Past the refresh token's own life, nothing is left.
	e.clock.Advance(31 * 24 * time.Hour)
	if r := b.Refresh(); r.Status != 401 || r.ErrCode() != "unauthorized" {
		t.Errorf("refresh after 31 days: %d %s", r.Status, r.Raw)
	}
}

func TestJWTCSRF(t *testing.T) {
	e, b := newJWTEnv(t)
	access, refresh, csrf := tokens(t, b)
	ck := map[string]string{"access_token_cookie": access, "csrf_access_token": csrf}
	wrong := "x" + csrf[1:]
	if wrong == csrf { // one token in 64 starts with x already
		wrong = "y" + csrf[1:]
	}
	cases := []struct {
		name   string
		header []string
		want   int
	}{
		{"no header", nil, 403},
		{"wrong value", []string{"X-CSRF-TOKEN", wrong}, 403},
		{"anonymous token from getcsrf", []string{"X-CSRF-TOKEN", e.browser().CSRF()}, 403},
		{"two different headers", []string{"X-CSRF-TOKEN", csrf, "X-CSRFToken", "other"}, 403},
		{"right value", []string{"X-CSRF-TOKEN", csrf}, 200},
		{"right value, hostile origin", []string{"X-CSRF-TOKEN", csrf, "Origin", "https://evil.example", "Sec-Fetch-Site", "cross-site"}, 403},
	}
	for _, tc := range cases {
		if r := e.raw("POST", "/app/", ck, tc.header...); r.Status != tc.want {
			t.Errorf("%s: %d %s, want %d", tc.name, r.Status, r.Raw, tc.want)
		}
	}
	// A planted csrf cookie with a matching header is useless: the value
	// must match the signed token's claim.
	planted := map[string]string{"access_token_cookie": access, "csrf_access_token": "attacker"}
	if r := e.raw("POST", "/app/", planted, "X-CSRF-TOKEN", "attacker"); r.Status != 403 {
		t.Errorf("planted csrf cookie: %d", r.Status)
	}
	rc := map[string]string{"refresh_token_cookie": refresh}
	for name, h := range map[string][]string{
		"refresh without CSRF":        nil,
		"refresh with a wrong value":  {"X-CSRF-TOKEN", "attacker"},
		"refresh from another origin": {"X-CSRF-TOKEN", csrf, "Sec-Fetch-Site", "cross-site"},
	} {
		if r := e.raw("POST", "/api/auth/refresh", rc, h...); r.Status != 403 || r.ErrCode() != "csrf_failed" {
			t.Errorf("%s: %d %s", name, r.Status, r.Raw)
		}
	}
	if r := b.Post("/api/logout", nil); r.Status != 200 {
		t.Errorf("logout with the pair's CSRF value: %d %s", r.Status, r.Raw)
	}
}

func TestJWTTokenConfusion(t *testing.T) {
	e, b := newJWTEnv(t)
	access, refresh, csrf := tokens(t, b)
	if r := e.raw("GET", "/api/data", map[string]string{"access_token_cookie": refresh}); r.Status != 401 || r.ErrCode() != "unauthorized" {
		t.Errorf("refresh token as access token: %d %s", r.Status, r.Raw)
	}
	if r := e.raw("POST", "/api/auth/refresh", map[string]string{"refresh_token_cookie": access}, "X-CSRF-TOKEN", csrf); r.Status != 401 {
		t.Errorf("access token as refresh token: %d %s", r.Status, r.Raw)
	}
	parts := strings.Split(access, ".")
	payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
	tampered := strings.Replace(string(payload), `"sub":"1"`, `"sub":"2"`, 1)
	if tampered == string(payload) {
		t.Fatalf("payload %s has no sub 1", payload)
	}
	bad := parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(tampered)) + "." + parts[2]
	r := e.raw("GET", "/api/data", map[string]string{"access_token_cookie": bad})
	if r.Status != 401 || r.ErrCode() != "unauthorized" {
		t.Errorf("tampered payload: %d %s", r.Status, r.Raw)
	}
	if c := setCookieHeader(r.Header, "access_token_cookie"); c == nil || c.MaxAge >= 0 {
		t.Error("a tampered access cookie was not cleared")
	}
	for name, v := range map[string]string{"garbage": "not-a-jwt", "huge": strings.Repeat("a", 5000), "alg none": "eyJhbGciOiJub25lIiwidHlwIjoiYXQrand0In0." + parts[1] + "."} {
		if r := e.raw("GET", "/api/getsession", map[string]string{"access_token_cookie": v}); r.Status != 200 || r.JSON["login"] != false {
			t.Errorf("%s access cookie: %d %s, want logged out", name, r.Status, r.Raw)
		}
	}
	// A tampered token beside the real one is skipped, not believed: the
	// request is the real token's user's (TestDuplicateCookies has more).
	req, _ := http.NewRequest("GET", e.srv.URL+"/api/data", nil)
	req.Header.Set("Cookie", "access_token_cookie="+bad+"; access_token_cookie="+access)
	if res, err := http.DefaultClient.Do(req); err != nil || res.StatusCode != 200 {
		t.Errorf("tampered access cookie beside the real one: %v %v", res.StatusCode, err)
	}
	// Another deployment's token (other secret) is refused.
	other := newEnv(t, jwtMode, func(c *latchkey.Config) { c.Secrets = [][]byte{[]byte("another-secret-another-secret-0123456789")} })
	other.addUser("alice", "correct horse battery")
	ob := other.browser()
	ob.MustLogin("alice", "correct horse battery")
	foreign, _, _ := tokens(t, ob)
	if r := e.raw("GET", "/api/data", map[string]string{"access_token_cookie": foreign}); r.Status != 401 {
		t.Errorf("a token signed by another deployment: %d", r.Status)
	}
}

func TestJWTReuseRevokesFamily(t *testing.T) {
	e, b := newJWTEnv(t)
	_, gen0, csrf0 := tokens(t, b)
	if r := b.Refresh(); r.Status != 200 {
		t.Fatalf("refresh: %d %s", r.Status, r.Raw)
	}
	access1, gen1, csrf1 := tokens(t, b)
	e.clock.Advance(11 * time.Second) // past the grace window
	r := e.raw("POST", "/api/auth/refresh", map[string]string{"refresh_token_cookie": gen0}, "X-CSRF-TOKEN", csrf0)
	if r.Status != 401 || r.ErrCode() != "token_reused" {
		t.Fatalf("reused refresh token: %d %s, want 401 token_reused", r.Status, r.Raw)
	}
	// Every token of that login is dead now, the legitimate newer ones too.
	if r := e.raw("GET", "/api/data", map[string]string{"access_token_cookie": access1}); r.Status != 401 {
		t.Errorf("access token after family revocation: %d", r.Status)
	}
	if r := e.raw("POST", "/api/auth/refresh", map[string]string{"refresh_token_cookie": gen1}, "X-CSRF-TOKEN", csrf1); r.Status != 401 {
		t.Errorf("newest refresh token after family revocation: %d %s", r.Status, r.Raw)
	}
	// Other logins of the same user are untouched.
	other := e.browser()
	other.MustLogin("alice", "correct horse battery")
	if r := other.Get("/api/data"); r.Status != 200 {
		t.Errorf("another login after revocation: %d", r.Status)
	}
}

func TestJWTGraceWindowUnderParallelRefreshes(t *testing.T) {
	e, b := newJWTEnv(t)
	_, refresh, csrf := tokens(t, b)
	const n = 12
	var wg sync.WaitGroup
	results := make([]*http.Response, n)
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			req, _ := http.NewRequest("POST", e.srv.URL+"/api/auth/refresh", nil)
			req.AddCookie(&http.Cookie{Name: "refresh_token_cookie", Value: refresh})
			req.Header.Set("X-CSRF-TOKEN", csrf)
			res, err := http.DefaultClient.Do(req)
			if err == nil {
				io.Copy(io.Discard, res.Body)
				res.Body.Close()
			}
			results[i], errs[i] = res, err
		})
	}
	wg.Wait()
	var pair string
	for i, res := range results {
		if errs[i] != nil || res.StatusCode != 200 {
			t.Fatalf("parallel refresh %d: %v %v", i, errs[i], res)
		}
		got := setCookieHeader(res.Header, "access_token_cookie").Value + " " + setCookieHeader(res.Header, "refresh_token_cookie").Value
		if pair == "" {
			pair = got
		} else if got != pair {
			t.Errorf("refresh %d got another pair than refresh 0", i)
		}
	}
	ss, err := e.store.ListUserSessions(t.Context(), 1)
	if err != nil || len(ss) != 1 || ss[0].Generation != 1 {
		t.Fatalf("after %d parallel refreshes: %v %+v, want one family at generation 1", n, err, ss)
	}
	// The old token still works within the window, then it is reuse.
	e.clock.Advance(9 * time.Second)
	if r := e.raw("POST", "/api/auth/refresh", map[string]string{"refresh_token_cookie": refresh}, "X-CSRF-TOKEN", csrf); r.Status != 200 {
		t.Errorf("9s after rotation: %d %s", r.Status, r.Raw)
	}
	e.clock.Advance(2 * time.Second)
	if r := e.raw("POST", "/api/auth/refresh", map[string]string{"refresh_token_cookie": refresh}, "X-CSRF-TOKEN", csrf); r.Status != 401 || r.ErrCode() != "token_reused" {
		t.Errorf("11s after rotation: %d %s", r.Status, r.Raw)
	}
}

func TestJWTLogoutThenReplay(t *testing.T) {
	for _, expired := range []bool{false, true} {
		name := map[bool]string{false: "fresh access token", true: "expired access token"}[expired]
		t.Run(name, func(t *testing.T) {
			e, b := newJWTEnv(t)
			access, refresh, csrf := tokens(t, b)
			if expired {
				e.clock.Advance(20 * time.Minute)
			}
			r := b.Post("/api/logout", nil, "X-CSRF-TOKEN", csrf)
			if r.Status != 200 || r.JSON["logout"] != true {
				t.Fatalf("logout: %d %s", r.Status, r.Raw)
			}
			for _, name := range []string{"access_token_cookie", "refresh_token_cookie", "csrf_access_token", "csrf_refresh_token"} {
				if c := setCookieHeader(r.Header, name); c == nil || c.MaxAge >= 0 {
					t.Errorf("logout did not clear %s", name)
				}
			}
			if r := e.raw("GET", "/api/data", map[string]string{"access_token_cookie": access}); r.Status != 401 {
				t.Errorf("replayed access token: %d %s", r.Status, r.Raw)
			}
			if r := e.raw("POST", "/api/auth/refresh", map[string]string{"refresh_token_cookie": refresh}, "X-CSRF-TOKEN", csrf); r.Status != 401 {
				t.Errorf("replayed refresh token: %d %s", r.Status, r.Raw)
			}
			if ss, _ := e.store.ListUserSessions(t.Context(), 1); len(ss) != 0 {
				t.Errorf("%d families left after logout", len(ss))
			}
		})
	}
}

func TestJWTLoginReplacesFamily(t *testing.T) {
	e, b := newJWTEnv(t)
	old, _, _ := tokens(t, b)
	b.MustLogin("alice", "correct horse battery")
	if r := e.raw("GET", "/api/data", map[string]string{"access_token_cookie": old}); r.Status != 401 {
		t.Errorf("the previous login's access token still works: %d", r.Status)
	}
	if ss, _ := e.store.ListUserSessions(t.Context(), 1); len(ss) != 1 {
		t.Errorf("%d families after logging in twice in one browser, want 1", len(ss))
	}
}

func TestJWTDeletedUser(t *testing.T) {
	e, b := newJWTEnv(t)
	_, refresh, csrf := tokens(t, b)
	if err := e.auth.DeleteUser(t.Context(), "alice"); err != nil {
		t.Fatal(err)
	}
	if r := b.Get("/api/data"); r.Status != 401 {
		t.Errorf("deleted user's access token: %d", r.Status)
	}
	if r := e.raw("POST", "/api/auth/refresh", map[string]string{"refresh_token_cookie": refresh}, "X-CSRF-TOKEN", csrf); r.Status != 401 {
		t.Errorf("deleted user's refresh token: %d", r.Status)
	}
}

// The grace window is never shorter than configured, wherever in its
// second a rotation falls: the family's rotation time is kept in whole
// seconds, as token timestamps are, so the window is counted in them too.
func TestJWTGraceWindowLateInASecond(t *testing.T) {
	e, b := newJWTEnv(t, func(c *latchkey.Config) { c.JWT.ReuseGrace = time.Second })
	_, refresh, csrf := tokens(t, b)
	e.clock.Advance(900 * time.Millisecond)
	if r := b.Refresh(); r.Status != 200 {
		t.Fatalf("refresh: %d %s", r.Status, r.Raw)
	}
	rotated := e.clock.Now()
	for _, d := range []time.Duration{200 * time.Millisecond, 800 * time.Millisecond} {
		e.clock.Advance(d)
		if r := e.raw("POST", "/api/auth/refresh", map[string]string{"refresh_token_cookie": refresh}, "X-CSRF-TOKEN", csrf); r.Status != 200 {
			t.Fatalf("reuse %v after a rotation at .900 s, with a 1s grace: %d %s, want 200", e.clock.Now().Sub(rotated), r.Status, r.Raw)
		}
	}
	e.clock.Advance(100 * time.Millisecond)
	if r := e.raw("POST", "/api/auth/refresh", map[string]string{"refresh_token_cookie": refresh}, "X-CSRF-TOKEN", csrf); r.Status != 401 || r.ErrCode() != "token_reused" {
		t.Errorf("in the second after the grace: %d %s, want 401 token_reused", r.Status, r.Raw)
	}
}

// Other services verify access tokens with the published keys.
func TestJWKSVerifiesAccessToken(t *testing.T) {
	e, b := newJWTEnv(t, func(c *latchkey.Config) { c.PublicURL = "http://auth.test" })
	alice, err := e.auth.LookupUser(t.Context(), "alice")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.auth.SetRoles(t.Context(), alice.ID, []string{"editor", "admin"}, 0); err != nil {
		t.Fatal(err)
	}
	b.MustLogin("alice", "correct horse battery") // a token signed with the roles
	rec := httptest.NewRecorder()
	e.auth.JWKSHandler().ServeHTTP(rec, httptest.NewRequest("GET", "/.well-known/jwks.json", nil))
	var set struct {
		Keys []struct{ Kid, X string } `json:"keys"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &set); err != nil || len(set.Keys) != 1 {
		t.Fatalf("JWKS %s: %v", rec.Body, err)
	}
	if ct := rec.Header().Get("Content-Type"); ct != "application/jwk-set+json" {
		t.Errorf("JWKS Content-Type %q", ct)
	}
	access, _, _ := tokens(t, b)
	var claims jwtcookie.Claims
	_, err = jwt.ParseWithClaims(access, &claims, func(tk *jwt.Token) (any, error) {
		if tk.Header["kid"] != set.Keys[0].Kid {
			t.Errorf("kid %v not in JWKS", tk.Header["kid"])
		}
		x, err := base64.RawURLEncoding.DecodeString(set.Keys[0].X)
		return ed25519.PublicKey(x), err
	}, jwt.WithValidMethods([]string{"EdDSA"}), jwt.WithIssuer("http://auth.test"), jwt.WithAudience("http://auth.test"),
		jwt.WithTimeFunc(e.clock.Now))
	if err != nil {
		t.Fatalf("an outside verifier refused the access token: %v", err)
	}
	if claims.Subject != "1" || claims.Username != "alice" || claims.Type != "access" || fmt.Sprint(claims.Roles) != "[admin editor]" {
		t.Errorf("claims %+v", claims)
	}
}

func TestJWTHS256(t *testing.T) {
	e, b := newJWTEnv(t, func(c *latchkey.Config) { c.JWT.Algorithm = jwtcookie.HS256 })
	access, _, _ := tokens(t, b)
	if h, _ := base64.RawURLEncoding.DecodeString(strings.Split(access, ".")[0]); !strings.Contains(string(h), `"HS256"`) {
		t.Errorf("header %s", h)
	}
	if r := b.Get("/api/data"); r.Status != 200 {
		t.Errorf("data: %d", r.Status)
	}
	rec := httptest.NewRecorder()
	e.auth.JWKSHandler().ServeHTTP(rec, httptest.NewRequest("GET", "/.well-known/jwks.json", nil))
	if rec.Body.String() != `{"keys":[]}` {
		t.Errorf("HS256 JWKS published %s", rec.Body)
	}
}

func TestJWTConfigRefused(t *testing.T) {
	for name, f := range map[string]func(*latchkey.Config){
		"unknown mode":          func(c *latchkey.Config) { c.TokenMode = "cookies" },
		"unknown algorithm":     func(c *latchkey.Config) { jwtMode(c); c.JWT.Algorithm = "RS256" },
		"access outlives login": func(c *latchkey.Config) { jwtMode(c); c.JWT.AccessTTL = time.Hour; c.JWT.RefreshTTL = time.Minute },
		"long grace":            func(c *latchkey.Config) { jwtMode(c); c.JWT.ReuseGrace = time.Hour },
	} {
		cfg := latchkey.Config{Secrets: [][]byte{testSecret}}
		f(&cfg)
		st := memstore.New()
		if _, err := latchkey.New(cfg, st, st); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestJWTNoGrace(t *testing.T) {
	e, b := newJWTEnv(t, func(c *latchkey.Config) { c.JWT.ReuseGrace = -1 })
	_, refresh, csrf := tokens(t, b)
	if r := b.Refresh(); r.Status != 200 {
		t.Fatalf("refresh: %d %s", r.Status, r.Raw)
	}
	if r := e.raw("POST", "/api/auth/refresh", map[string]string{"refresh_token_cookie": refresh}, "X-CSRF-TOKEN", csrf); r.Status != 401 || r.ErrCode() != "token_reused" {
		t.Errorf("reuse at once without a grace window: %d %s, want 401 token_reused", r.Status, r.Raw)
	}
}

// The gateway takes the access token like Require: the backend gets the
// identity, never the token cookies, and an expired token says so.
func TestJWTGateway(t *testing.T) {
	up := recordingUpstream(t)
	e, b := newJWTEnv(t, func(c *latchkey.Config) { c.Upstream = up.url })
	_, _, csrf := tokens(t, b)
	if r := b.Do("POST", "/api/orders", nil, "X-CSRF-TOKEN", csrf); r.Status != 200 || r.Raw != "ok" {
		t.Fatalf("gateway with an access token: %d %s", r.Status, r.Raw)
	}
	if seen := up.last().Header; seen.Get(latchkey.HeaderUsername) != "alice" || strings.Contains(seen.Get("Cookie"), "token_cookie") {
		t.Errorf("backend saw user %q, Cookie %q; want alice and no token cookies", seen.Get(latchkey.HeaderUsername), seen.Get("Cookie"))
	}
	if r := b.Do("POST", "/api/orders", nil); r.Status != 403 {
		t.Errorf("gateway write without the CSRF value: %d", r.Status)
	}
	e.clock.Advance(16 * time.Minute)
	if r := b.Do("POST", "/api/orders", nil, "X-CSRF-TOKEN", csrf); r.Status != 401 || r.ErrCode() != "token_expired" {
		t.Errorf("gateway with an expired access token: %d %s, want 401 token_expired", r.Status, r.Raw)
	}
}
