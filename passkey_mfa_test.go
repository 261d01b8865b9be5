package latchkey_test

import (
	"encoding/json"
	"slices"
	"strconv"
	"testing"

	"github.com/latchkey/latchkey/internal/apitest"
	"github.com/latchkey/latchkey/internal/webauthntest"
)

// passkeyStep answers the second login step with auth's passkey, over
// the options the mfaRequired answer r carried.
func passkeyStep(t *testing.T, b *apitest.Client, auth *webauthntest.Authenticator, r apitest.Resp) apitest.Resp {
	t.Helper()
	opts, err := json.Marshal(r.JSON["webauthn"])
	if err != nil || r.JSON["webauthn"] == nil {
		t.Fatalf("the mfaRequired answer carries no webauthn options: %s", r.Raw)
	}
	assertion, err := auth.Get(opts)
	if err != nil {
		t.Fatalf("authenticator: %v", err)
	}
	return b.Post("/api/login/mfa", map[string]any{"webauthn": json.RawMessage(assertion)})
}

// With two-factor sign-in on, a passkey is a second factor: the password,
// then an assertion over the pending login's own challenge. It cannot be
// replayed into another pending login, nor can another user's passkey
// stand in.
func TestPasskeyAsSecondFactor(t *testing.T) {
	e := newEnv(t, withPasskeys)
	secret, _ := e.mfaUser(t)
	auth := webauthntest.New(rpOrigin)

	// Register a passkey: the password login asks for the app's code first.
	b := e.browser()
	b.UserAgent = firefoxLinux
	r := b.Login("alice", mfaPassword)
	if r.JSON["mfaRequired"] != true {
		t.Fatalf("login: %s", r.Raw)
	}
	if r := secondStep(b, "code", e.nextTOTPCode(secret)); r.Status != 200 {
		t.Fatalf("code step: %d %s", r.Status, r.Raw)
	}
	registerPasskey(t, b, auth, "laptop")
	b.Post("/api/logout", nil)

	// Now the second step offers the passkey, with its options.
	r = b.Login("alice", mfaPassword)
	if got := toStrings(r.JSON["methods"]); !slices.Equal(got, []string{"totp", "recovery_code", "webauthn"}) {
		t.Fatalf("methods %v, want totp, recovery_code, webauthn", got)
	}
	first := r
	// Another login's options (a second browser's pending login) do not
	// prove this one: the challenge is bound to each pending login.
	other := e.browser()
	other.CSRF()
	r2 := other.Login("alice", mfaPassword)
	stray, _ := json.Marshal(r2.JSON["webauthn"])
	assertion, err := auth.Get(stray)
	if err != nil {
		t.Fatal(err)
	}
	if r := b.Post("/api/login/mfa", map[string]any{"webauthn": json.RawMessage(assertion)}); r.Status != 401 || r.ErrCode() != "invalid_code" {
		t.Errorf("another pending login's assertion: %d %s, want 401 invalid_code", r.Status, r.Raw)
	}
	// Another user's passkey cannot stand in either.
	e.addUser("bob", "correct horse battery")
	bobKey := webauthntest.New(rpOrigin)
	registerPasskey(t, e.loggedIn("bob", "correct horse battery", chromeWin), bobKey, "bob's")
	bobCred := *bobKey.Credentials[0]
	bobCred.RPID = "app.example.test"
	wrong, err := bobKey.Assert(&bobCred, "x")
	if err != nil {
		t.Fatal(err)
	}
	if r := b.Post("/api/login/mfa", map[string]any{"webauthn": json.RawMessage(wrong)}); r.Status != 401 || r.ErrCode() != "invalid_code" {
		t.Errorf("bob's passkey for alice: %d %s, want 401 invalid_code", r.Status, r.Raw)
	}
	if r := b.Post("/api/login/mfa", map[string]any{"webauthn": "not an object"}); r.Status != 400 {
		t.Errorf("a string: %d %s, want 400", r.Status, r.Raw)
	}
	if b.LoggedIn() {
		t.Fatal("logged in without the second factor")
	}
	// The right one, over this login's challenge.
	if r := passkeyStep(t, b, auth, first); r.Status != 200 || r.JSON["login"] != true {
		t.Fatalf("passkey step: %d %s", r.Status, r.Raw)
	}
	if !b.LoggedIn() {
		t.Fatal("not logged in after the passkey step")
	}
	evs, _ := activity(t, b, "")
	if evs[0].Type != "login_succeeded" || evs[0].Detail != "second factor: passkey" {
		t.Errorf("event: %+v", evs[0])
	}
	// GET /api/mfa lists the method.
	if r := b.Get("/api/mfa"); !slices.Contains(toStrings(r.JSON["methods"]), "webauthn") {
		t.Errorf("GET /api/mfa: %s", r.Raw)
	}
}

// Adding and removing a passkey mail a notice; an operator's MFA reset
// removes passkeys too.
func TestPasskeyNoticesAndReset(t *testing.T) {
	e := newMailEnv(t, withPasskeys)
	e.addMailUser("carol", "correct horse battery", "carol@example.test", true)
	b := e.loggedIn("carol", "correct horse battery", firefoxLinux)
	auth := webauthntest.New(rpOrigin)
	registerPasskey(t, b, auth, "phone")
	e.notice(t, "carol@example.test", "passkey was added")
	id := passkeyIDs(t, b)[0]
	if r := b.Send("DELETE", "/api/passkeys/"+strconv.FormatInt(id, 10), nil); r.Status != 200 {
		t.Fatalf("delete: %d %s", r.Status, r.Raw)
	}
	e.notice(t, "carol@example.test", "passkey was removed")
	registerPasskey(t, b, auth, "phone again")
	e.notice(t, "carol@example.test", "passkey was added")
	n, err := e.auth.ResetMFA(t.Context(), "carol")
	if err != nil || n != 1 {
		t.Fatalf("ResetMFA: %d, %v; want the passkey removed", n, err)
	}
	if ids := passkeyIDs(t, b); len(ids) != 0 {
		t.Errorf("passkeys after the reset: %v", ids)
	}
	if r := passkeyLogin(t, e.browser(), auth); r.Status != 401 {
		t.Errorf("sign-in with a reset passkey: %d", r.Status)
	}
}
