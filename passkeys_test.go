package latchkey_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/apitest"
	"github.com/latchkey/latchkey/internal/webauthntest"
)

const rpOrigin = "https://app.example.test"

func withPasskeys(c *latchkey.Config) { c.PasskeyOrigins = []string{rpOrigin} }

// registerPasskey registers a passkey of auth for b's user, who has a
// fresh login.
func registerPasskey(t testing.TB, b *apitest.Client, auth *webauthntest.Authenticator, name string) *webauthntest.Credential {
	t.Helper()
	r := b.Post("/api/passkeys/register/begin", nil)
	if r.Status != 200 {
		t.Fatalf("register/begin: %d %s", r.Status, r.Raw)
	}
	resp, cred, err := auth.Create([]byte(r.Raw))
	if err != nil {
		t.Fatalf("authenticator: %v", err)
	}
	r = b.Post("/api/passkeys/register/finish", map[string]any{"name": name, "credential": json.RawMessage(resp)})
	if r.Status != 201 {
		t.Fatalf("register/finish: %d %s", r.Status, r.Raw)
	}
	return cred
}

// beginPasskeyLogin starts a passkey sign-in in b and returns the options.
func beginPasskeyLogin(t *testing.T, b *apitest.Client) []byte {
	t.Helper()
	b.CSRF()
	r := b.Post("/api/login/passkey/begin", nil)
	if r.Status != 200 {
		t.Fatalf("login/passkey/begin: %d %s", r.Status, r.Raw)
	}
	return []byte(r.Raw)
}

func finishPasskeyLogin(b *apitest.Client, assertion []byte) apitest.Resp {
	return b.Post("/api/login/passkey/finish", map[string]any{"credential": json.RawMessage(assertion)})
}

// passkeyLogin signs b in with auth's passkey.
func passkeyLogin(t *testing.T, b *apitest.Client, auth *webauthntest.Authenticator) apitest.Resp {
	t.Helper()
	assertion, err := auth.Get(beginPasskeyLogin(t, b))
	if err != nil {
		t.Fatalf("authenticator: %v", err)
	}
	return finishPasskeyLogin(b, assertion)
}

func TestPasskeyRegisterAndSignIn(t *testing.T) {
	e := newEnv(t, withPasskeys)
	e.addUser("alice", "correct horse battery")
	b := e.loggedIn("alice", "correct horse battery", firefoxLinux)
	auth := webauthntest.New(rpOrigin)
	registerPasskey(t, b, auth, "laptop")
	r := b.Get("/api/passkeys")
	list, _ := r.JSON["passkeys"].([]any)
	if r.Status != 200 || len(list) != 1 || list[0].(map[string]any)["name"] != "laptop" {
		t.Fatalf("GET /api/passkeys: %d %s", r.Status, r.Raw)
	}
	if strings.Contains(r.Raw, "publicKey") || strings.Contains(r.Raw, "userHandle") {
		t.Errorf("the listing shows the credential record: %s", r.Raw)
	}

	// No username, no password: the passkey alone.
	other := e.browser()
	other.UserAgent = chromeWin
	r = passkeyLogin(t, other, auth)
	if r.Status != 200 || r.JSON["login"] != true || r.JSON["user"].(map[string]any)["username"] != "alice" {
		t.Fatalf("passkey sign-in: %d %s", r.Status, r.Raw)
	}
	if !other.LoggedIn() {
		t.Fatal("not logged in after the passkey sign-in")
	}
	// A passkey login counts as fresh: it is two factors.
	if r := other.Get("/api/getsession"); r.JSON["fresh"] != true {
		t.Errorf("passkey session not fresh: %s", r.Raw)
	}
	evs, _ := activity(t, other, "")
	if evs[0].Type != "login_succeeded" || evs[0].Detail != "passkey" || evs[0].Device != "Chrome on Windows" {
		t.Errorf("sign-in event: %+v", evs[0])
	}
	if types(evs) != "login_succeeded passkey_added login_succeeded" {
		t.Errorf("events: %q", types(evs))
	}

	// Renamed, then removed: it signs in no more.
	id := int64(list[0].(map[string]any)["id"].(float64))
	if r := b.Send("PATCH", fmt.Sprintf("/api/passkeys/%d", id), map[string]any{"name": "work laptop"}); r.Status != 200 {
		t.Errorf("rename: %d %s", r.Status, r.Raw)
	}
	if r := b.Send("DELETE", fmt.Sprintf("/api/passkeys/%d", id), nil); r.Status != 200 {
		t.Fatalf("delete: %d %s", r.Status, r.Raw)
	}
	if r := passkeyLogin(t, e.browser(), auth); r.Status != 401 || r.ErrCode() != "invalid_credentials" || r.JSON["login"] != false {
		t.Errorf("sign-in with a removed passkey: %d %s, want 401 invalid_credentials", r.Status, r.Raw)
	}
}

func TestPasskeyAttacks(t *testing.T) {
	e := newEnv(t, withPasskeys)
	e.addUser("alice", "correct horse battery")
	e.addUser("bob", "correct horse battery")
	alice := e.loggedIn("alice", "correct horse battery", firefoxLinux)
	bob := e.loggedIn("bob", "correct horse battery", chromeWin)
	aliceKey := webauthntest.New(rpOrigin)
	bobKey := webauthntest.New(rpOrigin)
	aliceCred := registerPasskey(t, alice, aliceKey, "a")
	bobCred := registerPasskey(t, bob, bobKey, "b")

	refused := func(name string, r apitest.Resp, status int, code string) {
		t.Helper()
		if r.Status != status || r.ErrCode() != code {
			t.Errorf("%s: %d %s, want %d %s", name, r.Status, r.Raw, status, code)
		}
	}
	attempt := func(name string, answer func(opts []byte) []byte) {
		t.Helper()
		b := e.browser()
		r := finishPasskeyLogin(b, answer(beginPasskeyLogin(t, b)))
		refused(name, r, 401, "invalid_credentials")
		if b.LoggedIn() {
			t.Errorf("%s: logged in", name)
		}
	}
	assert := func(a *webauthntest.Authenticator, c *webauthntest.Credential, challenge string) []byte {
		t.Helper()
		out, err := a.Assert(c, challenge)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}

	attempt("another origin", func(opts []byte) []byte {
		evil := *aliceKey
		evil.Origin = "https://evil.example"
		return assert(&evil, aliceCred, webauthntest.Challenge(opts))
	})
	attempt("another relying party", func(opts []byte) []byte {
		c := *aliceCred
		c.RPID = "evil.example"
		return assert(aliceKey, &c, webauthntest.Challenge(opts))
	})
	attempt("another key under alice's credential id", func(opts []byte) []byte {
		c := *aliceCred
		c.Key, _ = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		return assert(aliceKey, &c, webauthntest.Challenge(opts))
	})
	attempt("alice's credential claiming bob's user handle", func(opts []byte) []byte {
		c := *aliceCred
		c.UserHandle = bobCred.UserHandle
		return assert(aliceKey, &c, webauthntest.Challenge(opts))
	})
	attempt("no user verification", func(opts []byte) []byte {
		lazy := *aliceKey
		lazy.UV = false
		return assert(&lazy, aliceCred, webauthntest.Challenge(opts))
	})
	attempt("another challenge", func(opts []byte) []byte {
		return assert(aliceKey, aliceCred, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
	})
	attempt("garbage", func(opts []byte) []byte { return []byte(`{"id":"x","type":"public-key","response":{}}`) })

	// A replayed answer, with the ceremony cookie it came with: the
	// challenge is spent.
	b := e.browser()
	opts := beginPasskeyLogin(t, b)
	ck := b.Cookie("latchkey_webauthn")
	answer := assert(aliceKey, aliceCred, webauthntest.Challenge(opts))
	if r := finishPasskeyLogin(b, answer); r.Status != 200 {
		t.Fatalf("the first use: %d %s", r.Status, r.Raw)
	}
	thief := e.browser()
	thief.CSRF()
	thief.SetCookie("latchkey_webauthn", ck.Value)
	refused("a replayed answer and ceremony", finishPasskeyLogin(thief, answer), 400, "passkey_ceremony")
	fresh := e.browser()
	fresh.CSRF()
	refused("no ceremony cookie", finishPasskeyLogin(fresh, answer), 400, "passkey_ceremony")
	forged := e.browser()
	forged.CSRF()
	forged.SetCookie("latchkey_webauthn", strings.Repeat("A", 200))
	refused("a forged ceremony cookie", finishPasskeyLogin(forged, answer), 400, "passkey_ceremony")

	// A ceremony expires.
	b = e.browser()
	opts = beginPasskeyLogin(t, b)
	ck = b.Cookie("latchkey_webauthn")
	e.clock.Advance(6 * time.Minute)
	b.SetCookie("latchkey_webauthn", ck.Value) // the browser would have dropped it
	refused("an expired ceremony", finishPasskeyLogin(b, assert(aliceKey, aliceCred, webauthntest.Challenge(opts))), 400, "passkey_ceremony")

	// A registration begun in bob's session cannot finish in alice's, nor
	// a login ceremony stand in for a registration.
	bob.MustLogin("bob", "correct horse battery")
	alice.MustLogin("alice", "correct horse battery")
	r := bob.Post("/api/passkeys/register/begin", nil)
	resp, _, err := webauthntest.New(rpOrigin).Create([]byte(r.Raw))
	if err != nil {
		t.Fatal(err)
	}
	alice.SetCookie("latchkey_webauthn", bob.Cookie("latchkey_webauthn").Value)
	refused("bob's registration ceremony in alice's session", alice.Post("/api/passkeys/register/finish", map[string]any{"credential": json.RawMessage(resp)}), 400, "passkey_ceremony")
	beginPasskeyLogin(t, alice)
	refused("a login ceremony for a registration", alice.Post("/api/passkeys/register/finish", map[string]any{"credential": json.RawMessage(resp)}), 400, "passkey_ceremony")

	// Another user's passkey ids are not found.
	bobID := passkeyIDs(t, bob)[0]
	refused("deleting bob's passkey as alice", alice.Send("DELETE", fmt.Sprintf("/api/passkeys/%d", bobID), nil), 404, "not_found")
	refused("renaming bob's passkey as alice", alice.Send("PATCH", fmt.Sprintf("/api/passkeys/%d", bobID), map[string]any{"name": "mine"}), 404, "not_found")
	if len(passkeyIDs(t, bob)) != 1 {
		t.Error("bob's passkey is gone")
	}
	// Without a login, or a fresh one: no new passkey.
	refused("registration without a login", fresh.Post("/api/passkeys/register/begin", nil), 401, "unauthorized")
	e.clock.Advance(11 * time.Minute)
	stale := e.loggedIn("alice", "correct horse battery", firefoxLinux)
	e.clock.Advance(11 * time.Minute)
	refused("registration on a stale login", stale.Post("/api/passkeys/register/begin", nil), 403, "reauth_required")
	refused("registration with a wrong password", stale.Post("/api/passkeys/register/begin", map[string]any{"password": "wrong password!"}), 403, "wrong_password")
	if r := stale.Post("/api/passkeys/register/begin", map[string]any{"password": "correct horse battery"}); r.Status != 200 {
		t.Errorf("registration with the password: %d %s", r.Status, r.Raw)
	}

	// A locked account's passkey signs in no more.
	u, _ := e.auth.LookupUser(context.Background(), "bob")
	if _, err := e.auth.LockUser(context.Background(), u.ID, 0); err != nil {
		t.Fatal(err)
	}
	refused("a locked account's passkey", passkeyLogin(t, e.browser(), bobKey), 403, "account_locked")
}

func passkeyIDs(t *testing.T, b *apitest.Client) []int64 {
	t.Helper()
	r := b.Get("/api/passkeys")
	var ids []int64
	for _, p := range r.JSON["passkeys"].([]any) {
		ids = append(ids, int64(p.(map[string]any)["id"].(float64)))
	}
	return ids
}

// Failed passkey sign-ins spend the client's login budget.
func TestPasskeyThrottle(t *testing.T) {
	e := newEnv(t, withPasskeys, func(c *latchkey.Config) { c.LoginIPBurst = 3; c.LoginIPRefill = time.Hour })
	e.addUser("alice", "correct horse battery")
	auth := webauthntest.New(rpOrigin)
	registerPasskey(t, e.loggedIn("alice", "correct horse battery", firefoxLinux), auth, "a")
	bad := func(b *apitest.Client) apitest.Resp {
		opts := beginPasskeyLogin(t, b)
		out, _ := auth.Assert(auth.Credentials[0], webauthntest.Challenge(opts)+"x")
		return finishPasskeyLogin(b, out)
	}
	for i := range 3 {
		if r := bad(e.browser()); r.Status != 401 {
			t.Fatalf("failure %d: %d %s", i, r.Status, r.Raw)
		}
	}
	r := passkeyLogin(t, e.browser(), auth)
	if r.Status != 429 || r.Header.Get("Retry-After") == "" {
		t.Errorf("after 3 failures: %d %s, want 429 with Retry-After", r.Status, r.Raw)
	}
}

// In token mode a passkey sign-in starts a token family.
func TestPasskeyTokenMode(t *testing.T) {
	e, b := newJWTEnv(t, withPasskeys)
	auth := webauthntest.New(rpOrigin)
	_, _, csrf := tokens(t, b)
	r := b.Post("/api/passkeys/register/begin", nil, "X-CSRF-TOKEN", csrf)
	resp, _, err := auth.Create([]byte(r.Raw))
	if err != nil {
		t.Fatalf("begin %d %s: %v", r.Status, r.Raw, err)
	}
	if r := b.Post("/api/passkeys/register/finish", map[string]any{"credential": json.RawMessage(resp)}, "X-CSRF-TOKEN", csrf); r.Status != 201 {
		t.Fatalf("finish: %d %s", r.Status, r.Raw)
	}
	nb := e.browser()
	if r := passkeyLogin(t, nb, auth); r.Status != 200 {
		t.Fatalf("passkey sign-in in token mode: %d %s", r.Status, r.Raw)
	}
	tokens(t, nb) // the token cookies are set
	if r := nb.Get("/api/data"); r.Status != 200 {
		t.Errorf("data: %d", r.Status)
	}
}

// Without a relying party the passkey routes say so.
func TestPasskeysOff(t *testing.T) {
	e := newEnv(t)
	e.addUser("alice", "correct horse battery")
	b := e.loggedIn("alice", "correct horse battery", firefoxLinux)
	if r := b.Post("/api/passkeys/register/begin", nil); r.Status != 404 || r.ErrCode() != "passkeys_off" {
		t.Errorf("register/begin: %d %s", r.Status, r.Raw)
	}
}

// FuzzPasskeyAnswer: whatever a client sends as a passkey sign-in's
// answer, FinishPasskeyLogin never panics and never signs anyone in
// without a valid assertion.
func FuzzPasskeyAnswer(f *testing.F) {
	e := newEnv(f, withPasskeys)
	e.addUser("alice", "correct horse battery")
	b := e.loggedIn("alice", "correct horse battery", firefoxLinux)
	auth := webauthntest.New(rpOrigin)
	cred := registerPasskey(f, b, auth, "a")
	good, err := auth.Assert(cred, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"id":"","rawId":"","type":"public-key","response":{"clientDataJSON":"","authenticatorData":"","signature":""}}`))
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, answer []byte) {
		_, session, err := e.auth.BeginPasskeyLogin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		u, err := e.auth.FinishPasskeyLogin(ctx, *session, answer)
		if err == nil {
			t.Fatalf("signed in %v with an answer to another challenge: %q", u, answer)
		}
	})
}
