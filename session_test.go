package latchkey_test

import (
	"context"
	"crypto/tls"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey"
)

// TestSessionFixation: login always issues a brand-new session and drops
// the browser's old one, so a planted or stolen id is never promoted.
func TestSessionFixation(t *testing.T) {
	e := newEnv(t)
	e.addUser("nia", "nia's long password")
	e.addUser("ozzy", "ozzy's long password")

	t.Run("planted random id", func(t *testing.T) {
		planted := strings.Repeat("A", 43)
		b := e.browser()
		b.SetCookie("latchkey_session", planted)
		b.MustLogin("nia", "nia's long password")
		if got := b.Cookie("latchkey_session").Value; got == planted {
			t.Errorf("login kept the planted session id")
		}
	})
	t.Run("attacker's own valid session is dropped at the victim's login", func(t *testing.T) {
		attacker := e.browser()
		attacker.MustLogin("ozzy", "ozzy's long password")
		sid := attacker.Cookie("latchkey_session").Value
		victim := e.browser()
		victim.SetCookie("latchkey_session", sid)
		victim.MustLogin("nia", "nia's long password")
		if victim.Cookie("latchkey_session").Value == sid {
			t.Fatalf("victim kept the attacker's session id")
		}
		if attacker.LoggedIn() {
			t.Errorf("the session the victim arrived with was not deleted")
		}
		if r := victim.Get("/api/data"); r.JSON["username"] != "nia" {
			t.Errorf("victim is %v", r.JSON["username"])
		}
	})
	t.Run("re-login rotates", func(t *testing.T) {
		b := e.browser()
		b.MustLogin("nia", "nia's long password")
		first := b.Cookie("latchkey_session").Value
		b.MustLogin("nia", "nia's long password")
		if b.Cookie("latchkey_session").Value == first {
			t.Errorf("second login kept the session id")
		}
		thief := e.browser()
		thief.SetCookie("latchkey_session", first)
		if thief.LoggedIn() {
			t.Errorf("the rotated-out session still works")
		}
	})
}

func TestIdleAndAbsoluteTimeouts(t *testing.T) {
	e := newEnv(t)
	e.addUser("pat", "pat's long password")

	t.Run("idle", func(t *testing.T) {
		b := e.browser()
		b.MustLogin("pat", "pat's long password")
		e.clock.Advance(2*time.Hour - time.Second)
		if !b.LoggedIn() {
			t.Fatalf("logged out before the idle timeout")
		}
		// That request renewed the idle deadline.
		e.clock.Advance(2*time.Hour - time.Second)
		if !b.LoggedIn() {
			t.Fatalf("activity did not renew the idle deadline")
		}
		e.clock.Advance(2 * time.Hour)
		r := b.Get("/api/getsession")
		if r.JSON["login"] != false {
			t.Fatalf("alive after 2h idle")
		}
		if c := setCookieHeader(r.Header, "latchkey_session"); c == nil || c.MaxAge >= 0 {
			t.Errorf("expired session cookie not cleared: %+v", c)
		}
	})
	t.Run("absolute", func(t *testing.T) {
		b := e.browser()
		b.MustLogin("pat", "pat's long password")
		for range 23 {
			e.clock.Advance(time.Hour)
			if !b.LoggedIn() {
				t.Fatalf("active session died before 24h")
			}
		}
		e.clock.Advance(time.Hour)
		if b.LoggedIn() {
			t.Errorf("active session alive after 24h")
		}
	})
}

// TestTouchIsRateLimited: authenticated reads write the idle deadline at
// most once per minute.
func TestTouchIsRateLimited(t *testing.T) {
	e := newEnv(t)
	e.addUser("quinn", "quinn's long password")
	b := e.browser()
	b.MustLogin("quinn", "quinn's long password")
	before := e.sessions.updates.Load()
	for range 50 {
		e.clock.Advance(time.Second)
		b.Get("/api/data")
	}
	if got := e.sessions.updates.Load() - before; got != 0 {
		t.Errorf("50 reads within 50s wrote %d times, want 0", got)
	}
	e.clock.Advance(10 * time.Second)
	b.Get("/api/data")
	b.Get("/api/data")
	if got := e.sessions.updates.Load() - before; got != 1 {
		t.Errorf("after a minute: %d writes, want 1", got)
	}
}

func TestSessionProtection(t *testing.T) {
	for _, tc := range []struct {
		mode      latchkey.SessionProtection
		loggedIn  bool
		wantFresh bool
	}{
		{latchkey.ProtectionOff, true, true},
		{latchkey.ProtectionBasic, true, false},
		{latchkey.ProtectionStrong, false, false},
	} {
		t.Run(string(tc.mode), func(t *testing.T) {
			e := newEnv(t, func(c *latchkey.Config) { c.Protection = tc.mode })
			e.addUser("ray", "ray's long password")
			b := e.browser()
			b.MustLogin("ray", "ray's long password")
			if r := b.Get("/api/getsession"); r.JSON["fresh"] != true {
				t.Fatalf("new session not fresh: %s", r.Raw)
			}
			b.UserAgent = "stolen-cookie-tool/2.0"
			r := b.Get("/api/getsession")
			if got := r.JSON["login"] == true; got != tc.loggedIn {
				t.Fatalf("logged in = %v, want %v", got, tc.loggedIn)
			}
			if tc.loggedIn && r.JSON["fresh"] != tc.wantFresh {
				t.Errorf("fresh = %v, want %v", r.JSON["fresh"], tc.wantFresh)
			}
			if tc.mode == latchkey.ProtectionStrong {
				b.UserAgent = "test-browser/1.0"
				if b.LoggedIn() {
					t.Errorf("strong protection did not delete the session")
				}
			}
		})
	}
}

// TestMalformedCookies: whatever arrives in the session cookie, the answer
// is "logged out", never a 500.
func TestMalformedCookies(t *testing.T) {
	e := newEnv(t)
	e.addUser("sam", "sam's long password")
	good := e.browser()
	good.MustLogin("sam", "sam's long password")
	valid := good.Cookie("latchkey_session").Value
	for _, tc := range []struct{ name, header string }{
		{"garbage", "latchkey_session=%%%garbage%%%"},
		{"empty", "latchkey_session="},
		{"truncated", "latchkey_session=" + valid[:20]},
		{"one char short", "latchkey_session=" + valid[:42]},
		{"one char long", "latchkey_session=" + valid + "A"},
		{"oversized", "latchkey_session=" + strings.Repeat("A", 8000)},
		{"non-canonical base64", "latchkey_session=" + valid[:42] + "_"},
		{"standard base64 alphabet", "latchkey_session=" + strings.Repeat("+/", 21) + "A"},
		{"quoted garbage", `latchkey_session="` + strings.Repeat("%", 43) + `"`},
		{"duplicated garbage", "latchkey_session=" + strings.Repeat("B", 43) + "; latchkey_session=%%"},
		{"high bytes", "latchkey_session=\xff\xfe" + valid[2:]},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := e.browser()
			for _, path := range []string{"/api/getsession", "/api/data", "/api/getcsrf", "/app/x"} {
				r := b.Do("GET", path, nil, "Cookie", tc.header)
				if r.Status >= 500 {
					t.Errorf("%s: %d", path, r.Status)
				}
				if path == "/api/getsession" && r.JSON["login"] != false {
					t.Errorf("getsession = %s, want logged out", r.Raw)
				}
				if path == "/api/data" && r.Status != 401 {
					t.Errorf("data = %d, want 401", r.Status)
				}
			}
		})
	}
	if !good.LoggedIn() {
		t.Errorf("the real session was harmed")
	}
}

func TestSecureCookies(t *testing.T) {
	t.Run("configured", func(t *testing.T) {
		e := newEnv(t, func(c *latchkey.Config) { c.Secure = true; c.ServesTLS = true })
		e.addUser("tia", "tia's long password")
		b := e.browser()
		r := b.Get("/api/getcsrf")
		if c := setCookieHeader(r.Header, "__Host-latchkey_csrf"); c == nil || !c.Secure || c.Domain != "" || c.Path != "/" {
			t.Errorf("anonymous cookie = %+v, want __Host- Secure", c)
		}
	})
	t.Run("over TLS", func(t *testing.T) {
		e := newEnv(t)
		e.addUser("uma", "uma's long password")
		srv := httptest.NewTLSServer(e.srv.Config.Handler)
		defer srv.Close()
		jar, _ := cookiejar.New(nil)
		client := srv.Client()
		client.Jar = jar
		client.Transport.(*http.Transport).TLSClientConfig = &tls.Config{InsecureSkipVerify: true}
		res, err := client.Get(srv.URL + "/api/getcsrf")
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		tok := res.Header.Get("X-CSRFToken")
		req, _ := http.NewRequest("POST", srv.URL+"/api/login", strings.NewReader(`{"username":"uma","password":"uma's long password"}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-CSRFToken", tok)
		res, err = client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		c := setCookieHeader(res.Header, "__Host-latchkey_session")
		if res.StatusCode != 200 || c == nil || !c.Secure || !c.HttpOnly {
			t.Fatalf("TLS login: %d, cookie %+v; want __Host-latchkey_session Secure HttpOnly", res.StatusCode, c)
		}
		// The plain-HTTP name is not honoured over TLS.
		if _, err := e.auth.LookupUser(context.Background(), "uma"); err != nil {
			t.Fatal(err)
		}
	})
}
