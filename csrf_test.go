package latchkey_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/latchkey/latchkey"
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
	otherB.csrf()
	foreignKeyToken := otherB.token

	cases := []struct {
		name  string
		token func(victim *browser) string
		extra []string
	}{
		{"missing token", func(*browser) string { return "" }, nil},
		{"garbage token", func(*browser) string { return "garbage" }, nil},
		{"right length, random", func(*browser) string { return strings.Repeat("A", 86) }, nil},
		{"truncated valid token", func(v *browser) string { return v.token[:85] }, nil},
		{"token of another browser's session", func(*browser) string {
			m := e.browser()
			m.mustLogin("mallory", "mallory's long password")
			return m.token
		}, nil},
		{"anonymous token of another browser", func(*browser) string { return e.browser().csrf() }, nil},
		{"token signed with another key", func(*browser) string { return foreignKeyToken }, nil},
		{"token only in the query string", func(*browser) string { return "" }, nil},
		{"valid token, cross-site fetch metadata", func(v *browser) string { return v.token }, []string{"Sec-Fetch-Site", "cross-site"}},
		{"valid token, same-site (sibling subdomain)", func(v *browser) string { return v.token }, []string{"Sec-Fetch-Site", "same-site"}},
		{"valid token, hostile Origin", func(v *browser) string { return v.token }, []string{"Origin", "https://evil.example"}},
		{"valid token, null Origin", func(v *browser) string { return v.token }, []string{"Origin", "null"}},
		{"valid and wrong token in two headers", func(v *browser) string { return v.token }, []string{"X-XSRF-TOKEN", strings.Repeat("B", 86)}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			v := e.browser()
			v.mustLogin("victim", "victim's long password")
			tok := tc.token(v)
			path := "/api/logout"
			if tc.name == "token only in the query string" {
				path += "?csrf_token=" + v.token + "&X-CSRFToken=" + v.token
			}
			h := append([]string{"Content-Type", "application/json"}, tc.extra...)
			if tok != "" {
				h = append(h, "X-CSRFToken", tok)
			}
			r := v.do("POST", path, strings.NewReader("{}"), h...)
			if r.status != 403 || r.errCode() != "csrf_failed" {
				t.Errorf("got %d %s, want 403 csrf_failed", r.status, r.raw)
			}
			if !v.loggedIn() {
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
	attackerTok := attacker.csrf()
	attackerAnon := attacker.cookie("latchkey_csrf").Value

	t.Run("planted XSRF-TOKEN matching the header", func(t *testing.T) {
		v := e.browser()
		v.mustLogin("victim", "victim's long password")
		forged := strings.Repeat("C", 86)
		v.setCookie("XSRF-TOKEN", forged)
		r := v.do("POST", "/api/logout", nil, "X-CSRFToken", forged)
		if r.status != 403 || !v.loggedIn() {
			t.Errorf("got %d, logged in %v; want 403 and still logged in", r.status, v.loggedIn())
		}
	})
	t.Run("planted anonymous cookie with the attacker's token, victim logged in", func(t *testing.T) {
		v := e.browser()
		v.mustLogin("victim", "victim's long password")
		v.setCookie("latchkey_csrf", attackerAnon)
		r := v.do("POST", "/api/logout", nil, "X-CSRFToken", attackerTok)
		if r.status != 403 || !v.loggedIn() {
			t.Errorf("got %d; want 403 and still logged in", r.status)
		}
	})
	t.Run("duplicated binding cookie (planted beside the real one) is refused", func(t *testing.T) {
		v := e.browser()
		tok := v.csrf()
		real := v.cookie("latchkey_csrf").Value
		cookie := "latchkey_csrf=" + attackerAnon + "; latchkey_csrf=" + real
		r := v.do("POST", "/api/login", strings.NewReader(`{"username":"victim","password":"victim's long password"}`),
			"Content-Type", "application/json", "X-CSRFToken", tok, "Cookie", cookie)
		if r.status != 403 {
			t.Errorf("got %d %s, want 403", r.status, r.raw)
		}
	})
}

// TestLoginCSRF: login and register need a token too, so a page elsewhere
// cannot log a victim into the attacker's account.
func TestLoginCSRF(t *testing.T) {
	e := newEnv(t)
	e.addUser("mallory", "mallory's long password")
	body := `{"username":"mallory","password":"mallory's long password"}`
	attackerTok := e.browser().csrf()
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
				v.csrf()
			}
			for _, path := range []string{"/api/login", "/api/register"} {
				h := append([]string{"Content-Type", "application/json"}, tc.header...)
				r := v.do("POST", path, strings.NewReader(body), h...)
				if r.status != 403 || r.errCode() != "csrf_failed" {
					t.Errorf("%s: got %d %s, want 403 csrf_failed", path, r.status, r.raw)
				}
			}
			if v.loggedIn() {
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
			b.mustLogin("kim", "kim's long password")
			if r := b.do("POST", "/api/logout", nil, h, b.token); r.status != 200 {
				t.Errorf("got %d %s, want 200", r.status, r.raw)
			}
		})
	}
	t.Run("XSRF-TOKEN cookie echoed as Axios does", func(t *testing.T) {
		b := e.browser()
		b.mustLogin("kim", "kim's long password")
		tok := b.cookie("XSRF-TOKEN").Value
		if r := b.do("POST", "/api/logout", nil, "X-XSRF-TOKEN", tok); r.status != 200 {
			t.Errorf("got %d %s", r.status, r.raw)
		}
	})
}

// TestCSRFTokenLifetime: a token stays valid for any number of requests
// until the session changes, and tokens from rotated-out keys still verify.
func TestCSRFTokenLifetime(t *testing.T) {
	e := newEnv(t)
	e.addUser("lee", "lee's long password")
	b := e.browser()
	b.mustLogin("lee", "lee's long password")
	tok := b.token
	for i := range 5 {
		if r := b.do("POST", "/app/x", nil, "X-CSRFToken", tok); r.status != 200 {
			t.Fatalf("use %d: %d", i, r.status)
		}
	}
	// Key rotation: a new first key; the old one still verifies.
	rotated := newEnvWithStore(t, e.store, func(c *latchkey.Config) {
		c.Secrets = [][]byte{[]byte(strings.Repeat("n", 40)), testSecret}
	})
	b.e = rotated
	if r := b.do("POST", "/app/x", nil, "X-CSRFToken", tok); r.status != 200 {
		t.Errorf("token signed by the old key after rotation: %d %s", r.status, r.raw)
	}
	dropped := newEnvWithStore(t, e.store, func(c *latchkey.Config) {
		c.Secrets = [][]byte{[]byte(strings.Repeat("n", 40))}
	})
	b.e = dropped
	if r := b.do("POST", "/app/x", nil, "X-CSRFToken", tok); r.status != 403 {
		t.Errorf("token signed by a removed key: %d, want 403", r.status)
	}
}

func TestCSRFNotNeededForSafeMethods(t *testing.T) {
	e := newEnv(t)
	e.addUser("max", "max's long password")
	b := e.browser()
	b.mustLogin("max", "max's long password")
	for _, m := range []string{http.MethodGet, http.MethodHead} {
		if r := b.do(m, "/api/data", nil); r.status != 200 {
			t.Errorf("%s /api/data: %d", m, r.status)
		}
	}
}
