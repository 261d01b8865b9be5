package latchkey_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/sqlitestore"
)

// spyStore counts how Auth reads a session's user.
type spyStore struct {
	*sqlitestore.Store
	joined, byID atomic.Int64
}

func (s *spyStore) FindSessionUser(ctx context.Context, h []byte) (*latchkey.Session, *latchkey.User, error) {
	s.joined.Add(1)
	return s.Store.FindSessionUser(ctx, h)
}

func (s *spyStore) UserByID(ctx context.Context, id int64) (*latchkey.User, error) {
	s.byID.Add(1)
	return s.Store.UserByID(ctx, id)
}

// hideFinder exposes only the SessionStore methods of a store (and the
// account tokens and pending logins every session store must keep).
type hideFinder struct {
	latchkey.SessionStore
	latchkey.AccountTokenStore
	latchkey.PendingLoginStore
}

// Both ways of reading a session's user behave the same, and neither
// remembers anything between requests: a logout, a password change or a
// user removal made through the store (as the CLI or another instance
// would) takes effect on the very next request.
func TestSessionUserReads(t *testing.T) {
	for _, tc := range []struct {
		name         string
		auth         func(e *env, spy *spyStore) (*latchkey.Auth, error)
		joined, byID int64 // reads per authenticated request
	}{
		{"one store: one query", func(e *env, spy *spyStore) (*latchkey.Auth, error) {
			return latchkey.New(testConfig(e), spy, spy)
		}, 1, 0},
		{"finder hidden: two queries", func(e *env, spy *spyStore) (*latchkey.Auth, error) {
			return latchkey.New(testConfig(e), spy, hideFinder{spy, spy, spy})
		}, 0, 1},
		{"separate user store: two queries", func(e *env, spy *spyStore) (*latchkey.Auth, error) {
			return latchkey.New(testConfig(e), struct {
				latchkey.UserStore
				latchkey.MFAStore
			}{spy, spy}, spy)
		}, 0, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			u := e.addUser("fern", "fern's long password")
			spy := &spyStore{Store: e.store}
			a, err := tc.auth(e, spy)
			if err != nil {
				t.Fatal(err)
			}
			h := a.Handler()
			br := e.browser()
			get := func(what string, want string) {
				t.Helper()
				req := httptest.NewRequest("GET", "/api/getsession", nil)
				req.Header.Set("User-Agent", br.UserAgent)
				if c := br.Cookie("latchkey_session"); c != nil {
					req.AddCookie(c)
				}
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), want) {
					t.Fatalf("%s: got %d %s, want 200 with %s", what, rec.Code, rec.Body, want)
				}
			}
			login := func() {
				t.Helper()
				br.CSRF() // as the SPA does after being logged out
				br.MustLogin("fern", "fern's long password")
			}

			login()
			spy.joined.Store(0)
			spy.byID.Store(0)
			get("logged in", `"username":"fern"`)
			if got1, got2 := spy.joined.Load(), spy.byID.Load(); got1 != tc.joined || got2 != tc.byID {
				t.Errorf("store reads per request: got %d joined + %d by id, want %d + %d", got1, got2, tc.joined, tc.byID)
			}

			if _, err := e.store.DeleteUserSessions(t.Context(), u.ID); err != nil { // user passwd, from the CLI
				t.Fatal(err)
			}
			get("after the CLI ended the sessions", `"login":false`)

			login()
			get("logged in again", `"username":"fern"`)
			if err := e.store.DeleteUser(t.Context(), u.ID); err != nil { // the user alone, session left behind
				t.Fatal(err)
			}
			get("after the user was removed", `"login":false`)
			if got, err := e.store.ListUserSessions(t.Context(), u.ID); err != nil || len(got) != 0 {
				t.Errorf("sessions of the removed user: got (%d, %v), want none left", len(got), err)
			}
		})
	}
}

// testConfig is the configuration newEnv gives its Auth.
func testConfig(e *env) latchkey.Config {
	return latchkey.Config{Secrets: [][]byte{testSecret}, Argon2: cheapArgon2, Now: e.clock.Now, Logger: slog.New(slog.DiscardHandler)}
}
