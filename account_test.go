package latchkey_test

import (
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/apitest"
	"github.com/latchkey/latchkey/internal/smtptest"
	"github.com/latchkey/latchkey/mail"
)

const appURL = "https://app.example.test"

// mailEnv is newEnv whose account mail goes through a real SMTP server.
type mailEnv struct {
	*env
	smtp *smtptest.Server
}

func newMailEnv(t *testing.T, opts ...func(*latchkey.Config)) *mailEnv {
	t.Helper()
	srv := smtptest.Start(t, smtptest.Options{})
	mailer, err := mail.NewSMTP(srv.URL(), "latchkey@example.test", mail.SMTPOptions{})
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, append([]func(*latchkey.Config){func(c *latchkey.Config) {
		c.Mailer, c.AppURL = mailer, appURL
	}}, opts...)...)
	return &mailEnv{env: e, smtp: srv}
}

// addMailUser creates a user with an address, verified or not.
func (e *mailEnv) addMailUser(name, pw, addr string, verified bool) *latchkey.User {
	e.t.Helper()
	u, err := e.auth.CreateUser(context.Background(), name, pw, addr)
	if err != nil {
		e.t.Fatal(err)
	}
	if verified {
		if err := e.store.UpdateEmail(context.Background(), u.ID, addr, addr, true, time.Now()); err != nil {
			e.t.Fatal(err)
		}
		u.EmailVerified = true
	}
	return u
}

// linkToken waits for the next mail to addr, checks it carries a link to
// route on the app's URL, and returns the link's token.
func (e *mailEnv) linkToken(t *testing.T, addr, route string) string {
	t.Helper()
	m := e.smtp.WaitFor(t, addr)
	for _, l := range append(m.TextLinks(), m.HTMLLinks()...) {
		u, err := url.Parse(l)
		if err == nil && u.Scheme+"://"+u.Host == appURL && u.Path == route {
			if tok := u.Query().Get("token"); tok != "" {
				return tok
			}
		}
	}
	t.Fatalf("mail %q to %s has no %s link:\n%s", m.Subject, addr, route, m.Text)
	return ""
}

// notice waits for the next mail to addr and checks it has no link with a
// token (a notice, not a link to act on).
func (e *mailEnv) notice(t *testing.T, addr, about string) {
	t.Helper()
	m := e.smtp.WaitFor(t, addr)
	if !strings.Contains(strings.ToLower(m.Subject+m.Text), about) || strings.Contains(m.Text, "token=") {
		t.Errorf("mail to %s: subject %q, want a notice about %q without a token:\n%s", addr, m.Subject, about, m.Text)
	}
}

func post(b *apitest.Client, path string, body map[string]any) apitest.Resp {
	return b.Post(path, body)
}

func wantErr(t *testing.T, what string, r apitest.Resp, status int, code, field string) {
	t.Helper()
	if r.Status != status || r.ErrCode() != code || field != "" && r.ErrField() != field {
		t.Errorf("%s: %d %s field %q; want %d %s field %q", what, r.Status, r.Raw, r.ErrField(), status, code, field)
	}
}

func TestForgotAndResetPassword(t *testing.T) {
	e := newMailEnv(t)
	e.addMailUser("alice", "alice's old password", "alice@example.test", true)
	before := e.browser()
	before.MustLogin("alice", "alice's old password")

	b := e.browser()
	b.CSRF()
	known := post(b, "/api/password/forgot", map[string]any{"email": "ALICE@example.test"})
	unknown := post(b, "/api/password/forgot", map[string]any{"email": "nobody@example.test"})
	if known.Status != 202 || known.Raw != unknown.Raw || unknown.Status != 202 {
		t.Errorf("forgot: known %d %s, unknown %d %s; want the same 202", known.Status, known.Raw, unknown.Status, unknown.Raw)
	}
	token := e.linkToken(t, "alice@example.test", "/reset-password")

	// A refused password leaves the link working.
	wantErr(t, "weak password", post(b, "/api/password/reset", map[string]any{"token": token, "password": "short"}), 400, "weak_password", "password")
	if r := post(b, "/api/password/reset", map[string]any{"token": token, "password": "alice's new password"}); r.Status != 200 || r.JSON["loggedOut"] != false {
		t.Fatalf("reset: %d %s; want 200, loggedOut false (this browser was not logged in)", r.Status, r.Raw)
	}
	e.notice(t, "alice@example.test", "password")
	wantErr(t, "replayed link", post(b, "/api/password/reset", map[string]any{"token": token, "password": "yet another password"}), 400, "invalid_token", "token")
	if before.LoggedIn() {
		t.Errorf("a session from before the reset survived it")
	}
	if b.LoggedIn() {
		t.Errorf("the reset logged the browser in")
	}
	if r := e.browser().Login("alice", "alice's old password"); r.Status != 401 {
		t.Errorf("old password after reset: %d", r.Status)
	}
	e.browser().MustLogin("alice", "alice's new password")
}

func TestResetLinkAttacks(t *testing.T) {
	e := newMailEnv(t)
	e.addMailUser("bea", "bea's long password", "bea@example.test", false)
	e.addMailUser("cal", "cal's long password", "cal@example.test", true)
	b := e.browser()
	b.CSRF()
	forgot := func(login string) string {
		t.Helper()
		if r := post(b, "/api/password/forgot", map[string]any{"email": login}); r.Status != 202 {
			t.Fatalf("forgot %s: %d %s", login, r.Status, r.Raw)
		}
		addr := login
		if !strings.Contains(login, "@") {
			addr = login + "@example.test"
		}
		return e.linkToken(t, addr, "/reset-password")
	}
	reset := func(token string) apitest.Resp {
		return post(b, "/api/password/reset", map[string]any{"token": token, "password": "a brand-new password"})
	}

	old := forgot("bea") // by username
	e.clock.Advance(3 * time.Minute)
	newer := forgot("bea@example.test")
	wantErr(t, "superseded link", reset(old), 400, "invalid_token", "token")

	calTok := forgot("cal")
	_, random, _ := strings.Cut(newer, ".")
	_, calRandom, _ := strings.Cut(calTok, ".")
	for name, tok := range map[string]string{
		"truncated":             newer[:len(newer)-1],
		"one character changed": newer[:len(newer)-1] + map[bool]string{true: "A", false: "E"}[!strings.HasSuffix(newer, "A")],
		"another user's id":     strings.Split(calTok, ".")[0] + "." + random,
		"bea's id, cal's token": strings.Split(newer, ".")[0] + "." + calRandom,
		"empty":                 "",
		"garbage":               "../../etc/passwd",
	} {
		wantErr(t, name, reset(tok), 400, map[bool]string{true: "invalid_input", false: "invalid_token"}[tok == ""], "token")
	}
	// The wrong guesses above left both real links working; cal's too.
	if r := reset(calTok); r.Status != 200 {
		t.Errorf("cal's link after guesses: %d %s", r.Status, r.Raw)
	}

	// A link dies with a password change made after it was sent.
	if err := e.auth.SetPassword(context.Background(), "bea", "changed by the CLI meanwhile"); err != nil {
		t.Fatal(err)
	}
	wantErr(t, "link from before a password change", reset(newer), 400, "invalid_token", "token")

	// And it expires.
	e.clock.Advance(3 * time.Minute)
	late := forgot("bea")
	e.clock.Advance(time.Hour)
	wantErr(t, "expired link", reset(late), 400, "invalid_token", "token")
}

func TestVerifyEmail(t *testing.T) {
	e := newMailEnv(t)
	b := e.browser()
	b.CSRF()
	r := post(b, "/api/register", map[string]any{"username": "dan", "password": "dan's long password", "email": "Dan@Example.test"})
	if r.Status != 201 || r.JSON["user"].(map[string]any)["emailVerified"] != false {
		t.Fatalf("register: %d %s", r.Status, r.Raw)
	}
	token := e.linkToken(t, "Dan@Example.test", "/verify-email")
	if r := b.Get("/api/data"); r.JSON["emailVerified"] != false {
		t.Errorf("data before verifying: %s", r.Raw)
	}
	// Someone else claims the same address, unverified: allowed (a 409
	// here would tell who has an account).
	other := e.browser()
	other.CSRF()
	if r := post(other, "/api/register", map[string]any{"username": "eve", "password": "eve's long password", "email": "dan@example.test"}); r.Status != 201 {
		t.Fatalf("second registration with the address: %d %s", r.Status, r.Raw)
	}
	eveToken := e.linkToken(t, "dan@example.test", "/verify-email")

	v := e.browser() // the link may be opened anywhere, logged in or not
	v.CSRF()
	if r := post(v, "/api/email/verify", map[string]any{"token": token}); r.Status != 200 || r.JSON["user"].(map[string]any)["emailVerified"] != true {
		t.Fatalf("verify: %d %s", r.Status, r.Raw)
	}
	wantErr(t, "replayed link", post(v, "/api/email/verify", map[string]any{"token": token}), 400, "invalid_token", "token")
	if r := b.Get("/api/data"); r.JSON["emailVerified"] != true {
		t.Errorf("data after verifying: %s", r.Raw)
	}
	wantErr(t, "verifying an address another account verified first", post(v, "/api/email/verify", map[string]any{"token": eveToken}), 409, "email_taken", "email")
	if r := post(b, "/api/email/resend", map[string]any{}); r.Status != 202 || r.JSON["sent"] != false {
		t.Errorf("resend when verified: %d %s", r.Status, r.Raw)
	}
}

func TestChangePassword(t *testing.T) {
	e := newMailEnv(t)
	e.addMailUser("fay", "fay's old password", "fay@example.test", true)
	other := e.browser()
	other.MustLogin("fay", "fay's old password")
	b := e.browser()
	b.MustLogin("fay", "fay's old password")
	oldCookie, oldToken := b.Cookie("latchkey_session").Value, b.Token()

	wantErr(t, "wrong current password", post(b, "/api/password/change", map[string]any{"currentPassword": "guess", "newPassword": "fay's new password"}), 403, "wrong_password", "currentPassword")
	wantErr(t, "weak new password", post(b, "/api/password/change", map[string]any{"currentPassword": "fay's old password", "newPassword": "password"}), 400, "weak_password", "newPassword")
	if !b.LoggedIn() {
		t.Fatal("a refused change logged the browser out")
	}
	r := post(b, "/api/password/change", map[string]any{"currentPassword": "fay's old password", "newPassword": "fay's new password"})
	if r.Status != 200 || r.JSON["passwordChanged"] != true {
		t.Fatalf("change: %d %s", r.Status, r.Raw)
	}
	e.notice(t, "fay@example.test", "password")
	if !b.LoggedIn() || b.Cookie("latchkey_session").Value == oldCookie {
		t.Errorf("after the change the browser should carry on in a new session")
	}
	if other.LoggedIn() {
		t.Errorf("another session of the user survived the change")
	}
	if thief := e.browserWith(oldCookie); thief.LoggedIn() {
		t.Errorf("the old session cookie still works")
	}
	if r := b.Do("POST", "/api/logout", nil, "X-CSRFToken", oldToken); r.Status != 403 {
		t.Errorf("a write with the token from before the change: %d, want 403 (rotated)", r.Status)
	}
	e.browser().MustLogin("fay", "fay's new password")
}

func TestChangeEmailNeedsFreshLogin(t *testing.T) {
	e := newMailEnv(t)
	e.addMailUser("gil", "gil's long password", "gil@old.example.test", true)
	b := e.browser()
	b.MustLogin("gil", "gil's long password")
	change := func(body map[string]any) apitest.Resp { return post(b, "/api/email/change", body) }

	e.clock.Advance(11 * time.Minute) // a stolen session is not a fresh login
	wantErr(t, "stale login, no password", change(map[string]any{"email": "gil@new.example.test"}), 403, "reauth_required", "password")
	wantErr(t, "stale login, wrong password", change(map[string]any{"email": "gil@new.example.test", "password": "guess"}), 403, "wrong_password", "password")
	wantErr(t, "bad address", change(map[string]any{"email": "not an address", "password": "gil's long password"}), 400, "invalid_input", "email")
	if r := change(map[string]any{"email": "gil@new.example.test", "password": "gil's long password"}); r.Status != 202 {
		t.Fatalf("change with the password: %d %s", r.Status, r.Raw)
	}
	token := e.linkToken(t, "gil@new.example.test", "/confirm-email")
	if r := b.Get("/api/data"); r.JSON["email"] != "gil@old.example.test" {
		t.Errorf("the address changed before the link was followed: %s", r.Raw)
	}
	if r := post(b, "/api/email/confirm", map[string]any{"token": token}); r.Status != 200 {
		t.Fatalf("confirm: %d %s", r.Status, r.Raw)
	}
	e.notice(t, "gil@old.example.test", "email")
	if r := b.Get("/api/data"); r.JSON["email"] != "gil@new.example.test" || r.JSON["emailVerified"] != true {
		t.Errorf("after confirming: %s", r.Raw)
	}
	wantErr(t, "replayed confirmation", post(b, "/api/email/confirm", map[string]any{"token": token}), 400, "invalid_token", "token")

	// A fresh login needs no password.
	e.clock.Advance(3 * time.Minute) // past the cool-down of the change mail
	f := e.browser()
	f.MustLogin("gil", "gil's long password")
	if r := post(f, "/api/email/change", map[string]any{"email": "gil@third.example.test"}); r.Status != 202 {
		t.Errorf("fresh login, no password: %d %s", r.Status, r.Raw)
	}
}

func TestDeleteAccount(t *testing.T) {
	e := newMailEnv(t)
	u := e.addMailUser("hal", "hal's long password", "hal@example.test", true)
	other := e.browser()
	other.MustLogin("hal", "hal's long password")
	b := e.browser()
	b.MustLogin("hal", "hal's long password")
	e.clock.Advance(11 * time.Minute)
	wantErr(t, "stale login, no password", post(b, "/api/account/delete", map[string]any{}), 403, "reauth_required", "password")
	wantErr(t, "wrong password", post(b, "/api/account/delete", map[string]any{"password": "guess"}), 403, "wrong_password", "password")
	if r := post(b, "/api/account/delete", map[string]any{"password": "hal's long password"}); r.Status != 200 {
		t.Fatalf("delete: %d %s", r.Status, r.Raw)
	}
	if b.LoggedIn() || other.LoggedIn() {
		t.Errorf("sessions survived the deletion")
	}
	if _, err := e.store.UserByID(context.Background(), u.ID); err == nil {
		t.Errorf("the user is still stored")
	}
	if r := e.browser().Login("hal", "hal's long password"); r.Status != 401 {
		t.Errorf("login after deletion: %d", r.Status)
	}
}

func TestRequireVerifiedEmail(t *testing.T) {
	e := newMailEnv(t, func(c *latchkey.Config) { c.RequireVerifiedEmail = true })
	b := e.browser()
	b.CSRF()
	wantErr(t, "register without an address", post(b, "/api/register", map[string]any{"username": "ida", "password": "ida's long password"}), 400, "invalid_input", "email")
	r := post(b, "/api/register", map[string]any{"username": "ida", "password": "ida's long password", "email": "ida@example.test"})
	if r.Status != 201 || r.JSON["emailVerificationRequired"] != true || b.LoggedIn() {
		t.Fatalf("register: %d %s, logged in %v; want 201, verification required, no session", r.Status, r.Raw, b.LoggedIn())
	}
	first := e.linkToken(t, "ida@example.test", "/verify-email")
	e.clock.Advance(3 * time.Minute)
	wantErr(t, "login before verifying", b.Login("ida", "ida's long password"), 403, "email_unverified", "")
	second := e.linkToken(t, "ida@example.test", "/verify-email") // the refused login sent a new one
	wantErr(t, "the first link, superseded", post(b, "/api/email/verify", map[string]any{"token": first}), 400, "invalid_token", "token")
	if r := post(b, "/api/email/verify", map[string]any{"token": second}); r.Status != 200 {
		t.Fatalf("verify: %d %s", r.Status, r.Raw)
	}
	b.MustLogin("ida", "ida's long password")
	wantErr(t, "a wrong password is still 401", e.browser().Login("ida", "wrong"), 401, "invalid_credentials", "")
}

func TestMailFloodLimits(t *testing.T) {
	e := newMailEnv(t)
	e.addMailUser("jon", "jon's long password", "jon@example.test", true)
	b := e.browser()
	b.CSRF()
	statuses := func(n int, login func(i int) string) []int {
		var out []int
		for i := range n {
			out = append(out, post(b, "/api/password/forgot", map[string]any{"email": login(i)}).Status)
		}
		return out
	}
	// One address: 5 a minute, then 429 with Retry-After.
	got := statuses(6, func(int) string { return "jon@example.test" })
	for i, s := range got {
		if want := map[bool]int{true: 202, false: 429}[i < 5]; s != want {
			t.Errorf("request %d for one address: %d, want %d (all: %v)", i+1, s, want, got)
		}
	}
	// Only one mail went out: the same link to the same user is held back
	// for the cool-down, silently (the answer must not tell).
	e.linkToken(t, "jon@example.test", "/reset-password")
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if m, err := e.smtp.Next(ctx, "jon@example.test"); err == nil {
		t.Errorf("a second reset mail went out within the cool-down: %q", m.Subject)
	}
	// One client, many addresses: 20 a minute in all.
	e.clock.Advance(2 * time.Minute)
	got = statuses(21, func(i int) string { return "someone" + string(rune('a'+i)) + "@example.test" })
	if got[19] != 202 || got[20] != 429 {
		t.Errorf("one client, 21 addresses: %v; want 20 × 202, then 429", got)
	}
}

// TestSlowMailServerDoesNotHoldRequests: a mail server that does not answer
// holds no request: the answers come while the mail is still waiting.
func TestSlowMailServerDoesNotHoldRequests(t *testing.T) {
	e := newMailEnv(t)
	e.addMailUser("kim", "kim's long password", "kim@example.test", false)
	release := e.smtp.Hold()
	defer release()
	b := e.browser()
	b.MustLogin("kim", "kim's long password")
	done := make(chan apitest.Resp, 1)
	go func() { done <- post(b, "/api/email/resend", map[string]any{}) }()
	e.smtp.WaitHeld(t, 1) // the mail is at the server, which does not answer
	select {
	case r := <-done:
		if r.Status != 202 {
			t.Errorf("resend: %d %s", r.Status, r.Raw)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the request waited for the mail server")
	}
	release()
	e.linkToken(t, "kim@example.test", "/verify-email")
}

// TestAccountFlowsTokenMode: in token mode a password change ends every
// other token family and gives this browser a new pair; a reset ends them
// all.
func TestAccountFlowsTokenMode(t *testing.T) {
	e := newMailEnv(t, jwtMode)
	e.addMailUser("lea", "lea's old password", "lea@example.test", true)
	other := e.browser()
	other.MustLogin("lea", "lea's old password")
	b := e.browser()
	b.MustLogin("lea", "lea's old password")
	oldAccess, oldRefresh, _ := tokens(t, b)
	r := b.Do("POST", "/api/password/change", strings.NewReader(`{"currentPassword":"lea's old password","newPassword":"lea's new password"}`),
		"Content-Type", "application/json", "X-CSRF-TOKEN", b.Cookie("csrf_access_token").Value)
	if r.Status != 200 {
		t.Fatalf("change in token mode: %d %s", r.Status, r.Raw)
	}
	if access, refresh, _ := tokens(t, b); access == oldAccess || refresh == oldRefresh {
		t.Errorf("the browser kept its token pair across the change")
	}
	if !b.LoggedIn() || other.LoggedIn() {
		t.Errorf("after the change: this browser logged in %v (want true), the other %v (want false)", b.LoggedIn(), other.LoggedIn())
	}
	replay := e.raw("GET", "/api/data", map[string]string{"access_token_cookie": oldAccess})
	if replay.Status != 401 {
		t.Errorf("the old access token after the change: %d, want 401", replay.Status)
	}
	e.notice(t, "lea@example.test", "password")

	f := e.browser()
	f.CSRF()
	if r := post(f, "/api/password/forgot", map[string]any{"email": "lea"}); r.Status != 202 {
		t.Fatalf("forgot: %d %s", r.Status, r.Raw)
	}
	token := e.linkToken(t, "lea@example.test", "/reset-password")
	r = b.Do("POST", "/api/password/reset", strings.NewReader(`{"token":"`+token+`","password":"lea's third password"}`),
		"Content-Type", "application/json", "X-CSRF-TOKEN", b.Cookie("csrf_access_token").Value)
	if r.Status != 200 || r.JSON["loggedOut"] != true {
		t.Fatalf("reset from lea's own browser: %d %s; want 200, loggedOut true", r.Status, r.Raw)
	}
	if b.LoggedIn() {
		t.Errorf("a token family survived the reset")
	}
}

// TestWaitForMailWork: Auth.Wait returns once the mail that requests left
// being prepared and sent is out, so a server shutting down loses none.
func TestWaitForMailWork(t *testing.T) {
	e := newMailEnv(t)
	e.addMailUser("max", "max's long password", "max@example.test", true)
	release := e.smtp.Hold()
	b := e.browser()
	b.CSRF()
	if r := post(b, "/api/password/forgot", map[string]any{"email": "max"}); r.Status != 202 {
		t.Fatalf("forgot: %d %s", r.Status, r.Raw)
	}
	e.smtp.WaitHeld(t, 1)
	short, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := e.auth.Wait(short); err == nil {
		t.Fatal("Wait returned while the mail server still held the mail")
	}
	release()
	ctx, cancel2 := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel2()
	if err := e.auth.Wait(ctx); err != nil {
		t.Fatalf("Wait: %v", err)
	}
	n := 0
	for _, m := range e.smtp.Messages() {
		if strings.Contains(strings.Join(m.To, ","), "max@example.test") {
			n++
		}
	}
	if n != 1 {
		t.Errorf("%d mails to max delivered when Wait returned, want 1", n)
	}
}
