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
)

func TestPing(t *testing.T) {
	e := newEnv(t)
	r := e.browser().get("/api/ping")
	if r.status != 200 || r.body["ping"] != "pong!" {
		t.Fatalf("got %d %s, want 200 {\"ping\":\"pong!\"}", r.status, r.raw)
	}
}

func TestGetCSRF(t *testing.T) {
	e := newEnv(t)
	b := e.browser()
	r := b.get("/api/getcsrf")
	tok, _ := r.body["csrfToken"].(string)
	if r.status != 200 || r.body["detail"] != "CSRF cookie set" || tok == "" {
		t.Fatalf("got %d %s", r.status, r.raw)
	}
	if got := r.header.Get("X-CSRFToken"); got != tok {
		t.Errorf("X-CSRFToken header = %q, want the body's token %q", got, tok)
	}
	// Flask-WTF's exact spelling, which the HTTP client above canonicalises away.
	rec := httptest.NewRecorder()
	e.auth.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/api/getcsrf", nil))
	if _, ok := rec.Result().Header["X-CSRFToken"]; !ok {
		t.Errorf("header not spelled X-CSRFToken: %v", rec.Result().Header)
	}
	xsrf := setCookieHeader(r.header, "XSRF-TOKEN")
	if xsrf == nil || xsrf.Value != tok || xsrf.HttpOnly || xsrf.Path != "/" {
		t.Errorf("XSRF-TOKEN cookie = %+v, want the token, readable by JS, Path=/", xsrf)
	}
	anon := setCookieHeader(r.header, "latchkey_csrf")
	if anon == nil || !anon.HttpOnly || anon.SameSite != http.SameSiteStrictMode {
		t.Errorf("anonymous binding cookie = %+v, want HttpOnly SameSite=Strict", anon)
	}
	if r.header.Get("Cache-Control") != "no-store" {
		t.Errorf("Cache-Control = %q, want no-store", r.header.Get("Cache-Control"))
	}
	// Masked: a second copy differs, and both work.
	tok2 := b.csrf()
	if tok2 == tok {
		t.Errorf("second token equals the first; tokens must be masked per response")
	}
	for _, tk := range []string{tok, tok2} {
		b.token = tk
		if r := b.login("nobody", "whatever-pw"); r.status != 401 {
			t.Errorf("login with issued token %d: got %d %s, want 401 (CSRF passed, bad credentials)", len(tk), r.status, r.raw)
		}
	}
	if n := e.sessions.creates.Load(); n != 0 {
		t.Errorf("anonymous visitor created %d server-side sessions, want 0", n)
	}
}

func TestRegister(t *testing.T) {
	e := newEnv(t)
	b := e.browser()
	b.csrf()
	pre := b.token
	r := b.post("/api/register", map[string]any{"username": "  Alice ", "password": "correct horse battery", "email": "alice@example.com"})
	if r.status != 201 || r.body["register"] != true {
		t.Fatalf("register: got %d %s, want 201", r.status, r.raw)
	}
	user, _ := r.body["user"].(map[string]any)
	if user["username"] != "Alice" || user["email"] != "alice@example.com" || user["id"] == nil {
		t.Errorf("user = %v, want trimmed username Alice with id and email", user)
	}
	if strings.Contains(r.raw, "argon2") || strings.Contains(r.raw, "password") {
		t.Errorf("response leaks the password or hash: %s", r.raw)
	}
	if b.token == pre || r.header.Get("X-CSRFToken") == "" || setCookieHeader(r.header, "XSRF-TOKEN") == nil {
		t.Errorf("register must answer with a new CSRF token in header and cookie")
	}
	if !b.loggedIn() {
		t.Errorf("after register: not logged in")
	}
	if got := b.post("/api/logout", nil); got.status != 200 {
		t.Errorf("logout with the token from register: %d %s", got.status, got.raw)
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
			b.csrf()
			r := b.post("/api/register", tc.body)
			if r.status != tc.status || r.errCode() != tc.code || r.errField() != tc.fld {
				t.Fatalf("got %d %s field %q (%s), want %d %s field %q", r.status, r.errCode(), r.errField(), r.raw, tc.status, tc.code, tc.fld)
			}
			msg, _ := r.body["error"].(map[string]any)["message"].(string)
			if !strings.Contains(msg, tc.msgContain) {
				t.Errorf("message %q does not say %q", msg, tc.msgContain)
			}
			if b.loggedIn() {
				t.Errorf("refused registration logged the browser in")
			}
		})
	}
	if users, _ := e.auth.ListUsers(context.Background(), 0, 100); len(users) != 1 {
		t.Errorf("users after refusals = %d, want 1", len(users))
	}
}

func TestConcurrentRegistrationOneWins(t *testing.T) {
	e := newEnv(t)
	names := []string{"Racer", "racer", "RACER", "rAcEr", "Racer", "racer", "RACER", "racer"}
	statuses := make([]int, len(names))
	var wg sync.WaitGroup
	for i, n := range names {
		b := e.browser()
		b.csrf()
		wg.Go(func() {
			statuses[i] = b.post("/api/register", map[string]any{"username": n, "password": "a fine password"}).status
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
	pre := b.csrf()
	r := b.login("Carol", "carol's long password")
	if r.status != 200 || r.body["login"] != true {
		t.Fatalf("login: got %d %s", r.status, r.raw)
	}
	if u, _ := r.body["user"].(map[string]any); u["username"] != "carol" || u["id"] == nil {
		t.Errorf("user = %v", u)
	}
	c := setCookieHeader(r.header, "latchkey_session")
	if c == nil || !c.HttpOnly || c.Path != "/" || c.SameSite != http.SameSiteStrictMode || c.Secure || c.MaxAge != 0 || len(c.Value) != 43 {
		t.Errorf("session cookie = %+v, want HttpOnly, Path=/, SameSite=Strict, a browser-session cookie with a 43-char token", c)
	}
	if b.token == pre || setCookieHeader(r.header, "XSRF-TOKEN") == nil {
		t.Errorf("login must answer with a new CSRF token")
	}
	if r.header.Get("Cache-Control") != "no-store" {
		t.Errorf("Cache-Control = %q", r.header.Get("Cache-Control"))
	}
	s := b.get("/api/getsession")
	if s.body["login"] != true || s.body["expiresAt"] == nil || s.body["idleExpiresAt"] == nil || s.body["fresh"] != true {
		t.Errorf("getsession = %s", s.raw)
	}
	exp, _ := time.Parse(time.RFC3339Nano, s.body["expiresAt"].(string))
	idle, _ := time.Parse(time.RFC3339Nano, s.body["idleExpiresAt"].(string))
	if now := e.clock.Now(); !exp.Equal(now.Add(24*time.Hour)) || !idle.Equal(now.Add(2*time.Hour)) {
		t.Errorf("expiresAt %v idleExpiresAt %v, want now+24h and now+2h", exp, idle)
	}
	d := b.get("/api/data")
	if d.status != 200 || d.body["username"] != "carol" || d.body["id"] == nil {
		t.Errorf("data = %d %s", d.status, d.raw)
	}
	// The pre-login token died with the anonymous state.
	b2 := *b
	b2.token = pre
	if r := b2.post("/api/logout", nil); r.status != 403 || r.errCode() != "csrf_failed" {
		t.Errorf("pre-login token after login: got %d %s, want 403 csrf_failed", r.status, r.raw)
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
			r := b.login(tc.user, tc.pw)
			if r.status != 401 || r.body["login"] != false || r.errCode() != "invalid_credentials" {
				t.Errorf("got %d %s, want 401 login:false invalid_credentials", r.status, r.raw)
			}
			if setCookieHeader(r.header, "latchkey_session") != nil || b.loggedIn() {
				t.Errorf("failed login set a session")
			}
		})
	}
}

func TestRememberMe(t *testing.T) {
	e := newEnv(t)
	e.addUser("erin", "erin's long password")
	b := e.browser()
	b.csrf()
	r := b.post("/api/login", map[string]any{"username": "erin", "password": "erin's long password", "remember": true})
	c := setCookieHeader(r.header, "latchkey_session")
	if r.status != 200 || c == nil || c.MaxAge != int((30*24*time.Hour).Seconds()) {
		t.Fatalf("remember login: %d, cookie %+v, want Max-Age of 30 days", r.status, c)
	}
	// Idle for 13 days: still logged in with a 14-day idle timeout.
	e.clock.Advance(13 * 24 * time.Hour)
	if !b.loggedIn() {
		t.Fatalf("remembered session died after 13 idle days")
	}
	e.clock.Advance(14*24*time.Hour + time.Second)
	if b.loggedIn() {
		t.Errorf("remembered session alive after 14 idle days")
	}
}

func TestDataUnauthorized(t *testing.T) {
	e := newEnv(t)
	r := e.browser().get("/api/data")
	if r.status != 401 || r.errCode() != "unauthorized" {
		t.Errorf("got %d %s, want 401 unauthorized", r.status, r.raw)
	}
	if g := e.browser().get("/api/getsession"); g.status != 200 || g.raw != "{\"login\":false}\n" {
		t.Errorf("getsession logged out = %d %q", g.status, g.raw)
	}
}

func TestLogout(t *testing.T) {
	e := newEnv(t)
	e.addUser("fay", "fay's long password")
	b := e.browser()
	b.mustLogin("fay", "fay's long password")
	old := b.cookie("latchkey_session").Value
	r := b.post("/api/logout", nil)
	if r.status != 200 || r.body["logout"] != true {
		t.Fatalf("logout: %d %s", r.status, r.raw)
	}
	if got := r.header.Get("Clear-Site-Data"); got != `"cookies", "storage"` {
		t.Errorf("Clear-Site-Data = %q", got)
	}
	if c := setCookieHeader(r.header, "latchkey_session"); c == nil || c.MaxAge >= 0 {
		t.Errorf("session cookie not cleared: %+v", c)
	}
	if r.header.Get("X-CSRFToken") == "" {
		t.Errorf("logout must give a fresh anonymous CSRF token")
	}
	if b.loggedIn() {
		t.Errorf("still logged in after logout")
	}
	// Replay of the old cookie: the server-side session is gone.
	thief := e.browser()
	thief.setCookie("latchkey_session", old)
	if thief.loggedIn() || thief.get("/api/data").status != 401 {
		t.Errorf("replayed cookie still logged in after logout")
	}
	// The fresh token lets the browser log in again without a reload.
	b.mustLogin("fay", "fay's long password")
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
			b.mustLogin("gus", "gus's long password")
			r := b.get("/api/logout", tc.header...)
			if r.status != tc.status {
				t.Fatalf("got %d %s, want %d", r.status, r.raw, tc.status)
			}
			if want := tc.status != 200; b.loggedIn() != want {
				t.Errorf("logged in = %v, want %v", !want, want)
			}
			if tc.status == 403 && r.errCode() != "csrf_failed" {
				t.Errorf("code %q, want csrf_failed", r.errCode())
			}
		})
	}
}

func TestRequireMiddleware(t *testing.T) {
	e := newEnv(t)
	e.addUser("hal", "hal's long password")
	b := e.browser()
	if r := b.get("/app/x"); r.status != 401 || r.errCode() != "unauthorized" {
		t.Errorf("anonymous: got %d %s, want 401 JSON", r.status, r.raw)
	}
	b.mustLogin("hal", "hal's long password")
	if r := b.get("/app/x"); r.status != 200 || r.raw != "hello hal" {
		t.Errorf("logged in: got %d %q", r.status, r.raw)
	}
	if r := b.do("POST", "/app/x", nil); r.status != 403 || r.errCode() != "csrf_failed" {
		t.Errorf("POST without token: got %d %s, want 403", r.status, r.raw)
	}
	if r := b.do("POST", "/app/x", nil, "X-CSRFToken", b.token); r.status != 200 {
		t.Errorf("POST with token: got %d %s", r.status, r.raw)
	}
}

func TestDeletedUserIsLoggedOut(t *testing.T) {
	e := newEnv(t)
	e.addUser("ivy", "ivy's long password")
	b := e.browser()
	b.mustLogin("ivy", "ivy's long password")
	if err := e.auth.DeleteUser(context.Background(), "IVY"); err != nil {
		t.Fatal(err)
	}
	if b.loggedIn() {
		t.Errorf("session of a deleted user still logged in")
	}
}

func TestSetPasswordEndsSessions(t *testing.T) {
	e := newEnv(t)
	e.addUser("jay", "jay's long password")
	b := e.browser()
	b.mustLogin("jay", "jay's long password")
	if err := e.auth.SetPassword(context.Background(), "jay", "jay's new password"); err != nil {
		t.Fatal(err)
	}
	if b.loggedIn() {
		t.Errorf("session survived a password change")
	}
	if r := e.browser().login("jay", "jay's long password"); r.status != 401 {
		t.Errorf("old password: %d", r.status)
	}
	e.browser().mustLogin("jay", "jay's new password")
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
	e.browser().mustLogin("test", "test")
	// Nobody else gets a password that weak.
	b := e.browser()
	b.csrf()
	if r := b.post("/api/register", map[string]any{"username": "test2", "password": "test"}); r.errCode() != "weak_password" {
		t.Errorf("register with 'test': %s", r.raw)
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
	b.setCookie("latchkey_csrf", anon.Value)
	b.token = tok
	b.mustLogin("page", "page's long password")
}

func TestAuthVerify(t *testing.T) {
	e := newEnv(t)
	e.addUser("Zoë", "zoë's long password")
	b := e.browser()
	if r := b.get("/api/auth/verify"); r.status != 401 || r.errCode() != "unauthorized" {
		t.Errorf("anonymous: %d %s, want 401", r.status, r.raw)
	}
	b.mustLogin("zoë", "zoë's long password")
	r := b.get("/api/auth/verify")
	if r.status != 204 || r.header.Get("X-Latchkey-User-Id") == "" || r.header.Get("X-Latchkey-Username") != "Zo%C3%AB" {
		t.Errorf("logged in: %d, id %q, username %q; want 204 with identity headers", r.status, r.header.Get("X-Latchkey-User-Id"), r.header.Get("X-Latchkey-Username"))
	}
	// nginx forwards the original method: a write without a token fails.
	if r := b.get("/api/auth/verify", "X-Original-Method", "POST"); r.status != 403 {
		t.Errorf("original POST without token: %d, want 403", r.status)
	}
	if r := b.get("/api/auth/verify", "X-Original-Method", "DELETE", "X-CSRFToken", b.token); r.status != 204 {
		t.Errorf("original DELETE with token: %d, want 204", r.status)
	}
	if r := b.get("/api/auth/verify", "X-Original-Method", "POST", "X-CSRFToken", b.token, "Sec-Fetch-Site", "cross-site"); r.status != 403 {
		t.Errorf("original cross-site POST: %d, want 403", r.status)
	}
}
