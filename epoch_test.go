package latchkey_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/apitest"
	"github.com/latchkey/latchkey/memstore"
	"github.com/latchkey/latchkey/sqlitestore"
)

// pausingStore holds one login between reading its user and going on, so a
// test can run a password change in exactly the window the race needs.
type pausingStore struct {
	*sqlitestore.Store
	armed   atomic.Bool
	read    chan struct{} // closed when the armed read has happened
	release chan struct{} // the armed read returns once this is closed
}

func (p *pausingStore) UserByUsernameKey(ctx context.Context, key string) (*latchkey.User, error) {
	u, err := p.Store.UserByUsernameKey(ctx, key)
	if p.armed.CompareAndSwap(true, false) {
		close(p.read)
		<-p.release
	}
	return u, err
}

// TestPasswordChangeEndsRacingLogin: a login that read the user before a
// password change and creates its session after the change deleted the
// user's sessions must not survive it, in either token mode.
func TestPasswordChangeEndsRacingLogin(t *testing.T) {
	for _, mode := range []latchkey.TokenMode{latchkey.TokenModeSession, latchkey.TokenModeJWT} {
		t.Run(string(mode), func(t *testing.T) {
			st, err := sqlitestore.Open(t.Context(), filepath.Join(t.TempDir(), "latchkey.db"))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { st.Close() })
			p := &pausingStore{Store: st, read: make(chan struct{}), release: make(chan struct{})}
			a, err := latchkey.New(latchkey.Config{Secrets: [][]byte{testSecret}, Argon2: cheapArgon2,
				TokenMode: mode, Logger: slog.New(slog.DiscardHandler)}, p, p)
			if err != nil {
				t.Fatal(err)
			}
			srv := httptest.NewServer(a.Handler())
			t.Cleanup(srv.Close)
			ctx := context.Background()
			if _, err := a.CreateUser(ctx, "rita", "rita's old password", ""); err != nil {
				t.Fatal(err)
			}
			before := newBrowserAt(t, srv.URL)
			before.MustLogin("rita", "rita's old password")

			racer := newBrowserAt(t, srv.URL)
			racer.CSRF()
			p.armed.Store(true)
			status := make(chan int)
			go func() { status <- racer.Login("rita", "rita's old password").Status }()
			<-p.read // the login has rita's old hash and epoch in hand
			if err := a.SetPassword(ctx, "rita", "rita's brand-new password"); err != nil {
				t.Fatalf("SetPassword: %v", err)
			}
			close(p.release)
			if got := <-status; got != http.StatusOK {
				t.Fatalf("racing login: status %d, want 200 (it checked the hash it read before the change)", got)
			}
			if racer.LoggedIn() {
				t.Errorf("the session of a login that raced the password change survived it")
			}
			if before.LoggedIn() {
				t.Errorf("a session from before the password change survived it")
			}
			after := newBrowserAt(t, srv.URL)
			after.MustLogin("rita", "rita's brand-new password")
			if !after.LoggedIn() {
				t.Errorf("a login with the new password is not logged in")
			}
		})
	}
}

func newBrowserAt(t testing.TB, base string) *apitest.Client {
	b := apitest.New(t, base)
	b.UserAgent = "test-browser/1.0"
	return b
}

// TestPasswordChangeUnderConcurrentLogins: clients keep logging in with the
// old password while it changes; once the change has returned, none of the
// sessions they got is alive.
func TestPasswordChangeUnderConcurrentLogins(t *testing.T) {
	e := newEnv(t)
	e.addUser("sam", "sam's old password")
	var (
		mu      sync.Mutex
		clients []func() bool // each reports whether its browser is logged in
		stop    atomic.Bool
		wg      sync.WaitGroup
	)
	for range 4 {
		wg.Go(func() {
			for !stop.Load() {
				b := e.browser()
				if b.Login("sam", "sam's old password").Status == http.StatusOK {
					mu.Lock()
					clients = append(clients, b.LoggedIn)
					mu.Unlock()
				}
			}
		})
	}
	time.Sleep(50 * time.Millisecond) // let logins get going
	if err := e.auth.SetPassword(context.Background(), "sam", "sam's new password!"); err != nil {
		t.Fatalf("SetPassword: %v", err)
	}
	stop.Store(true)
	wg.Wait()
	if len(clients) == 0 {
		t.Fatal("no login succeeded before the change; the test proves nothing")
	}
	for i, loggedIn := range clients {
		if loggedIn() {
			t.Errorf("session %d of %d survived the password change", i+1, len(clients))
		}
	}
}

// TestEndUserSessions: one call ends every session and token family of the
// user, on every device, and no other user's.
func TestEndUserSessions(t *testing.T) {
	e := newEnv(t)
	u := e.addUser("tia", "tia's long password")
	e.addUser("uma", "uma's long password")
	var tias [3]func() bool
	for i := range tias {
		b := e.browser()
		b.MustLogin("tia", "tia's long password")
		tias[i] = b.LoggedIn
	}
	uma := e.browser()
	uma.MustLogin("uma", "uma's long password")
	n, err := e.auth.EndUserSessions(context.Background(), u.ID)
	if err != nil || n != 3 {
		t.Fatalf("EndUserSessions: %d, %v; want 3, nil", n, err)
	}
	for i, in := range tias {
		if in() {
			t.Errorf("tia's session %d survived EndUserSessions", i)
		}
	}
	if !uma.LoggedIn() {
		t.Errorf("EndUserSessions of tia logged uma out")
	}
	if _, err := e.auth.EndUserSessions(context.Background(), u.ID+100); err == nil {
		t.Errorf("EndUserSessions(unknown user): no error")
	}
}

// TestSessionCapEndsOldest: past MaxSessionsPerUser, a login ends the
// user's oldest sessions and keeps the newest.
func TestSessionCapEndsOldest(t *testing.T) {
	const limit = 3
	e := newEnv(t, func(c *latchkey.Config) { c.MaxSessionsPerUser = limit })
	u := e.addUser("vic", "vic's long password")
	var in []func() bool
	for range limit + 2 {
		b := e.browser()
		b.MustLogin("vic", "vic's long password")
		in = append(in, b.LoggedIn)
		e.clock.Advance(time.Second) // distinct creation times: "oldest" is defined
	}
	for i, loggedIn := range in {
		if want := i >= 2; loggedIn() != want {
			t.Errorf("login %d of %d: logged in %v, want %v", i+1, len(in), !want, want)
		}
	}
	live, err := e.store.ListUserSessions(context.Background(), u.ID)
	if err != nil || len(live) != limit {
		t.Errorf("stored sessions: %d, %v; want %d", len(live), err, limit)
	}
}

func TestSessionCapConfig(t *testing.T) {
	for _, tc := range []struct {
		max int
		ok  bool
	}{{0, true}, {1, true}, {-1, true}, {-2, false}} {
		t.Run(fmt.Sprint(tc.max), func(t *testing.T) {
			st := memstore.New()
			_, err := latchkey.New(latchkey.Config{Secrets: [][]byte{testSecret}, MaxSessionsPerUser: tc.max}, st, st)
			if (err == nil) != tc.ok {
				t.Errorf("New with MaxSessionsPerUser %d: err %v, want ok %v", tc.max, err, tc.ok)
			}
		})
	}
}
