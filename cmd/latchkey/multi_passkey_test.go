package main

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/latchkey/latchkey/internal/webauthntest"
)

// TestTwoInstancesPasskeys: a passkey registered through A signs in
// through B; a ceremony begun on A finishes on B; a replayed answer is
// refused by the other instance too, since the challenge is spent in the
// shared store.
func TestTwoInstancesPasskeys(t *testing.T) {
	const origin = "https://app.example.test"
	a, b, stores := startPair(t, "--passkey-rp-id", "app.example.test", "--passkey-origins", origin)
	env := map[string]string{"LATCHKEY_SECRET": sharedSecret}
	if _, stderr, err := cli(t, env, "alice's long password\n", append(append(append([]string{"user", "add", "--password-stdin"}, fastArgon2...), stores...), "alice")...); err != nil {
		t.Fatalf("user add: %v\n%s", err, stderr)
	}
	auth := webauthntest.New(origin)
	br := newBrowser(t)
	br.do("GET", a.url, "/api/getcsrf", nil)
	if r := br.do("POST", a.url, "/api/login", creds("alice", "alice's long password")); r.Status != 200 {
		t.Fatalf("login on A: %d %v", r.Status, r.JSON)
	}
	r := br.do("POST", a.url, "/api/passkeys/register/begin", map[string]any{})
	resp, _, err := auth.Create([]byte(r.Raw))
	if err != nil {
		t.Fatalf("begin on A %d %s: %v", r.Status, r.Raw, err)
	}
	if r := br.do("POST", b.url, "/api/passkeys/register/finish", map[string]any{"name": "laptop", "credential": json.RawMessage(resp)}); r.Status != 201 {
		t.Fatalf("registration begun on A, finished on B: %d %s", r.Status, r.Raw)
	}

	other := newBrowser(t)
	other.do("GET", b.url, "/api/getcsrf", nil)
	r = other.do("POST", b.url, "/api/login/passkey/begin", map[string]any{})
	var ceremony *http.Cookie
	for _, c := range other.Cookies(b.url + "/") {
		if c.Name == "latchkey_webauthn" {
			ceremony = c
		}
	}
	answer, err := auth.Get([]byte(r.Raw))
	if err != nil || ceremony == nil {
		t.Fatalf("begin on B %d %s: %v", r.Status, r.Raw, err)
	}
	if r := other.do("POST", a.url, "/api/login/passkey/finish", map[string]any{"credential": json.RawMessage(answer)}); r.Status != 200 || r.JSON["login"] != true {
		t.Fatalf("sign-in begun on B, finished on A: %d %s", r.Status, r.Raw)
	}
	if !other.loggedIn(b.url) {
		t.Error("the passkey session is not logged in on B")
	}
	thief := newBrowser(t)
	thief.do("GET", b.url, "/api/getcsrf", nil)
	thief.Base = b.url // the jar keeps cookies per host
	thief.SetCookie("latchkey_webauthn", ceremony.Value)
	thief.Base = ""
	if r := thief.do("POST", b.url, "/api/login/passkey/finish", map[string]any{"credential": json.RawMessage(answer)}); r.Status != 400 || r.ErrCode() != "passkey_ceremony" {
		t.Errorf("the answer replayed on B: %d %s, want 400 passkey_ceremony", r.Status, r.Raw)
	}
}
