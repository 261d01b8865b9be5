package latchkey_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/apitest"
	"github.com/latchkey/latchkey/memstore"
)

func TestPing(t *testing.T) {
	e := newEnv(t)
	r := e.browser().Get("/api/ping")
	if r.Status != 200 || r.JSON["ping"] != "pong!" {
		t.Fatalf("got %d %s, want 200 {\"ping\":\"pong!\"}", r.Status, r.Raw)
	}
}

func TestGetCSRF(t *testing.T) {
	e := newEnv(t)
	b := e.browser()
	r := b.Get("/api/getcsrf")
	tok, _ := r.JSON["csrfToken"].(string)
	if r.Status != 200 || r.JSON["detail"] != "CSRF cookie set" || tok == "" {
		t.Fatalf("got %d %s", r.Status, r.Raw)
	}
	if got := r.Header.Get("X-CSRFToken"); got != tok {
		t.Errorf("X-CSRFToken header = %q, want the body's token %q", got, tok)
	}
	// Flask-WTF's exact spelling, which the HTTP client above canonicalises away.
	rec := httptest.NewRecorder()
	e.auth.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/api/getcsrf", nil))
	if _, ok := rec.Result().Header["X-CSRFToken"]; !ok {
		t.Errorf("header not spelled X-CSRFToken: %v", rec.Result().Header)
	}
	xsrf := setCookieHeader(r.Header, "XSRF-TOKEN")
	if xsrf == nil || xsrf.Value != tok || xsrf.HttpOnly || xsrf.Path != "/" {
		t.Errorf("XSRF-TOKEN cookie = %+v, want the token, readable by JS, Path=/", xsrf)
	}
	anon := setCookieHeader(r.Header, "latchkey_csrf")
	if anon == nil || !anon.HttpOnly || anon.SameSite != http.SameSiteStrictMode {
		t.Errorf("anonymous binding cookie = %+v, want HttpOnly SameSite=Strict", anon)
	}
	if r.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("Cache-Control = %q, want no-store", r.Header.Get("Cache-Control"))
	}
	// Masked: a second copy differs, and both work.
	tok2 := b.CSRF()
	if tok2 == tok {
		t.Errorf("second token equals the first; tokens must be masked per response")
	}
	for _, tk := range []string{tok, tok2} {
		b.SetToken(tk)
		if r := b.Login("nobody", "whatever-pw"); r.Status != 401 {
			t.Errorf("login with issued token %d: got %d %s, want 401 (CSRF passed, bad credentials)", len(tk), r.Status, r.Raw)
		}
	}
	if n := e.sessions.creates.Load(); n != 0 {
		t.Errorf("anonymous visitor created %d server-side sessions, want 0", n)
	}
}

func TestRegister(t *testing.T) {
	e := newEnv(t)
	b := e.browser()
	b.CSRF()
	pre := b.Token()
	r := b.Post("/api/register", map[string]any{"username": "  Alice ", "password": "correct horse battery", "email": "alice@example.com"})
	if r.Status != 201 || r.JSON["register"] != true {
		t.Fatalf("register: got %d %s, want 201", r.Status, r.Raw)
	}
	user, _ := r.JSON["user"].(map[string]any)
	if user["username"] != "Alice" || user["email"] != "alice@example.com" || user["id"] == nil {
		t.Errorf("user = %v, want trimmed username Alice with id and email", user)
	}
	if strings.Contains(r.Raw, "argon2") || strings.Contains(r.Raw, "password") {
		t.Errorf("response leaks the password or hash: %s", r.Raw)
	}
	if b.Token() == pre || r.Header.Get("X-CSRFToken") == "" || setCookieHeader(r.Header, "XSRF-TOKEN") == nil {
		t.Errorf("register must answer with a new CSRF token in header and cookie")
	}
	if !b.LoggedIn() {
		t.Errorf("after register: not logged in")
	}
	if got := b.Post("/api/logout", nil); got.Status != 200 {
		t.Errorf("logout with the token from register: %d %s", got.Status, got.Raw)
	}
	// The stored hash is argon2id with the configured parameters.
	u, err := e.auth.LookupUser(context.Background(), "alice")
	if err != nil || !strings.HasPrefix(u.PasswordHash, "$argon2id$v=19$m=64,t=1,p=1$") {
		t.Errorf("stored hash = %q, %v; want argon2id PHC", u.PasswordHash, err)
	}
}

func TestRegisterRefusals(t *testing.T) {
	e := newEnv(t)
	e.addUser("taken", "a fine password")
	long := strings.Repeat("x", 1025)
	cases := []struct {
		name       string
		body       any
		status     int
		code, fld  string
		msgContain string
	}{
		{"short username", map[string]any{"username": "ab", "password": "a fine password"}, 400, "invalid_input", "username", "3 to 64"},
		{"long username", map[string]any{"username": strings.Repeat("a", 65), "password": "a fine password"}, 400, "invalid_input", "username", "3 to 64"},
		{"space in username", map[string]any{"username": "a b c", "password": "a fine password"}, 400, "invalid_input", "username", "spaces"},
		{"control char", map[string]any{"username": "abc\u0000d", "password": "a fine password"}, 400, "invalid_input", "username", ""},
		{"short password", map[string]any{"username": "bob", "password": "1234567"}, 400, "weak_password", "password", "8 characters"},
		{"common password", map[string]any{"username": "bob", "password": "password"}, 400, "weak_password", "password", "common"},
		{"common password other case", map[string]any{"username": "bob", "password": "PassWord"}, 400, "weak_password", "password", "common"},
		{"password is username", map[string]any{"username": "bobby-tables", "password": "Bobby-Tables"}, 400, "weak_password", "password", "username"},
		{"password too long", map[string]any{"username": "bob", "password": long}, 400, "invalid_input", "password", "1024"},
		{"bad email", map[string]any{"username": "bob", "password": "a fine password", "email": "not-an-email"}, 400, "invalid_input", "email", ""},
		{"email with display name", map[string]any{"username": "bob", "password": "a fine password", "email": "Bob <bob@example.com>"}, 400, "invalid_input", "email", ""},
		{"taken", map[string]any{"username": "taken", "password": "a fine password"}, 409, "username_taken", "username", ""},
		{"taken other case", map[string]any{"username": "TAKEN", "password": "a fine password"}, 409, "username_taken", "username", ""},
		{"taken full width", map[string]any{"username": "ｔａｋｅｎ", "password": "a fine password"}, 409, "username_taken", "username", ""},
		{"missing password", map[string]any{"username": "bob"}, 400, "invalid_input", "password", "required"},
		{"number as username", map[string]any{"username": 12345, "password": "a fine password"}, 400, "invalid_input", "username", "string"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := e.browser()
			b.CSRF()
			r := b.Post("/api/register", tc.body)
			if r.Status != tc.status || r.ErrCode() != tc.code || r.ErrField() != tc.fld {
				t.Fatalf("got %d %s field %q (%s), want %d %s field %q", r.Status, r.ErrCode(), r.ErrField(), r.Raw, tc.status, tc.code, tc.fld)
			}
			msg, _ := r.JSON["error"].(map[string]any)["message"].(string)
			if !strings.Contains(msg, tc.msgContain) {
				t.Errorf("message %q does not say %q", msg, tc.msgContain)
			}
			if b.LoggedIn() {
				t.Errorf("refused registration logged the browser in")
			}
		})
	}
	if users, _ := e.auth.ListUsers(context.Background(), 0, 100); len(users) != 1 {
		t.Errorf("users after refusals = %d, want 1", len(users))
	}
}

// TestRegisterLookAlikes: a name that looks like a taken one (UTS #39
// skeleton) or equals it case-folded is refused as taken, and lookalikes
// cannot log in to the account they imitate either.
func TestRegisterLookAlikes(t *testing.T) {
	e := newEnv(t)
	e.addUser("admin", "admin's long password")
	e.addUser("σας", "sigma's long password")
	for _, name := range []string{"\u0430dmin", "adm\u0456n", "admi\u0307n", "ADM\u0130N", "adrnin", "ΣΑΣ", "σασ"} {
		t.Run(name, func(t *testing.T) {
			b := e.browser()
			b.CSRF()
			r := b.Post("/api/register", map[string]any{"username": name, "password": "a fine password"})
			if r.Status != 409 || r.ErrCode() != "username_taken" {
				t.Errorf("register %q: %d %s, want 409 username_taken", name, r.Status, r.Raw)
			}
		})
	}
	if users, _ := e.auth.ListUsers(context.Background(), 0, 100); len(users) != 2 {
		t.Errorf("users after look-alike registrations = %d, want 2", len(users))
	}
	b := e.browser()
	if r := b.Login("\u0430dmin", "admin's long password"); r.Status != 401 {
		t.Errorf("login as a look-alike of admin with admin's password: %d, want 401", r.Status)
	}
}

func TestConcurrentRegistrationOneWins(t *testing.T) {
	e := newEnv(t)
	names := []string{"Racer", "racer", "RACER", "rAcEr", "Racer", "racer", "RACER", "racer"}
	statuses := make([]int, len(names))
	var wg sync.WaitGroup
	for i, n := range names {
		b := e.browser()
		b.CSRF()
		wg.Go(func() {
			statuses[i] = b.Post("/api/register", map[string]any{"username": n, "password": "a fine password"}).Status
		})
	}
	wg.Wait()
	created := 0
	for _, s := range statuses {
		switch s {
		case 201:
			created++
		case 409:
		default:
			t.Errorf("status %d, want 201 or 409", s)
		}
	}
	if created != 1 {
		t.Errorf("created %d users, want exactly 1 (statuses %v)", created, statuses)
	}
}

func TestLogin(t *testing.T) {
	e := newEnv(t)
	e.addUser("carol", "carol's long password")
	b := e.browser()
	pre := b.CSRF()
	r := b.Login("Carol", "carol's long password")
	if r.Status != 200 || r.JSON["login"] != true {
		t.Fatalf("login: got %d %s", r.Status, r.Raw)
	}
	if u, _ := r.JSON["user"].(map[string]any); u["username"] != "carol" || u["id"] == nil {
		t.Errorf("user = %v", u)
	}
	c := setCookieHeader(r.Header, "latchkey_session")
	if c == nil || !c.HttpOnly || c.Path != "/" || c.SameSite != http.SameSiteStrictMode || c.Secure || c.MaxAge != 0 || len(c.Value) != 43 {
		t.Errorf("session cookie = %+v, want HttpOnly, Path=/, SameSite=Strict, a browser-session cookie with a 43-char token", c)
	}
	if b.Token() == pre || setCookieHeader(r.Header, "XSRF-TOKEN") == nil {
		t.Errorf("login must answer with a new CSRF token")
	}
	if r.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("Cache-Control = %q", r.Header.Get("Cache-Control"))
	}
	s := b.Get("/api/getsession")
	if s.JSON["login"] != true || s.JSON["expiresAt"] == nil || s.JSON["idleExpiresAt"] == nil || s.JSON["fresh"] != true {
		t.Errorf("getsession = %s", s.Raw)
	}
	exp, _ := time.Parse(time.RFC3339Nano, s.JSON["expiresAt"].(string))
	idle, _ := time.Parse(time.RFC3339Nano, s.JSON["idleExpiresAt"].(string))
	if now := e.clock.Now(); !exp.Equal(now.Add(24*time.Hour)) || !idle.Equal(now.Add(2*time.Hour)) {
		t.Errorf("expiresAt %v idleExpiresAt %v, want now+24h and now+2h", exp, idle)
	}
	d := b.Get("/api/data")
	if d.Status != 200 || d.JSON["username"] != "carol" || d.JSON["id"] == nil {
		t.Errorf("data = %d %s", d.Status, d.Raw)
	}
	// The pre-login token died with the anonymous state.
	b.SetToken(pre)
	if r := b.Post("/api/logout", nil); r.Status != 403 || r.ErrCode() != "csrf_failed" {
		t.Errorf("pre-login token after login: got %d %s, want 403 csrf_failed", r.Status, r.Raw)
	}
}

func TestLoginFailures(t *testing.T) {
	e := newEnv(t)
	e.addUser("dave", "dave's long password")
	for _, tc := range []struct{ name, user, pw string }{
		{"wrong password", "dave", "wrong password!"},
		{"unknown user", "nobody", "dave's long password"},
		{"invalid username", "a b", "dave's long password"},
		{"oversized password", "dave", strings.Repeat("p", 2000)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := e.browser()
			r := b.Login(tc.user, tc.pw)
			if r.Status != 401 || r.JSON["login"] != false || r.ErrCode() != "invalid_credentials" {
				t.Errorf("got %d %s, want 401 login:false invalid_credentials", r.Status, r.Raw)
			}
			if setCookieHeader(r.Header, "latchkey_session") != nil || b.LoggedIn() {
				t.Errorf("failed login set a session")
			}
		})
	}
}

func TestRememberMe(t *testing.T) {
	e := newEnv(t)
	e.addUser("erin", "erin's long password")
	b := e.browser()
	b.CSRF()
	r := b.Post("/api/login", map[string]any{"username": "erin", "password": "erin's long password", "remember": true})
	c := setCookieHeader(r.Header, "latchkey_session")
	if r.Status != 200 || c == nil || c.MaxAge != int((30*24*time.Hour).Seconds()) {
		t.Fatalf("remember login: %d, cookie %+v, want Max-Age of 30 days", r.Status, c)
	}
	// Idle for 13 days: still logged in with a 14-day idle timeout.
	e.clock.Advance(13 * 24 * time.Hour)
	if !b.LoggedIn() {
		t.Fatalf("remembered session died after 13 idle days")
	}
	e.clock.Advance(14*24*time.Hour + time.Second)
	if b.LoggedIn() {
		t.Errorf("remembered session alive after 14 idle days")
	}
}

func TestDataUnauthorized(t *testing.T) {
	e := newEnv(t)
	r := e.browser().Get("/api/data")
	if r.Status != 401 || r.ErrCode() != "unauthorized" {
		t.Errorf("got %d %s, want 401 unauthorized", r.Status, r.Raw)
	}
	if g := e.browser().Get("/api/getsession"); g.Status != 200 || g.Raw != "{\"login\":false}\n" {
		t.Errorf("getsession logged out = %d %q", g.Status, g.Raw)
	}
}

func TestLogout(t *testing.T) {
	e := newEnv(t)
	e.addUser("fay", "fay's long password")
	b := e.browser()
	b.MustLogin("fay", "fay's long password")
	old := b.Cookie("latchkey_session").Value
	r := b.Post("/api/logout", nil)
	if r.Status != 200 || r.JSON["logout"] != true {
		t.Fatalf("logout: %d %s", r.Status, r.Raw)
	}
	// No Clear-Site-Data by default: its "cookies" would log the user out
	// of every other app on the site.
	if got, ok := r.Header["Clear-Site-Data"]; ok {
		t.Errorf("Clear-Site-Data = %q by default, want none", got)
	}
	if c := setCookieHeader(r.Header, "latchkey_session"); c == nil || c.MaxAge >= 0 {
		t.Errorf("session cookie not cleared: %+v", c)
	}
	if r.Header.Get("X-CSRFToken") == "" {
		t.Errorf("logout must give a token for logging in again")
	}
	if c := setCookieHeader(r.Header, "latchkey_csrf"); c != nil && c.MaxAge < 0 {
		t.Errorf("logout cleared the browser's CSRF cookie")
	}
	if b.LoggedIn() {
		t.Errorf("still logged in after logout")
	}
	// Replay of the old cookie: the server-side session is gone.
	thief := e.browser()
	thief.SetCookie("latchkey_session", old)
	if thief.LoggedIn() || thief.Get("/api/data").Status != 401 {
		t.Errorf("replayed cookie still logged in after logout")
	}
	// The fresh token lets the browser log in again without a reload.
	b.MustLogin("fay", "fay's long password")
}

func TestLogoutGET(t *testing.T) {
	e := newEnv(t)
	e.addUser("gus", "gus's long password")
	for _, tc := range []struct {
		name   string
		header []string
		status int
	}{
		{"old frontend", nil, 200},
		{"same origin", []string{"Sec-Fetch-Site", "same-origin"}, 200},
		{"typed in address bar", []string{"Sec-Fetch-Site", "none"}, 200},
		{"cross site", []string{"Sec-Fetch-Site", "cross-site"}, 403},
		{"sibling subdomain", []string{"Sec-Fetch-Site", "same-site"}, 403},
		{"foreign origin, no fetch metadata", []string{"Origin", "https://evil.example"}, 403},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := e.browser()
			b.MustLogin("gus", "gus's long password")
			r := b.Get("/api/logout", tc.header...)
			if r.Status != tc.status {
				t.Fatalf("got %d %s, want %d", r.Status, r.Raw, tc.status)
			}
			if want := tc.status != 200; b.LoggedIn() != want {
				t.Errorf("logged in = %v, want %v", !want, want)
			}
			if tc.status == 403 && r.ErrCode() != "csrf_failed" {
				t.Errorf("code %q, want csrf_failed", r.ErrCode())
			}
		})
	}
}

func TestRequireMiddleware(t *testing.T) {
	e := newEnv(t)
	e.addUser("hal", "hal's long password")
	b := e.browser()
	if r := b.Get("/app/x"); r.Status != 401 || r.ErrCode() != "unauthorized" {
		t.Errorf("anonymous: got %d %s, want 401 JSON", r.Status, r.Raw)
	}
	b.MustLogin("hal", "hal's long password")
	if r := b.Get("/app/x"); r.Status != 200 || r.Raw != "hello hal" {
		t.Errorf("logged in: got %d %q", r.Status, r.Raw)
	}
	if r := b.Do("POST", "/app/x", nil); r.Status != 403 || r.ErrCode() != "csrf_failed" {
		t.Errorf("POST without token: got %d %s, want 403", r.Status, r.Raw)
	}
	if r := b.Do("POST", "/app/x", nil, "X-CSRFToken", b.Token()); r.Status != 200 {
		t.Errorf("POST with token: got %d %s", r.Status, r.Raw)
	}
}

func TestDeletedUserIsLoggedOut(t *testing.T) {
	e := newEnv(t)
	e.addUser("ivy", "ivy's long password")
	b := e.browser()
	b.MustLogin("ivy", "ivy's long password")
	if err := e.auth.DeleteUser(context.Background(), "IVY"); err != nil {
		t.Fatal(err)
	}
	if b.LoggedIn() {
		t.Errorf("session of a deleted user still logged in")
	}
}

func TestSetPasswordEndsSessions(t *testing.T) {
	e := newEnv(t)
	e.addUser("jay", "jay's long password")
	b := e.browser()
	b.MustLogin("jay", "jay's long password")
	if err := e.auth.SetPassword(context.Background(), "jay", "jay's new password"); err != nil {
		t.Fatal(err)
	}
	if b.LoggedIn() {
		t.Errorf("session survived a password change")
	}
	if r := e.browser().Login("jay", "jay's long password"); r.Status != 401 {
		t.Errorf("old password: %d", r.Status)
	}
	e.browser().MustLogin("jay", "jay's new password")
}

func TestDemoUser(t *testing.T) {
	e := newEnv(t)
	created, err := e.auth.EnsureDemoUser(context.Background())
	if err != nil || !created {
		t.Fatalf("EnsureDemoUser = %v, %v", created, err)
	}
	if again, err := e.auth.EnsureDemoUser(context.Background()); err != nil || again {
		t.Errorf("second EnsureDemoUser = %v, %v; want false, nil", again, err)
	}
	e.browser().MustLogin("test", "test")
	// Nobody else gets a password that weak.
	b := e.browser()
	b.CSRF()
	if r := b.Post("/api/register", map[string]any{"username": "test2", "password": "test"}); r.ErrCode() != "weak_password" {
		t.Errorf("register with 'test': %s", r.Raw)
	}
}

func TestNewRefusesBadConfig(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  latchkey.Config
	}{
		{"no secret", latchkey.Config{}},
		{"short secret", latchkey.Config{Secrets: [][]byte{[]byte("short")}}},
		{"SameSite None without Secure", latchkey.Config{Secrets: [][]byte{testSecret}, SameSite: http.SameSiteNoneMode}},
		{"bad protection", latchkey.Config{Secrets: [][]byte{testSecret}, Protection: "paranoid"}},
		{"idle over absolute", latchkey.Config{Secrets: [][]byte{testSecret}, IdleTimeout: 48 * time.Hour}},
		{"app URL with a query", latchkey.Config{Secrets: [][]byte{testSecret}, AppURL: "https://app.example.com/?x=1"}},
		{"app URL without a scheme", latchkey.Config{Secrets: [][]byte{testSecret}, AppURL: "app.example.com"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := latchkey.New(tc.cfg, nil, nil); err == nil {
				t.Errorf("New accepted %+v", tc.cfg)
			}
		})
	}
}

func TestCSRFTokenForPages(t *testing.T) {
	e := newEnv(t)
	e.addUser("page", "page's long password")
	b := e.browser()
	// A page handler hands out a token the same way getcsrf does.
	rec := httptest.NewRecorder()
	tok, err := e.auth.CSRFToken(rec, httptest.NewRequest("GET", "/", nil))
	if err != nil || tok == "" {
		t.Fatalf("CSRFToken = %q, %v", tok, err)
	}
	anon := setCookieHeader(rec.Result().Header, "latchkey_csrf")
	if anon == nil {
		t.Fatalf("no binding cookie set")
	}
	b.SetCookie("latchkey_csrf", anon.Value)
	b.SetToken(tok)
	b.MustLogin("page", "page's long password")
}

func TestAuthVerify(t *testing.T) {
	e := newEnv(t)
	e.addUser("Zoë", "zoë's long password")
	b := e.browser()
	if r := b.Get("/api/auth/verify"); r.Status != 401 || r.ErrCode() != "unauthorized" {
		t.Errorf("anonymous: %d %s, want 401", r.Status, r.Raw)
	}
	b.MustLogin("zoë", "zoë's long password")
	r := b.Get("/api/auth/verify")
	if r.Status != 204 || r.Header.Get("X-Latchkey-User-Id") == "" || r.Header.Get("X-Latchkey-Username") != "Zo%C3%AB" {
		t.Errorf("logged in: %d, id %q, username %q; want 204 with identity headers", r.Status, r.Header.Get("X-Latchkey-User-Id"), r.Header.Get("X-Latchkey-Username"))
	}
	// nginx forwards the original method: a write without a token fails.
	if r := b.Get("/api/auth/verify", "X-Original-Method", "POST"); r.Status != 403 || r.Header.Get(latchkey.HeaderError) != "csrf_failed" {
		t.Errorf("original POST without token: %d, want 403", r.Status)
	}
	if r := b.Get("/api/auth/verify", "X-Original-Method", "DELETE", "X-CSRFToken", b.Token()); r.Status != 204 {
		t.Errorf("original DELETE with token: %d, want 204", r.Status)
	}
	if r := b.Get("/api/auth/verify", "X-Original-Method", "POST", "X-CSRFToken", b.Token(), "Sec-Fetch-Site", "cross-site"); r.Status != 403 {
		t.Errorf("original cross-site POST: %d, want 403", r.Status)
	}
}

func TestClearSiteDataOption(t *testing.T) {
	e := newEnv(t, func(c *latchkey.Config) { c.ClearSiteData = []string{"storage", "cache"} })
	e.addUser("gus", "gus's long password")
	b := e.browser()
	b.MustLogin("gus", "gus's long password")
	r := b.Post("/api/logout", nil)
	if got := r.Header.Get("Clear-Site-Data"); got != `"storage", "cache"` {
		t.Errorf("Clear-Site-Data = %q, want the configured types", got)
	}
	for _, bad := range [][]string{{"cookie"}, {`"storage"`}, {""}} {
		st := memstore.New()
		if _, err := latchkey.New(latchkey.Config{Secrets: [][]byte{testSecret}, ClearSiteData: bad}, st, st); err == nil {
			t.Errorf("New accepted Clear-Site-Data %q", bad)
		}
	}
}

// TestTokenOncePerPageLoad: a frontend that reads its token once per page
// load, as the Flask-WTF tutorial's do, can log out (GET) and log in again
// without reloading, whether the page was loaded logged out or logged in;
// and no token read before a login authorises a write of that login.
func TestTokenOncePerPageLoad(t *testing.T) {
	e := newEnv(t)
	e.addUser("hal", "hal's long password")
	login := func(b *apitest.Client, tok string) apitest.Resp {
		return b.Do("POST", "/api/login", strings.NewReader(`{"username":"hal","password":"hal's long password"}`),
			"Content-Type", "application/json", "X-CSRFToken", tok)
	}
	t.Run("page loaded logged out", func(t *testing.T) {
		b := e.browser()
		tok := b.Get("/api/getcsrf").JSON["csrfToken"].(string)
		for i := range 3 {
			if r := login(b, tok); r.Status != 200 {
				t.Fatalf("login %d with the page's token: %d %s", i+1, r.Status, r.Raw)
			}
			// The pre-login token does not authorise the session's writes.
			if r := b.Do("POST", "/api/logout", nil, "X-CSRFToken", tok); r.Status != 403 || !b.LoggedIn() {
				t.Fatalf("POST logout with the pre-login token: %d, logged in %v; want 403, still logged in", r.Status, b.LoggedIn())
			}
			if r := b.Get("/api/logout"); r.Status != 200 || b.LoggedIn() {
				t.Fatalf("GET logout: %d %s", r.Status, r.Raw)
			}
		}
	})
	t.Run("page loaded logged in", func(t *testing.T) {
		b := e.browser()
		b.MustLogin("hal", "hal's long password")
		tok := b.Get("/api/getcsrf").JSON["csrfToken"].(string) // the meta tag of a page loaded now
		if r := b.Do("POST", "/api/logout", nil, "X-CSRFToken", tok); r.Status != 200 {
			t.Fatalf("POST logout with the session's token: %d %s", r.Status, r.Raw)
		}
		if r := login(b, tok); r.Status != 200 {
			t.Fatalf("login again with the token the page had: %d %s", r.Status, r.Raw)
		}
		// A new session: the old session's token no longer writes.
		if r := b.Do("POST", "/api/logout", nil, "X-CSRFToken", tok); r.Status != 403 || !b.LoggedIn() {
			t.Errorf("POST logout with the previous session's token: %d; want 403", r.Status)
		}
	})
	t.Run("another browser's token", func(t *testing.T) {
		other := e.browser()
		other.MustLogin("hal", "hal's long password")
		foreign := other.Get("/api/getcsrf").JSON["csrfToken"].(string)
		b := e.browser()
		b.Get("/api/getcsrf")
		if r := login(b, foreign); r.Status != 403 {
			t.Errorf("login with another browser's token: %d, want 403", r.Status)
		}
	})
}
