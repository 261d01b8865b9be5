package e2e_test

import (
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/smtptest"
)

var signInCodeRE = regexp.MustCompile(`(?m)^\s*(\d{6})\s*$`)

// TestEmailLogin signs in through the SPA with a link and then with a code,
// both read from the mail latchkey sent to a real SMTP server, in every
// deployment: opening the link signs nobody in until the button is
// pressed, and a mail's link dies with its code.
func TestEmailLogin(t *testing.T) {
	for _, dep := range deployments {
		t.Run(dep.name, func(t *testing.T) {
			t.Parallel()
			b := startBrowser(t) // first: it waits for a browser slot
			smtp := smtptest.Start(t, smtptest.Options{})
			d := dep.start(t, "", "--smtp-url", smtp.URL(), "--mail-from", "latchkey@example.test", "--mail-cooldown", "1s")
			a := &accountTab{tab: b.newSession(t), d: d, smtp: smtp}
			const addr = "noa@example.test"

			a.register("noa", "noa's long password", addr)
			a.openLink(addr, "/verify-email")
			a.waitRoute("verify-email")
			a.click("#verify-submit")
			a.wantProfile("noa")
			a.logout()

			// By link.
			link, _ := a.askSignInMail(addr)
			a.open(a.d.App + link)
			a.waitRoute("login-email")
			if p := eval[string](a.tab, "location.search"); strings.Contains(p, "token") {
				t.Errorf("the token stayed in the address bar: %q", p)
			}
			a.open(a.d.App + "/user") // a scanner's visit: nothing happens
			a.waitRoute("login")
			a.open(a.d.App + link)
			a.waitRoute("login-email")
			a.click("#email-link-submit")
			a.wantProfile("noa")
			a.logout()

			// By code; the same mail's link then no longer works.
			time.Sleep(1100 * time.Millisecond) // past the 1s cool-down
			link, code := a.askSignInMail(addr)
			a.fill("#email-code", code)
			a.click("#email-code-submit")
			a.wantProfile("noa")
			a.logout()
			a.open(a.d.App + link)
			a.waitRoute("login-email")
			a.click("#email-link-submit")
			a.waitFor("the spent link refused", `!!document.querySelector("#email-link-invalid")`)
			(&env{t: t, d: d, tab: a.tab}).noCSPViolations()
		})
	}
}

// askSignInMail asks for a sign-in mail from the login page and returns the
// path and query of its link, and its code; the page then asks for the code.
func (a *accountTab) askSignInMail(addr string) (link, code string) {
	a.t.Helper()
	a.open(a.d.App + "/")
	a.waitRoute("login")
	a.click("#to-email-login")
	a.waitRoute("login-email-start")
	a.fill("#email-login-address", addr)
	a.click("#email-login-send")
	a.waitFor("the code form", `!!document.querySelector("#email-code-form")`)
	m := a.mail(addr)
	for _, l := range m.TextLinks() {
		if u, err := url.Parse(l); err == nil && u.Path == "/login/email" && u.Query().Get("token") != "" {
			link = u.Path + "?" + u.RawQuery
		}
	}
	c := signInCodeRE.FindStringSubmatch(m.Text)
	if link == "" || c == nil {
		a.fatalf("sign-in mail %q to %s without a link or a code:\n%s", m.Subject, addr, m.Text)
	}
	return link, c[1]
}
