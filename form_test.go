package latchkey_test

import (
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/apitest"
	"github.com/latchkey/latchkey/memstore"
)

// fields builds a form's fields from name, value pairs, with b's CSRF
// token in csrf_token unless the pairs give one.
func fields(b *apitest.Client, kv ...string) url.Values {
	v := url.Values{"csrf_token": {b.Token()}}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Set(kv[i], kv[i+1])
	}
	return v
}

// flashOf reads, through TakeFlash, the flash cookie that r set.
func (e *env) flashOf(r apitest.Resp) (latchkey.Flash, bool) {
	e.t.Helper()
	req := httptest.NewRequest("GET", "/auth/login", nil)
	for _, line := range r.Header.Values("Set-Cookie") {
		if c, err := http.ParseSetCookie(line); err == nil && strings.HasSuffix(c.Name, "latchkey_flash") && c.MaxAge >= 0 {
			req.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value})
		}
	}
	return e.auth.TakeFlash(httptest.NewRecorder(), req)
}

// wantRedirect checks r is 303 See Other to location.
func wantRedirect(t *testing.T, what string, r apitest.Resp, location string) {
	t.Helper()
	if r.Status != http.StatusSeeOther || r.Header.Get("Location") != location {
		t.Errorf("%s = %d Location %q %.100q, want 303 to %q", what, r.Status, r.Header.Get("Location"), r.Raw, location)
	}
	if ct := r.Header.Get("Content-Type"); strings.Contains(ct, "json") {
		t.Errorf("%s: a redirect with a %s body", what, ct)
	}
}

// wantFlashError checks that r's flash carries the error code.
func (e *env) wantFlashError(t *testing.T, what string, r apitest.Resp, code string) latchkey.Flash {
	t.Helper()
	f, ok := e.flashOf(r)
	if !ok || f.Code != code || f.Message == "" {
		t.Errorf("%s: flash %+v (%v), want error %s with its message", what, f, ok, code)
	}
	return f
}

// TestFormLogin: a browser without JavaScript logs in with a form and is
// sent on to next; a failure goes back to the login page with the error
// and the username, never the password.
func TestFormLogin(t *testing.T) {
	e := newEnv(t)
	e.addUser("vic", "vic's long password")
	b := e.browser()
	b.CSRF()

	r := b.PostForm("/api/login", fields(b, "username", "vic", "password", "wrong password", "next", "/notes?page=2"))
	wantRedirect(t, "wrong password", r, "/auth/login?next=%2Fnotes%3Fpage%3D2")
	f := e.wantFlashError(t, "wrong password", r, "invalid_credentials")
	if f.Username != "vic" || f.Message != "The username or password is incorrect." {
		t.Errorf("flash = %+v, want the username back and the API's message", f)
	}
	for _, line := range r.Header.Values("Set-Cookie") {
		if strings.Contains(line, "wrong") || strings.Contains(decodeAll(line), "wrong password") {
			t.Errorf("the password is in a cookie: %s", line)
		}
	}
	if b.LoggedIn() {
		t.Fatal("logged in with a wrong password")
	}

	r = b.PostForm("/api/login", fields(b, "username", "VIC", "password", "vic's long password", "next", "/notes?page=2", "remember", "on"))
	wantRedirect(t, "login", r, "/notes?page=2")
	if !b.LoggedIn() {
		t.Fatal("the form did not log in")
	}
	if s := b.Get("/api/getsession"); s.JSON["remember"] != true {
		t.Errorf("remember me checked, session %s", s.Raw)
	}
	if _, ok := e.flashOf(r); ok {
		t.Error("a successful login left a flash")
	}

	// Logging out by a form goes to the login page, which says so.
	r = b.PostForm("/api/logout", fields(b, "next", "/notes"))
	wantRedirect(t, "logout", r, "/auth/login?next=%2Fnotes")
	if f, ok := e.flashOf(r); !ok || f.Notice != "You are logged out." || f.Code != "" {
		t.Errorf("logout flash = %+v, %v", f, ok)
	}
	if b.LoggedIn() {
		t.Error("still logged in after the logout form")
	}
}

// decodeAll base64url-decodes each dot-separated part of a cookie value
// that it can, to look inside a flash.
func decodeAll(setCookie string) string {
	c, err := http.ParseSetCookie(setCookie)
	if err != nil {
		return ""
	}
	var out string
	for p := range strings.SplitSeq(c.Value, ".") {
		if b, err := base64.RawURLEncoding.DecodeString(p); err == nil {
			out += string(b)
		}
	}
	return out
}

// TestFormScriptsGetJSON: a form body from a script (Accept:
// application/json, or fetch's Sec-Fetch-Mode) is answered as the JSON API
// answers, errors and all; so is every JSON body, whatever it accepts.
func TestFormScriptsGetJSON(t *testing.T) {
	e := newEnv(t)
	e.addUser("vic", "vic's long password")
	for _, tc := range []struct {
		name   string
		header []string
	}{
		{"Accept JSON", []string{"Accept", "application/json", "Sec-Fetch-Mode", ""}},
		{"Accept JSON first", []string{"Accept", "application/json, text/html;q=0.5", "Sec-Fetch-Mode", ""}},
		{"fetch", []string{"Accept", "*/*", "Sec-Fetch-Mode", "cors"}},
		{"same-origin fetch", []string{"Accept", "*/*", "Sec-Fetch-Mode", "same-origin"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := e.browser()
			b.CSRF()
			r := b.PostForm("/api/login", fields(b, "username", "vic", "password", "nope"), tc.header...)
			if r.Status != 401 || r.ErrCode() != "invalid_credentials" || r.JSON["login"] != false {
				t.Errorf("wrong password = %d %s, want 401 JSON with login false", r.Status, r.Raw)
			}
			r = b.PostForm("/api/login", fields(b, "username", "vic", "password", "vic's long password", "next", "/x"), tc.header...)
			if r.Status != 200 || r.JSON["login"] != true || r.Header.Get("Location") != "" {
				t.Errorf("login = %d %s, want 200 JSON", r.Status, r.Raw)
			}
		})
	}
	// JSON bodies are the API as it was, page loads or not.
	b := e.browser()
	b.CSRF()
	r := b.Post("/api/login", map[string]any{"username": "vic", "password": "nope"}, "Accept", apitest.NavigationAccept, "Sec-Fetch-Mode", "navigate")
	if r.Status != 401 || r.ErrCode() != "invalid_credentials" {
		t.Errorf("JSON login from a page load = %d %s, want 401 JSON", r.Status, r.Raw)
	}
}

// TestFormCSRF: forms are held to the CSRF rules JSON is: not
// cross-origin, and the browser's token, in the field or the header; a
// text/plain or multipart body is refused as before, token or not.
func TestFormCSRF(t *testing.T) {
	e := newEnv(t)
	e.addUser("vic", "vic's long password")
	other := e.browser()
	other.CSRF()
	login := []string{"username", "vic", "password", "vic's long password"}
	for _, tc := range []struct {
		name   string
		fields func(b *apitest.Client) url.Values
		header []string
	}{
		{"no token", func(b *apitest.Client) url.Values { v := fields(b, login...); v.Del("csrf_token"); return v }, nil},
		{"empty token", func(b *apitest.Client) url.Values { return fields(b, append(login, "csrf_token", "")...) }, nil},
		{"another browser's token", func(b *apitest.Client) url.Values { return fields(b, append(login, "csrf_token", other.Token())...) }, nil},
		{"junk token", func(b *apitest.Client) url.Values { return fields(b, append(login, "csrf_token", "x")...) }, nil},
		{"header and field differ", func(b *apitest.Client) url.Values { return fields(b, login...) }, []string{"X-CSRFToken", other.Token()}},
		{"token twice", func(b *apitest.Client) url.Values {
			v := fields(b, login...)
			v.Add("csrf_token", b.Token())
			return v
		}, nil},
		// Login CSRF: a page of another site posts a form with the
		// attacker's credentials (and even a token of its own browser).
		{"cross-site form", func(b *apitest.Client) url.Values { return fields(b, login...) },
			[]string{"Origin", "http://evil.example", "Sec-Fetch-Site", "cross-site"}},
		{"cross-site form, Origin only", func(b *apitest.Client) url.Values { return fields(b, login...) },
			[]string{"Origin", "http://evil.example", "Sec-Fetch-Site", ""}},
		{"null Origin", func(b *apitest.Client) url.Values { return fields(b, login...) },
			[]string{"Origin", "null", "Sec-Fetch-Site", ""}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := e.browser()
			b.CSRF()
			r := b.PostForm("/api/login", tc.fields(b), tc.header...)
			if tc.name == "token twice" {
				wantRedirect(t, "login", r, "/auth/login")
				e.wantFlashError(t, "login", r, "invalid_input")
			} else {
				wantRedirect(t, "login", r, "/auth/login")
				e.wantFlashError(t, "login", r, "csrf_failed")
			}
			if b.LoggedIn() || b.Cookie("latchkey_session") != nil {
				t.Error("the refused form logged the browser in")
			}
		})
	}

	b := e.browser()
	b.CSRF()
	body := fields(b, login...).Encode()
	for _, tc := range []struct {
		name, ctype, body string
		header            []string
		status            int
		code              string
	}{
		{"text/plain with the token in the body", "text/plain", body, nil, 403, "csrf_failed"},
		{"text/plain with the token in the header", "text/plain", body, []string{"X-CSRFToken", b.Token()}, 415, "unsupported_media_type"},
		{"multipart with a csrf_token part", "multipart/form-data; boundary=X",
			"--X\r\nContent-Disposition: form-data; name=\"csrf_token\"\r\n\r\n" + b.Token() + "\r\n--X--\r\n", nil, 403, "csrf_failed"},
		{"multipart with the token in the header", "multipart/form-data; boundary=X", "--X--\r\n", []string{"X-CSRFToken", b.Token()}, 415, "unsupported_media_type"},
		{"form in another charset", "application/x-www-form-urlencoded; charset=iso-8859-1", body, nil, 415, "unsupported_media_type"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := append([]string{"Content-Type", tc.ctype, "Accept", "application/json"}, tc.header...)
			r := b.Do("POST", "/api/login", strings.NewReader(tc.body), h...)
			if r.Status != tc.status || r.ErrCode() != tc.code {
				t.Errorf("got %d %s, want %d %s", r.Status, r.Raw, tc.status, tc.code)
			}
		})
	}
	// The token is never read from the query string.
	r := b.NoRedirects().Do("POST", "/api/login?csrf_token="+url.QueryEscape(b.Token()), strings.NewReader(url.Values{"username": {"vic"}, "password": {"vic's long password"}}.Encode()),
		"Content-Type", "application/x-www-form-urlencoded", "Accept", "application/json")
	if r.Status != 403 || r.ErrCode() != "csrf_failed" {
		t.Errorf("token in the query = %d %s, want 403 csrf_failed", r.Status, r.Raw)
	}
	if b.LoggedIn() {
		t.Error("logged in")
	}
}

// TestFormNext: after a form login, the browser goes to next only if it
// is a path here or on the app's or an allowed origin; every open-redirect
// spelling lands on "/" instead, and failures go back without it.
func TestFormNext(t *testing.T) {
	e := newEnv(t, func(c *latchkey.Config) {
		c.AllowedOrigins = []string{"https://spa.example.com"}
		c.PublicURL = "https://id.example.com"
		c.AppURL = "https://app.example.com"
	})
	e.addUser("vic", "vic's long password")
	for _, tc := range []struct{ next, want string }{
		{"", "/"},
		{"/", "/"},
		{"/notes/7?tab=a%20b#top", "/notes/7?tab=a%20b#top"},
		{"https://app.example.com/welcome", "https://app.example.com/welcome"},
		{"https://spa.example.com/user", "https://spa.example.com/user"},
		{"https://id.example.com/user", "/"}, // latchkey's own origin: use a path
		{"//evil.example", "/"},
		{"///evil.example", "/"},
		{`/\evil.example`, "/"},
		{`\\evil.example`, "/"},
		{"https:evil.example", "/"},
		{"https:/evil.example", "/"},
		{"https://evil.example", "/"},
		{"https://app.example.com@evil.example", "/"},
		{"https://app.example.com.evil.example/", "/"},
		{"https://evil.example#@app.example.com", "/"},
		{"/%2f%2fevil.example", "/"},
		{"/%2F%2Fevil.example", "/"},
		{"/%5cevil.example", "/"},
		{"/%252f%252fevil.example", "/"},
		{"%2f%2fevil.example", "/"},
		{"/\t/evil.example", "/"},
		{"/\r\n/evil.example", "/"},
		{" //evil.example", "/"},
		{"javascript:alert(document.cookie)", "/"},
		{"/../evil", "/"},
		{"notes", "/"},
	} {
		t.Run(tc.next, func(t *testing.T) {
			b := e.browser()
			b.CSRF()
			r := b.PostForm("/api/login", fields(b, "username", "vic", "password", "vic's long password", "next", tc.next))
			wantRedirect(t, "login", r, tc.want)
			r = b.PostForm("/api/login", fields(b, "username", "vic", "password", "wrong", "next", tc.next))
			want := "/auth/login"
			if tc.want != "/" {
				want += "?next=" + url.QueryEscape(tc.want)
			}
			wantRedirect(t, "failed login", r, want)
		})
	}
}

// TestFormFlows: register, forgot and reset password, and the mailed
// links' flows by form: where each leads on success and on failure.
func TestFormFlows(t *testing.T) {
	e := newMailEnv(t, func(c *latchkey.Config) { c.LinkPages = true })
	b := e.browser()
	b.CSRF()

	r := b.PostForm("/api/register", fields(b, "username", "mia", "password", "short", "email", "mia@example.test", "next", "/welcome"))
	wantRedirect(t, "weak password", r, "/auth/register?next=%2Fwelcome")
	if f := e.wantFlashError(t, "weak password", r, "weak_password"); f.Field != "password" || f.Username != "mia" || f.Email != "mia@example.test" {
		t.Errorf("flash = %+v, want field password and what was typed", f)
	}
	r = b.PostForm("/api/register", fields(b, "username", "mia", "password", "mia's long password", "email", "mia@example.test", "next", "/welcome"))
	wantRedirect(t, "register", r, "/welcome")
	if !b.LoggedIn() {
		t.Fatal("not logged in after registering")
	}
	verify := e.linkToken(t, "mia@example.test", "/auth/verify") // LinkPages: the hosted page
	c := e.browser()
	c.CSRF()
	r = c.PostForm("/api/register", fields(c, "username", "MIA", "password", "another long password"))
	wantRedirect(t, "taken", r, "/auth/register")
	e.wantFlashError(t, "taken", r, "username_taken")

	r = c.PostForm("/api/email/verify", fields(c, "token", "1.junk"))
	wantRedirect(t, "bad verify link", r, "/auth/verify?token=1.junk")
	e.wantFlashError(t, "bad verify link", r, "invalid_token")
	r = c.PostForm("/api/email/verify", fields(c, "token", verify))
	wantRedirect(t, "verify", r, "/auth/login")
	if f, _ := e.flashOf(r); f.Notice != "Your email address is verified." {
		t.Errorf("verify flash = %+v", f)
	}

	r = c.PostForm("/api/password/forgot", fields(c, "email", ""))
	wantRedirect(t, "forgot, empty", r, "/auth/forgot")
	e.wantFlashError(t, "forgot, empty", r, "invalid_input")
	r = c.PostForm("/api/password/forgot", fields(c, "email", "mia@example.test"))
	wantRedirect(t, "forgot", r, "/auth/login")
	if f, _ := e.flashOf(r); !strings.Contains(f.Notice, "on its way") {
		t.Errorf("forgot flash = %+v", f)
	}
	reset := e.linkToken(t, "mia@example.test", "/auth/reset")
	r = c.PostForm("/api/password/reset", fields(c, "token", reset, "password", "mia"))
	wantRedirect(t, "weak reset", r, "/auth/reset?token="+url.QueryEscape(reset))
	e.wantFlashError(t, "weak reset", r, "weak_password")
	r = c.PostForm("/api/password/reset", fields(c, "password", "mia's new long password"))
	wantRedirect(t, "reset without a token", r, "/auth/reset")
	if f := e.wantFlashError(t, "reset without a token", r, "invalid_input"); f.Field != "token" {
		t.Errorf("flash = %+v, want field token", f)
	}
	r = c.PostForm("/api/password/reset", fields(c, "token", reset, "password", "mia's new long password"))
	wantRedirect(t, "reset", r, "/auth/login")
	if f, _ := e.flashOf(r); !strings.Contains(f.Notice, "password is changed") {
		t.Errorf("reset flash = %+v", f)
	}
	if b.LoggedIn() {
		t.Error("the reset did not end the other session")
	}
	r = c.PostForm("/api/password/reset", fields(c, "token", reset, "password", "mia's third long password"))
	e.wantFlashError(t, "the link again", r, "invalid_token")
	c.MustLogin("mia", "mia's new long password")
}

// TestFormRequireVerifiedEmail: a form registration that needs a verified
// address lands on the login page, which says what to do.
func TestFormRequireVerifiedEmail(t *testing.T) {
	e := newMailEnv(t, func(c *latchkey.Config) { c.RequireVerifiedEmail = true })
	b := e.browser()
	b.CSRF()
	r := b.PostForm("/api/register", fields(b, "username", "mia", "password", "mia's long password", "email", "mia@example.test", "next", "/x"))
	wantRedirect(t, "register", r, "/auth/login?next=%2Fx")
	if f, _ := e.flashOf(r); !strings.Contains(f.Notice, "verify") {
		t.Errorf("flash = %+v", f)
	}
	r = b.PostForm("/api/login", fields(b, "username", "mia", "password", "mia's long password", "next", "/x"))
	wantRedirect(t, "login", r, "/auth/login?next=%2Fx")
	e.wantFlashError(t, "login", r, "email_unverified")
}

// TestFormBadBodies: a malformed form goes back to its page with the error
// when a browser tab sent it, and gets the JSON API's error otherwise.
func TestFormBadBodies(t *testing.T) {
	e := newEnv(t)
	e.addUser("vic", "vic's long password")
	b := e.browser()
	b.CSRF()
	tok := url.QueryEscape(b.Token())
	for _, tc := range []struct {
		name, body string
		status     int
		code       string
	}{
		{"duplicate field", "csrf_token=" + tok + "&username=vic&username=admin&password=x", 400, "invalid_input"},
		{"case-variant field", "csrf_token=" + tok + "&username=vic&Username=admin&password=x", 400, "invalid_input"},
		{"semicolon", "csrf_token=" + tok + ";username=vic&password=x", 400, "invalid_input"},
		{"bad escape", "csrf_token=" + tok + "&username=%zz&password=x", 400, "invalid_input"},
		{"not UTF-8", "csrf_token=" + tok + "&username=%ff&password=x", 400, "invalid_input"},
		{"missing field", "csrf_token=" + tok + "&username=vic", 400, "invalid_input"},
		{"bad checkbox", "csrf_token=" + tok + "&username=vic&password=x&remember=maybe", 400, "invalid_input"},
		{"too large", "csrf_token=" + tok + "&username=vic&password=" + strings.Repeat("x", 70<<10), 413, "body_too_large"},
		{"too many fields", "csrf_token=" + tok + strings.Repeat("&f=1", 1) + manyFields(40), 400, "invalid_input"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := b.NoRedirects().Do("POST", "/api/login", strings.NewReader(tc.body), "Content-Type", "application/x-www-form-urlencoded", "Accept", "application/json")
			if r.Status != tc.status || r.ErrCode() != tc.code {
				t.Errorf("script: %d %s, want %d %s", r.Status, r.Raw, tc.status, tc.code)
			}
			r = b.NoRedirects().Do("POST", "/api/login", strings.NewReader(tc.body), "Content-Type", "application/x-www-form-urlencoded", "Accept", apitest.NavigationAccept)
			wantRedirect(t, "page", r, "/auth/login")
			e.wantFlashError(t, "page", r, tc.code)
		})
	}
	if b.LoggedIn() {
		t.Error("a bad form logged in")
	}
}

func manyFields(n int) string {
	var s strings.Builder
	for i := range n {
		s.WriteString("&f" + strings.Repeat("x", i) + "=1")
	}
	return s.String()
}

// TestTakeFlash: a flash is read once, only as latchkey signed it, and
// only within a minute.
func TestTakeFlash(t *testing.T) {
	e := newEnv(t)
	b := e.browser()
	b.CSRF()
	r := b.PostForm("/api/login", fields(b, "username", "nobody", "password", "whatever"))
	var value string
	for _, line := range r.Header.Values("Set-Cookie") {
		if c, _ := http.ParseSetCookie(line); c != nil && c.Name == "latchkey_flash" {
			value = c.Value
			if !c.HttpOnly || c.MaxAge < 1 || c.MaxAge > 60 {
				t.Errorf("flash cookie %s: want HttpOnly, at most a minute", line)
			}
		}
	}
	if value == "" {
		t.Fatal("no flash cookie")
	}
	take := func(v string) (latchkey.Flash, bool, *httptest.ResponseRecorder) {
		req := httptest.NewRequest("GET", "/auth/login", nil)
		req.AddCookie(&http.Cookie{Name: "latchkey_flash", Value: v})
		w := httptest.NewRecorder()
		f, ok := e.auth.TakeFlash(w, req)
		return f, ok, w
	}
	f, ok, w := take(value)
	if !ok || f.Code != "invalid_credentials" || f.Username != "nobody" {
		t.Errorf("TakeFlash = %+v, %v", f, ok)
	}
	if c := setCookieHeader(w.Header(), "latchkey_flash"); c == nil || c.MaxAge >= 0 {
		t.Errorf("TakeFlash did not clear the cookie: %v", w.Header())
	}
	payload, mac, _ := strings.Cut(value, ".")
	forged := base64.RawURLEncoding.EncodeToString([]byte(`{"m":"Call +1 555 0100 to unlock your account","x":9999999999}`))
	for name, v := range map[string]string{
		"forged text":  forged + "." + mac,
		"no signature": payload,
		"bad base64":   "!!!." + mac,
		"empty":        "",
	} {
		if f, ok, _ := take(v); ok {
			t.Errorf("%s: TakeFlash accepted %+v", name, f)
		}
	}
	e.clock.Advance(2 * time.Minute)
	if f, ok, _ := take(value); ok {
		t.Errorf("a stale flash was accepted: %+v", f)
	}
	req := httptest.NewRequest("GET", "/auth/login", nil)
	if _, ok := e.auth.TakeFlash(httptest.NewRecorder(), req); ok {
		t.Error("a flash without a cookie")
	}
}

// TestReturnTo: the origins next may name are AppURL's and AllowedOrigins.
func TestReturnTo(t *testing.T) {
	e := newEnv(t, func(c *latchkey.Config) {
		c.AllowedOrigins = []string{"http://localhost:5173"}
		c.PublicURL = "http://localhost:8080"
		c.AppURL = "https://app.example.com/base"
	})
	for next, want := range map[string]string{
		"/x": "/x", "https://app.example.com/y": "https://app.example.com/y", "http://localhost:5173/": "http://localhost:5173/",
		"http://localhost:8080/": "/", "//x": "/", "": "/",
	} {
		if got := e.auth.ReturnTo(next); got != want {
			t.Errorf("ReturnTo(%q) = %q, want %q", next, got, want)
		}
	}
}

// TestPagesPrefixConfig: the pages prefix is a plain path apart from the
// API's.
func TestPagesPrefixConfig(t *testing.T) {
	st := memstore.New()
	for _, tc := range []struct {
		prefix, api string
		ok          bool
	}{
		{"", "", true}, {"/auth", "", true}, {"/account/", "", true}, {"/a/b", "/api", true},
		{"/", "", false}, {"auth", "", false}, {"/api", "", false}, {"/api/pages", "", false},
		{"/x", "/x/api", false}, {"/a b", "", false}, {"/a?b", "", false}, {"//auth", "", false}, {`/a\b`, "", false},
	} {
		_, err := latchkey.New(latchkey.Config{Secrets: [][]byte{testSecret}, PagesPrefix: tc.prefix, APIPrefix: tc.api}, st, st)
		if (err == nil) != tc.ok {
			t.Errorf("PagesPrefix %q, APIPrefix %q: %v, want ok %v", tc.prefix, tc.api, err, tc.ok)
		}
	}
}

// TestFormTokenMode: the forms work in token mode too: the page's token is
// the browser's before the login and the access token's CSRF value after.
func TestFormTokenMode(t *testing.T) {
	e := newEnv(t, jwtMode)
	e.addUser("vic", "vic's long password")
	b := e.browser()
	b.CSRF()
	r := b.PostForm("/api/login", fields(b, "username", "vic", "password", "vic's long password", "next", "/x"))
	wantRedirect(t, "login", r, "/x")
	if !b.LoggedIn() {
		t.Fatal("not logged in")
	}
	ck := b.Cookie("csrf_access_token")
	if ck == nil {
		t.Fatal("no csrf_access_token cookie")
	}
	r = b.PostForm("/api/logout", fields(b, "csrf_token", "not it"))
	e.wantFlashError(t, "logout with a wrong token", r, "csrf_failed")
	r = b.PostForm("/api/logout", fields(b, "csrf_token", ck.Value))
	wantRedirect(t, "logout", r, "/auth/login")
	if b.LoggedIn() {
		t.Error("still logged in")
	}
}

// The hosted pages have no second step: a user with two-factor sign-in who
// logs in with their form goes back to the login page with a message, not
// logged in; a script's form post gets the JSON mfaRequired answer.
func TestFormLoginWithSecondFactor(t *testing.T) {
	e := newEnv(t)
	e.mfaUser(t)
	b := e.browser()
	b.CSRF()
	r := b.PostForm("/api/login", fields(b, "username", "alice", "password", mfaPassword, "next", "/x"))
	wantRedirect(t, "login", r, "/auth/login?next=%2Fx")
	e.wantFlashError(t, "login", r, "mfa_required")
	if b.LoggedIn() {
		t.Error("logged in without the second factor")
	}
}
