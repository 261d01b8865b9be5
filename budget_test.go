package latchkey_test

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/apitest"
	"github.com/latchkey/latchkey/storetest"
)

// behindProxy makes loopback a trusted proxy, so tests pick each request's
// client address with X-Forwarded-For.
func behindProxy(c *latchkey.Config) {
	c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
}

// loginAs logs b in from the client address ip.
func loginAs(b *apitest.Client, ip, name, pw string) apitest.Resp {
	return b.Login(name, pw, "X-Forwarded-For", ip)
}

// registerAs registers name from the client address ip, in a new browser.
func (e *env) registerAs(ip, name, pw string) apitest.Resp {
	e.t.Helper()
	b := e.browser()
	b.CSRF()
	return b.Post("/api/register", map[string]any{"username": name, "password": pw}, "X-Forwarded-For", ip)
}

// want429 checks a 429 too_many_attempts with this Retry-After.
func want429(t *testing.T, what string, r apitest.Resp, retryAfter string) {
	t.Helper()
	if r.Status != 429 || r.ErrCode() != "too_many_attempts" || r.Header.Get("Retry-After") != retryAfter {
		t.Errorf("%s: got %d %s (Retry-After %q), want 429 too_many_attempts after %s s", what, r.Status, r.Raw, r.Header.Get("Retry-After"), retryAfter)
	}
}

// One password tried on many accounts from one client (spraying) meets the
// client's budget of failures, whatever the usernames; successful logins
// do not spend it, and do not wipe it either.
func TestLoginThrottlePerClient(t *testing.T) {
	e := newEnv(t, behindProxy, func(c *latchkey.Config) { c.LoginIPBurst, c.LoginIPRefill = 5, time.Hour })
	e.addUser("wes", "wes's long password")
	b := e.browser()
	const sprayer = "192.0.2.7"
	for i := range 10 {
		if r := loginAs(b, sprayer, "wes", "wes's long password"); r.Status != 200 {
			t.Fatalf("successful login %d: got %d %s, want 200", i+1, r.Status, r.Raw)
		}
	}
	for i := range 4 {
		if r := loginAs(b, sprayer, fmt.Sprintf("user%d", i), "Summer2026!"); r.Status != 401 {
			t.Fatalf("failure %d: got %d %s, want 401", i+1, r.Status, r.Raw)
		}
	}
	if r := loginAs(b, sprayer, "wes", "wes's long password"); r.Status != 200 {
		t.Fatalf("a success after 4 failures: got %d %s, want 200", r.Status, r.Raw)
	}
	if r := loginAs(b, sprayer, "user4", "Summer2026!"); r.Status != 401 {
		t.Fatalf("failure 5 (after a success): got %d %s, want 401", r.Status, r.Raw)
	}
	want429(t, "a 6th username", loginAs(b, sprayer, "user5", "Summer2026!"), "3600")
	want429(t, "the right password of another account, with the budget spent", loginAs(b, sprayer, "wes", "wes's long password"), "3600")
	for _, other := range []string{"192.0.2.8", "2001:db8::7"} {
		if r := loginAs(b, other, "user5", "Summer2026!"); r.Status != 401 {
			t.Errorf("another client (%s): got %d %s, want 401", other, r.Status, r.Raw)
		}
	}
	e.clock.Advance(time.Hour)
	if r := loginAs(b, sprayer, "user6", "Summer2026!"); r.Status != 401 {
		t.Errorf("an hour later: got %d %s, want 401", r.Status, r.Raw)
	}
	want429(t, "the token refilled in that hour spent", loginAs(b, sprayer, "user7", "Summer2026!"), "3600")
}

// A client is an IPv4 address or an IPv6 /64, for both login budgets: one
// subscriber holds a whole /64, and would otherwise get a fresh budget per
// address.
func TestLoginThrottleClientIsIPv6Prefix(t *testing.T) {
	for _, tc := range []struct {
		name          string
		first, second string
		same          bool
	}{
		{"one IPv6 /64", "2001:db8:1:2::1", "2001:db8:1:2:ffff:ffff:ffff:fffe", true},
		{"the next IPv6 /64", "2001:db8:1:2::1", "2001:db8:1:3::1", false},
		{"IPv4 neighbours", "192.0.2.1", "192.0.2.2", false},
		{"IPv4 and IPv4-mapped IPv6", "192.0.2.1", "::ffff:192.0.2.1", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// The username budget: two failures for alice.
			e := newEnv(t, behindProxy, func(c *latchkey.Config) { c.LoginBurst, c.LoginRefill = 2, time.Hour })
			b := e.browser()
			for range 2 {
				loginAs(b, tc.first, "alice", "wrong password")
			}
			if r := loginAs(b, tc.second, "alice", "wrong password"); (r.Status == 429) != tc.same {
				t.Errorf("alice from %s after 2 failures from %s: got %d, want 429 only for one client (%v)", tc.second, tc.first, r.Status, tc.same)
			}
			// The client budget: two failures across usernames.
			e = newEnv(t, behindProxy, func(c *latchkey.Config) { c.LoginIPBurst, c.LoginIPRefill = 2, time.Hour })
			b = e.browser()
			loginAs(b, tc.first, "alice", "wrong password")
			loginAs(b, tc.first, "bob", "wrong password")
			if r := loginAs(b, tc.second, "carol", "wrong password"); (r.Status == 429) != tc.same {
				t.Errorf("carol from %s after 2 failures from %s: got %d, want 429 only for one client (%v)", tc.second, tc.first, r.Status, tc.same)
			}
		})
	}
}

// Registrations from one client are counted, successful or not, before
// any password is hashed.
func TestRegisterThrottle(t *testing.T) {
	e := newEnv(t, behindProxy, func(c *latchkey.Config) { c.RegisterBurst, c.RegisterRefill = 3, time.Hour })
	const flood = "192.0.2.7"
	if r := e.registerAs(flood, "ann", "password"); r.ErrCode() != "weak_password" {
		t.Fatalf("a weak password: got %d %s, want 400 weak_password", r.Status, r.Raw)
	}
	if r := e.registerAs(flood, "ann", "ann's long password"); r.Status != 201 {
		t.Fatalf("a registration: got %d %s, want 201", r.Status, r.Raw)
	}
	if r := e.registerAs(flood, "ANN", "ann's long password"); r.ErrCode() != "username_taken" {
		t.Fatalf("a taken name: got %d %s, want 409 username_taken", r.Status, r.Raw)
	}
	r := e.registerAs(flood, "ben", "ben's long password")
	want429(t, "a 4th registration", r, "3600")
	if r.JSON["register"] != false {
		t.Errorf(`the 429 says "register": %v, want false`, r.JSON["register"])
	}
	if _, err := e.auth.LookupUser(context.Background(), "ben"); err == nil {
		t.Errorf("the refused registration created its user")
	}
	if r := e.registerAs("192.0.2.8", "ben", "ben's long password"); r.Status != 201 {
		t.Errorf("another client: got %d %s, want 201", r.Status, r.Raw)
	}
	// Logins have budgets of their own.
	if r := loginAs(e.browser(), flood, "ann", "ann's long password"); r.Status != 200 {
		t.Errorf("login from the throttled client: got %d %s, want 200", r.Status, r.Raw)
	}
	e.clock.Advance(time.Hour)
	if r := e.registerAs(flood, "cat", "cat's long password"); r.Status != 201 {
		t.Errorf("an hour later: got %d %s, want 201", r.Status, r.Raw)
	}
	want429(t, "the token refilled in that hour spent", e.registerAs(flood, "dan", "dan's long password"), "3600")
}

// The report's numbers, under the default budgets: 120 failed logins for
// 120 usernames from one client, and 80 registrations.
func TestThrottleDefaultsStopSprayingAndSignUpFloods(t *testing.T) {
	e := newEnv(t)
	b := e.browser()
	first429 := 0
	for i := range 120 {
		r := b.Login(fmt.Sprintf("user%03d", i), "Summer2026!")
		if r.Status == 429 {
			first429 = i + 1
			want429(t, "the first refused failure", r, "60")
			break
		}
		if r.Status != 401 {
			t.Fatalf("failed login %d: got %d %s, want 401", i+1, r.Status, r.Raw)
		}
	}
	if first429 != 101 {
		t.Errorf("120 failed logins for 120 usernames: first 429 at %d (0: none), want 101 (a burst of 100)", first429)
	}
	first429 = 0
	for i := range 80 {
		r := e.registerAs("127.0.0.1", fmt.Sprintf("new%03d", i), "a fine long password")
		if r.Status == 429 {
			first429 = i + 1
			want429(t, "the first refused registration", r, "12")
			break
		}
		if r.Status != 201 {
			t.Fatalf("registration %d: got %d %s, want 201", i+1, r.Status, r.Raw)
		}
	}
	if first429 != 26 {
		t.Errorf("80 registrations: first 429 at %d (0: none), want 26 (a burst of 25)", first429)
	}
}

// Two Auths on one store that is an AttemptLimiter share the client
// budgets too, under keys that show neither username nor address.
func TestClientBudgetsSharedByInstances(t *testing.T) {
	e := newEnv(t)
	shared := &sharedAttempts{full: map[string]time.Time{}}
	store := &throttlingStore{Store: e.store, sharedAttempts: shared}
	cfg := testConfig(e)
	cfg.LoginIPBurst, cfg.LoginIPRefill = 3, time.Hour
	cfg.RegisterBurst, cfg.RegisterRefill = 2, time.Hour
	var clients []*apitest.Client
	for range 2 {
		a, err := latchkey.New(cfg, store, store)
		if err != nil {
			t.Fatal(err)
		}
		clients = append(clients, serveAuth(t, a))
	}
	for i := range 3 {
		if r := clients[i%2].Login(fmt.Sprintf("user%d", i), "Summer2026!"); r.Status != 401 {
			t.Fatalf("failure %d: got %d %s, want 401", i+1, r.Status, r.Raw)
		}
	}
	for i, c := range clients {
		want429(t, fmt.Sprintf("a 4th username on instance %d", i), c.Login("user3", "Summer2026!"), "3600")
	}
	for i := range 2 {
		c := clients[i%2]
		if r := c.Post("/api/register", map[string]any{"username": fmt.Sprintf("new%d", i), "password": "a fine long password"}); r.Status != 201 {
			t.Fatalf("registration %d: got %d %s, want 201", i+1, r.Status, r.Raw)
		}
	}
	for i, c := range clients {
		want429(t, fmt.Sprintf("a 3rd registration on instance %d", i), c.Post("/api/register", map[string]any{"username": "new2", "password": "a fine long password"}), "3600")
	}
	shared.checkHashed(t, "127.0.0.1")
}

// The in-memory limiter keeps the contract every store keeps.
func TestMemoryAttemptsContract(t *testing.T) {
	storetest.RunAttemptLimiter(t, func(testing.TB) latchkey.AttemptLimiter { return latchkey.NewMemoryAttempts(0) })
}

// An attacker who fills the in-memory table with keys of his own can
// neither free a throttled key nor refill a half-spent one; once every key
// is throttled, new keys wait for the first to free (fails safe).
func TestMemoryAttemptsFlood(t *testing.T) {
	const capacity, burst, refill = 100, 3, time.Hour
	ctx := t.Context()
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	l := latchkey.NewMemoryAttempts(capacity)
	take := func(key string) time.Duration {
		t.Helper()
		wait, err := l.AttemptTake(ctx, key, burst, refill, now)
		if err != nil {
			t.Fatalf("AttemptTake(%s): %v", key, err)
		}
		return wait
	}
	for range burst {
		take("throttled")
	}
	take("half")
	take("half")
	for i := range 10 * capacity {
		if wait := take(fmt.Sprintf("junk%d", i)); wait != 0 {
			t.Fatalf("junk key %d: refused for %v; the table has less spent keys to drop", i, wait)
		}
	}
	if wait := take("throttled"); wait != refill {
		t.Errorf("the throttled key after the flood: wait %v, want %v (still throttled)", wait, refill)
	}
	if wait := take("half"); wait != 0 {
		t.Fatalf("the half-spent key's last token: refused for %v", wait)
	}
	if wait := take("half"); wait != refill {
		t.Errorf("the half-spent key after the flood: wait %v, want %v (a flood of less spent keys must not refill it)", wait, refill)
	}

	l = latchkey.NewMemoryAttempts(capacity)
	for i := range capacity {
		for range burst {
			take(fmt.Sprintf("attacker%d", i))
		}
	}
	if wait := take("newcomer"); wait != refill {
		t.Errorf("a new key with every key throttled: wait %v, want %v (until the first can take again)", wait, refill)
	}
	now = now.Add(refill)
	if wait := take("newcomer"); wait != 0 {
		t.Errorf("a new key once the first throttled key can take again: wait %v, want 0", wait)
	}
}

func TestConfigRefusesNegativeThrottles(t *testing.T) {
	for _, tc := range []struct {
		name string
		set  func(*latchkey.Config)
	}{
		{"LoginBurst", func(c *latchkey.Config) { c.LoginBurst = -1 }},
		{"LoginRefill", func(c *latchkey.Config) { c.LoginRefill = -time.Second }},
		{"LoginIPBurst", func(c *latchkey.Config) { c.LoginIPBurst = -1 }},
		{"LoginIPRefill", func(c *latchkey.Config) { c.LoginIPRefill = -time.Second }},
		{"RegisterBurst", func(c *latchkey.Config) { c.RegisterBurst = -1 }},
		{"RegisterRefill", func(c *latchkey.Config) { c.RegisterRefill = -time.Second }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			cfg := testConfig(e)
			tc.set(&cfg)
			if _, err := latchkey.New(cfg, e.store, e.store); err == nil || !strings.Contains(err.Error(), "must not be negative") {
				t.Errorf("got %v, want an error saying it must not be negative", err)
			}
		})
	}
}
