package e2e_test

import (
	"context"
	"fmt"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"github.com/latchkey/latchkey/internal/exampleapp"
	"github.com/latchkey/latchkey/internal/nginxtest"
	"github.com/latchkey/latchkey/internal/smtptest"
)

// Texts the hosted pages and the example app show (their DOM contract):
// the API's error messages (error.go), the notices of the form flows
// (form.go's landings) and pages.noLink.
const (
	pageWrongPassword  = "The username or password is incorrect."
	pageLoggedOut      = "You are logged out."
	pageMailSent       = "If an account has that address or name, a link to reset its password is on its way."
	pagePasswordSet    = "Your password is changed. Log in with the new one."
	pageVerified       = "Your email address is verified."
	pageBadLink        = "This link is invalid, was used already or has expired. Ask for a new one."
	pageNoLink         = "This page needs the link from your email, with its token. Open the link again, or ask for a new one."
	pageCommonPassword = "Password is one of the most commonly used passwords."
)

// front is a server-rendered app (deploy/example-app/app.py) with latchkey
// in front of it, as the browser sees it: App is http://localhost:PORT.
type front struct {
	App      string
	Latchkey *process
	// Public: /about needs no login (--public-paths /about).
	Public bool
}

// fronts are the two ways latchkey fronts an app; TestWithoutJavaScript
// runs in each. extra goes to latchkey serve.
var fronts = []struct {
	name  string
	start func(t *testing.T, extra ...string) *front
}{
	{"latchkey-require-login", startRequireLogin},
	{"nginx-auth-request", startNginxAuthRequest},
}

// startRequireLogin: latchkey proxies every path but its own to the app
// and asks for a login first (--require-login), /about excepted.
func startRequireLogin(t *testing.T, extra ...string) *front {
	t.Helper()
	app := exampleapp.Start(t)
	lk, err := startLatchkey(t, "127.0.0.1:0", append([]string{"--mode", "proxy", "--spa-upstream", app.URL,
		"--require-login", "--public-paths", "/about"}, extra...)...)
	if err != nil {
		t.Fatal(err)
	}
	return &front{App: localhost(lk.URL), Latchkey: lk, Public: true}
}

// startNginxAuthRequest: nginx runs deploy/nginx/auth-request.conf in
// front of the app and latchkey.
func startNginxAuthRequest(t *testing.T, extra ...string) *front {
	t.Helper()
	app := exampleapp.Start(t)
	lk, err := startLatchkey(t, "127.0.0.1:0", append([]string{"--mode", "proxy", "--trusted-proxies", "127.0.0.1/32",
		"--mail-links", "pages"}, extra...)...)
	if err != nil {
		t.Fatal(err)
	}
	ngx := nginxtest.Start(t, filepath.Join(repoRoot(t), "deploy", "nginx", "auth-request.conf"), map[string]string{
		"LATCHKEY_ADDR": lk.Addr,
		"BACKEND_ADDR":  app.Addr,
		"SERVER_NAME":   "localhost",
	})
	return &front{App: localhost(ngx.URL), Latchkey: lk}
}

// newNoScriptSession is newSession with the page's scripts switched off,
// as a browser with JavaScript disabled has them; the test still reads the
// page through DevTools.
func (b *browser) newNoScriptSession(t *testing.T) *tab {
	t.Helper()
	tb := b.newSession(t)
	ctx, cancel := context.WithTimeout(tb.ctx, stepTimeout)
	defer cancel()
	if _, err := chromedp.Call(ctx, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true}); err != nil {
		t.Fatalf("disabling scripts: %v", err)
	}
	return tb
}

// formTab drives the hosted pages and the example app with forms and
// links only.
type formTab struct {
	*tab
	f    *front
	smtp *smtptest.Server
}

// at waits until the tab shows path (with its query) on the app's origin
// and a page whose h1 is h1.
func (p *formTab) at(path, h1 string) {
	p.t.Helper()
	p.waitFor(fmt.Sprintf("%s (%q)", path, h1), fmt.Sprintf(
		`location.origin === %q && location.pathname + location.search === %q && document.readyState === "complete" && (h => !!h && h.textContent.trim() === %q)(document.querySelector("h1"))`,
		p.f.App, path, h1))
}

// submit clicks a form's button; the browser posts the form.
func (p *formTab) submit(sel string) { p.t.Helper(); p.click(sel) }

func (p *formTab) wantError(msg string)  { p.t.Helper(); p.waitText("#error", msg) }
func (p *formTab) wantNotice(msg string) { p.t.Helper(); p.waitText("#notice", msg) }

// wantNotes waits for the app's protected page greeting name.
func (p *formTab) wantNotes(path, name string) {
	p.t.Helper()
	p.at(path, "Your notes")
	p.waitText("#who", name)
}

// logIn fills in the login page the tab shows and submits it.
func (p *formTab) logIn(name, pw string) {
	p.t.Helper()
	p.fill("#username", name)
	p.fill("#password", pw)
	p.submit("#login-submit")
}

// logOut follows the app's "Log out" link and confirms.
func (p *formTab) logOut() {
	p.t.Helper()
	p.click("#logout")
	p.at("/auth/logout", "Log out")
	p.submit("#logout-submit")
	p.at("/auth/login", "Log in")
	p.wantNotice(pageLoggedOut)
}

// openMailedLink waits for the next mail to addr, and opens its link to
// route (a hosted page) on the app's origin.
func (p *formTab) openMailedLink(addr, route string) string {
	p.t.Helper()
	m := p.smtp.WaitFor(p.t, addr)
	for _, l := range m.TextLinks() {
		u, err := url.Parse(l)
		if err == nil && u.Path == route && u.Query().Get("token") != "" {
			p.open(p.f.App + u.Path + "?" + u.RawQuery)
			return u.Path + "?" + u.RawQuery
		}
	}
	p.fatalf("mail %q to %s has no %s link:\n%s", m.Subject, addr, route, m.Text)
	return ""
}

// TestWithoutJavaScript: a server-rendered app fronted by latchkey, in a
// Chromium whose pages run no script at all: register, see the app's
// protected page with the username, log out, the wrong password, log in
// and come back, verify the address, forgot and reset the password with
// the mail a real SMTP server received, a link without its token or with
// a bad one, and another site's login form (login CSRF), each ending on the
// right page with the right message, and no page breaking latchkey's
// Content-Security-Policy.
func TestWithoutJavaScript(t *testing.T) {
	for _, fr := range fronts {
		t.Run(fr.name, func(t *testing.T) {
			t.Parallel()
			b := startBrowser(t) // first: it waits for a browser slot
			smtp := smtptest.Start(t, smtptest.Options{})
			f := fr.start(t, "--smtp-url", smtp.URL(), "--mail-from", "latchkey@example.test", "--mail-cooldown", "1s")
			foreign := foreignSite(t)
			p := &formTab{tab: b.newNoScriptSession(t), f: f, smtp: smtp}

			// Scripts really are off: the probe page's would set its title.
			p.open(foreign + "/probe")
			if title := eval[string](p.tab, "document.title"); title != "no scripts" {
				t.Fatalf("the probe page's script ran (title %q): scripts are not disabled", title)
			}

			// A logged-out visitor is sent to log in, and registers.
			p.open(f.App + "/notes")
			p.at("/auth/login?next=%2Fnotes", "Log in")
			p.click("#to-register")
			p.at("/auth/register?next=%2Fnotes", "Create an account")
			p.fill("#reg-username", "mia")
			p.fill("#reg-email", "mia@example.test")
			p.fill("#reg-password", "password") // long enough for the form, too common for latchkey
			p.submit("#register-submit")
			p.at("/auth/register?next=%2Fnotes", "Create an account")
			p.wantError(pageCommonPassword)
			if got := eval[string](p.tab, `document.querySelector("#reg-username").value`); got != "mia" {
				t.Errorf("the username field holds %q after the error, want mia", got)
			}
			p.fill("#reg-password", "mia's first password")
			p.submit("#register-submit")
			p.wantNotes("/notes", "mia")

			// The address, verified through the mailed link's page.
			p.openMailedLink("mia@example.test", "/auth/verify")
			p.submit("#verify-submit")
			p.at("/auth/login", "Log in")
			p.wantNotice(pageVerified)

			p.open(f.App + "/notes")
			p.wantNotes("/notes", "mia")
			p.logOut()

			// The wrong password, then the right one, and back to the page.
			p.open(f.App + "/notes")
			p.at("/auth/login?next=%2Fnotes", "Log in")
			p.logIn("mia", "not mia's password")
			p.at("/auth/login?next=%2Fnotes", "Log in")
			p.wantError(pageWrongPassword)
			if got := eval[string](p.tab, `document.querySelector("#username").value`); got != "mia" {
				t.Errorf("the username field holds %q after the error, want mia", got)
			}
			p.logIn("mia", "mia's first password")
			p.wantNotes("/notes", "mia")
			if f.Public {
				p.open(f.App + "/about")
				p.at("/about", "About")
			}
			p.open(f.App + "/")
			p.wantNotes("/", "mia")
			p.logOut()

			// Forgot and reset the password, with the mail.
			p.click("#to-forgot")
			p.at("/auth/forgot", "Forgot your password?")
			p.fill("#forgot-email", "mia@example.test")
			p.submit("#forgot-submit")
			p.at("/auth/login", "Log in")
			p.wantNotice(pageMailSent)
			link := p.openMailedLink("mia@example.test", "/auth/reset")
			p.at(link, "Choose a new password")
			p.fill("#reset-password", "password")
			p.submit("#reset-submit")
			p.at(link, "Choose a new password")
			p.wantError(pageCommonPassword)
			p.fill("#reset-password", "mia's second password")
			p.submit("#reset-submit")
			p.at("/auth/login", "Log in")
			p.wantNotice(pagePasswordSet)
			p.logIn("mia", "mia's first password")
			p.wantError(pageWrongPassword)
			p.logIn("mia", "mia's second password")
			p.wantNotes("/", "mia")

			// The reset page without its token, and with a bad or used one.
			p.open(f.App + "/auth/reset")
			p.at("/auth/reset", "Choose a new password")
			p.wantError(pageNoLink)
			if n := eval[int](p.tab, `document.querySelectorAll("form").length`); n != 0 {
				t.Errorf("the reset page without a token has %d forms, want none", n)
			}
			for _, bad := range []string{strings.TrimPrefix(link, "/auth/reset?token="), "1.bad"} {
				p.open(f.App + "/auth/reset?token=" + bad)
				p.fill("#reset-password", "mia's third password")
				p.submit("#reset-submit")
				p.at("/auth/reset?token="+url.QueryEscape(bad), "Choose a new password")
				p.wantError(pageBadLink)
			}
			p.open(f.App + "/")
			p.wantNotes("/", "mia")

			// Login CSRF: another site's form would log this browser into
			// the demo account. It lands on the login page, not logged in.
			q := &formTab{tab: b.newNoScriptSession(t), f: f, smtp: smtp}
			q.open(foreign + "/post?" + url.Values{"action": {f.App + "/api/login"}, "username": {demoUser}, "password": {demoPassword},
				"csrf_token": {"attacker's"}, "next": {"/notes"}}.Encode())
			q.submit("#go")
			// Refused (Fetch Metadata: cross-site) and sent back to log in.
			// The flash saying why cannot follow: a SameSite=Strict cookie
			// is not sent after a redirect another site started.
			q.at("/auth/login?next=%2Fnotes", "Log in")
			q.open(f.App + "/notes")
			q.at("/auth/login?next=%2Fnotes", "Log in")
			if strings.Contains(fmt.Sprint(q.cookies(f.App+"/")), "latchkey_session") {
				t.Error("another site's form logged the browser in")
			}

			(&env{t: t, tab: p.tab, others: []*tab{q.tab}}).noCSPViolations()
		})
	}
}
