package e2e_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/totp"
)

// msgWrongCode is what the second login step says of a wrong or used code.
const msgWrongCode = "That code is wrong or was used already."

// TestMFA sets up an authenticator app in the SPA, in every deployment and
// in token mode: the test reads the secret from the page (as a person
// types it into their app), confirms it with a code it computes, and keeps
// the recovery codes the page shows. Logging in then needs a code: one the
// test computes logs in, the same code again is refused, a recovery code
// logs in once and not twice. Removing the app needs the password, and
// then the password alone logs in.
func TestMFA(t *testing.T) {
	type run struct {
		name  string
		start func(t *testing.T, dir string, extra ...string) *deployment
		extra []string
	}
	var runs []run
	for _, dep := range deployments {
		runs = append(runs, run{dep.name, dep.start, nil})
	}
	runs = append(runs, run{"embedded-token-mode", startEmbedded, jwtArgs})
	for _, r := range runs {
		t.Run(r.name, func(t *testing.T) {
			t.Parallel()
			b := startBrowser(t) // first: it waits for a browser slot
			d := r.start(t, "", r.extra...)
			a := &accountTab{tab: b.newSession(t), d: d}
			const name, pw = "nia", "nia's long password"
			a.register(name, pw, "nia@example.test")

			m := &mfaPage{a}
			secret, codes := m.enrol(pw)
			a.logout()

			// A code the test computes logs in. The one after the step that
			// confirmed the set-up: one step of skew is allowed, and the
			// confirming code is spent.
			code := totp.Code(secret, totp.Step(time.Now())+1)
			m.passwordStep(name, pw)
			m.secondStep("#mfa-code", code)
			a.wantProfile(name)
			a.logout()

			// The same code again: refused, and the page stays for another.
			m.passwordStep(name, pw)
			a.fill("#mfa-code", code)
			a.click("#mfa-submit")
			a.waitText("#error", msgWrongCode)
			a.waitRoute("login-mfa")

			// A recovery code, on the same pending login: once.
			a.click("#mfa-use-recovery")
			m.secondStep("#mfa-recovery-code", codes[0])
			a.wantProfile(name)
			a.logout()
			m.passwordStep(name, pw)
			a.click("#mfa-use-recovery")
			a.fill("#mfa-recovery-code", codes[0])
			a.click("#mfa-submit")
			a.waitText("#error", msgWrongCode)
			m.secondStep("#mfa-recovery-code", codes[1])
			a.wantProfile(name)

			// The account page counts what is left, and the activity says
			// how the logins went.
			a.open(d.App + "/account")
			a.waitRoute("account")
			a.waitText("#mfa-codes-left", "8")
			s := &sessionsPage{a.tab}
			s.wantEvent("login_succeeded", "Logged in with authenticator app")
			s.wantEvent("login_succeeded", "Logged in with recovery code")
			s.wantEvent("mfa_failed", "Failed second step: code used already")

			// Removing the app needs the password; then the password alone
			// logs in.
			a.fill("#mfa-disable-password", "not nia's password")
			a.click("#mfa-disable-submit")
			a.waitText("#error", "That is not your current password.")
			a.fill("#mfa-disable-password", pw)
			a.click("#mfa-disable-submit")
			a.waitText("#mfa-status", "Off")
			a.logout()
			a.login(name, pw)
			(&env{t: t, d: d, tab: a.tab}).noCSPViolations()
		})
	}
}

// mfaPage drives the SPA's two-factor pages through their element ids.
type mfaPage struct{ *accountTab }

// enrol sets up an authenticator app from the account page and returns
// the secret the page showed and the recovery codes.
func (m *mfaPage) enrol(pw string) (secret []byte, codes []string) {
	m.t.Helper()
	m.open(m.d.App + "/account")
	m.waitRoute("account")
	m.waitText("#mfa-status", "Off")
	m.fill("#mfa-setup-password", pw)
	m.click("#mfa-setup-submit")
	m.waitFor("the QR code", `(e => !!e && e.complete && e.naturalWidth > 0 && e.src.startsWith("data:image/svg+xml;base64,"))(document.querySelector("#mfa-qr"))`)
	text := m.text("#mfa-secret")
	secret, err := totp.DecodeSecret(text)
	if err != nil {
		m.fatalf("the page's key %q: %v", text, err)
	}
	m.fill("#mfa-confirm-code", totp.Code(secret, totp.Step(time.Now())))
	m.click("#mfa-confirm-submit")
	m.waitFor("ten recovery codes", `document.querySelectorAll("#mfa-recovery-codes li").length === 10`)
	m.waitText("#mfa-status", "On")
	m.waitText("#mfa-codes-left", "10")
	codes = eval[[]string](m.tab, `[...document.querySelectorAll("#mfa-recovery-codes li")].map(e => e.textContent.trim())`)
	if len(codes) != 10 {
		m.fatalf("recovery codes %q, want 10", codes)
	}
	if m.text("#mfa-secret") != "" {
		m.fatalf("the key is still shown after the set-up")
	}
	m.click("#mfa-codes-done")
	m.waitFor("the codes hidden", `!document.querySelector("#mfa-recovery-codes")`)
	return secret, codes
}

// passwordStep logs in with the password and waits for the second step.
func (m *mfaPage) passwordStep(name, pw string) {
	m.t.Helper()
	m.open(m.d.App + "/")
	m.waitRoute("login")
	m.fill("#username", name)
	m.fill("#password", pw)
	m.click("#login-submit")
	m.waitRoute("login-mfa")
	for _, c := range m.cookies(m.d.API + "/") {
		if strings.HasSuffix(c.Name, "latchkey_session") || c.Name == "access_token_cookie" {
			m.fatalf("a %s cookie before the second step", c.Name)
		}
		if strings.HasSuffix(c.Name, "latchkey_mfa") && !c.HTTPOnly {
			m.fatalf("the pending login's cookie is not HttpOnly")
		}
	}
}

// secondStep enters a code in the field sel and submits it.
func (m *mfaPage) secondStep(sel, code string) {
	m.t.Helper()
	m.fill(sel, code)
	m.click("#mfa-submit")
	m.waitFor(fmt.Sprintf("the login with %s", sel), `document.body.dataset.route === "user"`)
}
