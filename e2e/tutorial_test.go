package e2e_test

import (
	"fmt"
	"path/filepath"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestTutorialFrontend runs testdata/tutorial, a frontend that handles its
// CSRF token as the Svelte apps of the Flask-Login + Flask-WTF SPA tutorial
// do (read once per page load, never rotated; logout is a GET), in every
// deployment: latchkey serving it with --spa-dir, nginx serving it, and
// its own origin. Such a frontend logs out and in again without a reload,
// before and after a reload while logged in; the token it holds never
// authorises a session that started after it was read.
func TestTutorialFrontend(t *testing.T) {
	dir := filepath.Join(repoRoot(t), "e2e", "testdata", "tutorial")
	for _, dep := range deployments {
		t.Run(dep.name, func(t *testing.T) {
			t.Parallel()
			b := startBrowser(t) // first: it waits for a browser slot
			d := dep.start(t, dir)
			// latchkey fills the page's self-closing csrf-token tag; nginx and
			// the static server leave it empty.
			tokenFrom := "getcsrf"
			if dep.name == "embedded" {
				tokenFrom = "meta"
			}
			tb := &tutorialTab{tab: b.newSession(t), d: d, tokenFrom: tokenFrom}

			tb.load("out")
			tb.login(demoPassword+"x", "login: 401 invalid_credentials")
			tb.login(demoPassword, "")
			tb.data("Welcome, " + demoUser + "!")
			tb.logout()
			tb.data("data: 401")

			// The tutorial's bug report: this login got 403 csrf_failed.
			tb.login(demoPassword, "")
			tb.data("Welcome, " + demoUser + "!")
			// Rotation: the token read while logged out does not authorise
			// the session's writes; the login's own token would.
			tb.postLogout("the page's pre-login token", tb.held(), "403 csrf_failed")
			tb.data("Welcome, " + demoUser + "!")

			// A reload while logged in reads a token bound to this session.
			tb.reload("in")
			tb.logout()
			tb.login(demoPassword, "")
			tb.data("Welcome, " + demoUser + "!")
			tb.postLogout("the token read before this login", tb.held(), "403 csrf_failed")
			tb.postLogout("the login's X-CSRFToken", tb.loginToken(), "200")
			tb.data("data: 401")

			(&env{t: t, d: d, tab: tb.tab}).noCSPViolations()
		})
	}
}

// tutorialTab drives testdata/tutorial through its element ids.
type tutorialTab struct {
	*tab
	d         *deployment
	tokenFrom string // where the page should read its token: "meta" or "getcsrf"
}

// load opens the page and waits until it has read its token and shows
// state ("in" or "out").
func (tb *tutorialTab) load(state string) {
	tb.t.Helper()
	tb.open(tb.d.App + "/")
	tb.ready(state)
}

// reload reloads the page, as the browser's button does.
func (tb *tutorialTab) reload(state string) {
	tb.t.Helper()
	tb.run("reloading", chromedp.Reload())
	tb.ready(state)
}

func (tb *tutorialTab) ready(state string) {
	tb.t.Helper()
	tb.waitFor("the page to read its token", fmt.Sprintf(
		`!!document.body && document.body.dataset.ready === "true" && document.body.dataset.state === %q`, state))
	if got := eval[string](tb.tab, `document.body.dataset.tokenFrom`); got != tb.tokenFrom {
		tb.fatalf("the page read its token from %s, want %s", got, tb.tokenFrom)
	}
	if tb.held() == "" {
		tb.fatalf("the page read an empty token")
	}
}

// login logs in as the demo user with password, and waits for the page to
// show the error wantErr, or for "" to be logged in.
func (tb *tutorialTab) login(password, wantErr string) {
	tb.t.Helper()
	tb.run("clearing the error", chromedp.Evaluate[chromedp.Void](`document.getElementById("error").textContent = ""`))
	tb.fill("#username", demoUser)
	tb.fill("#password", password)
	tb.click("#login")
	tb.waitFor("the login's answer",
		`document.body.dataset.state === "in" || document.getElementById("error").textContent !== ""`)
	state, msg := eval[string](tb.tab, `document.body.dataset.state`), tb.text("#error")
	switch {
	case wantErr == "" && state != "in":
		tb.fatalf("login without a reload: %s, want logged in", msg)
	case wantErr != "" && (state != "out" || msg != wantErr):
		tb.fatalf("login with a wrong password: state %s, error %q, want out and %q", state, msg, wantErr)
	}
}

// logout clicks logout (a GET) and waits until the page shows it.
func (tb *tutorialTab) logout() {
	tb.t.Helper()
	tb.click("#logout")
	tb.waitFor("logged out", `document.body.dataset.state === "out" || document.getElementById("error").textContent !== ""`)
	if msg := tb.text("#error"); msg != "" {
		tb.fatalf("GET logout: %s", msg)
	}
}

// data clicks data (GET /api/data) and waits for want.
func (tb *tutorialTab) data(want string) {
	tb.t.Helper()
	tb.run("clearing the result", chromedp.Evaluate[chromedp.Void](`document.getElementById("result").textContent = ""`))
	tb.click("#data")
	tb.waitText("#result", want)
}

// held returns the token the page read at its load.
func (tb *tutorialTab) held() string {
	tb.t.Helper()
	return eval[string](tb.tab, `tutorial.token() || ""`)
}

// loginToken returns the X-CSRFToken of the page's last successful login.
func (tb *tutorialTab) loginToken() string {
	tb.t.Helper()
	tok := eval[string](tb.tab, `tutorial.loginToken() || ""`)
	if tok == "" {
		tb.fatalf("the login's response had no X-CSRFToken the page could read")
	}
	return tok
}

// postLogout POSTs /api/logout from the page with tok and checks the
// answer: "STATUS CODE" for an error, "STATUS" otherwise.
func (tb *tutorialTab) postLogout(what, tok, want string) {
	tb.t.Helper()
	got := eval[string](tb.tab, fmt.Sprintf(`fetch(%q, {
		method: "POST", credentials: "include",
		headers: {"Content-Type": "application/json", "X-CSRFToken": %q},
	}).then(async (r) => {
		const body = await r.json().catch(() => null);
		return body && body.error ? r.status + " " + body.error.code : String(r.status);
	})`, tb.d.API+"/logout", tok))
	if got != want {
		tb.fatalf("POST /api/logout with %s = %s, want %s", what, got, want)
	}
}
