package latchkey_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/apitest"
)

// TestCSRFAttacks sends a state-changing request (logout) for a logged-in
// victim the ways an attacker could; every one must fail with 403 and leave
// the victim logged in.
func TestCSRFAttacks(t *testing.T) {
	e := newEnv(t)
	e.addUser("victim", "victim's long password")
	e.addUser("mallory", "mallory's long password")

	// A token minted by a server with another secret.
	other := newEnv(t, func(c *latchkey.Config) { c.Secrets = [][]byte{[]byte(strings.Repeat("k", 40))} })
	otherB := other.browser()
	otherB.CSRF()
	foreignKeyToken := otherB.Token()

	cases := []struct {
		name  string
		token func(victim *apitest.Client) string
		extra []string
	}{
		{"missing token", func(*apitest.Client) string { return "" }, nil},
		{"garbage token", func(*apitest.Client) string { return "garbage" }, nil},
		{"right length, random", func(*apitest.Client) string { return strings.Repeat("A", 86) }, nil},
		{"truncated valid token", func(v *apitest.Client) string { return v.Token()[:85] }, nil},
		{"token of another browser's session", func(*apitest.Client) string {
			m := e.browser()
			m.MustLogin("mallory", "mallory's long password")
			return m.Token()
		}, nil},
		{"anonymous token of another browser", func(*apitest.Client) string { return e.browser().CSRF() }, nil},
		{"token signed with another key", func(*apitest.Client) string { return foreignKeyToken }, nil},
		{"token only in the query string", func(*apitest.Client) string { return "" }, nil},
		{"valid token, cross-site fetch metadata", func(v *apitest.Client) string { return v.Token() }, []string{"Sec-Fetch-Site", "cross-site"}},
		{"valid token, same-site (sibling subdomain)", func(v *apitest.Client) string { return v.Token() }, []string{"Sec-Fetch-Site", "same-site"}},
		{"valid token, hostile Origin", func(v *apitest.Client) string { return v.Token() }, []string{"Origin", "https://evil.example"}},
		{"valid token, null Origin", func(v *apitest.Client) string { return v.Token() }, []string{"Origin", "null"}},
		{"valid and wrong token in two headers", func(v *apitest.Client) string { return v.Token() }, []string{"X-XSRF-TOKEN", strings.Repeat("B", 86)}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			v := e.browser()
			v.MustLogin("victim", "victim's long password")
			tok := tc.token(v)
			path := "/api/logout"
			if tc.name == "token only in the query string" {
				path += "?csrf_token=" + v.Token() + "&X-CSRFToken=" + v.Token()
			}
			h := append([]string{"Content-Type", "application/json"}, tc.extra...)
			if tok != "" {
				h = append(h, "X-CSRFToken", tok)
			}
			r := v.Do("POST", path, strings.NewReader("{}"), h...)
			if r.Status != 403 || r.ErrCode() != "csrf_failed" {
				t.Errorf("got %d %s, want 403 csrf_failed", r.Status, r.Raw)
			}
			if !v.LoggedIn() {
				t.Errorf("the attack logged the victim out")
			}
		})
	}
}

// TestCSRFPlantedCookies: a sibling subdomain can plant cookies but not read
// ours. Planting XSRF-TOKEN (naive double-submit) or a second session or
// binding cookie must not make a forged token pass.
func TestCSRFPlantedCookies(t *testing.T) {
	e := newEnv(t)
	e.addUser("victim", "victim's long password")
	attacker := e.browser()
	attackerTok := attacker.CSRF()
	attackerAnon := attacker.Cookie("latchkey_csrf").Value

	t.Run("planted XSRF-TOKEN matching the header", func(t *testing.T) {
		v := e.browser()
		v.MustLogin("victim", "victim's long password")
		forged := strings.Repeat("C", 86)
		v.SetCookie("XSRF-TOKEN", forged)
		r := v.Do("POST", "/api/logout", nil, "X-CSRFToken", forged)
		if r.Status != 403 || !v.LoggedIn() {
			t.Errorf("got %d, logged in %v; want 403 and still logged in", r.Status, v.LoggedIn())
		}
	})
	t.Run("planted anonymous cookie with the attacker's token, victim logged in", func(t *testing.T) {
		v := e.browser()
		v.MustLogin("victim", "victim's long password")
		v.SetCookie("latchkey_csrf", attackerAnon)
		r := v.Do("POST", "/api/logout", nil, "X-CSRFToken", attackerTok)
		if r.Status != 403 || !v.LoggedIn() {
			t.Errorf("got %d; want 403 and still logged in", r.Status)
		}
	})
	t.Run("binding cookie planted beside the real one, from another site", func(t *testing.T) {
		// The token layer accepts a token bound to either cookie (so a
		// planted one cannot lock the victim out); the attacker's own token
		// still needs a request from this origin, which his page cannot make.
		v := e.browser()
		v.CSRF()
		real := v.Cookie("latchkey_csrf").Value
		cookie := "latchkey_csrf=" + attackerAnon + "; latchkey_csrf=" + real
		for _, site := range []string{"cross-site", "same-site"} {
			r := v.Do("POST", "/api/login", strings.NewReader(`{"username":"mallory","password":"x"}`),
				"Content-Type", "application/json", "X-CSRFToken", attackerTok, "Cookie", cookie,
				"Sec-Fetch-Site", site, "Origin", "http://evil.example")
			if r.Status != 403 || r.ErrCode() != "csrf_failed" {
				t.Errorf("%s: got %d %s, want 403 csrf_failed", site, r.Status, r.Raw)
			}
		}
	})
}

// TestLoginCSRF: login and register need a token too, so a page elsewhere
// cannot log a victim into the attacker's account.
func TestLoginCSRF(t *testing.T) {
	e := newEnv(t)
	e.addUser("mallory", "mallory's long password")
	body := `{"username":"mallory","password":"mallory's long password"}`
	attackerTok := e.browser().CSRF()
	for _, tc := range []struct {
		name   string
		header []string
	}{
		{"no cookies, no token", nil},
		{"no token", nil},
		{"the attacker's own token", []string{"X-CSRFToken", attackerTok}},
		{"cross-site form post", []string{"Sec-Fetch-Site", "cross-site", "X-CSRFToken", attackerTok}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := e.browser()
			if tc.name != "no cookies, no token" {
				v.CSRF()
			}
			for _, path := range []string{"/api/login", "/api/register"} {
				h := append([]string{"Content-Type", "application/json"}, tc.header...)
				r := v.Do("POST", path, strings.NewReader(body), h...)
				if r.Status != 403 || r.ErrCode() != "csrf_failed" {
					t.Errorf("%s: got %d %s, want 403 csrf_failed", path, r.Status, r.Raw)
				}
			}
			if v.LoggedIn() {
				t.Errorf("victim was logged in")
			}
		})
	}
}

func TestCSRFHeaderNames(t *testing.T) {
	e := newEnv(t)
	e.addUser("kim", "kim's long password")
	for _, h := range []string{"X-CSRFToken", "X-CSRF-Token", "X-XSRF-TOKEN", "x-csrftoken"} {
		t.Run(h, func(t *testing.T) {
			b := e.browser()
			b.MustLogin("kim", "kim's long password")
			if r := b.Do("POST", "/api/logout", nil, h, b.Token()); r.Status != 200 {
				t.Errorf("got %d %s, want 200", r.Status, r.Raw)
			}
		})
	}
	t.Run("XSRF-TOKEN cookie echoed as Axios does", func(t *testing.T) {
		b := e.browser()
		b.MustLogin("kim", "kim's long password")
		tok := b.Cookie("XSRF-TOKEN").Value
		if r := b.Do("POST", "/api/logout", nil, "X-XSRF-TOKEN", tok); r.Status != 200 {
			t.Errorf("got %d %s", r.Status, r.Raw)
		}
	})
}

// TestCSRFTokenLifetime: a token stays valid for any number of requests
// until the session changes, and tokens from rotated-out keys still verify.
func TestCSRFTokenLifetime(t *testing.T) {
	e := newEnv(t)
	e.addUser("lee", "lee's long password")
	b := e.browser()
	b.MustLogin("lee", "lee's long password")
	tok := b.Token()
	for i := range 5 {
		if r := b.Do("POST", "/app/x", nil, "X-CSRFToken", tok); r.Status != 200 {
			t.Fatalf("use %d: %d", i, r.Status)
		}
	}
	// Key rotation: a new first key; the old one still verifies.
	rotated := newEnvWithStore(t, e.store, func(c *latchkey.Config) {
		c.Secrets = [][]byte{[]byte(strings.Repeat("n", 40)), testSecret}
	})
	b.Base = rotated.srv.URL
	if r := b.Do("POST", "/app/x", nil, "X-CSRFToken", tok); r.Status != 200 {
		t.Errorf("token signed by the old key after rotation: %d %s", r.Status, r.Raw)
	}
	dropped := newEnvWithStore(t, e.store, func(c *latchkey.Config) {
		c.Secrets = [][]byte{[]byte(strings.Repeat("n", 40))}
	})
	b.Base = dropped.srv.URL
	if r := b.Do("POST", "/app/x", nil, "X-CSRFToken", tok); r.Status != 403 {
		t.Errorf("token signed by a removed key: %d, want 403", r.Status)
	}
}

func TestCSRFNotNeededForSafeMethods(t *testing.T) {
	e := newEnv(t)
	e.addUser("max", "max's long password")
	b := e.browser()
	b.MustLogin("max", "max's long password")
	for _, m := range []string{http.MethodGet, http.MethodHead} {
		if r := b.Do(m, "/api/data", nil); r.Status != 200 {
			t.Errorf("%s /api/data: %d", m, r.Status)
		}
	}
}
