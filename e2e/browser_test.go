package e2e_test

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// The demo account that latchkey serve --demo creates.
const (
	demoUser     = "test"
	demoPassword = "test"
)

// Texts the SPA shows (its DOM contract), as web/src/lib/messages.svelte.ts
// and its Vitest cases word them.
const (
	msgWrongPassword   = "Wrong username or password."
	msgTooManyAttempts = "Too many attempts. Try again in %s." // "1 second", "2 seconds": Retry-After
	msgUnreachable     = "Cannot reach the server. Check your connection and try again."
	msgServerError     = "The server could not answer (%d). Please try again later." // a status without latchkey's JSON
	msgExpired         = "Your session has expired. Please log in again."
	msgLoggedOut       = "You have been logged out."
	msgDataLoaded      = "Profile loaded from /api/data." // under the profile once GET /api/data has answered
)

// The login throttle of TestBrowser's deployments: a burst small enough
// that a scenario reaches the 429 in a few tries, and a refill short enough
// to wait out. Only failures count, and a login resets them, so the other
// scenarios never meet it.
const (
	loginBurst  = 3
	loginRefill = 2 * time.Second
)

var throttleArgs = []string{"--login-burst", strconv.Itoa(loginBurst), "--login-refill", loginRefill.String()}

// env is what a scenario works with: a deployment, a browser session in a
// fresh browser context, and a foreign site in the same browser.
type env struct {
	t       *testing.T
	d       *deployment
	tab     *tab
	foreign string // http://127.0.0.1:PORT: another site than the app's
	others  []*tab // more tabs the scenario opened, in tab's browser context
}

// scenarios run in every deployment, each in a browser context of its own.
var scenarios = []struct {
	name string
	run  func(e *env)
}{
	{"wrong password shows the error", wrongPassword},
	{"right password shows the profile", rightPassword},
	{"remember me makes the session cookie persistent", rememberMe},
	{"register refuses a weak password, then logs the new user in", register},
	{"keyboard alone logs in and out", keyboardOnly},
	{"reload keeps the session", reloadKeepsSession},
	{"logout returns to login", logoutReturnsToLogin},
	{"session cookie is HttpOnly and dead after logout", cookieHttpOnlyAndReplay},
	{"tampered session cookie lands on login", tamperedCookie},
	{"foreign site cannot change state", foreignSiteCannotLogOut},
	{"logout in one tab logs out the other", twoTabs},
	{"too many failed logins say how long to wait, then the right password works", tooManyAttempts},
	{"latchkey down shows the unreachable message, and the page recovers when it is back", serverDown},
}

// TestBrowser runs every scenario in every deployment. The deployments run
// in parallel, each with a browser of its own (at most two at once); the
// scenarios of one deployment run one after another, each in a fresh
// browser context.
func TestBrowser(t *testing.T) {
	for _, dep := range deployments {
		t.Run(dep.name, func(t *testing.T) {
			t.Parallel()
			b := startBrowser(t) // first: it waits for a browser slot
			d := dep.start(t, "", throttleArgs...)
			foreign := foreignSite(t)
			// Fail fast, and once, when the SPA does not even load.
			probe := b.newSession(t)
			probe.open(d.App + "/")
			probe.waitRoute("login")
			for _, sc := range scenarios {
				t.Run(sc.name, func(t *testing.T) {
					e := &env{t: t, d: d, tab: b.newSession(t), foreign: foreign}
					sc.run(e)
					e.noCSPViolations()
				})
			}
		})
	}
}

// login logs in as the demo user from the login page and waits for the
// profile.
func (e *env) login(tb *tab) {
	e.t.Helper()
	tb.open(e.d.App + "/")
	tb.waitRoute("login")
	tb.fill("#username", demoUser)
	tb.fill("#password", demoPassword)
	tb.click("#login-submit")
	tb.waitRoute("user")
	tb.waitText("#profile-username", demoUser)
}

// noCSPViolations fails the test if a page of the app broke its
// Content-Security-Policy: the SPA must run under latchkey's strict one.
func (e *env) noCSPViolations() {
	e.t.Helper()
	for _, tb := range append([]*tab{e.tab}, e.others...) {
		if v := tb.console.matching("Content Security Policy"); len(v) > 0 {
			e.t.Errorf("%s: the page broke its Content-Security-Policy:\n%s", tb.name, strings.Join(v, "\n"))
		}
	}
}

// sessionCookie returns the session cookie that the browser holds for the
// API, or nil.
func (e *env) sessionCookie(tb *tab) *network.Cookie {
	e.t.Helper()
	for _, c := range tb.cookies(e.d.API + "/") {
		if c.Name == "latchkey_session" || c.Name == "__Host-latchkey_session" {
			return c
		}
	}
	return nil
}

func wrongPassword(e *env) {
	tb := e.tab
	tb.open(e.d.App + "/")
	tb.waitRoute("login")
	tb.waitText("h1", "Log in")
	tb.fill("#username", demoUser)
	tb.fill("#password", "not the password")
	tb.click("#login-submit")
	tb.waitText("#error", msgWrongPassword)
	if role := eval[string](tb, `document.querySelector("#error").getAttribute("role") || ""`); role != "alert" {
		e.t.Errorf(`#error has role=%q, want "alert" (screen readers announce it)`, role)
	}
	tb.waitRoute("login")
	if c := e.sessionCookie(tb); c != nil {
		e.t.Errorf("a failed login left a session cookie %s", c.Name)
	}
}

func rightPassword(e *env) {
	tb := e.tab
	e.login(tb)
	if p := eval[string](tb, "location.pathname"); p != "/user" {
		e.t.Errorf("profile at path %q, want /user", p)
	}
	if id := tb.text("#profile-id"); id == "" {
		e.t.Errorf("#profile-id is empty, want the user's id")
	}
	if c := e.sessionCookie(tb); c == nil || !c.Session {
		e.t.Errorf("without remember me, session cookie = %+v, want a session cookie (gone with the browser)", c)
	}
	// Visiting / while logged in goes to the profile.
	tb.open(e.d.App + "/")
	tb.waitRoute("user")
	tb.waitText("#profile-username", demoUser)
}

func reloadKeepsSession(e *env) {
	tb := e.tab
	e.login(tb)
	tb.run("reloading", chromedp.Reload())
	tb.waitRoute("user")
	tb.waitText("#profile-username", demoUser)
	if n := tb.text("#notice"); n != "" {
		e.t.Errorf("after a reload #notice says %q, want nothing", n)
	}
}

func logoutReturnsToLogin(e *env) {
	tb := e.tab
	e.login(tb)
	tb.click("#logout")
	tb.waitRoute("login")
	if p := eval[string](tb, "location.pathname"); p != "/" {
		e.t.Errorf("after logout at path %q, want /", p)
	}
	// The session is gone, not only the page: /user leads back to login.
	tb.open(e.d.App + "/user")
	tb.waitRoute("login")
}

func cookieHttpOnlyAndReplay(e *env) {
	tb := e.tab
	e.login(tb)
	c := e.sessionCookie(tb)
	if c == nil {
		e.t.Fatalf("no session cookie for %s after login", e.d.API)
	}
	if !c.HTTPOnly {
		e.t.Errorf("session cookie %s is not HttpOnly", c.Name)
	}
	if jsCookies := eval[string](tb, "document.cookie"); strings.Contains(jsCookies, c.Name) || strings.Contains(jsCookies, c.Value) {
		e.t.Errorf("document.cookie = %q: the page can read the session cookie", jsCookies)
	}

	tb.click("#logout")
	tb.waitRoute("login")
	// A stolen copy of the cookie is worthless once the user logged out:
	// latchkey deleted the session, not only the cookie.
	tb.setCookie(e.d.API+"/", c)
	if again := e.sessionCookie(tb); again == nil || again.Value != c.Value {
		e.t.Fatalf("could not put the old session cookie back: have %v", again)
	}
	tb.open(e.d.App + "/user")
	tb.waitRoute("login")
	tb.waitText("#notice", msgExpired)
}

func tamperedCookie(e *env) {
	tb := e.tab
	e.login(tb)
	c := e.sessionCookie(tb)
	if c == nil {
		e.t.Fatalf("no session cookie for %s after login", e.d.API)
	}
	// Change the first character: the last one of a base64 token may only
	// carry padding bits, which a decoder can ignore.
	bad := *c
	first := "A"
	if strings.HasPrefix(c.Value, "A") {
		first = "B"
	}
	bad.Value = first + c.Value[1:]
	tb.setCookie(e.d.API+"/", &bad)
	tb.open(e.d.App + "/user")
	tb.waitRoute("login")
	tb.waitText("#notice", msgExpired)
	if role := eval[string](tb, `document.querySelector("#notice").getAttribute("role") || ""`); role != "status" {
		e.t.Errorf(`#notice has role=%q, want "status" (screen readers announce it)`, role)
	}
}

func foreignSiteCannotLogOut(e *env) {
	tb := e.tab
	e.login(tb)
	logout := e.d.API + "/logout"

	// A cross-site form POST: a top-level navigation, the kind of request
	// that SameSite=Lax would still let through if latchkey relied on it
	// alone. It is refused and, since a browser tab posted an HTML form,
	// sent to the hosted logout page (303) rather than shown JSON.
	landing := strings.TrimSuffix(e.d.API, "/api") + "/auth/logout"
	tb.open(e.foreign + "/form?action=" + url.QueryEscape(logout))
	tb.waitFor("the form to land on "+landing, fmt.Sprintf(`location.href === %q && document.readyState === "complete"`, landing))
	body := eval[string](tb, "document.body ? document.body.innerText : ''")
	if strings.Contains(body, `"logout":true`) || !strings.Contains(body, "End your login in this browser?") {
		e.t.Errorf("cross-site form POST %s landed on %q; want the logout page, not logged out", logout, body)
	}

	// fetch() with the user's cookies from the foreign page: the browser
	// hides the answer (no CORS for that origin) and latchkey refuses it.
	tb.open(e.foreign + "/blank")
	got := eval[string](tb, fmt.Sprintf(`fetch(%q, {method: "POST", credentials: "include"}).then(
		r => "answered " + r.status, err => "rejected: " + err.name)`, logout))
	if !strings.HasPrefix(got, "rejected") {
		e.t.Errorf("cross-site fetch POST %s from %s: %s; want it rejected", logout, e.foreign, got)
	}

	// The user is still logged in.
	tb.open(e.d.App + "/user")
	tb.waitRoute("user")
	tb.waitText("#profile-username", demoUser)
}

func twoTabs(e *env) {
	one := e.tab
	e.login(one)
	two := one.newTab("tab2")
	e.others = append(e.others, two)
	two.open(e.d.App + "/user")
	two.waitRoute("user")
	two.waitText("#profile-username", demoUser)

	two.click("#logout")
	two.waitRoute("login")
	// The first tab follows without being touched.
	one.waitRoute("login")
	one.waitText("#notice", msgLoggedOut)
}

func rememberMe(e *env) {
	tb := e.tab
	tb.open(e.d.App + "/")
	tb.waitRoute("login")
	tb.fill("#username", demoUser)
	tb.fill("#password", demoPassword)
	tb.click("#remember")
	tb.click("#login-submit")
	tb.waitRoute("user")
	tb.waitText("#profile-username", demoUser)
	c := e.sessionCookie(tb)
	if c == nil {
		e.t.Fatalf("no session cookie for %s after login", e.d.API)
	}
	// latchkey's remember-me absolute timeout is 30 days by default, its
	// idle timeout 14: the cookie lasts at least as long as the latter.
	if left := time.Until(time.Unix(int64(c.Expires), 0)); c.Session || left < 13*24*time.Hour {
		e.t.Errorf("with remember me, session cookie session=%v, expires in %v; want a persistent cookie for about 14 days", c.Session, left.Round(time.Hour))
	}
}

func register(e *env) {
	tb := e.tab
	const name, pw = "alice", "correct horse battery staple"
	tb.open(e.d.App + "/")
	tb.waitRoute("login")
	tb.click("#to-register")
	tb.waitRoute("register")
	tb.waitText("h1", "Create an account")
	tb.fill("#reg-username", name)
	tb.fill("#reg-password", "password") // among the most common
	tb.click("#register-submit")
	tb.waitFor("#error to say why", `(e => !!e && e.textContent.trim() !== "")(document.querySelector("#error"))`)
	tb.waitRoute("register")

	tb.fill("#reg-password", pw)
	tb.fill("#reg-email", "alice@example.com")
	tb.click("#register-submit")
	tb.waitRoute("user")
	tb.waitText("#profile-username", name)

	// The new account works for a later login too.
	tb.click("#logout")
	tb.waitRoute("login")
	tb.fill("#username", name)
	tb.fill("#password", pw)
	tb.click("#login-submit")
	tb.waitRoute("user")
	tb.waitText("#profile-username", name)
}

func keyboardOnly(e *env) {
	tb := e.tab
	tb.open(e.d.App + "/")
	tb.waitRoute("login")
	if bare := eval[string](tb, `[...document.querySelectorAll("input")].filter(i => i.type !== "hidden" && i.labels.length === 0).map(i => "#" + i.id).join(" ")`); bare != "" {
		e.t.Errorf("inputs without a label: %s", bare)
	}
	tb.tabTo("username", 10)
	if outline := eval[string](tb, `getComputedStyle(document.activeElement).outlineStyle`); outline == "none" {
		e.t.Errorf("the focused #username has no outline: keyboard focus must be visible")
	}
	tb.run("typing the username", chromedp.KeyEvent(demoUser))
	tb.tabTo("password", 1)
	tb.run("typing the password and Enter", chromedp.KeyEvent(demoPassword+kb.Enter))
	tb.waitRoute("user")
	tb.waitText("#profile-username", demoUser)
	tb.tabTo("logout", 15)
	tb.run("pressing Enter", chromedp.KeyEvent(kb.Enter))
	tb.waitRoute("login")
}

func tooManyAttempts(e *env) {
	tb := e.tab
	tb.open(e.d.App + "/")
	tb.waitRoute("login")
	tb.fill("#username", demoUser)
	// attempt submits a wrong password and returns what #error then says.
	// The SPA empties the password field once the answer is shown.
	attempt := func() string {
		tb.fill("#password", "not the password")
		tb.click("#login-submit")
		tb.waitFor("the answer to the login", `document.querySelector("#password").value === "" && !document.querySelector("#login-submit").disabled`)
		return tb.text("#error")
	}
	for i := range loginBurst {
		if got := attempt(); got != msgWrongPassword {
			tb.fatalf("failed login %d of the burst of %d: #error says %q, want %q", i+1, loginBurst, got, msgWrongPassword)
		}
	}
	// The bucket refills while the browser types: on a slow machine one
	// more failure can pass before the 429.
	got, failed := msgWrongPassword, loginBurst
	for ; got == msgWrongPassword; failed++ {
		if failed == loginBurst+3 {
			tb.fatalf("%d failed logins, still no 429 (--login-burst %d, --login-refill %v)", failed, loginBurst, loginRefill)
		}
		got = attempt()
	}
	wait := 0
	for n := 1; time.Duration(n)*time.Second <= loginRefill; n++ {
		words := fmt.Sprintf("%d seconds", n)
		if n == 1 {
			words = "1 second"
		}
		if got == fmt.Sprintf(msgTooManyAttempts, words) {
			wait = n
		}
	}
	if wait == 0 {
		tb.fatalf("#error says %q, want %q with 1 second to %v (latchkey's Retry-After)", got, msgTooManyAttempts, loginRefill)
	}
	e.t.Logf("throttled after %d failed logins: %q", failed-1, got)
	if role := eval[string](tb, `document.querySelector("#error").getAttribute("role") || ""`); role != "alert" {
		e.t.Errorf(`#error has role=%q, want "alert" (screen readers announce it)`, role)
	}
	// The form stays usable: the button enabled, the username kept and the
	// focus in the emptied password field, ready for the next try.
	form := eval[string](tb, `JSON.stringify({disabled: document.querySelector("#login-submit").disabled,
		username: document.querySelector("#username").value, focus: document.activeElement && document.activeElement.id})`)
	if want := fmt.Sprintf(`{"disabled":false,"username":%q,"focus":"password"}`, demoUser); form != want {
		e.t.Errorf("after the 429 the form is %s, want %s", form, want)
	}
	tb.waitRoute("login")
	if c := e.sessionCookie(tb); c != nil {
		e.t.Errorf("a throttled login left a session cookie %s", c.Name)
	}

	// Once the wait is over the right password goes through.
	time.Sleep(time.Duration(wait) * time.Second)
	tb.fill("#password", demoPassword)
	tb.click("#login-submit")
	tb.waitRoute("user")
	tb.waitText("#profile-username", demoUser)
	if s := tb.text("#error"); s != "" {
		e.t.Errorf("after the login #error still says %q", s)
	}
}

func serverDown(e *env) {
	tb := e.tab
	e.login(tb)
	tb.waitText(".data-status", msgDataLoaded)
	e.d.Latchkey.stop()
	// The logout button's POST finds no server: a refused connection, or
	// the proxy's error page when nginx stands in front.
	want := msgUnreachable
	if e.d.Gateway {
		want = fmt.Sprintf(msgServerError, http.StatusBadGateway)
	}
	tb.click("#logout")
	tb.waitText("#error", want)
	if role := eval[string](tb, `document.querySelector("#error").getAttribute("role") || ""`); role != "alert" {
		e.t.Errorf(`#error has role=%q, want "alert" (screen readers announce it)`, role)
	}
	// The page stays whole: still the profile, the button usable again.
	tb.waitFor("#logout to be usable again", `!document.querySelector("#logout").disabled`)
	tb.waitRoute("user")
	if got := tb.text("#profile-username"); got != demoUser {
		e.t.Errorf("with latchkey down #profile-username says %q, want %q", got, demoUser)
	}

	// latchkey is back, with its data: the same button now logs out.
	e.d.Latchkey.restart(e.t)
	tb.click("#logout")
	tb.waitRoute("login")
	tb.waitText("#notice", msgLoggedOut)
	if s := tb.text("#error"); s != "" {
		e.t.Errorf("after the logout #error still says %q", s)
	}
}
