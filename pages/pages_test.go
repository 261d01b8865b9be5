package pages_test

import (
	"context"
	"errors"
	"html"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/apicheck"
	"github.com/latchkey/latchkey/internal/apitest"
	"github.com/latchkey/latchkey/memstore"
	"github.com/latchkey/latchkey/pages"
	"github.com/latchkey/latchkey/password"
)

var cheapArgon2 = password.Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}

// site is latchkey's API and its hosted pages on one test server.
type site struct {
	*httptest.Server
	auth *latchkey.Auth
}

func newSite(t *testing.T, opts pages.Options, cfgs ...func(*latchkey.Config)) *site {
	t.Helper()
	st := memstore.New()
	cfg := latchkey.Config{Secrets: [][]byte{[]byte("test-secret-test-secret-test-secret-0123")}, Argon2: cheapArgon2, Logger: slog.New(slog.DiscardHandler)}
	for _, f := range cfgs {
		f(&cfg)
	}
	a, err := latchkey.New(cfg, st, st)
	if err != nil {
		t.Fatal(err)
	}
	h, err := pages.Handler(a, opts)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/api/", a.Handler())
	mux.Handle(a.Config().PagesPrefix+"/", h)
	srv := httptest.NewServer(apicheck.Handler(t, a.SecurityHeaders(mux)))
	t.Cleanup(srv.Close)
	return &site{Server: srv, auth: a}
}

func (s *site) browser(t *testing.T) *apitest.Client {
	b := apitest.New(t, s.URL)
	b.UserAgent = "pages-test/1.0"
	return b
}

var eventHandler = regexp.MustCompile(`(?i)\son[a-z]+\s*=`)

var hiddenToken = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)

// csrfOf returns the CSRF token in a page's form.
func csrfOf(t *testing.T, r apitest.Resp) string {
	t.Helper()
	m := hiddenToken.FindStringSubmatch(r.Raw)
	if m == nil {
		t.Fatalf("no csrf_token field in the page:\n%s", r.Raw)
	}
	return html.UnescapeString(m[1])
}

// TestPages: every page is a complete HTML page with a form that posts to
// the API with the browser's token, one stylesheet and nothing inline.
func TestPages(t *testing.T) {
	s := newSite(t, pages.Options{})
	b := s.browser(t)
	for page, action := range map[string]string{
		"/login": "/api/login", "/register": "/api/register", "/forgot": "/api/password/forgot",
		"/reset?token=1.abc": "/api/password/reset", "/verify?token=1.abc": "/api/email/verify",
		"/confirm?token=1.abc": "/api/email/confirm", "/logout": "/api/logout",
	} {
		t.Run(page, func(t *testing.T) {
			r := b.Get("/auth"+page, "Accept", apitest.NavigationAccept)
			if r.Status != 200 || r.Header.Get("Content-Type") != "text/html; charset=utf-8" {
				t.Fatalf("GET /auth%s = %d %s", page, r.Status, r.Header.Get("Content-Type"))
			}
			for name, want := range map[string]string{"Cache-Control": "no-store", "Referrer-Policy": "no-referrer", "X-Frame-Options": "DENY"} {
				if got := r.Header.Get(name); got != want {
					t.Errorf("%s = %q, want %q", name, got, want)
				}
			}
			csp := r.Header.Get("Content-Security-Policy")
			if csp != latchkey.DefaultContentSecurityPolicy {
				t.Errorf("CSP = %q, want latchkey's default", csp)
			}
			for _, bad := range []string{"<script", "<style", " style=", "javascript:"} {
				if strings.Contains(strings.ToLower(r.Raw), bad) {
					t.Errorf("the page holds %q, which the CSP would block or JavaScript would need", bad)
				}
			}
			if m := eventHandler.FindString(r.Raw); m != "" {
				t.Errorf("the page holds an event handler attribute %q", m)
			}
			if !strings.Contains(r.Raw, `action="`+action+`"`) || !strings.Contains(r.Raw, `method="post"`) {
				t.Errorf("no form posting to %s:\n%s", action, r.Raw)
			}
			if tok := csrfOf(t, r); tok == "" || b.Cookie("latchkey_csrf") == nil {
				t.Errorf("the page's token %q is not bound to a browser cookie", tok)
			}
			if !strings.Contains(r.Raw, `<link rel="stylesheet" href="/auth/style.css">`) {
				t.Errorf("no stylesheet link")
			}
			if strings.Contains(page, "token=") && !strings.Contains(r.Raw, `name="token" value="1.abc"`) {
				t.Errorf("the link's token is not in the form")
			}
		})
	}
	r := b.Get("/auth/style.css")
	if r.Status != 200 || r.Header.Get("Content-Type") != "text/css; charset=utf-8" || !strings.Contains(r.Raw, ".card") {
		t.Errorf("GET /auth/style.css = %d %s", r.Status, r.Header.Get("Content-Type"))
	}
	if r2 := b.Get("/auth/style.css", "If-None-Match", r.Header.Get("ETag")); r2.Status != 304 {
		t.Errorf("revalidating the stylesheet = %d, want 304", r2.Status)
	}
	for path, want := range map[string]int{"/auth/nope": 404, "/auth/login/x": 404} {
		if r := b.Get(path); r.Status != want {
			t.Errorf("GET %s = %d, want %d", path, r.Status, want)
		}
	}
	if r := b.NoRedirects().Get("/auth/?next=%2Fx"); r.Status != 303 || r.Header.Get("Location") != "/auth/login?next=%2Fx" {
		t.Errorf("GET /auth/ = %d %q, want 303 to the login page", r.Status, r.Header.Get("Location"))
	}
	if r := b.Do("POST", "/auth/login", nil); r.Status != 405 || r.Header.Get("Allow") != "GET, HEAD" {
		t.Errorf("POST /auth/login = %d, Allow %q", r.Status, r.Header.Get("Allow"))
	}
}

// TestPagesLoginFlow: the login page's own form logs in, and a failed
// attempt comes back to it with the API's message, the username filled in
// and the password not; next is kept throughout, unless it leaves the site.
func TestPagesLoginFlow(t *testing.T) {
	s := newSite(t, pages.Options{})
	if _, err := s.auth.CreateUser(context.Background(), "vic", "vic's long password", ""); err != nil {
		t.Fatal(err)
	}
	b := s.browser(t)
	page := b.Get("/auth/login?next=%2Fnotes%3Fpage%3D2")
	if !strings.Contains(page.Raw, `name="next" value="/notes?page=2"`) || !strings.Contains(page.Raw, `href="/auth/register?next=%2Fnotes%3Fpage%3D2"`) {
		t.Errorf("next is not carried on:\n%s", page.Raw)
	}
	post := func(pw string) apitest.Resp {
		return b.PostForm("/api/login", url.Values{"csrf_token": {csrfOf(t, page)}, "username": {"vic"}, "password": {pw}, "next": {"/notes?page=2"}})
	}
	r := post("not the password")
	if r.Status != 303 || r.Header.Get("Location") != "/auth/login?next=%2Fnotes%3Fpage%3D2" {
		t.Fatalf("wrong password = %d %q", r.Status, r.Header.Get("Location"))
	}
	page = b.Get(r.Header.Get("Location"))
	if !strings.Contains(page.Raw, `<p id="error" class="message error" role="alert">The username or password is incorrect.</p>`) {
		t.Errorf("the login page does not say what went wrong:\n%s", page.Raw)
	}
	if !strings.Contains(page.Raw, `value="vic"`) || strings.Contains(page.Raw, "not the password") {
		t.Errorf("want the username filled in and the password not")
	}
	if again := b.Get("/auth/login"); strings.Contains(again.Raw, `id="error"`) {
		t.Error("the error is shown again on the next load")
	}
	page = b.Get("/auth/login?next=%2Fnotes%3Fpage%3D2")
	if r := post("vic's long password"); r.Status != 303 || r.Header.Get("Location") != "/notes?page=2" {
		t.Fatalf("login = %d %q, want 303 to /notes?page=2", r.Status, r.Header.Get("Location"))
	}
	if !b.LoggedIn() {
		t.Error("not logged in")
	}
	page = b.Get("/auth/logout")
	if r := b.PostForm("/api/logout", url.Values{"csrf_token": {csrfOf(t, page)}}); r.Status != 303 || r.Header.Get("Location") != "/auth/login" {
		t.Fatalf("logout = %d %q", r.Status, r.Header.Get("Location"))
	}
	if page = b.Get("/auth/login"); !strings.Contains(page.Raw, `<p id="notice" class="message notice" role="status">You are logged out.</p>`) {
		t.Errorf("the login page does not say the user logged out:\n%s", page.Raw)
	}

	for _, next := range []string{"//evil.example", `/\evil.example`, "https:evil.example", "/%2f%2fevil.example", "https://evil.example/"} {
		page := b.Get("/auth/login?next=" + url.QueryEscape(next))
		if strings.Contains(page.Raw, `name="next"`) || strings.Contains(page.Raw, "evil") {
			t.Errorf("next=%s reached the page", next)
		}
	}
}

// TestPagesEscape: whatever a user typed comes back escaped.
func TestPagesEscape(t *testing.T) {
	s := newSite(t, pages.Options{})
	b := s.browser(t)
	page := b.Get("/auth/register")
	evil := `"><script>alert(1)</script>`
	r := b.PostForm("/api/register", url.Values{"csrf_token": {csrfOf(t, page)}, "username": {evil}, "password": {"x"}, "email": {evil + "@x"}})
	page = b.Get(r.Header.Get("Location"))
	if strings.Contains(page.Raw, "<script>") || !strings.Contains(page.Raw, "&lt;script&gt;") {
		t.Errorf("the username is not escaped:\n%s", page.Raw)
	}
	if !strings.Contains(page.Raw, `id="error"`) {
		t.Errorf("no error shown")
	}
}

// TestPagesLinkWithoutToken: a link's page opened without its token says
// so and offers a new link, with no form to post.
func TestPagesLinkWithoutToken(t *testing.T) {
	s := newSite(t, pages.Options{})
	b := s.browser(t)
	for _, p := range []string{"/auth/reset", "/auth/verify", "/auth/confirm"} {
		r := b.Get(p)
		if r.Status != 200 || !strings.Contains(r.Raw, "This page needs the link from your email") || strings.Contains(r.Raw, "<form") {
			t.Errorf("GET %s = %d:\n%s", p, r.Status, r.Raw)
		}
	}
}

// TestPagesFormActionOrigins: a login may go on to the app's origin or an
// allowed one, so the CSP's form-action, which covers redirects, names them.
func TestPagesFormActionOrigins(t *testing.T) {
	s := newSite(t, pages.Options{}, func(c *latchkey.Config) {
		c.AllowedOrigins = []string{"https://spa.example.com"}
		c.PublicURL = "https://id.example.com"
		c.AppURL = "https://app.example.com/base"
	})
	r := s.browser(t).Get("/auth/login")
	want := "form-action 'self' https://spa.example.com https://app.example.com"
	if csp := r.Header.Get("Content-Security-Policy"); !strings.Contains(csp, want) {
		t.Errorf("CSP = %q, want %q", csp, want)
	}
}

// TestPagesDir: files in Options.Dir replace the built-in ones; a file
// that is not a page's, or a template that does not parse or render,
// stops Handler.
func TestPagesDir(t *testing.T) {
	dir := t.TempDir()
	write := func(name, s string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("login.html", `{{define "title"}}Sign in to Acme{{end}}{{define "content"}}<form method="post" action="{{.API}}/login"><input type="hidden" name="csrf_token" value="{{.CSRFToken}}"></form>{{end}}`)
	write("style.css", "body { color: rebeccapurple }\n")
	write(".hidden", "ignored")
	s := newSite(t, pages.Options{Dir: dir})
	b := s.browser(t)
	if r := b.Get("/auth/login"); !strings.Contains(r.Raw, "<h1>Sign in to Acme</h1>") || !strings.Contains(r.Raw, `class="site-header"`) {
		t.Errorf("the replaced login page, in the built-in layout:\n%s", r.Raw)
	}
	if r := b.Get("/auth/register"); !strings.Contains(r.Raw, "Create an account") {
		t.Errorf("the built-in register page is gone")
	}
	if r := b.Get("/auth/style.css"); r.Raw != "body { color: rebeccapurple }\n" {
		t.Errorf("style.css = %q", r.Raw)
	}

	st := memstore.New()
	a, err := latchkey.New(latchkey.Config{Secrets: [][]byte{[]byte("test-secret-test-secret-test-secret-0123")}}, st, st)
	if err != nil {
		t.Fatal(err)
	}
	for name, files := range map[string]map[string]string{
		"unknown file":    {"signin.html": "x"},
		"does not parse":  {"login.html": `{{define "title"}}x{{end}}{{define "content"}}{{.Nope`},
		"does not render": {"login.html": `{{define "title"}}x{{end}}{{define "content"}}{{.Nope}}{{end}}`},
		"no content":      {"logout.html": `{{define "title"}}x{{end}}`},
	} {
		t.Run(name, func(t *testing.T) {
			d := t.TempDir()
			for f, s := range files {
				os.WriteFile(filepath.Join(d, f), []byte(s), 0o644)
			}
			_, err := pages.Handler(a, pages.Options{Dir: d})
			if err == nil {
				t.Fatalf("Handler accepted %v", files)
			}
			if name == "unknown file" && !errors.Is(err, pages.ErrUnknownFile) {
				t.Errorf("err = %v, want ErrUnknownFile", err)
			}
		})
	}
	if _, err := pages.Handler(a, pages.Options{Dir: filepath.Join(dir, "missing")}); err == nil {
		t.Error("Handler accepted a missing directory")
	}
}
