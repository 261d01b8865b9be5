package latchkey_test

import (
	"context"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/apitest"
	"github.com/latchkey/latchkey/totp"
)

const mfaPassword = "alice's long password"

// enrolTOTP sets up an authenticator app for the logged-in browser b and
// returns its secret and the recovery codes.
func (e *env) enrolTOTP(t *testing.T, b *apitest.Client) (secret []byte, codes []string) {
	t.Helper()
	r := b.Post("/api/mfa/totp/setup", map[string]any{})
	if r.Status != 200 {
		t.Fatalf("setup: %d %s", r.Status, r.Raw)
	}
	secret, err := totp.DecodeSecret(r.JSON["secret"].(string))
	if err != nil {
		t.Fatalf("setup's secret: %v", err)
	}
	r = b.Post("/api/mfa/totp/confirm", map[string]any{"code": e.totpCode(secret)})
	if r.Status != 200 || r.JSON["enabled"] != true {
		t.Fatalf("confirm: %d %s", r.Status, r.Raw)
	}
	for _, c := range r.JSON["recoveryCodes"].([]any) {
		codes = append(codes, c.(string))
	}
	return secret, codes
}

// totpCode is the app's code now.
func (e *env) totpCode(secret []byte) string { return totp.Code(secret, totp.Step(e.clock.Now())) }

// nextTOTPCode waits (on the test clock) for the app's next code: the one
// shown now may have been used already.
func (e *env) nextTOTPCode(secret []byte) string {
	e.clock.Advance(totp.Period)
	return e.totpCode(secret)
}

// mfaUser makes alice, with an authenticator app, and returns its secret
// and recovery codes; alice is logged out.
func (e *env) mfaUser(t *testing.T) (secret []byte, codes []string) {
	t.Helper()
	e.addUser("alice", mfaPassword)
	b := e.browser()
	b.MustLogin("alice", mfaPassword)
	secret, codes = e.enrolTOTP(t, b)
	if r := b.Post("/api/logout", nil); r.Status != 200 {
		t.Fatalf("logout: %d %s", r.Status, r.Raw)
	}
	return secret, codes
}

// passwordStep logs b in with alice's password and checks the answer asks
// for the second factor.
func passwordStep(t *testing.T, b *apitest.Client) {
	t.Helper()
	r := b.Login("alice", mfaPassword)
	if r.Status != 200 || r.JSON["login"] != false || r.JSON["mfaRequired"] != true {
		t.Fatalf("login of a user with a second factor: %d %s, want 200 mfaRequired", r.Status, r.Raw)
	}
	if got := r.JSON["methods"]; !slices.Equal(toStrings(got), []string{"totp", "recovery_code"}) {
		t.Errorf("methods %v, want [totp recovery_code]", got)
	}
}

func toStrings(v any) []string {
	var out []string
	for _, x := range v.([]any) {
		out = append(out, x.(string))
	}
	return out
}

func secondStep(b *apitest.Client, field, proof string) apitest.Resp {
	return b.Post("/api/login/mfa", map[string]any{field: proof})
}

// TestMFALogin: the whole flow. A right password gets no session but a
// pending login in an HttpOnly cookie; the browser is logged out until a
// code from the app logs it in, with a new session and CSRF token.
func TestMFALogin(t *testing.T) {
	e := newEnv(t)
	secret, _ := e.mfaUser(t)
	b := e.browser()
	passwordStep(t, b)
	ck := b.Cookie("latchkey_mfa")
	if ck == nil || b.Cookie("latchkey_session") != nil {
		t.Fatalf("after the password: cookies %v, want latchkey_mfa and no session", b.Cookies("/"))
	}
	before := b.Token()
	// Skipping the second step: the pending cookie is no session.
	if b.LoggedIn() {
		t.Error("getsession with only the pending login: logged in")
	}
	if r := b.Get("/api/data"); r.Status != 401 {
		t.Errorf("data with only the pending login: %d, want 401", r.Status)
	}
	if r := b.Get("/app/"); r.Status != 401 {
		t.Errorf("a Require route with only the pending login: %d, want 401", r.Status)
	}
	if r := b.Post("/api/password/change", map[string]any{"currentPassword": mfaPassword, "newPassword": "something else entirely"}); r.Status != 401 {
		t.Errorf("password change with only the pending login: %d, want 401", r.Status)
	}

	code := e.nextTOTPCode(secret)
	r := secondStep(b, "code", code)
	if r.Status != 200 || r.JSON["login"] != true {
		t.Fatalf("second step: %d %s", r.Status, r.Raw)
	}
	if user := r.JSON["user"].(map[string]any); user["username"] != "alice" {
		t.Errorf("second step's user: %v", user)
	}
	if b.Cookie("latchkey_mfa") != nil {
		t.Error("the pending cookie outlives the login")
	}
	if b.Token() == before || b.Token() == "" {
		t.Error("the second step did not rotate the CSRF token")
	}
	s := b.Get("/api/getsession")
	if s.JSON["login"] != true || s.JSON["fresh"] != true {
		t.Errorf("getsession after the second step: %s, want a fresh login", s.Raw)
	}
	if r := b.Get("/app/"); r.Status != 200 {
		t.Errorf("a Require route after the second step: %d", r.Status)
	}
	// The pending login was single-use.
	if r := secondStep(b, "code", e.nextTOTPCode(secret)); r.Status != 401 || r.ErrCode() != "mfa_expired" {
		t.Errorf("second step again: %d %s, want 401 mfa_expired", r.Status, r.Raw)
	}
	act := b.Get("/api/account/activity")
	if !hasEvent(act, "login_succeeded", "second factor: totp") {
		t.Errorf("activity lacks the login with totp: %s", act.Raw)
	}
}

func hasEvent(r apitest.Resp, typ, detail string) bool {
	evs, _ := r.JSON["events"].([]any)
	for _, ev := range evs {
		m := ev.(map[string]any)
		if m["type"] == typ && (detail == "" || m["detail"] == detail) {
			return true
		}
	}
	return false
}

// A code works once: the same code again, in a new login of another
// browser within its 90 seconds, is refused, and so is an older one.
func TestMFAReplayedCode(t *testing.T) {
	e := newEnv(t)
	secret, _ := e.mfaUser(t)
	b := e.browser()
	passwordStep(t, b)
	code := e.nextTOTPCode(secret)
	if r := secondStep(b, "code", code); r.Status != 200 {
		t.Fatalf("first use: %d %s", r.Status, r.Raw)
	}
	thief := e.browser()
	passwordStep(t, thief)
	r := secondStep(thief, "code", code)
	if r.Status != 401 || r.ErrCode() != "invalid_code" || r.ErrField() != "code" || r.JSON["login"] != false {
		t.Errorf("the same code in another browser: %d %s, want 401 invalid_code (field code)", r.Status, r.Raw)
	}
	old := totp.Code(secret, totp.Step(e.clock.Now())-1)
	if r := secondStep(thief, "code", old); r.Status != 401 || r.ErrCode() != "invalid_code" {
		t.Errorf("the code before it: %d %s, want 401 invalid_code", r.Status, r.Raw)
	}
	if r := secondStep(thief, "code", e.nextTOTPCode(secret)); r.Status != 200 {
		t.Errorf("the next code: %d %s, want 200", r.Status, r.Raw)
	}
	act := thief.Get("/api/account/activity")
	if !hasEvent(act, "mfa_failed", "totp_replayed") {
		t.Errorf("activity lacks the replayed code: %s", act.Raw)
	}
}

// Concurrent second steps with the one right code, from one browser and
// from two: one login.
func TestMFAConcurrentSecondSteps(t *testing.T) {
	e := newEnv(t)
	secret, _ := e.mfaUser(t)
	browsers := []*apitest.Client{e.browser(), e.browser(), e.browser()}
	for _, b := range browsers {
		passwordStep(t, b)
	}
	code := e.nextTOTPCode(secret)
	var wg sync.WaitGroup
	var mu sync.Mutex
	ok := 0
	for i := range 6 {
		wg.Go(func() {
			r := secondStep(browsers[i%3], "code", code)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case r.Status == 200:
				ok++
			case r.Status == 401 && (r.ErrCode() == "invalid_code" || r.ErrCode() == "mfa_expired"):
			default:
				t.Errorf("concurrent second step: %d %s", r.Status, r.Raw)
			}
		})
	}
	wg.Wait()
	if ok != 1 {
		t.Errorf("%d concurrent second steps with one code logged in, want 1", ok)
	}
}

// A pending login is bound to the browser: another one, without its
// cookie or with a copy of it, gets nowhere, and does not spend the
// owner's attempts.
func TestMFAPendingFromAnotherBrowser(t *testing.T) {
	e := newEnv(t)
	secret, _ := e.mfaUser(t)
	owner := e.browser()
	passwordStep(t, owner)
	code := e.nextTOTPCode(secret)

	other := e.browser()
	other.CSRF()
	if r := secondStep(other, "code", code); r.Status != 401 || r.ErrCode() != "mfa_expired" {
		t.Errorf("second step without the pending cookie: %d %s, want 401 mfa_expired", r.Status, r.Raw)
	}
	other.SetCookie("latchkey_mfa", owner.Cookie("latchkey_mfa").Value)
	for range 6 {
		if r := secondStep(other, "code", code); r.Status != 401 || r.ErrCode() != "mfa_expired" {
			t.Errorf("second step with a copy of the pending cookie: %d %s, want 401 mfa_expired", r.Status, r.Raw)
		}
	}
	// CSRF: the owner's cookies with a token of another browser.
	tok := owner.Token()
	owner.SetToken(other.Token())
	if r := secondStep(owner, "code", code); r.Status != 403 || r.ErrCode() != "csrf_failed" {
		t.Errorf("second step with another browser's CSRF token: %d %s, want 403", r.Status, r.Raw)
	}
	owner.SetToken(tok)
	if r := secondStep(owner, "code", code); r.Status != 200 {
		t.Errorf("the owner's second step: %d %s, want 200", r.Status, r.Raw)
	}
}

// Guessing codes: each pending login takes 5 attempts, then the password
// is needed again; and every failure counts in the login throttle.
func TestMFABruteForce(t *testing.T) {
	t.Run("five attempts per pending login", func(t *testing.T) {
		e := newEnv(t)
		secret, _ := e.mfaUser(t)
		b := e.browser()
		passwordStep(t, b)
		for i := range 5 {
			r := secondStep(b, "code", "000000")
			if r.Status != 401 || r.ErrCode() != "invalid_code" {
				t.Fatalf("wrong code %d: %d %s, want 401 invalid_code", i+1, r.Status, r.Raw)
			}
		}
		if b.Cookie("latchkey_mfa") != nil {
			t.Error("the pending cookie outlives the 5th failure")
		}
		if r := secondStep(b, "code", e.totpCode(secret)); r.Status != 401 || r.ErrCode() != "mfa_expired" {
			t.Errorf("the right code after 5 failures: %d %s, want 401 mfa_expired", r.Status, r.Raw)
		}
		passwordStep(t, b)
		if r := secondStep(b, "code", e.nextTOTPCode(secret)); r.Status != 200 {
			t.Errorf("the right code after the password again: %d %s", r.Status, r.Raw)
		}
	})
	t.Run("the login throttle", func(t *testing.T) {
		e := newEnv(t, func(c *latchkey.Config) { c.LoginBurst, c.LoginRefill = 3, time.Hour })
		secret, _ := e.mfaUser(t)
		b := e.browser()
		passwordStep(t, b)
		for i := range 3 {
			if r := secondStep(b, "code", "000000"); r.Status != 401 {
				t.Fatalf("wrong code %d: %d %s", i+1, r.Status, r.Raw)
			}
		}
		r := secondStep(b, "code", e.nextTOTPCode(secret))
		if r.Status != 429 || r.ErrCode() != "too_many_attempts" || r.Header.Get("Retry-After") == "" {
			t.Errorf("the right code with the bucket spent: %d %s, want 429 with Retry-After", r.Status, r.Raw)
		}
		// The right password does not give the failures back.
		if r := b.Login("alice", mfaPassword); r.Status != 429 {
			t.Errorf("the password with the bucket spent: %d %s, want 429", r.Status, r.Raw)
		}
		e.clock.Advance(time.Hour)
		passwordStep(t, b)
		if r := secondStep(b, "code", e.nextTOTPCode(secret)); r.Status != 200 {
			t.Errorf("an hour later: %d %s", r.Status, r.Raw)
		}
	})
	t.Run("concurrent guesses", func(t *testing.T) {
		e := newEnv(t)
		e.mfaUser(t)
		b := e.browser()
		passwordStep(t, b)
		var wg sync.WaitGroup
		var mu sync.Mutex
		checked := 0
		for range 20 {
			wg.Go(func() {
				r := secondStep(b, "code", "000000")
				mu.Lock()
				defer mu.Unlock()
				if r.ErrCode() == "invalid_code" {
					checked++
				} else if r.ErrCode() != "mfa_expired" {
					t.Errorf("concurrent guess: %d %s", r.Status, r.Raw)
				}
			})
		}
		wg.Wait()
		if checked != 5 {
			t.Errorf("%d of 20 concurrent guesses were checked, want 5", checked)
		}
	})
}

// A pending login dies when the password changes, the user is logged out
// everywhere, locked or deleted, and after 5 minutes.
func TestMFAPendingDies(t *testing.T) {
	for _, tc := range []struct {
		name string
		do   func(e *env, u *latchkey.User)
		code string
	}{
		{"password changed", func(e *env, u *latchkey.User) {
			if err := e.auth.SetPassword(context.Background(), "alice", "a brand-new long password"); err != nil {
				e.t.Fatal(err)
			}
		}, "mfa_expired"},
		{"logged out everywhere", func(e *env, u *latchkey.User) {
			if _, err := e.auth.EndUserSessions(context.Background(), u.ID); err != nil {
				e.t.Fatal(err)
			}
		}, "mfa_expired"},
		{"locked", func(e *env, u *latchkey.User) {
			// Locking ends the user's sessions (a new epoch), so the
			// pending login is gone before its lock is even looked at.
			if _, err := e.auth.LockUser(context.Background(), u.ID, 0); err != nil {
				e.t.Fatal(err)
			}
		}, "mfa_expired"},
		{"deleted", func(e *env, u *latchkey.User) {
			if err := e.auth.DeleteUser(context.Background(), "alice"); err != nil {
				e.t.Fatal(err)
			}
		}, "mfa_expired"},
		{"five minutes", func(e *env, u *latchkey.User) { e.clock.Advance(5 * time.Minute) }, "mfa_expired"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			secret, _ := e.mfaUser(t)
			u, _ := e.auth.LookupUser(context.Background(), "alice")
			b := e.browser()
			passwordStep(t, b)
			tc.do(e, u)
			r := secondStep(b, "code", e.nextTOTPCode(secret))
			if r.ErrCode() != tc.code || b.LoggedIn() {
				t.Errorf("second step: %d %s, want %s and no login", r.Status, r.Raw, tc.code)
			}
		})
	}
}

// Recovery codes: ten, each logs in once; using one is an event and a
// mail; new ones replace the old.
func TestMFARecoveryCodes(t *testing.T) {
	e := newMailEnv(t)
	e.addMailUser("alice", mfaPassword, "alice@example.test", true)
	b := e.browser()
	b.MustLogin("alice", mfaPassword)
	_, codes := e.enrolTOTP(t, b)
	e.notice(t, "alice@example.test", "two-factor authentication is on")
	if len(codes) != 10 {
		t.Fatalf("%d recovery codes, want 10", len(codes))
	}
	b.Post("/api/logout", nil)

	passwordStep(t, b)
	if r := secondStep(b, "recoveryCode", "  "+codes[3]+" "); r.Status != 200 {
		t.Fatalf("login with a recovery code: %d %s", r.Status, r.Raw)
	}
	e.notice(t, "alice@example.test", "recovery code was used")
	st := b.Get("/api/mfa")
	if st.Status != 200 || st.JSON["recoveryCodesLeft"] != float64(9) || st.JSON["enabled"] != true {
		t.Errorf("GET /mfa after using a code: %d %s", st.Status, st.Raw)
	}
	if act := b.Get("/api/account/activity"); !hasEvent(act, "recovery_code_used", "9 left") {
		t.Errorf("activity lacks the recovery code: %s", act.Raw)
	}
	b.Post("/api/logout", nil)

	other := e.browser()
	passwordStep(t, other)
	if r := secondStep(other, "recoveryCode", codes[3]); r.Status != 401 || r.ErrCode() != "invalid_code" || r.ErrField() != "recoveryCode" {
		t.Errorf("the same recovery code again: %d %s, want 401 invalid_code (field recoveryCode)", r.Status, r.Raw)
	}
	if r := secondStep(other, "recoveryCode", "not-a-code"); r.Status != 401 || r.ErrCode() != "invalid_code" {
		t.Errorf("a malformed recovery code: %d %s, want 401 invalid_code", r.Status, r.Raw)
	}
	if r := secondStep(other, "recoveryCode", codes[4]); r.Status != 200 {
		t.Fatalf("another code: %d %s", r.Status, r.Raw)
	}
	e.notice(t, "alice@example.test", "recovery code was used")

	// New codes, with a fresh login: the old ones stop working.
	r := other.Post("/api/mfa/recovery-codes", map[string]any{})
	if r.Status != 200 || len(r.JSON["recoveryCodes"].([]any)) != 10 {
		t.Fatalf("new recovery codes: %d %s", r.Status, r.Raw)
	}
	fresh := toStrings(r.JSON["recoveryCodes"])
	e.notice(t, "alice@example.test", "new recovery codes")
	other.Post("/api/logout", nil)
	passwordStep(t, other)
	if r := secondStep(other, "recoveryCode", codes[5]); r.Status != 401 {
		t.Errorf("an old code after new ones: %d %s, want 401", r.Status, r.Raw)
	}
	if r := secondStep(other, "recoveryCode", fresh[0]); r.Status != 200 {
		t.Errorf("a new code: %d %s", r.Status, r.Raw)
	}
}

// Removing the app or making new codes needs a fresh login or the
// password; then logins need only the password.
func TestMFADisable(t *testing.T) {
	e := newMailEnv(t)
	e.addMailUser("alice", mfaPassword, "alice@example.test", true)
	b := e.browser()
	b.MustLogin("alice", mfaPassword)
	e.enrolTOTP(t, b)
	e.notice(t, "alice@example.test", "two-factor authentication is on")
	e.clock.Advance(11 * time.Minute) // the login is no longer fresh
	for _, path := range []string{"/api/mfa/totp/disable", "/api/mfa/recovery-codes", "/api/mfa/totp/setup"} {
		if r := b.Post(path, map[string]any{}); r.Status != 403 || r.ErrCode() != "reauth_required" || r.ErrField() != "password" {
			t.Errorf("%s without the password on a stale login: %d %s, want 403 reauth_required", path, r.Status, r.Raw)
		}
		if r := b.Post(path, map[string]any{"password": "wrong"}); r.Status != 403 || r.ErrCode() != "wrong_password" {
			t.Errorf("%s with a wrong password: %d %s, want 403 wrong_password", path, r.Status, r.Raw)
		}
	}
	if r := b.Post("/api/mfa/totp/setup", map[string]any{"password": mfaPassword}); r.Status != 409 || r.ErrCode() != "mfa_enabled" {
		t.Errorf("a second setup: %d %s, want 409 mfa_enabled", r.Status, r.Raw)
	}
	if r := b.Post("/api/mfa/totp/disable", map[string]any{"password": mfaPassword}); r.Status != 200 || r.JSON["disabled"] != true {
		t.Fatalf("disable with the password: %d %s", r.Status, r.Raw)
	}
	e.notice(t, "alice@example.test", "turned off")
	if r := b.Post("/api/mfa/totp/disable", map[string]any{"password": mfaPassword}); r.Status != 409 || r.ErrCode() != "mfa_not_enabled" {
		t.Errorf("disable again: %d %s, want 409 mfa_not_enabled", r.Status, r.Raw)
	}
	if r := b.Post("/api/mfa/recovery-codes", map[string]any{"password": mfaPassword}); r.Status != 409 || r.ErrCode() != "mfa_not_enabled" {
		t.Errorf("new codes without a factor: %d %s, want 409 mfa_not_enabled", r.Status, r.Raw)
	}
	st := b.Get("/api/mfa")
	if st.JSON["enabled"] != false || st.JSON["recoveryCodesLeft"] != float64(0) || st.JSON["totp"] != nil {
		t.Errorf("GET /mfa after disabling: %s", st.Raw)
	}
	act := b.Get("/api/account/activity")
	if !hasEvent(act, "mfa_enabled", "totp") || !hasEvent(act, "mfa_disabled", "totp") {
		t.Errorf("activity lacks mfa_enabled and mfa_disabled: %s", act.Raw)
	}
	other := e.browser()
	if r := other.Login("alice", mfaPassword); r.Status != 200 || r.JSON["login"] != true {
		t.Errorf("login after disabling: %d %s, want a session", r.Status, r.Raw)
	}
}

// Setting up: the secret comes once, with its URI and QR code; a wrong
// code does not confirm it; an unconfirmed set-up changes no login and
// expires.
func TestMFASetup(t *testing.T) {
	e := newEnv(t)
	e.addUser("alice", mfaPassword)
	b := e.browser()
	b.MustLogin("alice", mfaPassword)
	if r := b.Post("/api/mfa/totp/confirm", map[string]any{"code": "123456"}); r.Status != 409 || r.ErrCode() != "mfa_setup_expired" {
		t.Errorf("confirm before setup: %d %s, want 409 mfa_setup_expired", r.Status, r.Raw)
	}
	r := b.Post("/api/mfa/totp/setup", map[string]any{})
	if r.Status != 200 {
		t.Fatalf("setup: %d %s", r.Status, r.Raw)
	}
	secret, _ := totp.DecodeSecret(r.JSON["secret"].(string))
	if uri := r.JSON["uri"].(string); uri != totp.URI("latchkey", "alice", secret) {
		t.Errorf("uri %q", uri)
	}
	if st := b.Get("/api/mfa"); st.JSON["enabled"] != false {
		t.Errorf("GET /mfa before confirming: %s", st.Raw)
	}
	other := e.browser()
	if r := other.Login("alice", mfaPassword); r.JSON["login"] != true {
		t.Errorf("login with an unconfirmed set-up: %s, want a session", r.Raw)
	}
	wrong := totp.Code(secret, totp.Step(e.clock.Now())+5)
	if r := b.Post("/api/mfa/totp/confirm", map[string]any{"code": wrong}); r.Status != 400 || r.ErrCode() != "invalid_code" || r.ErrField() != "code" {
		t.Errorf("confirm with a wrong code: %d %s, want 400 invalid_code", r.Status, r.Raw)
	}
	e.clock.Advance(15 * time.Minute)
	if r := b.Post("/api/mfa/totp/confirm", map[string]any{"code": e.totpCode(secret)}); r.Status != 409 || r.ErrCode() != "mfa_setup_expired" {
		t.Errorf("confirm after 15 minutes: %d %s, want 409 mfa_setup_expired", r.Status, r.Raw)
	}
	// A new set-up has a new secret; the old one's codes do not confirm it.
	b.MustLogin("alice", mfaPassword)
	r = b.Post("/api/mfa/totp/setup", map[string]any{})
	again, _ := totp.DecodeSecret(r.JSON["secret"].(string))
	if string(again) == string(secret) {
		t.Error("a new set-up reused the secret")
	}
	if r := b.Post("/api/mfa/totp/confirm", map[string]any{"code": e.totpCode(secret)}); r.Status != 400 {
		t.Errorf("the old secret's code: %d %s, want 400", r.Status, r.Raw)
	}
	if r := b.Post("/api/mfa/totp/confirm", map[string]any{"code": e.totpCode(again)}); r.Status != 200 {
		t.Errorf("the new secret's code: %d %s", r.Status, r.Raw)
	}
	// The confirming code cannot log in.
	b.Post("/api/logout", nil)
	passwordStep(t, b)
	if r := secondStep(b, "code", e.totpCode(again)); r.Status != 401 {
		t.Errorf("the code that confirmed the set-up, at login: %d %s, want 401", r.Status, r.Raw)
	}
	// Logged out, none of it answers.
	anon := e.browser()
	anon.CSRF()
	for _, path := range []string{"/api/mfa/totp/setup", "/api/mfa/totp/confirm", "/api/mfa/totp/disable", "/api/mfa/recovery-codes"} {
		if r := anon.Post(path, map[string]any{"code": "123456"}); r.Status != 401 {
			t.Errorf("%s logged out: %d %s, want 401", path, r.Status, r.Raw)
		}
	}
	if r := anon.Get("/api/mfa"); r.Status != 401 {
		t.Errorf("GET /mfa logged out: %d", r.Status)
	}
}

// The second step takes exactly one proof, as a string.
func TestMFASecondStepInput(t *testing.T) {
	e := newEnv(t)
	secret, _ := e.mfaUser(t)
	b := e.browser()
	passwordStep(t, b)
	for _, body := range []map[string]any{
		{},
		{"code": e.totpCode(secret), "recoveryCode": "x"},
		{"code": nil},
		{"webauthn": "x"},
	} {
		if r := b.Post("/api/login/mfa", body); r.Status != 400 || r.ErrCode() != "invalid_input" {
			t.Errorf("second step with %v: %d %s, want 400 invalid_input", body, r.Status, r.Raw)
		}
	}
	if r := b.Post("/api/login/mfa", map[string]any{"code": 123456}); r.Status != 400 || r.ErrField() != "code" {
		t.Errorf("a number for a code: %d %s, want 400 (field code)", r.Status, r.Raw)
	}
	// Malformed requests did not spend the pending login's attempts;
	// wrong codes, malformed or not, do.
	for range 4 {
		if r := secondStep(b, "code", "abc"); r.Status != 401 || r.ErrCode() != "invalid_code" {
			t.Errorf("a malformed code: %d %s, want 401 invalid_code", r.Status, r.Raw)
		}
	}
	if r := secondStep(b, "code", e.nextTOTPCode(secret)); r.Status != 200 {
		t.Errorf("the right code after 4 failures: %d %s", r.Status, r.Raw)
	}
}

// A login that replaces another: a password login in a browser with a
// pending login drops it, and an MFA login replaces the session the
// browser had (no fixation).
func TestMFAReplacesSession(t *testing.T) {
	e := newEnv(t)
	secret, _ := e.mfaUser(t)
	e.addUser("bob", "bob's long password")
	b := e.browser()
	b.MustLogin("bob", "bob's long password")
	old := b.Cookie("latchkey_session").Value
	passwordStep(t, b)
	first := b.Cookie("latchkey_mfa").Value
	if !b.LoggedIn() {
		t.Error("bob's session ended at alice's password step, before her second factor")
	}
	passwordStep(t, b)
	if b.Cookie("latchkey_mfa").Value == first {
		t.Error("a new password step kept the pending cookie")
	}
	if r := secondStep(b, "code", e.nextTOTPCode(secret)); r.Status != 200 {
		t.Fatalf("second step: %d %s", r.Status, r.Raw)
	}
	if b.Cookie("latchkey_session").Value == old {
		t.Error("the session was not replaced")
	}
	stale := e.raw("GET", "/api/data", map[string]string{"latchkey_session": old})
	if stale.Status != 401 {
		t.Errorf("bob's old session after alice's login: %d, want 401", stale.Status)
	}
}

// Token mode: the second step starts a token family, not before.
func TestMFATokenMode(t *testing.T) {
	e := newEnv(t, func(c *latchkey.Config) { c.TokenMode = latchkey.TokenModeJWT })
	secret, _ := e.mfaUser(t)
	b := e.browser()
	passwordStep(t, b)
	if b.Cookie("access_token_cookie") != nil {
		t.Fatal("an access token before the second step")
	}
	if r := b.Get("/api/data"); r.Status != 401 {
		t.Errorf("data with only the pending login: %d", r.Status)
	}
	r := secondStep(b, "code", e.nextTOTPCode(secret))
	if r.Status != 200 || b.Cookie("access_token_cookie") == nil || b.Cookie("csrf_access_token") == nil {
		t.Fatalf("second step in token mode: %d %s, cookies %v", r.Status, r.Raw, b.Cookies("/"))
	}
	if r.Header.Get("X-CSRFToken") != b.Cookie("csrf_access_token").Value {
		t.Error("the answer's CSRF token is not the access token's")
	}
	if r := b.Get("/api/data"); r.Status != 200 {
		t.Errorf("data after the second step: %d %s", r.Status, r.Raw)
	}
	if r := b.Post("/api/mfa/recovery-codes", map[string]any{}); r.Status != 200 {
		t.Errorf("new codes on the fresh token login: %d %s", r.Status, r.Raw)
	}
}

// The pending cookie is HttpOnly, SameSite and short-lived, and a bad one
// reads as none.
func TestMFAPendingCookie(t *testing.T) {
	e := newEnv(t)
	e.mfaUser(t)
	b := e.browser()
	b.CSRF()
	r := b.Login("alice", mfaPassword)
	c := setCookieHeader(r.Header, "latchkey_mfa")
	if c == nil || !c.HttpOnly || c.Path != "/" || c.SameSite != http.SameSiteStrictMode || c.MaxAge != 300 {
		t.Errorf("pending cookie %+v, want HttpOnly, Path=/, SameSite=Strict, Max-Age=300", c)
	}
	b.SetCookie("latchkey_mfa", "garbage")
	if r := secondStep(b, "code", "123456"); r.Status != 401 || r.ErrCode() != "mfa_expired" {
		t.Errorf("a garbage pending cookie: %d %s, want 401 mfa_expired", r.Status, r.Raw)
	}
}

// latchkey user mfa reset's library call: every factor goes, once.
func TestResetMFA(t *testing.T) {
	e := newEnv(t)
	e.mfaUser(t)
	n, err := e.auth.ResetMFA(context.Background(), "alice")
	if err != nil || n != 11 {
		t.Fatalf("ResetMFA: %d, %v; want 11 (the app and ten codes)", n, err)
	}
	if n, err := e.auth.ResetMFA(context.Background(), "alice"); n != 0 || err != nil {
		t.Errorf("ResetMFA again: %d, %v", n, err)
	}
	if r := e.browser().Login("alice", mfaPassword); r.JSON["login"] != true {
		t.Errorf("login after the reset: %s", r.Raw)
	}
	if _, err := e.auth.ResetMFA(context.Background(), "nobody"); err == nil {
		t.Error("ResetMFA of no user: no error")
	}
}

// New refuses stores that cannot keep factors or pending logins.
func TestMFAStoresRequired(t *testing.T) {
	e := newEnv(t)
	cfg := testConfig(e)
	if _, err := latchkey.New(cfg, struct{ latchkey.UserStore }{e.store}, e.store); err == nil {
		t.Error("New with a user store without MFAStore: no error")
	}
	if _, err := latchkey.New(cfg, e.store, struct {
		latchkey.SessionStore
		latchkey.AccountTokenStore
	}{e.store, e.store}); err == nil {
		t.Error("New with a session store without PendingLoginStore: no error")
	}
}
