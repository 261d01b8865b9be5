package redisstore_test

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/password"
	"github.com/latchkey/latchkey/sqlitestore"
)

// BenchmarkSessionCheck is GET /api/getsession for a logged-in browser, in
// process, with sessions in Redis beside the embedded SQLite default (users
// in SQLite for both), so the cost of the network hop shows:
//
//	go test -run '^$' -bench SessionCheck ./redisstore
func BenchmarkSessionCheck(b *testing.B) {
	b.Run("sqlite", func(b *testing.B) {
		st := openSQLite(b)
		benchSessionCheck(b, st, st)
	})
	b.Run("redis", func(b *testing.B) {
		s, _ := open(b)
		benchSessionCheck(b, openSQLite(b), s)
	})
}

func openSQLite(b *testing.B) *sqlitestore.Store {
	st, err := sqlitestore.Open(b.Context(), filepath.Join(b.TempDir(), "latchkey.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	return st
}

func benchSessionCheck(b *testing.B, users latchkey.UserStore, sessions latchkey.SessionStore) {
	cfg := latchkey.Config{
		Secrets: [][]byte{[]byte("bench-secret-bench-secret-bench-secret!!")},
		Argon2:  password.Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32},
		Logger:  slog.New(slog.DiscardHandler),
	}
	auth, err := latchkey.New(cfg, users, sessions)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := auth.CreateUser(b.Context(), "bench", "the bench password", ""); err != nil {
		b.Fatal(err)
	}
	h := auth.Handler()
	const ua = "bench-browser/1.0"
	// Log in through the API, carrying cookies by hand.
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/api/getcsrf", nil))
	cookies := rec.Result().Cookies()
	body, _ := json.Marshal(map[string]string{"username": "bench", "password": "the bench password"})
	req := httptest.NewRequest("POST", "/api/login", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-CSRFToken", rec.Header()["X-CSRFToken"][0]) // set raw, not canonical
	req.Header.Set("User-Agent", ua)
	for _, c := range cookies {
		req.AddCookie(c)
	}
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		b.Fatalf("login: %d %s", rec.Code, rec.Body)
	}
	var session *http.Cookie
	for _, c := range rec.Result().Cookies() {
		if c.Name == "latchkey_session" {
			session = c
		}
	}
	if session == nil {
		b.Fatal("login set no session cookie")
	}
	req = httptest.NewRequest("GET", "/api/getsession", nil)
	req.AddCookie(session)
	req.Header.Set("User-Agent", ua)
	b.ReportAllocs()
	for b.Loop() {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `"login":true`) {
			b.Fatalf("got %d %s", rec.Code, rec.Body)
		}
	}
}
