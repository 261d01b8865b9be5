// Package exampleapp_test runs the example application, app.py, behind
// nginx (deploy/nginx/auth-request.conf) and latchkey, as a browser without
// JavaScript would use it: the real files, a real nginx, Debian's python3.
package exampleapp_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/apitest"
	"github.com/latchkey/latchkey/internal/exampleapp"
	"github.com/latchkey/latchkey/internal/nginxtest"
	"github.com/latchkey/latchkey/memstore"
	"github.com/latchkey/latchkey/pages"
	"github.com/latchkey/latchkey/password"
)

// site is the example app behind nginx and latchkey.
type site struct {
	url  string
	auth *latchkey.Auth
	app  *exampleapp.App
}

func startSite(t *testing.T) *site {
	t.Helper()
	app := exampleapp.Start(t)
	st := memstore.New()
	a, err := latchkey.New(latchkey.Config{
		Secrets:        [][]byte{[]byte("test-secret-test-secret-test-secret-0123")},
		Argon2:         password.Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32},
		TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")},
		LinkPages:      true,
		Logger:         slog.New(slog.DiscardHandler),
	}, st, st)
	if err != nil {
		t.Fatal(err)
	}
	hosted, err := pages.Handler(a, pages.Options{})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/api/", a.Handler())
	mux.Handle("/auth/", hosted)
	lk := httptest.NewServer(a.SecurityHeaders(mux))
	t.Cleanup(lk.Close)
	ngx := nginxtest.Start(t, filepath.Join("..", "nginx", "auth-request.conf"), map[string]string{
		"LATCHKEY_ADDR": lk.Listener.Addr().String(),
		"BACKEND_ADDR":  app.Addr,
		"SERVER_NAME":   "localhost",
	})
	return &site{url: ngx.URL, auth: a, app: app}
}

var (
	nav       = []string{"Accept", apitest.NavigationAccept, "Sec-Fetch-Mode", "navigate", "Sec-Fetch-Site", "same-origin"}
	csrfField = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)
	who       = regexp.MustCompile(`<strong id="who">([^<]*)</strong>`)
)

// logIn opens the page the app sends a logged-out browser to and logs in
// with its form, as a browser without JavaScript does, and returns where
// the form led.
func (s *site) logIn(t *testing.T, b *apitest.Client, name, pw string) string {
	t.Helper()
	r := b.Get("/notes", nav...)
	if r.Status != 303 || r.Header.Get("Location") != "/auth/login?next=%2Fnotes" {
		t.Fatalf("logged out, GET /notes = %d %q, want 303 to the login page", r.Status, r.Header.Get("Location"))
	}
	page := b.Get(r.Header.Get("Location"), nav...)
	m := csrfField.FindStringSubmatch(page.Raw)
	if page.Status != 200 || m == nil {
		t.Fatalf("login page = %d:\n%s", page.Status, page.Raw)
	}
	r = b.PostForm("/api/login", url.Values{"csrf_token": {m[1]}, "username": {name}, "password": {pw}, "next": {"/notes"}}, "Origin", s.url, "Sec-Fetch-Site", "same-origin")
	if r.Status != 303 {
		t.Fatalf("login form = %d %s", r.Status, r.Raw)
	}
	return r.Header.Get("Location")
}

// TestExampleApp: the app greets whoever latchkey says is logged in, with
// the name decoded and escaped, and no client can say otherwise.
func TestExampleApp(t *testing.T) {
	s := startSite(t)
	ctx := context.Background()
	alice, err := s.auth.CreateUser(ctx, "alice", "correct horse battery", "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.auth.SetRoles(ctx, alice.ID, []string{"editor"}, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := s.auth.CreateUser(ctx, "Zoë&Co", "correct horse battery", ""); err != nil {
		t.Fatal(err)
	}
	b := apitest.New(t, s.url).NoRedirects()
	if to := s.logIn(t, b, "alice", "correct horse battery"); to != "/notes" {
		t.Fatalf("the login form led to %q, want /notes", to)
	}
	r := b.Get("/notes", nav...)
	if m := who.FindStringSubmatch(r.Raw); r.Status != 200 || m == nil || m[1] != "alice" || !strings.Contains(r.Raw, `<span id="roles">editor</span>`) {
		t.Fatalf("GET /notes = %d:\n%s", r.Status, r.Raw)
	}
	for _, spoof := range [][]string{
		{"X-Latchkey-User-Id", "999", "X-Latchkey-Username", "admin", "X-Latchkey-Roles", "admin"},
		{"x-latchkey-username", "admin", "X-LATCHKEY-USERNAME", "root"},
	} {
		r := b.Get("/notes", append(append([]string{}, nav...), spoof...)...)
		if m := who.FindStringSubmatch(r.Raw); r.Status != 200 || m == nil || m[1] != "alice" || strings.Contains(r.Raw, "admin") {
			t.Errorf("with %v the app shows %d:\n%s", spoof, r.Status, r.Raw)
		}
	}
	// Spellings nginx would pass on are dropped (names with '_') or refused.
	req, _ := http.NewRequest("GET", s.url+"/notes", nil)
	req.Header["X_Latchkey_Username"] = []string{"admin"}
	for _, c := range b.Cookies("/") {
		req.AddCookie(c)
	}
	if res, err := http.DefaultClient.Do(req); err != nil || res.StatusCode != 200 {
		t.Errorf("with X_Latchkey_Username: %v %v", res, err)
	} else {
		res.Body.Close()
	}
	if r := b.Get("/notes", "X-Latchkey-Role", "admin", "Accept", "application/json"); r.Status != 403 || r.ErrCode() != "reserved_header" {
		t.Errorf("with X-Latchkey-Role = %d %s, want 403 reserved_header", r.Status, r.Raw)
	}

	z := apitest.New(t, s.url).NoRedirects()
	s.logIn(t, z, "zoë&co", "correct horse battery")
	r = z.Get("/", nav...)
	if m := who.FindStringSubmatch(r.Raw); m == nil || m[1] != "Zoë&amp;Co" {
		t.Errorf("the app shows %q for Zoë&Co, want the name decoded and escaped:\n%s", m, r.Raw)
	}

	// The app's "Log out" link leads to latchkey's logout page.
	if !strings.Contains(r.Raw, `<a id="logout" href="/auth/logout">`) {
		t.Fatalf("no logout link:\n%s", r.Raw)
	}
	page := b.Get("/auth/logout", nav...)
	m := csrfField.FindStringSubmatch(page.Raw)
	if m == nil {
		t.Fatalf("logout page:\n%s", page.Raw)
	}
	if r := b.PostForm("/api/logout", url.Values{"csrf_token": {m[1]}}, "Origin", s.url, "Sec-Fetch-Site", "same-origin"); r.Status != 303 || r.Header.Get("Location") != "/auth/login" {
		t.Errorf("logout form = %d %q", r.Status, r.Header.Get("Location"))
	}
	if r := b.Get("/notes", nav...); r.Status != 303 {
		t.Errorf("after logging out, GET /notes = %d, want the login page", r.Status)
	}
	if log := s.app.Log(); strings.Contains(log, "admin") || strings.Count(log, "GET /notes") < 3 {
		t.Errorf("app log:\n%s", log)
	}
}
