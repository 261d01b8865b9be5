package latchkey_test

import (
	"context"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/apitest"
	"github.com/latchkey/latchkey/internal/metricstest"
)

var emailCodeRE = regexp.MustCompile(`(?m)^\s*(\d{6})\s*$`)

// emailLogin asks for a sign-in mail to addr from b.
func emailLogin(t *testing.T, b *apitest.Client, addr string) apitest.Resp {
	t.Helper()
	return post(b, "/api/login/email", map[string]any{"email": addr})
}

// signInMail waits for the next mail to addr and returns its sign-in
// link's token and its code.
func (e *mailEnv) signInMail(t *testing.T, addr string) (token, code string) {
	t.Helper()
	m := e.smtp.WaitFor(t, addr)
	for _, l := range m.TextLinks() {
		if u, err := url.Parse(l); err == nil && u.Scheme+"://"+u.Host == appURL && u.Path == "/login/email" {
			token = u.Query().Get("token")
		}
	}
	if c := emailCodeRE.FindStringSubmatch(m.Text); c != nil {
		code = c[1]
	}
	if token == "" || code == "" {
		t.Fatalf("mail %q to %s lacks a sign-in link or code:\n%s", m.Subject, addr, m.Text)
	}
	return token, code
}

// noMail checks no mail reaches addr within a moment.
func (e *mailEnv) noMail(t *testing.T, addr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if m, err := e.smtp.Next(ctx, addr); err == nil {
		t.Errorf("a mail went to %s: %q", addr, m.Subject)
	}
}

func byLink(b *apitest.Client, token string) apitest.Resp {
	return post(b, "/api/login/email/verify", map[string]any{"token": token})
}

func byCode(b *apitest.Client, addr, code string) apitest.Resp {
	return post(b, "/api/login/email/verify", map[string]any{"email": addr, "code": code})
}

// fresh is a new browser with a CSRF token.
func (e *mailEnv) fresh() *apitest.Client {
	b := e.browser()
	b.CSRF()
	return b
}

// wantEvent checks b's user's activity has an event of typ with detail.
func wantEvent(t *testing.T, b *apitest.Client, typ, detail string) {
	t.Helper()
	evs, _ := activity(t, b, "")
	for _, ev := range evs {
		if ev.Type == typ && ev.Detail == detail {
			return
		}
	}
	t.Errorf("no %s event %q in %+v", typ, detail, evs)
}

func wantLogin(t *testing.T, what string, b *apitest.Client, r apitest.Resp, username string) {
	t.Helper()
	if r.Status != 200 || r.JSON["login"] != true || r.JSON["user"].(map[string]any)["username"] != username || !b.LoggedIn() {
		t.Fatalf("%s: %d %s, logged in %v; want 200 login as %s", what, r.Status, r.Raw, b.LoggedIn(), username)
	}
}

func TestEmailLoginLinkAndCode(t *testing.T) {
	e := newMailEnv(t)
	e.addMailUser("alice", "alice's long password", "alice@example.test", true)
	b := e.browser()
	b.CSRF()
	known := emailLogin(t, b, "Alice@Example.test")
	unknown := emailLogin(t, b, "nobody@example.test")
	if known.Status != 202 || unknown.Status != 202 || known.Raw != unknown.Raw {
		t.Errorf("known %d %s, unknown %d %s; want the same 202", known.Status, known.Raw, unknown.Status, unknown.Raw)
	}
	token, code := e.signInMail(t, "alice@example.test")
	e.noMail(t, "nobody@example.test")

	wantLogin(t, "by link", b, byLink(b, token), "alice")
	wantErr(t, "the link again", byLink(e.fresh(), token), 400, "invalid_token", "token")
	c := e.browser()
	c.CSRF()
	wantErr(t, "the code of a used link", byCode(c, "alice@example.test", code), 401, "invalid_code", "code")
	wantEvent(t, b, "login_succeeded", "email link")
	wantEvent(t, b, "login_failed", "email_code")

	e.clock.Advance(3 * time.Minute) // past the cool-down
	emailLogin(t, c, "alice@example.test")
	token, code = e.signInMail(t, "alice@example.test")
	wantLogin(t, "by code", c, byCode(c, " alice@EXAMPLE.test", code[:3]+" "+code[3:]), "alice")
	wantErr(t, "the code again", byCode(e.fresh(), "alice@example.test", code), 401, "invalid_code", "code")
	wantErr(t, "the link of a used code", byLink(e.fresh(), token), 400, "invalid_token", "token")
	wantEvent(t, c, "login_succeeded", "email code")

	d := e.browser()
	d.CSRF()
	for name, body := range map[string]map[string]any{
		"no email":     {"code": "123456"},
		"short code":   {"email": "alice@example.test", "code": "12345"},
		"letters":      {"email": "alice@example.test", "code": "12345a"},
		"neither":      {},
		"bad send":     nil,
		"code as a no": {"email": "alice@example.test", "code": 123456},
	} {
		if body == nil {
			wantErr(t, name, post(d, "/api/login/email", map[string]any{"email": "not an address"}), 400, "invalid_input", "email")
			continue
		}
		if r := post(d, "/api/login/email/verify", body); r.Status != 400 {
			t.Errorf("%s: %d %s, want 400", name, r.Status, r.Raw)
		}
	}
}

func TestEmailLoginUnverifiedAddress(t *testing.T) {
	e := newMailEnv(t)
	e.addMailUser("bob", "bob's long password", "bob@example.test", false)
	b := e.browser()
	b.CSRF()
	if r := emailLogin(t, b, "bob@example.test"); r.Status != 202 {
		t.Fatalf("send: %d %s", r.Status, r.Raw)
	}
	e.noMail(t, "bob@example.test")
	wantErr(t, "a guessed code", byCode(b, "bob@example.test", "123456"), 401, "invalid_code", "code")
}

func TestEmailLoginSecondFactor(t *testing.T) {
	e := newMailEnv(t)
	secret, _ := e.mfaUser(t)
	u, err := e.auth.LookupUser(context.Background(), "alice")
	if err != nil {
		t.Fatal(err)
	}
	if err := e.store.UpdateEmail(context.Background(), u.ID, "", "alice@example.test", true, time.Now()); err != nil {
		t.Fatal(err)
	}
	b := e.browser()
	b.CSRF()
	emailLogin(t, b, "alice@example.test")
	token, _ := e.signInMail(t, "alice@example.test")
	r := byLink(b, token)
	if r.Status != 200 || r.JSON["login"] != false || r.JSON["mfaRequired"] != true || b.LoggedIn() {
		t.Fatalf("link of a user with a second factor: %d %s; want mfaRequired and no session", r.Status, r.Raw)
	}
	if r := b.Post("/api/login/mfa", map[string]any{"code": e.nextTOTPCode(secret)}); r.Status != 200 || !b.LoggedIn() {
		t.Fatalf("second step: %d %s", r.Status, r.Raw)
	}
}

func TestEmailCodeTries(t *testing.T) {
	e := newMailEnv(t)
	e.addMailUser("cat", "cat's long password", "cat@example.test", true)
	b := e.browser()
	b.CSRF()
	emailLogin(t, b, "cat@example.test")
	_, code := e.signInMail(t, "cat@example.test")
	wrong := "000000"
	if code == wrong {
		wrong = "111111"
	}
	for range 5 {
		wantErr(t, "wrong code", byCode(b, "cat@example.test", wrong), 401, "invalid_code", "code")
	}
	wantErr(t, "the right code after 5 wrong ones", byCode(b, "cat@example.test", code), 401, "invalid_code", "code")
	e.clock.Advance(emailLoginTTL)
	wantErr(t, "the right code, tries refilled", byCode(b, "cat@example.test", code), 401, "invalid_code", "code")

	// A new mail brings a new code with its tries.
	emailLogin(t, b, "cat@example.test")
	_, code = e.signInMail(t, "cat@example.test")
	wantErr(t, "one wrong code", byCode(b, "cat@example.test", wrong), 401, "invalid_code", "code")
	wantLogin(t, "the new code", b, byCode(b, "cat@example.test", code), "cat")

	s := metricstest.Serve(t, e.auth.MetricsHandler())
	wantMetric(t, s, 1, "latchkey_logins_total", "outcome", "success")
	wantMetric(t, s, 8, "latchkey_logins_total", "outcome", "bad_credentials")
	wantMetric(t, s, 0, "latchkey_logins_total", "outcome", "error")
	wantMetric(t, s, 1, "latchkey_throttled_total", "purpose", "email_code")
}

const emailLoginTTL = 15 * time.Minute

func TestEmailLoginSupersededAndExpired(t *testing.T) {
	e := newMailEnv(t)
	e.addMailUser("dee", "dee's long password", "dee@example.test", true)
	b := e.browser()
	b.CSRF()
	emailLogin(t, b, "dee@example.test")
	oldToken, oldCode := e.signInMail(t, "dee@example.test")
	e.clock.Advance(3 * time.Minute)
	emailLogin(t, b, "dee@example.test")
	token, code := e.signInMail(t, "dee@example.test")
	wantErr(t, "superseded link", byLink(b, oldToken), 400, "invalid_token", "token")
	if oldCode != code {
		wantErr(t, "superseded code", byCode(b, "dee@example.test", oldCode), 401, "invalid_code", "code")
	}
	e.clock.Advance(emailLoginTTL - time.Second)
	e.clock.Advance(time.Second)
	wantErr(t, "link at 15 minutes", byLink(b, token), 400, "invalid_token", "token")
	wantErr(t, "code at 15 minutes", byCode(b, "dee@example.test", code), 401, "invalid_code", "code")

	emailLogin(t, b, "dee@example.test")
	token, _ = e.signInMail(t, "dee@example.test")
	e.clock.Advance(emailLoginTTL - time.Second)
	wantLogin(t, "link just before 15 minutes", b, byLink(b, token), "dee")
}

func TestEmailLoginLockedAccount(t *testing.T) {
	e := newMailEnv(t)
	u := e.addMailUser("eve", "eve's long password", "eve@example.test", true)
	if _, err := e.auth.LockUser(context.Background(), u.ID, 0); err != nil {
		t.Fatal(err)
	}
	b := e.browser()
	b.CSRF()
	emailLogin(t, b, "eve@example.test")
	token, _ := e.signInMail(t, "eve@example.test")
	wantErr(t, "locked", byLink(b, token), 403, "account_locked", "")
	if b.LoggedIn() {
		t.Error("a locked account signed in by email")
	}
}

func TestEmailLoginTokenMode(t *testing.T) {
	e := newMailEnv(t, jwtMode)
	e.addMailUser("fay", "fay's long password", "fay@example.test", true)
	b := e.browser()
	b.CSRF()
	if r := emailLogin(t, b, "fay@example.test"); r.Status != 202 {
		t.Fatalf("send: %d %s", r.Status, r.Raw)
	}
	_, code := e.signInMail(t, "fay@example.test")
	wantLogin(t, "by code in token mode", b, byCode(b, "fay@example.test", code), "fay")
	if access, refresh, _ := tokens(t, b); access == "" || refresh == "" {
		t.Errorf("no token pair after an email sign-in")
	}
}

func TestEmailLoginMailBudget(t *testing.T) {
	e := newMailEnv(t)
	b := e.browser()
	b.CSRF()
	var got []int
	for range 6 {
		got = append(got, emailLogin(t, b, "flood@example.test").Status)
	}
	if got[4] != 202 || got[5] != 429 {
		t.Errorf("6 sends to one address: %v; want 5 × 202, then 429", got)
	}
}

func TestEmailLoginSignUp(t *testing.T) {
	e := newMailEnv(t, func(c *latchkey.Config) { c.EmailLoginSignUp = true })
	e.addMailUser("taken", "taken's long password", "typed@example.test", false)
	ctx := context.Background()
	b := e.fresh()
	emailLogin(t, b, "new+tag@example.test")
	token, _ := e.signInMail(t, "new+tag@example.test")
	u, err := e.store.UserByEmail(ctx, "new+tag@example.test")
	if err != nil || u.Username != "new" || u.EmailVerified {
		t.Fatalf("the account made at the request: %+v, %v; want username new, unverified", u, err)
	}
	wantErr(t, "a password for the new account", e.browser().Login("new", ""), 400, "invalid_input", "password")
	wantErr(t, "a password for the new account", e.browser().Login("new", "any password at all"), 401, "invalid_credentials", "")
	r := byLink(b, token)
	wantLogin(t, "first sign-in", b, r, "new")
	if r.JSON["user"].(map[string]any)["emailVerified"] != true {
		t.Errorf("the address is not verified after the first sign-in: %s", r.Raw)
	}

	// Another address with the same local part gets another name.
	c := e.fresh()
	emailLogin(t, c, "new@other.test")
	_, code := e.signInMail(t, "new@other.test")
	r = byCode(c, "new@other.test", code)
	if name, _ := r.JSON["user"].(map[string]any)["username"].(string); r.Status != 200 || name == "new" || !strings.HasPrefix(name, "new") {
		t.Errorf("sign-up of new@other.test: %d %s; want a username new…, not new", r.Status, r.Raw)
	}

	// An address typed at someone's registration, unverified, is theirs
	// to verify: no mail, no second account.
	emailLogin(t, e.fresh(), "typed@example.test")
	e.noMail(t, "typed@example.test")
	if u, err := e.store.UserByEmail(ctx, "typed@example.test"); err != nil || u.Username != "taken" {
		t.Errorf("typed@example.test belongs to %+v, %v; want taken's account only", u, err)
	}
}

func TestEmailLoginNoSignUpByDefault(t *testing.T) {
	e := newMailEnv(t)
	emailLogin(t, e.fresh(), "stranger@example.test")
	e.noMail(t, "stranger@example.test")
	if u, err := e.store.UserByEmail(context.Background(), "stranger@example.test"); err == nil {
		t.Errorf("an account was made without --email-login-signup: %+v", u)
	}
}
