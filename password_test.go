package latchkey_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/password"
)

func TestLoginThrottle(t *testing.T) {
	e := newEnv(t, func(c *latchkey.Config) { c.LoginBurst = 3; c.LoginRefill = 10 * time.Second })
	e.addUser("wes", "wes's long password")
	b := e.browser()
	for i := range 3 {
		if r := b.Login("wes", "wrong password"); r.Status != 401 {
			t.Fatalf("attempt %d: %d, want 401", i+1, r.Status)
		}
	}
	r := b.Login("wes", "wes's long password")
	if r.Status != 429 || r.ErrCode() != "too_many_attempts" || r.Header.Get("Retry-After") == "" || r.JSON["login"] != false {
		t.Fatalf("4th attempt: got %d %s (Retry-After %q), want 429 too_many_attempts", r.Status, r.Raw, r.Header.Get("Retry-After"))
	}
	// Unknown usernames are throttled the same way: no enumeration through 429s.
	for range 3 {
		b.Login("ghost", "wrong password")
	}
	if r := b.Login("ghost", "wrong password"); r.Status != 429 {
		t.Errorf("unknown user not throttled alike: %d", r.Status)
	}
	// Other users are not held up.
	e.addUser("xena", "xena's long password")
	e.browser().MustLogin("xena", "xena's long password")
	e.clock.Advance(10 * time.Second)
	b.MustLogin("wes", "wes's long password")
	// Success resets the count.
	for i := range 3 {
		if r := b.Login("wes", "wrong password"); r.Status != 401 {
			t.Fatalf("after success, attempt %d: %d", i+1, r.Status)
		}
	}
}

// TestHashingIsBounded: a flood of logins beyond MaxConcurrentHashes waits,
// then gets 503 busy with Retry-After, never a 500.
func TestHashingIsBounded(t *testing.T) {
	e := newEnv(t, func(c *latchkey.Config) {
		c.MaxConcurrentHashes = 1
		c.HashQueueTimeout = time.Millisecond
		c.Argon2 = password.Params{Memory: 8 << 10, Time: 3, Threads: 1, SaltLen: 16, KeyLen: 32}
	})
	e.addUser("yan", "yan's long password")
	var mu sync.Mutex
	counts := map[int]int{}
	var wg sync.WaitGroup
	for range 16 {
		b := e.browser()
		b.CSRF()
		wg.Go(func() {
			r := b.Login("yan", "yan's long password")
			mu.Lock()
			counts[r.Status]++
			mu.Unlock()
			if r.Status == 503 && (r.ErrCode() != "busy" || r.Header.Get("Retry-After") == "") {
				t.Errorf("503 without busy code or Retry-After: %s", r.Raw)
			}
		})
	}
	wg.Wait()
	if counts[200] == 0 || counts[503] == 0 || counts[200]+counts[503] != 16 {
		t.Errorf("statuses %v, want some 200 and some 503 only", counts)
	}
}

func TestBcryptHashIsUpgraded(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	hash, _ := bcrypt.GenerateFromPassword([]byte("imported password"), 4)
	u := &latchkey.User{Username: "zed", UsernameKey: "zed", PasswordHash: string(hash), CreatedAt: e.clock.Now(), UpdatedAt: e.clock.Now()}
	if err := e.store.CreateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	if r := e.browser().Login("zed", "wrong password"); r.Status != 401 {
		t.Fatalf("wrong password on bcrypt hash: %d", r.Status)
	}
	e.browser().MustLogin("zed", "imported password")
	got, _ := e.store.UserByID(ctx, u.ID)
	if !strings.HasPrefix(got.PasswordHash, "$argon2id$") {
		t.Fatalf("hash after login = %q, want upgraded to argon2id", got.PasswordHash)
	}
	e.browser().MustLogin("zed", "imported password")
}

func TestRehashWhenParamsChange(t *testing.T) {
	e := newEnv(t)
	e.addUser("amy", "amy's long password")
	stronger := password.Params{Memory: 128, Time: 2, Threads: 1, SaltLen: 16, KeyLen: 32}
	e2 := newEnvWithStore(t, e.store, func(c *latchkey.Config) { c.Argon2 = stronger })
	e2.browser().MustLogin("amy", "amy's long password")
	u, _ := e2.auth.LookupUser(context.Background(), "amy")
	if !strings.Contains(u.PasswordHash, "$m=128,t=2,p=1$") {
		t.Errorf("hash = %q, want rehashed with m=128,t=2,p=1", u.PasswordHash)
	}
}
