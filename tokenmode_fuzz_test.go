package latchkey_test

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/memstore"
)

// FuzzTokenModeRequest sends arbitrary Cookie and Authorization headers to
// a token-mode Auth: the answer is always a designed one (never a 500 or a
// panic), and nothing but the real access token logs anyone in. Each run
// gets a fresh Auth with a fixed clock, so runs do not depend on each other
// (a refresh rotates, a reuse revokes); ACCESS and REFRESH in the inputs
// stand for that run's real tokens.
func FuzzTokenModeRequest(f *testing.F) {
	f.Add("access_token_cookie=ACCESS", "")
	f.Add("access_token_cookie=ACCESS; access_token_cookie=ACCESS", "")
	f.Add("access_token_cookie=REFRESH", "")
	f.Add(`access_token_cookie="ACCESS"`, "Bearer ")
	f.Add("access_token_cookie=ACCESSxx", "Bearer lk_"+strings.Repeat("A", 43))
	f.Add("refresh_token_cookie=REFRESH", "bearer  x")
	f.Add("refresh_token_cookie=ACCESS; csrf_access_token=x", "Basic dXNlcjpwYXNz")
	f.Fuzz(func(t *testing.T, cookie, authz string) {
		a, access, refresh := fuzzTokenAuth(t)
		cookie = strings.NewReplacer("ACCESS", access, "REFRESH", refresh).Replace(cookie)
		for _, path := range []string{"/api/getsession", "/api/data", "/api/auth/refresh"} {
			method := http.MethodGet
			if path == "/api/auth/refresh" {
				method = http.MethodPost
			}
			r := httptest.NewRequest(method, path, nil)
			r.Header.Set("Cookie", cookie)
			if authz != "" {
				r.Header.Set("Authorization", authz)
			}
			w := httptest.NewRecorder()
			a.Handler().ServeHTTP(w, r)
			switch w.Code {
			case http.StatusOK, http.StatusUnauthorized, http.StatusForbidden:
			default:
				t.Fatalf("%s %s with Cookie %q, Authorization %q: %d %s", method, path, cookie, authz, w.Code, w.Body)
			}
			real := strings.Contains(cookie, access) && !strings.HasPrefix(strings.ToLower(authz), "bearer ")
			if w.Code == http.StatusOK && path == "/api/data" && !real {
				t.Fatalf("logged in by Cookie %q, Authorization %q", cookie, authz)
			}
		}
	})
}

// fuzzTokenAuth is a token-mode Auth over the memory store with one
// logged-in user, and that login's tokens.
func fuzzTokenAuth(tb testing.TB) (a *latchkey.Auth, access, refresh string) {
	tb.Helper()
	st := memstore.New()
	a, err := latchkey.New(latchkey.Config{
		TokenMode: latchkey.TokenModeJWT, Secrets: [][]byte{testSecret}, Argon2: cheapArgon2,
		Logger: slog.New(slog.DiscardHandler),
		Now:    func() time.Time { return time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC) },
	}, st, st)
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := a.CreateUser(tb.Context(), "alice", "correct horse battery", ""); err != nil {
		tb.Fatal(err)
	}
	w := httptest.NewRecorder()
	a.Handler().ServeHTTP(w, httptest.NewRequest("GET", "/api/getcsrf", nil))
	r := httptest.NewRequest("POST", "/api/login", strings.NewReader(`{"username":"alice","password":"correct horse battery"}`))
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("X-CSRFToken", w.Header()["X-CSRFToken"][0]) // set with its exact spelling, so not by Get
	for _, c := range w.Result().Cookies() {
		r.AddCookie(c)
	}
	w = httptest.NewRecorder()
	a.Handler().ServeHTTP(w, r)
	for _, c := range w.Result().Cookies() {
		switch c.Name {
		case "access_token_cookie":
			access = c.Value
		case "refresh_token_cookie":
			refresh = c.Value
		}
	}
	if access == "" || refresh == "" {
		tb.Fatalf("login set no token cookies: %d %s", w.Code, w.Body)
	}
	return a, access, refresh
}
