package latchkey_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/jwtcookie"
	"github.com/latchkey/latchkey/mail"
	"github.com/latchkey/latchkey/password"
)

// benchLogin measures one login attempt with the default (production)
// argon2id parameters. Compare BenchmarkLoginUnknownUser with
// BenchmarkLoginWrongPassword: equal times mean no username enumeration by
// timing.
func benchLogin(b *testing.B, user, pw string, wantStatus int) {
	e := newEnv(b, func(c *latchkey.Config) {
		c.Argon2 = password.DefaultParams()
		c.LoginBurst = 1 << 30 // measure hashing, not the throttle
	})
	e.addUser("bench", "the bench password")
	br := e.browser()
	br.CSRF()
	body := `{"username":"` + user + `","password":"` + pw + `"}`
	for b.Loop() {
		r := br.Do("POST", "/api/login", strings.NewReader(body), "Content-Type", "application/json", "X-CSRFToken", br.Token())
		if r.Status != wantStatus {
			b.Fatalf("status %d, want %d", r.Status, wantStatus)
		}
	}
}

func BenchmarkLoginUnknownUser(b *testing.B)   { benchLogin(b, "nobody", "the bench password", 401) }
func BenchmarkLoginWrongPassword(b *testing.B) { benchLogin(b, "bench", "not the password", 401) }
func BenchmarkLoginSuccess(b *testing.B)       { benchLogin(b, "bench", "the bench password", 200) }

// BenchmarkSessionCheck is the authenticated hot path, in process:
// cookie parse, token hash, store lookups, JSON write.
func BenchmarkSessionCheck(b *testing.B) {
	e := newEnv(b)
	e.addUser("bench", "the bench password")
	br := e.browser()
	br.MustLogin("bench", "the bench password")
	cookie := br.Cookie("latchkey_session")
	h := e.auth.Handler()
	req := httptest.NewRequest("GET", "/api/getsession", nil)
	req.AddCookie(cookie)
	req.Header.Set("User-Agent", br.UserAgent)
	b.ReportAllocs()
	for b.Loop() {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `"login":true`) {
			b.Fatalf("got %d %s", rec.Code, rec.Body)
		}
	}
}

// BenchmarkData is an authenticated GET /api/data through the handler in
// each token mode: in session mode the cookie's hash finds the session, in
// jwt mode the access token is verified (Ed25519 by default, HS256 as the
// option) and its family read from the store to check revocation. All read
// the store once (SQLite, session and user in one query); compare them with
// benchstat -col /mode.
func BenchmarkData(b *testing.B) {
	for _, tc := range []struct {
		name, cookie string
		mode         latchkey.TokenMode
		alg          string
	}{
		{"session", "latchkey_session", latchkey.TokenModeSession, ""},
		{"jwt", "access_token_cookie", latchkey.TokenModeJWT, jwtcookie.EdDSA},
		{"jwt-hs256", "access_token_cookie", latchkey.TokenModeJWT, jwtcookie.HS256},
	} {
		b.Run("mode="+tc.name, func(b *testing.B) {
			e := newEnv(b, func(c *latchkey.Config) { c.TokenMode, c.JWT.Algorithm = tc.mode, tc.alg })
			e.addUser("bench", "the bench password")
			br := e.browser()
			br.MustLogin("bench", "the bench password")
			cookie := br.Cookie(tc.cookie)
			if cookie == nil {
				b.Fatalf("login set no %s cookie", tc.cookie)
			}
			h := e.auth.Handler()
			req := httptest.NewRequest("GET", "/api/data", nil)
			req.AddCookie(cookie)
			req.Header.Set("User-Agent", br.UserAgent)
			b.ReportAllocs()
			for b.Loop() {
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `"username":"bench"`) {
					b.Fatalf("got %d %s", rec.Code, rec.Body)
				}
			}
		})
	}
}

func TestOptionalMiddleware(t *testing.T) {
	e := newEnv(t)
	e.addUser("opal", "opal's long password")
	h := e.auth.Optional(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, ok := latchkey.UserFromContext(r.Context()); ok {
			w.Write([]byte("user " + u.Username))
			return
		}
		w.Write([]byte("anonymous"))
	}))
	b := e.browser()
	b.MustLogin("opal", "opal's long password")
	run := func(method string, withCookie bool, token string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(method, "/x", nil)
		req.Header.Set("User-Agent", b.UserAgent)
		if withCookie {
			req.AddCookie(b.Cookie("latchkey_session"))
		}
		if token != "" {
			req.Header.Set("X-CSRFToken", token)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec
	}
	for _, tc := range []struct {
		name, method string
		cookie       bool
		token        string
		status       int
		body         string
	}{
		{"anonymous GET", "GET", false, "", 200, "anonymous"},
		{"anonymous POST needs no token", "POST", false, "", 200, "anonymous"},
		{"logged-in GET", "GET", true, "", 200, "user opal"},
		{"logged-in POST without token", "POST", true, "", 403, ""},
		{"logged-in POST with token", "POST", true, b.Token(), 200, "user opal"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := run(tc.method, tc.cookie, tc.token)
			if rec.Code != tc.status || tc.body != "" && rec.Body.String() != tc.body {
				t.Errorf("got %d %q, want %d %q", rec.Code, rec.Body, tc.status, tc.body)
			}
		})
	}
	if _, err := e.auth.LookupUser(context.Background(), "opal"); err != nil {
		t.Fatal(err)
	}
}

// BenchmarkSessionCheckParallel is BenchmarkSessionCheck from GOMAXPROCS
// goroutines at once, which shows lock contention on the path.
func BenchmarkSessionCheckParallel(b *testing.B) {
	e := newEnv(b)
	e.addUser("bench", "the bench password")
	br := e.browser()
	br.MustLogin("bench", "the bench password")
	cookie := br.Cookie("latchkey_session")
	h := e.auth.Handler()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		req := httptest.NewRequest("GET", "/api/getsession", nil)
		req.AddCookie(cookie)
		req.Header.Set("User-Agent", br.UserAgent)
		for pb.Next() {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != http.StatusOK {
				b.Fatalf("got %d %s", rec.Code, rec.Body)
			}
		}
	})
}

// BenchmarkForgotPassword is POST /api/password/forgot for addresses that
// have an account and for ones that have none, a new one each time (as a
// prober would ask): compare the two (benchstat -col /account); equal times
// mean the answer's time does not tell whether an account exists. The mail
// budgets are set out of the way, and mail goes through a queue to the log,
// as serve's does to SMTP.
func BenchmarkForgotPassword(b *testing.B) {
	for _, account := range []string{"yes", "no"} {
		b.Run("account="+account, func(b *testing.B) {
			quiet := slog.New(slog.DiscardHandler)
			q := mail.NewQueue(mail.NewLog(quiet), mail.QueueOptions{Size: 1 << 16, Logger: quiet})
			b.Cleanup(func() { q.Close(context.Background()) })
			e := newEnv(b, func(c *latchkey.Config) {
				c.AppURL = "https://app.example.test"
				c.Mailer = q // as serve has it
				c.MailAddressBurst, c.MailClientBurst = 1<<30, 1<<30
			})
			const n = 500
			for i := range n {
				if _, err := e.auth.CreateUser(context.Background(), fmt.Sprintf("bench%d", i), "the bench password", fmt.Sprintf("bench%d@example.test", i)); err != nil {
					b.Fatal(err)
				}
			}
			prefix := "bench"
			if account == "no" {
				prefix = "nobody"
			}
			br := e.browser()
			br.CSRF()
			i := 0
			for b.Loop() {
				body := fmt.Sprintf(`{"email":"%s%d@example.test"}`, prefix, i%n)
				i++
				r := br.Do("POST", "/api/password/forgot", strings.NewReader(body), "Content-Type", "application/json", "X-CSRFToken", br.Token())
				if r.Status != http.StatusAccepted {
					b.Fatalf("status %d, want 202", r.Status)
				}
			}
		})
	}
}
