package main

import (
	"fmt"
	"strings"
	"testing"

	"github.com/latchkey/latchkey/internal/smtptest"
)

// pairAppURL is where the SPA of a two-instance deployment is: the load
// balancer's URL, in front of both.
const pairAppURL = "https://app.example.test"

// mailFlags are the serve flags of instances that mail through srv, a
// loopback server (so plain SMTP), with links to pairAppURL.
func mailFlags(srv *smtptest.Server) []string {
	return []string{"--smtp-url", srv.URL(), "--mail-from", "latchkey@example.test", "--app-url", pairAppURL}
}

// TestTwoInstancesAccountLinks: the links one instance mails work through
// the other, as behind a load balancer: a reset link mailed by A resets
// through B, once, and ends the sessions on both; a change-of-address link
// mailed by B is confirmed through A.
func TestTwoInstancesAccountLinks(t *testing.T) {
	srv := smtptest.Start(t, smtptest.Options{})
	a, b, _ := startPair(t, mailFlags(srv)...)
	const addr, newAddr = "alice@example.test", "alice.new@example.test"

	old := newBrowser(t)
	old.do("GET", a.url, "/api/getcsrf", nil)
	if r := old.do("POST", a.url, "/api/register", map[string]any{"username": "alice", "password": alicePassword, "email": addr}); r.Status != 201 {
		t.Fatalf("register through A: %d %v", r.Status, r.JSON)
	}
	mailedToken(t, srv, addr, pairAppURL, "/verify-email")

	forgot := newBrowser(t)
	forgot.do("GET", a.url, "/api/getcsrf", nil)
	if r := forgot.do("POST", a.url, "/api/password/forgot", map[string]any{"email": addr}); r.Status != 202 {
		t.Fatalf("forgot through A: %d %v", r.Status, r.JSON)
	}
	tok := mailedToken(t, srv, addr, pairAppURL, "/reset-password")
	const newPassword = "alice's password after the reset"
	reset := map[string]any{"token": tok, "password": newPassword}
	if r := forgot.do("POST", b.url, "/api/password/reset", reset); r.Status != 200 || r.JSON["reset"] != true {
		t.Fatalf("reset through B with A's link: %d %v", r.Status, r.JSON)
	}
	notice(t, srv, addr, "password was changed")
	for _, inst := range []*instance{a, b} {
		if r := forgot.do("POST", inst.url, "/api/password/reset", reset); r.Status != 400 || r.ErrCode() != "invalid_token" {
			t.Errorf("the link used again, through %s: %d %v, want 400 invalid_token", inst.url, r.Status, r.JSON)
		}
		if old.loggedIn(inst.url) {
			t.Errorf("the session from before the reset is logged in on %s", inst.url)
		}
	}

	br := newBrowser(t)
	br.do("GET", b.url, "/api/getcsrf", nil)
	if r := br.do("POST", b.url, "/api/login", creds("alice", newPassword)); r.Status != 200 {
		t.Fatalf("login through B with the new password: %d %v", r.Status, r.JSON)
	}
	if r := br.do("POST", b.url, "/api/email/change", map[string]any{"email": newAddr}); r.Status != 202 {
		t.Fatalf("change of address through B: %d %v", r.Status, r.JSON)
	}
	confirm := map[string]any{"token": mailedToken(t, srv, newAddr, pairAppURL, "/confirm-email")}
	if r := br.do("POST", a.url, "/api/email/confirm", confirm); r.Status != 200 || r.JSON["emailChanged"] != true {
		t.Fatalf("confirm through A with B's link: %d %v", r.Status, r.JSON)
	}
	if r := br.do("POST", b.url, "/api/email/confirm", confirm); r.Status != 400 || r.ErrCode() != "invalid_token" {
		t.Errorf("the confirmation link used again, through B: %d %v, want 400 invalid_token", r.Status, r.JSON)
	}
	if r := br.do("GET", b.url, "/api/data", nil); r.Status != 200 || r.JSON["email"] != newAddr || r.JSON["emailVerified"] != true {
		t.Errorf("data through B after the change: %d %v, want %s, verified", r.Status, r.JSON, newAddr)
	}
	notice(t, srv, addr, "address of your latchkey account was changed")
}

// notice waits for the next mail to addr and checks it is the notice
// whose subject says about.
func notice(t *testing.T, srv *smtptest.Server, addr, about string) {
	t.Helper()
	if m := srv.WaitFor(t, addr); !strings.Contains(m.Subject, about) || strings.Contains(m.Text, "token=") {
		t.Errorf("mail to %s: %q, want the notice %q, without a link\n%s", addr, m.Subject, about, m.Text)
	}
}

// TestTwoInstancesShareMailBudgets: requests for mail spread over both
// instances draw on one budget per address (5 by default) and one per
// client, counted in the shared store, so two instances do not flood an
// inbox twice as fast.
func TestTwoInstancesShareMailBudgets(t *testing.T) {
	for _, be := range sessionBackends {
		t.Run(be.name, func(t *testing.T) {
			srv := smtptest.Start(t, smtptest.Options{})
			a, b := startPairOn(t, be.stores(t), append(mailFlags(srv),
				"--mail-address-refill", "1h", "--mail-client-burst", "8", "--mail-client-refill", "30m")...)
			insts, names := []*instance{a, b}, []string{"A", "B"}
			br := newBrowser(t)
			br.do("GET", a.url, "/api/getcsrf", nil)
			if r := br.do("POST", a.url, "/api/register", creds("alice", alicePassword)); r.Status != 201 {
				t.Fatalf("register: %d %v", r.Status, r.JSON)
			}
			forgot := func(i int, addr string) (status int, code, retryAfter string) {
				t.Helper()
				r := br.do("POST", insts[i%2].url, "/api/password/forgot", map[string]any{"email": addr})
				return r.Status, r.ErrCode(), r.Header.Get("Retry-After")
			}
			for i := range 5 {
				if status, code, _ := forgot(i, "victim@example.test"); status != 202 {
					t.Fatalf("forgot #%d for one address, through %s: %d %s, want 202", i+1, names[i%2], status, code)
				}
			}
			// The 6th for the address, through either: its budget is spent.
			for i := range 2 {
				if status, code, after := forgot(5+i, "victim@example.test"); status != 429 || code != "too_many_emails" || after != "3600" {
					t.Errorf("forgot #%d for one address, through %s: %d %s, Retry-After %q; want 429 too_many_emails after 3600 s",
						6+i, names[(5+i)%2], status, code, after)
				}
			}
			// The client took 5 of its 8; the refused ones were given back.
			for i := range 3 {
				if status, code, _ := forgot(i, fmt.Sprintf("other%d@example.test", i)); status != 202 {
					t.Fatalf("forgot for another address, through %s: %d %s, want 202", names[i%2], status, code)
				}
			}
			for i := range 2 {
				if status, code, after := forgot(i, "one-more@example.test"); status != 429 || code != "too_many_emails" || after != "1800" {
					t.Errorf("9th mail from the client, through %s: %d %s, Retry-After %q; want 429 too_many_emails after 1800 s",
						names[i], status, code, after)
				}
			}
		})
	}
}
