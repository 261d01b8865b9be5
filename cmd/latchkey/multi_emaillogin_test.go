package main

import (
	"regexp"
	"testing"

	"github.com/latchkey/latchkey/internal/smtptest"
)

var mailedCodeRE = regexp.MustCompile(`(?m)^\s*(\d{6})\s*$`)

// mailedSignIn waits for the next mail to addr and returns its sign-in
// link's token and its code.
func mailedSignIn(t *testing.T, srv *smtptest.Server, addr string) (token, code string) {
	t.Helper()
	m := srv.WaitFor(t, addr)
	for _, l := range m.TextLinks() {
		token = linkToken(t, l, pairAppURL, "/login/email")
	}
	c := mailedCodeRE.FindStringSubmatch(m.Text)
	if c == nil {
		t.Fatalf("sign-in mail to %s without a code:\n%s", addr, m.Text)
	}
	return token, c[1]
}

// TestTwoInstancesEmailLogin: a sign-in mail sent through A signs in
// through B, by link and by code, once; and a code's 5 tries are counted
// together however they are spread over the instances.
func TestTwoInstancesEmailLogin(t *testing.T) {
	srv := smtptest.Start(t, smtptest.Options{})
	a, b, _ := startPair(t, append(mailFlags(srv), "--mail-cooldown", "1ms")...)
	const addr = "alice@example.test"

	reg := newBrowser(t)
	reg.do("GET", a.url, "/api/getcsrf", nil)
	if r := reg.do("POST", a.url, "/api/register", map[string]any{"username": "alice", "password": alicePassword, "email": addr}); r.Status != 201 {
		t.Fatalf("register through A: %d %v", r.Status, r.JSON)
	}
	if r := reg.do("POST", b.url, "/api/email/verify", map[string]any{"token": mailedToken(t, srv, addr, pairAppURL, "/verify-email")}); r.Status != 200 {
		t.Fatalf("verify through B: %d %v", r.Status, r.JSON)
	}

	send := func(br *browser, inst *instance) (token, code string) {
		t.Helper()
		if r := br.do("POST", inst.url, "/api/login/email", map[string]any{"email": addr}); r.Status != 202 {
			t.Fatalf("sign-in mail through %s: %d %v", inst.url, r.Status, r.JSON)
		}
		return mailedSignIn(t, srv, addr)
	}
	verify := func(br *browser, inst *instance, body map[string]any) (int, string) {
		r := br.do("POST", inst.url, "/api/login/email/verify", body)
		return r.Status, r.ErrCode()
	}

	link := newBrowser(t)
	link.do("GET", a.url, "/api/getcsrf", nil)
	token, _ := send(link, a)
	if status, code := verify(link, b, map[string]any{"token": token}); status != 200 || !link.loggedIn(a.url) {
		t.Fatalf("A's link through B: %d %s, logged in on A %v", status, code, link.loggedIn(a.url))
	}
	if status, code := verify(newCSRFBrowser(t, a), a, map[string]any{"token": token}); status != 400 || code != "invalid_token" {
		t.Errorf("the link again, through A: %d %s, want 400 invalid_token", status, code)
	}

	guess := newBrowser(t)
	guess.do("GET", b.url, "/api/getcsrf", nil)
	_, code := send(guess, b)
	wrong := "000000"
	if code == wrong {
		wrong = "111111"
	}
	insts := []*instance{a, b}
	for i := range 5 {
		if status, c := verify(guess, insts[i%2], map[string]any{"email": addr, "code": wrong}); status != 401 || c != "invalid_code" {
			t.Fatalf("wrong code #%d: %d %s, want 401 invalid_code", i+1, status, c)
		}
	}
	if status, c := verify(guess, b, map[string]any{"email": addr, "code": code}); status != 401 || c != "invalid_code" {
		t.Errorf("the right code after 5 wrong ones over both instances: %d %s, want 401 invalid_code", status, c)
	}

	byCode := newBrowser(t)
	byCode.do("GET", a.url, "/api/getcsrf", nil)
	_, code = send(byCode, a)
	if status, c := verify(byCode, b, map[string]any{"email": addr, "code": code}); status != 200 || !byCode.loggedIn(b.url) {
		t.Fatalf("A's code through B: %d %s", status, c)
	}
}

// newCSRFBrowser is a new browser holding a CSRF token from inst.
func newCSRFBrowser(t *testing.T, inst *instance) *browser {
	br := newBrowser(t)
	br.do("GET", inst.url, "/api/getcsrf", nil)
	return br
}
