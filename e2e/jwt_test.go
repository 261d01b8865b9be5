package e2e_test

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// jwtAccessTTL is the access-token lifetime of the token-mode deployments:
// short, so that a scenario can wait for the token to expire, yet long
// enough that a page's requests after one refresh all fit in it on a slow
// machine running -race (else a second refresh would be legitimate).
const jwtAccessTTL = 4 * time.Second

// jwtArgs put latchkey in token mode. --log-level debug makes it log every
// request's method, path and status, which the scenarios count.
var jwtArgs = []string{"--token-mode", "jwt", "--jwt-access-ttl", jwtAccessTTL.String(), "--log-level", "debug"}

// jwtEnv is what a token-mode scenario works with.
type jwtEnv struct {
	*env
}

// jwtScenarios run in every token-mode deployment, each in a browser
// context of its own.
var jwtScenarios = []struct {
	name string
	run  func(e *jwtEnv)
}{
	{"login shows the profile; the token cookies are HttpOnly, the CSRF cookie readable", jwtLogin},
	{"an expired access token is refreshed once, unseen", jwtRefresh},
	{"two tabs meeting the expiry at once share one refresh", jwtTwoTabs},
	{"after logout the old access and refresh cookies get 401", jwtLogoutReplay},
}

// TestBrowserJWT runs every token-mode scenario in every deployment, as
// TestBrowser does for session mode. The CSRF token of the pair then comes
// from the meta tag (embedded), GET /api/getcsrf (nginx) or GET
// /api/getcsrf across origins with CORS (cross-origin).
func TestBrowserJWT(t *testing.T) {
	for _, dep := range deployments {
		t.Run(dep.name, func(t *testing.T) {
			t.Parallel()
			b := startBrowser(t) // first: it waits for a browser slot
			d := dep.start(t, "", jwtArgs...)
			probe := b.newSession(t)
			probe.open(d.App + "/")
			probe.waitRoute("login")
			for _, sc := range jwtScenarios {
				t.Run(sc.name, func(t *testing.T) {
					e := &jwtEnv{&env{t: t, d: d, tab: b.newSession(t)}}
					sc.run(e)
					e.noCSPViolations()
				})
			}
		})
	}
}

// jwtCookies returns the token-mode cookies the browser holds for the API
// (the refresh cookie is only sent to /auth/refresh), keyed by their names
// without a __Host- or __Secure- prefix.
func (e *jwtEnv) jwtCookies(tb *tab) map[string]*network.Cookie {
	e.t.Helper()
	out := map[string]*network.Cookie{}
	for _, u := range []string{e.d.API + "/", e.d.API + "/auth/refresh"} {
		for _, c := range tb.cookies(u) {
			out[strings.TrimPrefix(strings.TrimPrefix(c.Name, "__Host-"), "__Secure-")] = c
		}
	}
	return out
}

// sameOrigin reports whether the SPA and the API share an origin.
func (e *jwtEnv) sameOrigin() bool {
	return strings.HasPrefix(e.d.API, e.d.App+"/")
}

// loginAndLoad logs in as the demo user and waits until the profile has
// loaded /api/data.
func (e *jwtEnv) loginAndLoad(tb *tab) {
	e.t.Helper()
	e.login(tb)
	tb.waitText(".data-status", msgDataLoaded)
}

// accessExpiry returns when the access token the browser holds expires,
// from the exp claim of the JWT.
func (e *jwtEnv) accessExpiry(tb *tab) time.Time {
	e.t.Helper()
	c := e.jwtCookies(tb)["access_token_cookie"]
	if c == nil {
		e.t.Fatalf("no access token cookie for %s", e.d.API)
	}
	parts := strings.Split(c.Value, ".")
	if len(parts) != 3 {
		e.t.Fatalf("the access token cookie holds %q, not a JWT", c.Value)
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		e.t.Fatalf("the access token's payload: %v", err)
	}
	var claims struct {
		Exp int64 `json:"exp"`
	}
	if err := json.Unmarshal(payload, &claims); err != nil || claims.Exp == 0 {
		e.t.Fatalf("the access token's payload %s has no exp (%v)", payload, err)
	}
	return time.Unix(claims.Exp, 0)
}

// waitAccessExpiry waits until the browser's access token has expired:
// past its exp (whole seconds) and latchkey's 1s default leeway for clock
// skew between instances.
func (e *jwtEnv) waitAccessExpiry(tb *tab) {
	e.t.Helper()
	wait := time.Until(e.accessExpiry(tb)) + 2100*time.Millisecond
	if wait > jwtAccessTTL+3*time.Second {
		e.t.Fatalf("the access token expires in %v, want at most %v: is --jwt-access-ttl honoured?", wait.Round(time.Second), jwtAccessTTL)
	}
	time.Sleep(wait)
}

// noMessages fails the test if tb shows a notice or an error: a refresh
// must go unseen.
func (e *jwtEnv) noMessages(tb *tab) {
	e.t.Helper()
	for _, sel := range []string{"#notice", "#error"} {
		if s := tb.text(sel); s != "" {
			e.t.Errorf("%s: %s says %q, want nothing", tb.name, sel, s)
		}
	}
}

// requestLine is latchkey's debug log line for a request (cmd/latchkey's
// logRequests).
var requestLine = regexp.MustCompile(`msg=request method=(\S+) path=(\S+) status=(\d+)`)

// logMark returns the length of latchkey's log, to count requests from.
func (p *process) logMark() int {
	return len(p.log.String())
}

// requests returns the statuses latchkey logged for METHOD PATH after mark,
// in order. CORS preflights (OPTIONS) are other requests.
func (p *process) requests(mark int, method, path string) []int {
	var out []int
	for _, m := range requestLine.FindAllStringSubmatch(p.log.String()[mark:], -1) {
		if m[1] == method && m[2] == path {
			n, _ := strconv.Atoi(m[3])
			out = append(out, n)
		}
	}
	return out
}

// netLog keeps the requests a tab sent ("METHOD URL") and their statuses,
// from the browser's network events.
type netLog struct {
	mu     sync.Mutex
	sent   map[network.RequestID]string
	status map[network.RequestID]int64
	order  []network.RequestID
}

// recordNetwork starts keeping tb's requests.
func recordNetwork(tb *tab) *netLog {
	tb.t.Helper()
	l := &netLog{sent: map[network.RequestID]string{}, status: map[network.RequestID]int64{}}
	err := chromedp.Listen(tb.ctx, func(ev any) {
		l.mu.Lock()
		defer l.mu.Unlock()
		switch ev := ev.(type) {
		case *network.EventRequestWillBeSent:
			if _, seen := l.sent[ev.RequestID]; !seen {
				l.order = append(l.order, ev.RequestID)
			}
			l.sent[ev.RequestID] = ev.Request.Method + " " + ev.Request.URL
		case *network.EventResponseReceived:
			l.status[ev.RequestID] = ev.Response.Status
		}
	})
	if err != nil {
		tb.fatalf("listening to the network: %v", err)
	}
	return l
}

// statuses returns the status of each request "METHOD URL" sent so far (0
// for one not answered yet).
func (l *netLog) statuses(methodURL string) []int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []int64
	for _, id := range l.order {
		if l.sent[id] == methodURL {
			out = append(out, l.status[id])
		}
	}
	return out
}

func jwtLogin(e *jwtEnv) {
	tb := e.tab
	start := time.Now()
	e.loginAndLoad(tb)
	ck := e.jwtCookies(tb)
	access, refresh, csrf := ck["access_token_cookie"], ck["refresh_token_cookie"], ck["csrf_access_token"]
	if access == nil || refresh == nil || csrf == nil || ck["csrf_refresh_token"] == nil {
		names := make([]string, 0, len(ck))
		for n := range ck {
			names = append(names, n)
		}
		e.t.Fatalf("after login the browser holds the cookies %v for %s, want access_token_cookie, refresh_token_cookie, csrf_access_token and csrf_refresh_token", names, e.d.API)
	}
	if !access.HTTPOnly || !refresh.HTTPOnly {
		e.t.Errorf("access cookie HttpOnly=%v, refresh cookie HttpOnly=%v; want both HttpOnly", access.HTTPOnly, refresh.HTTPOnly)
	}
	if refresh.Path != "/api/auth/refresh" {
		e.t.Errorf("refresh cookie path %q, want /api/auth/refresh (sent to nothing else)", refresh.Path)
	}
	if csrf.HTTPOnly {
		e.t.Errorf("csrf_access_token is HttpOnly: the SPA cannot read it")
	}
	if ck["csrf_refresh_token"].Value != csrf.Value {
		e.t.Errorf("csrf_refresh_token %q and csrf_access_token %q differ, want one value per pair", ck["csrf_refresh_token"].Value, csrf.Value)
	}
	if !access.Session || !refresh.Session {
		e.t.Errorf("without remember me, access cookie session=%v, refresh cookie session=%v; want browser-session cookies", access.Session, refresh.Session)
	}
	if e.sameOrigin() {
		js := eval[string](tb, "document.cookie")
		if !strings.Contains(js, "csrf_access_token="+csrf.Value) {
			e.t.Errorf("document.cookie = %q, want csrf_access_token readable", js)
		}
		if strings.Contains(js, access.Value) || strings.Contains(js, refresh.Value) {
			e.t.Errorf("document.cookie = %q: the page can read a token", js)
		}
	}
	if left := e.accessExpiry(tb).Sub(start); left > jwtAccessTTL+2*time.Second {
		e.t.Errorf("the access token lives %v after login, want at most %v (--jwt-access-ttl)", left.Round(time.Second), jwtAccessTTL)
	}
	e.noMessages(tb)
}

func jwtRefresh(e *jwtEnv) {
	tb := e.tab
	e.loginAndLoad(tb)
	before := e.jwtCookies(tb)
	e.waitAccessExpiry(tb)

	mark := e.d.Latchkey.logMark()
	net := recordNetwork(tb)
	// The reloaded page asks GET /api/getsession with the expired access
	// token, gets 401 token_expired, refreshes, asks again and shows the
	// profile, which then loads /api/data: no login page on the way.
	tb.run("reloading", chromedp.Reload())
	tb.waitRoute("user")
	tb.waitText("#profile-username", demoUser)
	tb.waitText(".data-status", msgDataLoaded)
	e.noMessages(tb)

	if got := e.d.Latchkey.requests(mark, "POST", "/api/auth/refresh"); !slices.Equal(got, []int{200}) {
		e.t.Errorf("latchkey answered POST /api/auth/refresh with %v, want exactly one 200", got)
	}
	if got := e.d.Latchkey.requests(mark, "GET", "/api/getsession"); !slices.Equal(got, []int{401, 200}) {
		e.t.Errorf("latchkey answered GET /api/getsession with %v, want [401 200]: token_expired, then the retry", got)
	}
	if got := e.d.Latchkey.requests(mark, "GET", "/api/data"); !slices.Equal(got, []int{200}) {
		e.t.Errorf("latchkey answered GET /api/data with %v, want [200]", got)
	}
	if got := net.statuses("POST " + e.d.API + "/auth/refresh"); !slices.Equal(got, []int64{200}) {
		e.t.Errorf("the page sent POST %s/auth/refresh with the answers %v, want one, answered 200", e.d.API, got)
	}

	after := e.jwtCookies(tb)
	for _, name := range []string{"access_token_cookie", "refresh_token_cookie", "csrf_access_token"} {
		if after[name] == nil || before[name] == nil || after[name].Value == before[name].Value {
			e.t.Errorf("%s was not renewed by the refresh", name)
		}
	}

	// A write after the refresh carries the new pair's CSRF token at the
	// first try (a stale one would be refused, then retried).
	mark = e.d.Latchkey.logMark()
	tb.click("#logout")
	tb.waitRoute("login")
	if got := e.d.Latchkey.requests(mark, "POST", "/api/logout"); !slices.Equal(got, []int{200}) {
		e.t.Errorf("latchkey answered POST /api/logout with %v, want [200]", got)
	}
}

func jwtTwoTabs(e *jwtEnv) {
	one := e.tab
	e.loginAndLoad(one)
	two := one.newTab("tab2")
	e.others = append(e.others, two)
	two.open(e.d.App + "/user")
	two.waitRoute("user")
	two.waitText(".data-status", msgDataLoaded)
	e.waitAccessExpiry(one)

	mark := e.d.Latchkey.logMark()
	tabs := []*tab{one, two}
	nets := []*netLog{recordNetwork(one), recordNetwork(two)}
	// Both SPAs ask GET /api/getsession at the same instant (the tabs
	// share a clock): a popstate makes the SPA's router check the session
	// again, as the back button does, without reloading the page. It sets
	// data-route again once done.
	at := time.Now().Add(500 * time.Millisecond).UnixMilli()
	for _, tb := range tabs {
		eval[bool](tb, fmt.Sprintf(`delete document.body.dataset.route;
			setTimeout(() => dispatchEvent(new PopStateEvent("popstate")), %d - Date.now()); true`, at))
	}
	for _, tb := range tabs {
		tb.waitRoute("user")
		tb.waitText("#profile-username", demoUser)
		e.noMessages(tb)
	}

	refreshes := e.d.Latchkey.requests(mark, "POST", "/api/auth/refresh")
	sessions := e.d.Latchkey.requests(mark, "GET", "/api/getsession")
	e.t.Logf("after the expiry latchkey answered GET /api/getsession %v and POST /api/auth/refresh %v", sessions, refreshes)
	if len(refreshes) == 0 || len(refreshes) > 2 || slices.ContainsFunc(refreshes, func(s int) bool { return s != 200 }) {
		e.t.Errorf("latchkey answered POST /api/auth/refresh with %v, want one or two, all 200", refreshes)
	}
	if n := len(sessions); n < 2 || slices.ContainsFunc(sessions[n-2:], func(s int) bool { return s != 200 }) || !slices.Contains(sessions, 401) {
		e.t.Errorf("latchkey answered GET /api/getsession with %v, want token_expired (401) for at least one tab and 200 for both in the end", sessions)
	}

	// The tab that did not refresh took the new CSRF token from the other:
	// its write goes through at the first try.
	quiet := two
	if refreshed := nets[1].statuses("POST " + e.d.API + "/auth/refresh"); len(refreshed) > 0 {
		quiet = one
		if len(nets[0].statuses("POST "+e.d.API+"/auth/refresh")) > 0 {
			e.t.Logf("both tabs refreshed")
		}
	}
	mark = e.d.Latchkey.logMark()
	quiet.click("#logout")
	quiet.waitRoute("login")
	if got := e.d.Latchkey.requests(mark, "POST", "/api/logout"); !slices.Equal(got, []int{200}) {
		e.t.Errorf("%s: latchkey answered POST /api/logout with %v, want [200] (the CSRF token of the refreshed pair)", quiet.name, got)
	}
	for _, tb := range tabs {
		tb.waitRoute("login")
	}
}

func jwtLogoutReplay(e *jwtEnv) {
	tb := e.tab
	e.loginAndLoad(tb)
	old := e.jwtCookies(tb)
	if old["access_token_cookie"] == nil || old["refresh_token_cookie"] == nil || old["csrf_access_token"] == nil {
		e.t.Fatalf("after login the browser lacks a token-mode cookie for %s: %v", e.d.API, old)
	}
	tb.click("#logout")
	tb.waitRoute("login")
	for name, c := range e.jwtCookies(tb) {
		if name == "access_token_cookie" || name == "refresh_token_cookie" {
			e.t.Errorf("logout left the cookie %s", c.Name)
		}
	}

	// Stolen copies of the cookies are worthless once the user logged out:
	// latchkey revoked the login, not only the cookies.
	for _, c := range old {
		tb.setCookie(e.d.API+"/", c)
	}
	again := e.jwtCookies(tb)
	for name, c := range old {
		if again[name] == nil || again[name].Value != c.Value {
			e.t.Fatalf("could not put the old cookie %s back", c.Name)
		}
	}
	got := eval[string](tb, fmt.Sprintf(`(async () => {
		const data = await fetch(%q, {credentials: "include"});
		const refresh = await fetch(%q, {method: "POST", credentials: "include", headers: {"X-CSRF-TOKEN": %q}});
		return data.status + " " + refresh.status;
	})()`, e.d.API+"/data", e.d.API+"/auth/refresh", old["csrf_access_token"].Value))
	if got != "401 401" {
		e.t.Errorf("replaying the old cookies: GET /api/data and POST /api/auth/refresh answered %s, want 401 401", got)
	}

	// And the SPA says the session is over.
	tb.open(e.d.App + "/user")
	tb.waitRoute("login")
	tb.waitText("#notice", msgExpired)
}
