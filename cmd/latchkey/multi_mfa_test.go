package main

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/apitest"
	"github.com/latchkey/latchkey/totp"
)

// mfaEnrol sets up an authenticator app through the API at setupBase and
// confirms it at confirmBase (the same or another instance), with the
// code of the current step; it returns the secret and recovery codes.
func mfaEnrol(t *testing.T, do func(method, base, path string, body any) apitest.Resp, setupBase, confirmBase string) ([]byte, []string) {
	t.Helper()
	r := do("POST", setupBase, "/api/mfa/totp/setup", map[string]any{})
	if r.Status != 200 {
		t.Fatalf("setup: %d %s", r.Status, r.Raw)
	}
	secret, err := totp.DecodeSecret(r.JSON["secret"].(string))
	if err != nil {
		t.Fatal(err)
	}
	r = do("POST", confirmBase, "/api/mfa/totp/confirm", map[string]any{"code": totp.Code(secret, totp.Step(time.Now()))})
	if r.Status != 200 {
		t.Fatalf("confirm: %d %s", r.Status, r.Raw)
	}
	var codes []string
	for _, c := range r.JSON["recoveryCodes"].([]any) {
		codes = append(codes, c.(string))
	}
	return secret, codes
}

// nextCode is the code of the step after now's: accepted (one step of
// skew), and after the one confirming the set-up used, without waiting
// for it on the wall clock.
func nextCode(secret []byte) string { return totp.Code(secret, totp.Step(time.Now())+1) }

// TestTwoInstancesMFA: the second login step started on one instance
// finishes on the other; a code used on one is refused on the other; the
// pending login's 5 attempts are counted across both; recovery codes work
// once across both. In session and token mode.
func TestTwoInstancesMFA(t *testing.T) {
	for _, mode := range []struct {
		name  string
		extra []string
	}{{"session", nil}, {"token", []string{"--token-mode", "jwt"}}} {
		t.Run(mode.name, func(t *testing.T) {
			a, b, _ := startPair(t, mode.extra...)
			br := newBrowser(t)
			br.do("GET", a.url, "/api/getcsrf", nil)
			if r := br.do("POST", a.url, "/api/register", creds("alice", alicePassword)); r.Status != 201 {
				t.Fatalf("register through A: %d %v", r.Status, r.JSON)
			}
			secret, codes := mfaEnrol(t, br.do, a.url, b.url)
			br.do("POST", b.url, "/api/logout", map[string]any{})

			password := func(br *browser, base string) {
				t.Helper()
				br.do("GET", base, "/api/getcsrf", nil)
				r := br.do("POST", base, "/api/login", creds("alice", alicePassword))
				if r.Status != 200 || r.JSON["mfaRequired"] != true {
					t.Fatalf("password through %s: %d %v, want mfaRequired", base, r.Status, r.JSON)
				}
			}
			// Started on A, finished on B.
			password(br, a.url)
			if br.loggedIn(b.url) || br.loggedIn(a.url) {
				t.Fatal("logged in before the second step")
			}
			code := nextCode(secret)
			if r := br.do("POST", b.url, "/api/login/mfa", map[string]any{"code": code}); r.Status != 200 {
				t.Fatalf("second step through B of a login started on A: %d %v", r.Status, r.JSON)
			}
			if !br.loggedIn(a.url) {
				t.Error("the login finished on B is not logged in on A")
			}
			// The same code through the other instance: refused.
			thief := newBrowser(t)
			password(thief, b.url)
			if r := thief.do("POST", a.url, "/api/login/mfa", map[string]any{"code": code}); r.Status != 401 || r.ErrCode() != "invalid_code" {
				t.Errorf("the code used through B, again through A: %d %v, want 401 invalid_code", r.Status, r.JSON)
			}
			// Five attempts in all, spread over both.
			insts := []*instance{a, b}
			for i := range 4 {
				if r := thief.do("POST", insts[i%2].url, "/api/login/mfa", map[string]any{"code": "000000"}); r.Status != 401 || r.ErrCode() != "invalid_code" {
					t.Fatalf("wrong code %d: %d %v", i+2, r.Status, r.JSON)
				}
			}
			if r := thief.do("POST", b.url, "/api/login/mfa", map[string]any{"recoveryCode": codes[0]}); r.Status != 401 || r.ErrCode() != "mfa_expired" {
				t.Errorf("a 6th attempt across both instances: %d %v, want 401 mfa_expired", r.Status, r.JSON)
			}
			// A recovery code: once, across both.
			rc := newBrowser(t)
			password(rc, a.url)
			if r := rc.do("POST", b.url, "/api/login/mfa", map[string]any{"recoveryCode": codes[0]}); r.Status != 200 {
				t.Fatalf("recovery code through B: %d %v", r.Status, r.JSON)
			}
			again := newBrowser(t)
			password(again, b.url)
			if r := again.do("POST", a.url, "/api/login/mfa", map[string]any{"recoveryCode": codes[0]}); r.Status != 401 || r.ErrCode() != "invalid_code" {
				t.Errorf("the recovery code again, through A: %d %v, want 401 invalid_code", r.Status, r.JSON)
			}
		})
	}
}

// TestUserMFAReset: latchkey user mfa reset removes a user's second
// factors, on SQLite and on PostgreSQL with Redis, seen at once by a
// running serve: the next login needs only the password, and the
// activity says so.
func TestUserMFAReset(t *testing.T) {
	for _, be := range accountBackends {
		t.Run(be.name, func(t *testing.T) {
			stores, env := be.setup(t)
			user := func(sub string, args ...string) (string, error) {
				t.Helper()
				out, stderr, err := cli(t, env, "", append(append(append([]string{"user", sub}, fastArgon2...), stores...), args...)...)
				if err != nil {
					return stderr, err
				}
				return out, nil
			}
			if _, stderr, err := cli(t, env, "alice's long password\n", append(append(append([]string{"user", "add", "--password-stdin"}, fastArgon2...), stores...), "alice")...); err != nil {
				t.Fatalf("user add: %v\n%s", err, stderr)
			}
			s := startServe(t, env, append(slices.Clone(stores), fastArgon2...)...)
			b := apitest.New(t, s.url)
			b.MustLogin("alice", "alice's long password")
			do := func(method, base, path string, body any) apitest.Resp { return b.Send(method, path, body) }
			mfaEnrol(t, do, s.url, s.url)
			b.Post("/api/logout", nil)
			if r := b.Login("alice", "alice's long password"); r.JSON["mfaRequired"] != true {
				t.Fatalf("login before the reset: %s, want mfaRequired", r.Raw)
			}

			out, err := user("mfa", "reset", "alice")
			if err != nil || !strings.Contains(out, `removed the second factors of "alice"`) {
				t.Fatalf("user mfa reset: %v %q", err, out)
			}
			if out, err := user("mfa", "reset", "alice"); err != nil || !strings.Contains(out, "has no second factor") {
				t.Errorf("user mfa reset again: %v %q", err, out)
			}
			if r := b.Login("alice", "alice's long password"); r.Status != 200 || r.JSON["login"] != true {
				t.Errorf("login after the reset: %d %s, want a session", r.Status, r.Raw)
			}
			if out, err := user("show", "alice"); err != nil || !strings.Contains(out, "mfa_disabled") || !strings.Contains(out, "reset by an operator") {
				t.Errorf("show after the reset: %v\n%s", err, out)
			}
			if _, err := user("mfa", "reset", "nobody"); err == nil || !strings.Contains(err.Error(), "no such user") {
				t.Errorf("mfa reset of nobody: %v", err)
			}
			if _, err := user("mfa", "remove", "alice"); err == nil || !strings.Contains(err.Error(), "want reset") {
				t.Errorf("mfa remove: %v", err)
			}
		})
	}
}
