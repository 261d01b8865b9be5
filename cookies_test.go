package latchkey_test

import (
	"strings"
	"testing"

	"github.com/latchkey/latchkey/internal/apitest"
)

// TestDuplicateCookies: a cookie of latchkey's name planted beside the real
// one (tossed from a sibling subdomain, or set over plain HTTP) neither logs
// the user out nor draws a deletion that would remove the real cookie,
// whichever order the two arrive in.
func TestDuplicateCookies(t *testing.T) {
	e := newEnv(t)
	e.addUser("wes", "wes's long password")
	e.addUser("xia", "xia's long password")
	login := func(name string) string {
		b := e.browser()
		b.MustLogin(name, name+"'s long password")
		return b.Cookie("latchkey_session").Value
	}
	valid, valid2, other := login("wes"), login("wes"), login("xia")
	ended := login("wes")
	e.browser().Do("GET", "/api/logout", nil, "Cookie", "latchkey_session="+ended)

	planted := []struct{ name, value string }{
		{"anything", "anything"},
		{"well-formed unknown", strings.Repeat("B", 43)},
		{"logged-out session", ended},
		{"empty", ""},
	}
	for _, p := range planted {
		for _, order := range []string{"planted first", "planted last"} {
			t.Run(p.name+", "+order, func(t *testing.T) {
				pair := []string{"latchkey_session=" + p.value, "latchkey_session=" + valid}
				if order == "planted last" {
					pair[0], pair[1] = pair[1], pair[0]
				}
				r := e.raw("GET", "/api/getsession", nil, "Cookie", strings.Join(pair, "; "))
				if r.JSON["login"] != true {
					t.Errorf("getsession = %d %s, want logged in as wes", r.Status, r.Raw)
				}
				if c := setCookieHeader(r.Header, "latchkey_session"); c != nil {
					t.Errorf("answered with Set-Cookie %v, which could remove the real cookie", c)
				}
			})
		}
	}
	t.Run("two valid sessions of the same user", func(t *testing.T) {
		r := e.raw("GET", "/api/data", nil, "Cookie", "latchkey_session="+valid+"; latchkey_session="+valid2)
		if r.Status != 200 || r.JSON["username"] != "wes" {
			t.Errorf("data = %d %s, want wes", r.Status, r.Raw)
		}
	})
	t.Run("valid sessions of two users", func(t *testing.T) {
		// One was planted to log the browser into the planter's account:
		// neither is believed, and neither is deleted.
		for _, pair := range [][2]string{{valid, other}, {other, valid}} {
			r := e.raw("GET", "/api/data", nil, "Cookie", "latchkey_session="+pair[0]+"; latchkey_session="+pair[1])
			if r.Status != 401 {
				t.Errorf("data = %d %s, want 401", r.Status, r.Raw)
			}
			if c := setCookieHeader(r.Header, "latchkey_session"); c != nil {
				t.Errorf("answered with Set-Cookie %v", c)
			}
		}
	})
	t.Run("more than are tried", func(t *testing.T) {
		// Only a bounded number is tried, so a pile of cookies costs no more
		// store reads; the real one past them is then not deleted either.
		var h []string
		for i := range 6 {
			h = append(h, "latchkey_session="+strings.Repeat(string("AEIMQU"[i]), 43))
		}
		h = append(h, "latchkey_session="+valid)
		r := e.raw("GET", "/api/getsession", nil, "Cookie", strings.Join(h, "; "))
		if r.Status != 200 || r.JSON["login"] != false {
			t.Errorf("getsession = %d %s, want logged out", r.Status, r.Raw)
		}
		if c := setCookieHeader(r.Header, "latchkey_session"); c != nil {
			t.Errorf("answered with Set-Cookie %v", c)
		}
	})
	t.Run("only bad ones are cleared", func(t *testing.T) {
		r := e.raw("GET", "/api/getsession", nil, "Cookie", "latchkey_session="+ended+"; latchkey_session=junk")
		if c := setCookieHeader(r.Header, "latchkey_session"); c == nil || c.MaxAge >= 0 {
			t.Errorf("two dead session cookies were not cleared: %v", c)
		}
	})
	if !e.browserWith(valid).LoggedIn() {
		t.Errorf("the real session was harmed")
	}
}

// TestDuplicateCSRFCookie: an anonymous CSRF cookie planted beside the real
// one does not stop the browser from logging in or registering with the
// token it got for its own cookie, in either order.
func TestDuplicateCSRFCookie(t *testing.T) {
	e := newEnv(t)
	e.addUser("yan", "yan's long password")
	planter := e.browser()
	planter.CSRF()
	plantedAnon := planter.Cookie("latchkey_csrf").Value
	for _, order := range []string{"planted first", "planted last"} {
		t.Run(order, func(t *testing.T) {
			v := e.browser()
			tok := v.CSRF()
			real := v.Cookie("latchkey_csrf").Value
			pair := []string{"latchkey_csrf=" + plantedAnon, "latchkey_csrf=" + real}
			if order == "planted last" {
				pair[0], pair[1] = pair[1], pair[0]
			}
			r := v.Do("POST", "/api/login", strings.NewReader(`{"username":"yan","password":"yan's long password"}`),
				"Content-Type", "application/json", "X-CSRFToken", tok, "Cookie", strings.Join(pair, "; "))
			if r.Status != 200 {
				t.Errorf("login = %d %s, want 200", r.Status, r.Raw)
			}
			// A token asked for while both are there works too.
			w := e.browser()
			r = w.Do("GET", "/api/getcsrf", nil, "Cookie", strings.Join(pair, "; "))
			tok2, _ := r.JSON["csrfToken"].(string)
			r = w.Do("POST", "/api/login", strings.NewReader(`{"username":"yan","password":"yan's long password"}`),
				"Content-Type", "application/json", "X-CSRFToken", tok2, "Cookie", strings.Join(pair, "; "))
			if r.Status != 200 {
				t.Errorf("login with a token issued beside the planted cookie = %d %s, want 200", r.Status, r.Raw)
			}
		})
	}
}

// TestDuplicateTokenModeCookies: the same for token mode's access and
// refresh cookies.
func TestDuplicateTokenModeCookies(t *testing.T) {
	e, b := newJWTEnv(t)
	access, refresh, csrf := tokens(t, b)
	other := e.browser()
	other.MustLogin("alice", "correct horse battery")
	_, otherRefresh, _ := tokens(t, other)
	for _, planted := range []string{"junk", strings.Repeat("x", 40) + "." + strings.Repeat("y", 40) + "." + strings.Repeat("z", 40)} {
		for _, first := range []bool{true, false} {
			pair := []string{"access_token_cookie=" + planted, "access_token_cookie=" + access}
			if !first {
				pair[0], pair[1] = pair[1], pair[0]
			}
			r := e.raw("GET", "/api/data", nil, "Cookie", strings.Join(pair, "; "))
			if r.Status != 200 {
				t.Errorf("access cookies %q: data = %d %s, want 200", pair, r.Status, r.Raw)
			}
			if c := setCookieHeader(r.Header, "access_token_cookie"); c != nil {
				t.Errorf("access cookies %q: answered with Set-Cookie %v", pair, c)
			}
		}
	}
	// Refresh: of two authentic refresh cookies (another login's planted
	// beside ours), the one whose CSRF value the header carries is rotated.
	for _, first := range []bool{true, false} {
		pair := []string{"refresh_token_cookie=" + otherRefresh, "refresh_token_cookie=" + refresh}
		if !first {
			pair[0], pair[1] = pair[1], pair[0]
		}
		r := e.raw("POST", "/api/auth/refresh", nil, "Cookie", strings.Join(pair, "; "), "X-CSRF-TOKEN", csrf)
		if r.Status != 200 {
			t.Errorf("refresh cookies %q: %d %s, want 200", pair, r.Status, r.Raw)
		}
		refresh = setCookieHeader(r.Header, "refresh_token_cookie").Value
		csrf = setCookieHeader(r.Header, "csrf_refresh_token").Value
	}
	r := e.raw("POST", "/api/auth/refresh", nil, "Cookie", "refresh_token_cookie=junk; refresh_token_cookie="+refresh, "X-CSRF-TOKEN", "wrong")
	if r.Status != 403 {
		t.Errorf("refresh with a wrong CSRF value: %d %s, want 403", r.Status, r.Raw)
	}
}

// browserWith returns a browser holding this session cookie.
func (e *env) browserWith(session string) *apitest.Client {
	b := e.browser()
	b.SetCookie("latchkey_session", session)
	return b
}
