package latchkey_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/apicheck"
	"github.com/latchkey/latchkey/internal/apitest"
)

// requireLoginSite serves e's API and, on every other path, an app behind
// RequireLogin that answers with the identity headers it got.
func requireLoginSite(t *testing.T, e *env, public ...string) *httptest.Server {
	t.Helper()
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"path": r.URL.RequestURI(), "identity": latchkey.IdentityHeaders(r)})
	})
	mux := http.NewServeMux()
	mux.Handle("/api/", e.auth.Handler())
	mux.Handle("/", e.auth.RequireLogin(app, public...))
	srv := httptest.NewServer(apicheck.Handler(t, mux))
	t.Cleanup(srv.Close)
	return srv
}

// TestRequireLogin: logged out, a page load goes to the login page with
// next, a script gets 401 JSON; logged in, the app gets the identity.
func TestRequireLogin(t *testing.T) {
	e := newEnv(t)
	u := e.addUser("vic", "vic's long password")
	if _, err := e.auth.SetRoles(t.Context(), u.ID, []string{"editor"}, 0); err != nil {
		t.Fatal(err)
	}
	srv := requireLoginSite(t, e, "/static/", "/about")
	b := apitest.New(t, srv.URL).NoRedirects()

	for _, tc := range []struct {
		name, path string
		header     []string
		want       int
		location   string
	}{
		{"page load", "/notes?page=2&sort=new", []string{"Accept", apitest.NavigationAccept, "Sec-Fetch-Mode", "navigate"}, 303, "/auth/login?next=%2Fnotes%3Fpage%3D2%26sort%3Dnew"},
		{"curl", "/notes", nil, 303, "/auth/login?next=%2Fnotes"},
		{"root", "/", []string{"Accept", apitest.NavigationAccept}, 303, "/auth/login"},
		{"form post", "/notes", []string{"Accept", apitest.NavigationAccept, "Sec-Fetch-Mode", "navigate"}, 303, "/auth/login?next=%2Fnotes"},
		{"fetch", "/notes", []string{"Accept", "*/*", "Sec-Fetch-Mode", "cors"}, 401, ""},
		{"JSON client", "/notes", []string{"Accept", "application/json"}, 401, ""},
		{"public prefix", "/static/app.css", nil, 200, ""},
		{"public page", "/about", nil, 200, ""},
		{"not the public page", "/about/team", nil, 303, "/auth/login?next=%2Fabout%2Fteam"},
		{"encoded way out of a public prefix", "/static/..%2fnotes", nil, 303, "/auth/login"}, // not even as next
		{"encoded dots in a public prefix", "/static/%2e%2e/notes", nil, 303, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			method := "GET"
			if tc.name == "form post" {
				method = "POST"
			}
			r := b.Do(method, tc.path, nil, tc.header...)
			if r.Status != tc.want || tc.location != "" && r.Header.Get("Location") != tc.location {
				t.Errorf("%s %s = %d Location %q %s, want %d %q", method, tc.path, r.Status, r.Header.Get("Location"), r.Raw, tc.want, tc.location)
			}
			if tc.want == 401 && r.ErrCode() != "unauthorized" {
				t.Errorf("%s = %s, want unauthorized JSON", tc.path, r.Raw)
			}
			if tc.want == 200 && strings.Contains(r.Raw, "X-Latchkey") {
				t.Errorf("a public path got an identity: %s", r.Raw)
			}
		})
	}

	// A path that would leave the site as next (the mux in front would
	// clean it first) is left out of the login page's URL.
	req := httptest.NewRequest("GET", "/x", nil)
	req.URL.Path = "//evil.example/x"
	w := httptest.NewRecorder()
	e.auth.RequireLogin(http.NotFoundHandler()).ServeHTTP(w, req)
	if w.Code != 303 || w.Header().Get("Location") != "/auth/login" {
		t.Errorf("GET //evil.example/x = %d %q, want 303 to /auth/login", w.Code, w.Header().Get("Location"))
	}

	b.MustLogin("vic", "vic's long password")
	spoof := []string{"X-Latchkey-User-Id", "999", "X-Latchkey-Username", "admin", "X-Latchkey-Roles", "admin"}
	r := b.Get("/notes", spoof...)
	var got struct {
		Path     string
		Identity http.Header
	}
	if err := json.Unmarshal([]byte(r.Raw), &got); r.Status != 200 || err != nil {
		t.Fatalf("GET /notes logged in = %d %s", r.Status, r.Raw)
	}
	want := http.Header{"X-Latchkey-User-Id": {"1"}, "X-Latchkey-Username": {"vic"}, "X-Latchkey-Roles": {"editor"}}
	if len(got.Identity) != len(want) || got.Identity.Get("X-Latchkey-User-Id") != want.Get("X-Latchkey-User-Id") ||
		got.Identity.Get("X-Latchkey-Username") != "vic" || got.Identity.Get("X-Latchkey-Roles") != "editor" {
		t.Errorf("identity = %v, want %v", got.Identity, want)
	}

	// Writes: from this origin without latchkey's token (the app's own
	// forms), yes; from another site, no.
	if r := b.Do("POST", "/notes", strings.NewReader("text=hi"), "Content-Type", "application/x-www-form-urlencoded", "Origin", srv.URL, "Sec-Fetch-Site", "same-origin"); r.Status != 200 {
		t.Errorf("same-origin POST = %d %s", r.Status, r.Raw)
	}
	for _, h := range [][]string{
		{"Origin", "http://evil.example", "Sec-Fetch-Site", "cross-site"},
		{"Origin", "http://evil.example"},
		{"Sec-Fetch-Site", "same-site"},
	} {
		if r := b.Do("POST", "/notes", strings.NewReader("text=hi"), append([]string{"Content-Type", "application/x-www-form-urlencoded"}, h...)...); r.Status != 403 || r.ErrCode() != "csrf_failed" {
			t.Errorf("POST with %v = %d %s, want 403 csrf_failed", h, r.Status, r.Raw)
		}
	}
}

// TestVerifyLoginHeader: verify tells nginx where to send a logged-out
// page load: the login page, with the original URI as next when safe.
func TestVerifyLoginHeader(t *testing.T) {
	e := newEnv(t, func(c *latchkey.Config) { c.PagesPrefix = "/login-pages/" })
	b := e.browser()
	for _, tc := range []struct {
		name   string
		header []string
		want   string
	}{
		{"page load", []string{"Accept", apitest.NavigationAccept, "X-Original-URI", "/notes?page=2"}, "/login-pages/login?next=%2Fnotes%3Fpage%3D2"},
		{"curl", []string{"X-Original-URI", "/notes"}, "/login-pages/login?next=%2Fnotes"},
		{"no original URI", []string{"Accept", apitest.NavigationAccept}, "/login-pages/login"},
		{"original URI leaves the site", []string{"Accept", apitest.NavigationAccept, "X-Original-URI", "//evil.example/"}, "/login-pages/login"},
		{"fetch", []string{"Sec-Fetch-Mode", "cors", "X-Original-URI", "/notes"}, ""},
		{"JSON client", []string{"Accept", "application/json", "X-Original-URI", "/notes"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := b.Get("/api/auth/verify", tc.header...)
			if r.Status != 401 || r.Header.Get("X-Latchkey-Login") != tc.want {
				t.Errorf("verify = %d, X-Latchkey-Login %q; want 401, %q", r.Status, r.Header.Get("X-Latchkey-Login"), tc.want)
			}
		})
	}
}
