package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/latchkey/latchkey/internal/apitest"
)

// appSaw is what the application behind latchkey saw of a request: its
// path, and every header a CGI, WSGI, PHP or Rack app would read as
// latchkey's (HTTP_X_LATCHKEY_*), by that name.
type appSaw struct {
	Path     string
	Identity map[string][]string
	Cookie   string
}

// startApp is a server-rendered application that trusts latchkey's
// identity headers.
func startApp(t *testing.T) (*httptest.Server, func() int) {
	t.Helper()
	var mu sync.Mutex
	hits := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		hits++
		mu.Unlock()
		saw := appSaw{Path: r.URL.RequestURI(), Identity: map[string][]string{}, Cookie: r.Header.Get("Cookie")}
		for name, v := range r.Header {
			if cgi := "HTTP_" + strings.ToUpper(strings.ReplaceAll(name, "-", "_")); strings.HasPrefix(cgi, "HTTP_X_LATCHKEY_") {
				saw.Identity[cgi] = append(saw.Identity[cgi], v...)
			}
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(saw)
	}))
	t.Cleanup(srv.Close)
	return srv, func() int { mu.Lock(); defer mu.Unlock(); return hits }
}

var csrfField = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)

// TestServeRequireLogin: serve --require-login fronts a server-rendered
// app: a logged-out visitor goes to the hosted login page and back, a
// script gets 401, the app learns who is calling and nothing a client
// claims, in any spelling.
func TestServeRequireLogin(t *testing.T) {
	app, hits := startApp(t)
	s := startServe(t, nil, append([]string{"--mode", "proxy", "--spa-upstream", app.URL, "--require-login",
		"--public-paths", "/static/,/about", "--demo", "--data", t.TempDir()}, fastArgon2...)...)
	b := apitest.New(t, s.url).NoRedirects()
	nav := []string{"Accept", apitest.NavigationAccept, "Sec-Fetch-Mode", "navigate"}

	r := b.Get("/notes?page=2", nav...)
	if r.Status != 303 || r.Header.Get("Location") != "/auth/login?next=%2Fnotes%3Fpage%3D2" {
		t.Fatalf("logged-out page load = %d %q, want 303 to the login page", r.Status, r.Header.Get("Location"))
	}
	if r := b.Get("/notes", "Accept", "*/*", "Sec-Fetch-Mode", "cors"); r.Status != 401 || r.ErrCode() != "unauthorized" {
		t.Errorf("logged-out fetch = %d %s, want 401 JSON", r.Status, r.Raw)
	}
	if hits() != 0 {
		t.Fatalf("the app was reached %d times while logged out", hits())
	}
	spoof := []string{"X-Latchkey-User-Id", "999", "X-Latchkey-Username", "admin", "X-Latchkey-Roles", "admin"}
	r = b.Get("/static/app.css", spoof...)
	var saw appSaw
	if err := json.Unmarshal([]byte(r.Raw), &saw); r.Status != 200 || err != nil || len(saw.Identity) != 0 {
		t.Errorf("public path = %d %s, want the app without any identity", r.Status, r.Raw)
	}

	page := b.Get("/auth/login?next=%2Fnotes%3Fpage%3D2", nav...)
	m := csrfField.FindStringSubmatch(page.Raw)
	if page.Status != 200 || m == nil || !strings.Contains(page.Raw, `name="next" value="/notes?page=2"`) {
		t.Fatalf("login page = %d:\n%s", page.Status, page.Raw)
	}
	r = b.PostForm("/api/login", url.Values{"csrf_token": {m[1]}, "username": {"test"}, "password": {"test"}, "next": {"/notes?page=2"}})
	if r.Status != 303 || r.Header.Get("Location") != "/notes?page=2" {
		t.Fatalf("form login = %d %q %s", r.Status, r.Header.Get("Location"), r.Raw)
	}

	// Header spoofing through the proxy: every spelling a backend could
	// read as latchkey's is replaced by the one latchkey sets.
	raw := http.Header{}
	for _, name := range []string{"X-Latchkey-User-Id", "x-latchkey-user-id", "X_Latchkey_User_Id", "X-LATCHKEY_USERNAME", "x_latchkey_roles", "X-Latchkey-Role"} {
		raw[name] = []string{"999"}
	}
	req, _ := http.NewRequest("GET", s.url+"/notes?page=2", nil)
	req.Header = raw
	for _, c := range b.Cookies("/") {
		req.AddCookie(c)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	saw = appSaw{}
	if err := json.Unmarshal(body, &saw); res.StatusCode != 200 || err != nil {
		t.Fatalf("GET /notes logged in = %d %s", res.StatusCode, body)
	}
	want := map[string][]string{"HTTP_X_LATCHKEY_USER_ID": {"1"}, "HTTP_X_LATCHKEY_USERNAME": {"test"}}
	if saw.Path != "/notes?page=2" || len(saw.Identity) != len(want) || strings.Join(saw.Identity["HTTP_X_LATCHKEY_USER_ID"], ",") != "1" ||
		strings.Join(saw.Identity["HTTP_X_LATCHKEY_USERNAME"], ",") != "test" {
		t.Errorf("the app saw %+v, want exactly %v", saw, want)
	}
	if strings.Contains(saw.Cookie, "latchkey_") {
		t.Errorf("latchkey's cookies reached the app: %q", saw.Cookie)
	}

	// The app's own forms post without latchkey's token; another site's
	// pages cannot.
	if r := b.Do("POST", "/notes", strings.NewReader("text=hi"), "Content-Type", "application/x-www-form-urlencoded", "Origin", s.url, "Sec-Fetch-Site", "same-origin"); r.Status != 200 {
		t.Errorf("the app's own form = %d %s", r.Status, r.Raw)
	}
	before := hits()
	if r := b.Do("POST", "/notes", strings.NewReader("text=hi"), "Content-Type", "application/x-www-form-urlencoded", "Origin", "https://evil.example", "Sec-Fetch-Site", "cross-site"); r.Status != 403 {
		t.Errorf("another site's form = %d %s, want 403", r.Status, r.Raw)
	}
	if hits() != before {
		t.Error("a cross-site write reached the app")
	}

	page = b.Get("/auth/logout", nav...)
	m = csrfField.FindStringSubmatch(page.Raw)
	if m == nil {
		t.Fatalf("logout page:\n%s", page.Raw)
	}
	if r := b.PostForm("/api/logout", url.Values{"csrf_token": {m[1]}}); r.Status != 303 || r.Header.Get("Location") != "/auth/login" {
		t.Errorf("form logout = %d %q", r.Status, r.Header.Get("Location"))
	}
	if r := b.Get("/notes", nav...); r.Status != 303 {
		t.Errorf("after logging out = %d, want the login page again", r.Status)
	}
}

func TestConfigCheckRequireLoginSummary(t *testing.T) {
	out, err := runCmd(t, "", "config", "check", "--data", t.TempDir(), "--mode", "proxy", "--spa-upstream", "http://127.0.0.1:9000",
		"--require-login", "--public-paths", "/static/, /about", "--public-url", "https://app.example.com")
	if err != nil {
		t.Fatalf("config check: %v\n%s", err, out)
	}
	for _, want := range []string{
		"pages     /auth/login, /register",
		"login     required on every proxied path (public: /static/, /about); logged-out page loads go to /auth/login",
		"links to the hosted pages, https://app.example.com/auth/reset?token=…",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("summary lacks %q:\n%s", want, out)
		}
	}
	out, err = runCmd(t, "", "config", "check", "--data", t.TempDir(), "--mode", "proxy", "--spa-upstream", "http://127.0.0.1:9000",
		"--require-login", "--mail-links", "spa", "--public-url", "https://app.example.com")
	if err != nil || !strings.Contains(out, "links to https://app.example.com/reset-password") {
		t.Errorf("--mail-links spa: %v\n%s", err, out)
	}
}
