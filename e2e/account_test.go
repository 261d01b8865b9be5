package e2e_test

import (
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/smtptest"
)

// TestAccountLifecycle runs every account flow of the SPA in every
// deployment, with latchkey mailing through a real SMTP server: the test
// reads each mail, opens its link in the browser as the user would, and
// checks what happened, old sessions included. In token mode it runs the
// password change and reset too.
func TestAccountLifecycle(t *testing.T) {
	type run struct {
		name   string
		start  func(t *testing.T, dir string, extra ...string) *deployment
		tokens bool
	}
	runs := []run{}
	for _, dep := range deployments {
		runs = append(runs, run{dep.name, dep.start, false})
	}
	runs = append(runs, run{"embedded-token-mode", startEmbedded, true})
	for _, r := range runs {
		t.Run(r.name, func(t *testing.T) {
			t.Parallel()
			b := startBrowser(t) // first: it waits for a browser slot
			smtp := smtptest.Start(t, smtptest.Options{})
			// A short cool-down, so a resend right after registering goes out.
			args := []string{"--smtp-url", smtp.URL(), "--mail-from", "latchkey@example.test", "--mail-cooldown", "1s"}
			if r.tokens {
				args = append(args, jwtArgs...)
			}
			d := r.start(t, "", args...)
			a := &accountTab{tab: b.newSession(t), d: d, smtp: smtp}
			other := &accountTab{tab: b.newSession(t), d: d, smtp: smtp}

			a.register("mia", "mia's first password", "mia@example.test")
			if r.tokens {
				a.mail("mia@example.test") // the verification link, not followed here
			} else {
				a.verifyEmail("mia@example.test")
			}
			other.login("mia", "mia's first password")

			a.changePassword("mia's first password", "mia's second password")
			other.wantLoggedOut("after the password change in another browser")
			a.open(d.App + "/user") // this one carries on in a new session
			a.wantProfile("mia")
			if !strings.Contains(a.mail("mia@example.test").Subject, "password") {
				t.Errorf("no notice of the password change")
			}

			a.logout()
			other.login("mia", "mia's second password")
			a.forgotAndReset("mia@example.test", "mia's third password")
			other.wantLoggedOut("after the reset")
			a.login("mia", "mia's third password")
			if r.tokens {
				return
			}

			a.changeEmail("mia's third password", "mia@example.test", "mia@new.example.test")
			a.deleteAccount("mia's third password")
			a.open(d.App + "/")
			a.waitRoute("login")
			a.fill("#username", "mia")
			a.fill("#password", "mia's third password")
			a.click("#login-submit")
			a.waitText("#error", msgWrongPassword)
			(&env{t: t, d: d, tab: a.tab, others: []*tab{other.tab}}).noCSPViolations()
		})
	}
}

// accountTab drives the SPA's account pages through their element ids.
type accountTab struct {
	*tab
	d    *deployment
	smtp *smtptest.Server
}

func (a *accountTab) mail(to string) *smtptest.Message {
	a.t.Helper()
	return a.smtp.WaitFor(a.t, to)
}

// openLink waits for the next mail to addr, checks its link goes to route,
// and opens that route with the link's query on the app's origin (the
// origin in the mail is --app-url's, which differs from the test's host
// name localhost in some deployments).
func (a *accountTab) openLink(addr, route string) {
	a.t.Helper()
	m := a.mail(addr)
	for _, l := range m.TextLinks() {
		u, err := url.Parse(l)
		if err == nil && u.Path == route && u.Query().Get("token") != "" {
			a.open(a.d.App + u.Path + "?" + u.RawQuery)
			return
		}
	}
	a.fatalf("mail %q to %s has no %s link:\n%s", m.Subject, addr, route, m.Text)
}

func (a *accountTab) register(name, pw, addr string) {
	a.t.Helper()
	a.open(a.d.App + "/register")
	a.waitRoute("register")
	a.fill("#reg-username", name)
	a.fill("#reg-password", pw)
	a.fill("#reg-email", addr)
	a.click("#register-submit")
	a.wantProfile(name)
}

func (a *accountTab) login(name, pw string) {
	a.t.Helper()
	a.open(a.d.App + "/")
	a.waitRoute("login")
	a.fill("#username", name)
	a.fill("#password", pw)
	a.click("#login-submit")
	a.wantProfile(name)
}

func (a *accountTab) logout() {
	a.t.Helper()
	a.open(a.d.App + "/user")
	a.waitRoute("user")
	a.click("#logout")
	a.waitRoute("login")
}

func (a *accountTab) wantProfile(name string) {
	a.t.Helper()
	a.waitRoute("user")
	a.waitText("#profile-username", name)
}

// wantLoggedOut reloads the profile and expects the login page: the
// session is gone on the server, not only in this page.
func (a *accountTab) wantLoggedOut(when string) {
	a.t.Helper()
	a.open(a.d.App + "/user")
	a.waitFor("the login page "+when, `!!document.body && document.body.dataset.ready === "true" && document.body.dataset.route === "login"`)
}

// verifyEmail asks for a new verification link, checks the first one is
// superseded, and follows the new one: opening it changes nothing until the
// button is pressed.
func (a *accountTab) verifyEmail(addr string) {
	a.t.Helper()
	first := a.mail(addr) // sent at registration
	a.open(a.d.App + "/account")
	a.waitRoute("account")
	time.Sleep(1100 * time.Millisecond) // past the 1s cool-down since the first mail
	a.click("#resend-verification")
	a.openLink(addr, "/verify-email")
	a.waitRoute("verify-email")
	if p := eval[string](a.tab, "location.search"); strings.Contains(p, "token") {
		a.t.Errorf("the token stayed in the address bar: %q", p)
	}
	for _, l := range first.TextLinks() {
		if u, err := url.Parse(l); err == nil && u.Path == "/verify-email" {
			b := &accountTab{tab: a.newTab("superseded"), d: a.d, smtp: a.smtp}
			b.open(a.d.App + u.Path + "?" + u.RawQuery)
			b.waitRoute("verify-email")
			b.click("#verify-submit")
			b.waitFor("the superseded link refused", `!!document.querySelector("#verify-invalid")`)
		}
	}
	a.open(a.d.App + "/user") // a scanner's visit: nothing happens
	a.waitText("#profile-email-status", "Not verified")
	// The link still works after being opened: open it again.
	a.reopenLast(addr, "/verify-email")
	a.waitRoute("verify-email")
	a.click("#verify-submit")
	a.wantProfile("mia")
	a.waitText("#profile-email-status", "Verified")
}

// reopenLast opens the link of the last mail to addr again.
func (a *accountTab) reopenLast(addr, route string) {
	a.t.Helper()
	msgs := a.smtp.Messages()
	for i := len(msgs) - 1; i >= 0; i-- {
		for _, to := range msgs[i].To {
			if !strings.EqualFold(to, addr) {
				continue
			}
			for _, l := range msgs[i].TextLinks() {
				if u, err := url.Parse(l); err == nil && u.Path == route {
					a.open(a.d.App + u.Path + "?" + u.RawQuery)
					return
				}
			}
		}
	}
	a.fatalf("no mail to %s with a %s link", addr, route)
}

func (a *accountTab) changePassword(current, next string) {
	a.t.Helper()
	a.open(a.d.App + "/account")
	a.waitRoute("account")
	a.fill("#password-change-current", "not my password")
	a.fill("#password-change-new", next)
	a.click("#password-change-submit")
	a.waitFor("the wrong current password refused", `(e => !!e && e.textContent.trim() !== "")(document.querySelector("#password-change-current-error") || document.querySelector("#error"))`)
	a.fill("#password-change-current", current)
	a.click("#password-change-submit")
	a.waitFor("the change confirmed", `(e => !!e && e.textContent.trim() !== "")(document.querySelector("#notice"))`)
}

func (a *accountTab) forgotAndReset(addr, pw string) {
	a.t.Helper()
	a.open(a.d.App + "/")
	a.waitRoute("login")
	a.click("#to-forgot")
	a.waitRoute("forgot-password")
	a.fill("#forgot-login", addr)
	a.click("#forgot-submit")
	a.waitFor("the sent message", `!!document.querySelector("#forgot-sent")`)
	a.openLink(addr, "/reset-password")
	a.waitRoute("reset-password")
	a.fill("#reset-password", pw)
	a.fill("#reset-confirm", pw)
	a.click("#reset-submit")
	a.waitRoute("login")
	if !strings.Contains(strings.ToLower(a.mail(addr).Subject), "password") {
		a.t.Errorf("no notice of the reset")
	}
	// The link is spent: opening it again and submitting says so.
	a.reopenLast(addr, "/reset-password")
	a.waitRoute("reset-password")
	a.fill("#reset-password", "yet another password")
	a.fill("#reset-confirm", "yet another password")
	a.click("#reset-submit")
	a.waitFor("the spent link refused", `!!document.querySelector("#reset-invalid")`)
}

func (a *accountTab) changeEmail(pw, old, next string) {
	a.t.Helper()
	a.open(a.d.App + "/account")
	a.waitRoute("account")
	a.fill("#email-change-address", next)
	a.fill("#email-change-password", pw)
	a.click("#email-change-submit")
	a.waitFor("the change-of-address mail sent", `(e => !!e && e.textContent.trim() !== "")(document.querySelector("#notice"))`)
	a.openLink(next, "/confirm-email")
	a.waitRoute("confirm-email")
	a.click("#confirm-submit")
	a.wantProfile("mia")
	a.waitText("#profile-email", next)
	a.waitText("#profile-email-status", "Verified")
	if m := a.mail(old); !strings.Contains(strings.ToLower(m.Subject+m.Text), "email") {
		a.t.Errorf("the old address got %q, want a notice of the change", m.Subject)
	}
}

func (a *accountTab) deleteAccount(pw string) {
	a.t.Helper()
	a.open(a.d.App + "/account")
	a.waitRoute("account")
	a.fill("#delete-password", pw)
	a.click("#delete-confirm")
	a.click("#delete-submit")
	a.waitRoute("login")
}

// TestRequireVerifiedEmail: with --require-verified-email, a new account is
// told to verify its address, a login before that is refused with the
// reason (and a new link), and the link lets it in.
func TestRequireVerifiedEmail(t *testing.T) {
	b := startBrowser(t)
	smtp := smtptest.Start(t, smtptest.Options{})
	d := startEmbedded(t, "", "--smtp-url", smtp.URL(), "--mail-from", "latchkey@example.test",
		"--require-verified-email", "--mail-cooldown", "1s")
	a := &accountTab{tab: b.newSession(t), d: d, smtp: smtp}
	a.open(d.App + "/register")
	a.waitRoute("register")
	a.fill("#reg-username", "noa")
	a.fill("#reg-password", "noa's long password")
	a.fill("#reg-email", "noa@example.test")
	a.click("#register-submit")
	a.waitRoute("login")
	a.waitFor("the notice to verify", `(e => !!e && e.textContent.toLowerCase().includes("email"))(document.querySelector("#notice"))`)
	a.mail("noa@example.test")          // the registration's link, superseded below
	time.Sleep(1100 * time.Millisecond) // past the cool-down, so the refused login mails a new link
	a.fill("#username", "noa")
	a.fill("#password", "noa's long password")
	a.click("#login-submit")
	a.waitText("#error", "Verify your email address first: follow the link we have just sent to it, then log in.")
	a.openLink("noa@example.test", "/verify-email")
	a.waitRoute("verify-email")
	a.click("#verify-submit")
	a.waitRoute("login")
	a.login("noa", "noa's long password")
}
