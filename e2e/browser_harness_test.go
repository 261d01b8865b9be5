package e2e_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/latchkey/latchkey/internal/testenv"
)

// chromiumPath is Debian's Chromium. Nothing in these tests downloads a
// browser.
const chromiumPath = "/usr/bin/chromium"

// browsers holds a slot for each browser that may run at once: two, so the
// e2e run stays light on a two-core CI machine.
var browsers = make(chan struct{}, 2)

// browser is one headless Chromium with a fresh profile.
type browser struct {
	ctx context.Context // a chromedp context whose browser has started
}

// startBrowser waits for a browser slot, then launches Chromium with a fresh
// user-data-dir. The browser, and everything done in it, ends at the latest
// deployDeadline after it started; it is closed when the test ends.
func startBrowser(t *testing.T) *browser {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		testenv.Unavailable(t, "%s is not installed (apt-get install chromium)", chromiumPath)
	}
	select {
	case browsers <- struct{}{}:
	case <-time.After(deployDeadline):
		t.Fatalf("no browser slot free within %v", deployDeadline)
	}
	// Not t.Context(): it is cancelled before the cleanups run, and the
	// cleanups take the screenshots of failures.
	root, cancelRoot := context.WithTimeout(context.Background(), deployDeadline)
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromiumPath),
		chromedp.Headless,
		chromedp.NoSandbox, // root in CI containers; the pages are our own
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1000, 700),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-default-apps", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-dev-shm-usage", true), // small /dev/shm in containers
		// Two tabs test cross-tab logout: keep the one in the background
		// running at full speed.
		chromedp.Flag("disable-background-timer-throttling", true),
		chromedp.Flag("disable-backgrounding-occluded-windows", true),
		chromedp.Flag("disable-renderer-backgrounding", true),
		// No password manager or leak check prompts over the login form.
		chromedp.Flag("password-store", "basic"),
		chromedp.Flag("use-mock-keychain", true),
		chromedp.Flag("disable-features", "Translate,PasswordLeakDetection,OptimizationHints,MediaRouter"),
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(root, opts...)
	ctx, cancelCtx := chromedp.NewContext(allocCtx)
	t.Cleanup(func() {
		cancelCtx() // closes the browser
		cancelAlloc()
		cancelRoot()
		<-browsers
	})
	if err := within(startTimeout, func() error { return chromedp.Do(ctx) }); err != nil {
		t.Fatalf("starting %s: %v", chromiumPath, err)
	}
	return &browser{ctx: ctx}
}

// within runs f, which must not be given a timeout of its own (the first
// chromedp.Run on a context binds the tab's life to its context), and gives
// up after d. f goes on in the background until the browser ends.
func within(d time.Duration, f func() error) error {
	done := make(chan error, 1)
	go func() { done <- f() }()
	select {
	case err := <-done:
		return err
	case <-time.After(d):
		return fmt.Errorf("no answer within %v", d)
	}
}

// tab is a browser tab in a test. Its methods fail the test with what the
// page showed when a step fails or times out.
type tab struct {
	t       *testing.T
	name    string
	ctx     context.Context
	console *consoleLog
}

// newSession opens a tab in a new browser context: cookies, storage and
// BroadcastChannels of its own, as a new incognito window has.
func (b *browser) newSession(t *testing.T) *tab {
	t.Helper()
	return openTab(t, "tab1", b.ctx, chromedp.WithNewBrowserContext())
}

// newTab opens another tab in tb's browser context: the same user, with the
// same cookies.
func (tb *tab) newTab(name string) *tab {
	tb.t.Helper()
	return openTab(tb.t, name, tb.ctx)
}

func openTab(t *testing.T, name string, parent context.Context, opts ...chromedp.ContextOption) *tab {
	t.Helper()
	ctx, cancel := chromedp.NewContext(parent, opts...)
	tb := &tab{t: t, name: name, ctx: ctx, console: &consoleLog{}}
	if err := within(startTimeout, func() error { return chromedp.Do(ctx) }); err != nil {
		cancel()
		t.Fatalf("opening %s: %v", name, err)
	}
	tb.console.follow(ctx)
	t.Cleanup(func() {
		if t.Failed() {
			tb.saveFailure()
		}
		cancel()
	})
	return tb
}

// run runs one step with stepTimeout.
func (tb *tab) run(what string, steps ...chromedp.Action[chromedp.Void]) {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, stepTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		tb.fatalf("%s: %v", what, err)
	}
}

// eval returns the value of a JavaScript expression (awaited if a promise).
func eval[T any](tb *tab, expr string) T {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, stepTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		tb.fatalf("evaluating %s: %v", expr, err)
	}
	return v
}

// open navigates to url and waits for its load event.
func (tb *tab) open(url string) {
	tb.t.Helper()
	tb.run("opening "+url, chromedp.Navigate(url))
}

// waitFor waits until the JavaScript expression is true. It evaluates it
// afresh every 50 ms, so it holds across navigations (which a single
// evaluation would not survive).
func (tb *tab) waitFor(what, expr string) {
	tb.t.Helper()
	deadline := time.Now().Add(stepTimeout)
	var lastErr error
	for {
		ctx, cancel := context.WithTimeout(tb.ctx, time.Second)
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](expr))
		cancel()
		if err == nil && ok {
			return
		}
		lastErr = err
		if time.Now().After(deadline) {
			tb.fatalf("waiting %v for %s (%s): last error %v", stepTimeout, what, expr, lastErr)
		}
		select {
		case <-tb.ctx.Done():
			tb.fatalf("waiting for %s: %v", what, tb.ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// waitRoute waits until the SPA has rendered route ("login", "register",
// "user"): body data-ready="true" and data-route=route.
func (tb *tab) waitRoute(route string) {
	tb.t.Helper()
	tb.waitFor("route "+route, fmt.Sprintf(
		`!!document.body && document.body.dataset.ready === "true" && document.body.dataset.route === %q`, route))
}

// waitText waits until the element sel exists and its trimmed text is want.
func (tb *tab) waitText(sel, want string) {
	tb.t.Helper()
	tb.waitFor(fmt.Sprintf("%s to read %q", sel, want), fmt.Sprintf(
		`(e => !!e && e.textContent.trim() === %q)(document.querySelector(%q))`, want, sel))
}

// text returns the trimmed text of sel, or "" if there is no such element.
func (tb *tab) text(sel string) string {
	tb.t.Helper()
	return eval[string](tb, fmt.Sprintf(`(e => e ? e.textContent.trim() : "")(document.querySelector(%q))`, sel))
}

// fill replaces the value of the input sel by typing s into it.
func (tb *tab) fill(sel, s string) {
	tb.t.Helper()
	// Not chromedp.Clear: it empties the value attribute, which no longer
	// shows once the user has typed into the field.
	clear := fmt.Sprintf(`(e => { e.value = ""; e.dispatchEvent(new Event("input", {bubbles: true})) })(document.querySelector(%q))`, sel)
	tb.run("typing into "+sel,
		chromedp.WaitVisible(chromedp.CSS(sel)),
		chromedp.Evaluate[chromedp.Void](clear),
		chromedp.SendKeys(chromedp.CSS(sel), s))
	if got := eval[string](tb, fmt.Sprintf(`document.querySelector(%q).value`, sel)); got != s {
		tb.fatalf("%s holds %q after typing %q", sel, got, s)
	}
}

// click clicks the element sel once it is visible.
func (tb *tab) click(sel string) {
	tb.t.Helper()
	tb.run("clicking "+sel, chromedp.WaitVisible(chromedp.CSS(sel)), chromedp.Click(chromedp.CSS(sel)))
}

// tabTo presses Tab, at most max times, until the element with the id has
// the keyboard focus.
func (tb *tab) tabTo(id string, max int) {
	tb.t.Helper()
	for i := 0; ; i++ {
		if eval[string](tb, `document.activeElement ? document.activeElement.id : ""`) == id {
			return
		}
		if i == max {
			tb.fatalf("%d presses of Tab did not reach #%s", max, id)
		}
		tb.run("pressing Tab", chromedp.KeyEvent(kb.Tab))
	}
}

// cookies returns the browser's cookies for url, HttpOnly ones included.
func (tb *tab) cookies(url string) []*network.Cookie {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, stepTimeout)
	defer cancel()
	res, err := chromedp.Call(ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{url}})
	if err != nil {
		tb.fatalf("getting the cookies of %s: %v", url, err)
	}
	return res.Cookies
}

// setCookie stores c in the browser as if url had set it.
func (tb *tab) setCookie(url string, c *network.Cookie) {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, stepTimeout)
	defer cancel()
	p := network.SetCookieParams{
		Name: c.Name, Value: c.Value, URL: url, Path: c.Path,
		Secure: new(c.Secure), HTTPOnly: new(c.HTTPOnly), SameSite: c.SameSite,
	}
	if !c.Session {
		p.Expires = cdp.TimeSinceEpoch(c.Expires)
	}
	if _, err := chromedp.Call(ctx, network.SetCookie, p); err != nil {
		tb.fatalf("setting cookie %s for %s: %v", c.Name, url, err)
	}
}

// screenshot returns a PNG of the viewport.
func (tb *tab) screenshot() ([]byte, error) {
	ctx, cancel := context.WithTimeout(tb.ctx, stepTimeout)
	defer cancel()
	return chromedp.Run(ctx, chromedp.CaptureScreenshot())
}

// state describes what the page shows, for failure messages.
func (tb *tab) state() string {
	ctx, cancel := context.WithTimeout(tb.ctx, 3*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](`JSON.stringify({
		url: location.href,
		ready: document.body && document.body.dataset.ready,
		route: document.body && document.body.dataset.route,
		h1: (document.querySelector("h1") || {}).textContent,
		error: (document.querySelector("#error") || {}).textContent,
		notice: (document.querySelector("#notice") || {}).textContent,
		body: document.body ? document.body.innerText.slice(0, 300) : null,
	})`))
	if err != nil {
		return fmt.Sprintf("(page state unknown: %v)", err)
	}
	return s
}

// fatalf fails the test, saying what the page shows.
func (tb *tab) fatalf(format string, args ...any) {
	tb.t.Helper()
	tb.t.Fatalf("%s: %s\n%s shows: %s", tb.name, fmt.Sprintf(format, args...), tb.name, tb.state())
}

// saveFailure saves a screenshot of the tab where the failure can be looked
// at and logs its path and the tab's console.
func (tb *tab) saveFailure() {
	if msgs := tb.console.String(); msgs != "" {
		tb.t.Logf("%s console:\n%s", tb.name, msgs)
	}
	png, err := tb.screenshot()
	if err != nil {
		tb.t.Logf("%s: no screenshot: %v", tb.name, err)
		return
	}
	dir, err := artifactDir()
	if err != nil {
		tb.t.Logf("%s: no screenshot: %v", tb.name, err)
		return
	}
	name := regexp.MustCompile(`[^A-Za-z0-9_.-]+`).ReplaceAllString(tb.t.Name()+"-"+tb.name, "_") + ".png"
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, png, 0o644); err != nil {
		tb.t.Logf("%s: no screenshot: %v", tb.name, err)
		return
	}
	tb.t.Logf("%s: screenshot of the failure: %s", tb.name, p)
}

var (
	artifactOnce sync.Once
	artifacts    string
	artifactErr  error
)

// artifactDir is where screenshots of failures go: $LATCHKEY_E2E_ARTIFACTS,
// or a new directory under the system's temporary directory that is kept
// after the run (t.TempDir would be removed with the test, screenshot and
// all, before anyone could look at it).
func artifactDir() (string, error) {
	artifactOnce.Do(func() {
		if d := os.Getenv("LATCHKEY_E2E_ARTIFACTS"); d != "" {
			artifacts, artifactErr = d, os.MkdirAll(d, 0o755)
			return
		}
		artifacts, artifactErr = os.MkdirTemp("", "latchkey-e2e-failures-")
	})
	return artifacts, artifactErr
}

// consoleLog keeps what a tab wrote to its console: console calls,
// uncaught exceptions and the browser's own messages (failed requests, CSP
// violations).
type consoleLog struct {
	mu   sync.Mutex
	msgs []string
}

func (c *consoleLog) follow(ctx context.Context) {
	msgs := chromedp.Console(ctx)
	go func() {
		for m, err := range msgs {
			if err != nil {
				return
			}
			c.mu.Lock()
			c.msgs = append(c.msgs, fmt.Sprintf("%s %s: %s (%s:%d)", m.Time.Format("15:04:05.000"), m.Type, m.Text, m.URL, m.Line+1))
			c.mu.Unlock()
		}
	}()
}

func (c *consoleLog) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return strings.Join(c.msgs, "\n")
}

// matching returns the messages that contain s.
func (c *consoleLog) matching(s string) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for _, m := range c.msgs {
		if strings.Contains(m, s) {
			out = append(out, m)
		}
	}
	return out
}
