// Package storetest is the contract suite every latchkey store runs, so the
// memory, SQLite and later stores cannot drift apart. A store's test calls
// Run with a factory for fresh stores:
//
//	func TestContract(t *testing.T) {
//		storetest.Run(t, func(tb testing.TB, now func() time.Time) storetest.Stores {
//			s := memstore.New()
//			s.Now = now
//			return storetest.Stores{Users: s, Sessions: s}
//		})
//	}
package storetest

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	mathrand "math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/username"
)

// Stores is what a factory returns.
type Stores struct {
	Users    latchkey.UserStore
	Sessions latchkey.SessionStore
}

// Clock is a fake clock for tests. It is safe for concurrent use.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock returns a Clock that reads t until advanced.
func NewClock(t time.Time) *Clock { return &Clock{t: t} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// start is where every suite clock begins: whole milliseconds, so deadline
// tests can step exactly one millisecond, and not UTC, so stores must keep
// the instant rather than the wall-clock digits.
var start = time.Date(2031, time.March, 4, 5, 6, 7, 890_000_000, time.FixedZone("IST", 5*3600+1800))

// Run runs the whole contract suite as subtests. open must return fresh,
// empty stores whose clocks read now (the suite controls time through it).
// Users and Sessions may be the same value. Session tests use user IDs
// that name no user, as sessions may live in another store than users.
func Run(t *testing.T, open func(tb testing.TB, now func() time.Time) Stores) {
	newFixture := func(t *testing.T) *fixture {
		t.Helper()
		c := NewClock(start)
		s := open(t, c.Now)
		return &fixture{ctx: t.Context(), clock: c, users: s.Users, sessions: s.Sessions}
	}
	// Optional capabilities decide which cases exist, so a store without
	// one shows no skipped tests (CI treats a skip as a failure).
	probe := open(t, NewClock(start).Now)
	_, pruner := probe.Sessions.(latchkey.SessionPruner)
	fd, finder := probe.Sessions.(latchkey.SessionUserFinder)
	if us, ok := probe.Users.(latchkey.SessionUserFinder); !ok || us != fd {
		finder = false // the finder needs users and sessions in one store
	}
	_, tokens := probe.Users.(latchkey.APITokenStore)
	_, limiter := probe.Sessions.(latchkey.AttemptLimiter)
	_, accountTokens := probe.Sessions.(latchkey.AccountTokenStore)
	_, factors := probe.Users.(latchkey.MFAStore)
	_, pending := probe.Sessions.(latchkey.PendingLoginStore)
	groups := []struct {
		name  string
		tests []test
	}{
		{"Users", []test{
			{name: "CreateUserSetsID", fn: testCreateUserSetsID},
			{name: "LookupReturnsEqualFields", fn: testLookupReturnsEqualFields},
			{name: "UnknownUserIsNotFound", fn: testUnknownUserIsNotFound},
			{name: "DuplicateUsernameIsTaken", fn: testDuplicateUsernameIsTaken},
			{name: "LookAlikeUsernameIsTaken", fn: testLookAlikeUsernameIsTaken},
			{name: "EmptySkeletonsDoNotCollide", fn: testEmptySkeletonsDoNotCollide},
			{name: "IDsAreNeverReused", fn: testIDsAreNeverReused},
			{name: "UpdatePasswordHash", fn: testUpdatePasswordHash},
			{name: "AdvanceEpoch", fn: testAdvanceEpoch},
			{name: "UserByEmail", fn: testUserByEmail},
			{name: "UpdateEmail", fn: testUpdateEmail},
			{name: "UpdateEmailFromStaleAddress", fn: testUpdateEmailFromStale},
			{name: "VerifiedEmailIsUnique", fn: testVerifiedEmailUnique},
			{name: "DeleteUser", fn: testDeleteUser},
			{name: "ListUsersPages", fn: testListUsersPages},
			{name: "ReturnedUserIsACopy", fn: testReturnedUserIsACopy},
			{name: "SetRoles", fn: testSetRoles},
			{name: "ChangeRole", fn: testChangeRole},
			{name: "SetLocked", fn: testSetLocked},
			{name: "SearchUsers", fn: testSearchUsers},
		}},
		{"Sessions", []test{
			{name: "CreateFindRoundTrip", fn: testCreateFindRoundTrip},
			{name: "FindUnknownIsNotFound", fn: testFindUnknownIsNotFound},
			{name: "DuplicateTokenHashConflicts", fn: testDuplicateTokenHashConflicts},
			{name: "UpdateSessionWritesOnlyMutableFields", fn: testUpdateSessionWritesOnlyMutableFields},
			{name: "UpdateGoneSessionIsNotFound", fn: testUpdateGoneSessionIsNotFound},
			{name: "ExpiresAtDeadline", fn: testExpiresAtDeadline},
			{name: "DeleteSession", fn: testDeleteSession},
			{name: "DeleteUserSessions", fn: testDeleteUserSessions},
			{name: "ListUserSessionsNewestFirst", fn: testListUserSessionsNewestFirst},
			{name: "PruneSessions", fn: testPruneSessions, supported: pruner, optional: true},
			{name: "ReturnedSessionIsACopy", fn: testReturnedSessionIsACopy},
		}},
		{"SessionUserFinder", []test{
			{name: "RoundTrip", fn: testFindSessionUserRoundTrip, supported: finder, optional: true},
			{name: "UnknownOrExpiredIsNotFound", fn: testFindSessionUserNotFound, supported: finder, optional: true},
			{name: "UserGone", fn: testFindSessionUserGone, supported: finder, optional: true},
			{name: "ReturnsCopies", fn: testFindSessionUserCopies, supported: finder, optional: true},
		}},
		{"Rotation", rotationTests},
		{"APITokens", apiTokenTests(tokens)},
		{"AttemptLimiter", attemptTests(limiter)},
		{"AccountTokens", accountTokenTests(accountTokens)},
		{"Factors", factorTests(factors)},
		{"PendingLogins", pendingLoginTests(pending)},
		{"Events", eventTests},
		{"Passkeys", passkeyTests},
		{"Concurrency", []test{
			{name: "RegisterSameUsername", fn: testConcurrentRegisterSameUsername},
			{name: "RegisterLookAlikeUsernames", fn: testConcurrentRegisterLookAlikes},
			{name: "VerifySameEmail", fn: testConcurrentVerifySameEmail},
			{name: "SessionsOfOneUser", fn: testConcurrentSessionsOfOneUser},
			{name: "ChangeRoles", fn: testConcurrentChangeRoles},
		}},
		{"Values", []test{
			{name: "LongAndUnicodeRoundTrip", fn: testLongAndUnicodeRoundTrip},
		}},
	}
	for _, g := range groups {
		var tests []test
		for _, tc := range g.tests {
			if !tc.optional || tc.supported {
				tests = append(tests, tc)
			}
		}
		if len(tests) == 0 {
			continue
		}
		t.Run(g.name, func(t *testing.T) {
			for _, tc := range tests {
				t.Run(tc.name, func(t *testing.T) { tc.fn(t, newFixture(t)) })
			}
		})
	}
}

// test is one case; optional ones run only where the store supports them.
type test struct {
	name      string
	fn        func(*testing.T, *fixture)
	supported bool // for optional cases: the stores have the capability
	optional  bool
}

type fixture struct {
	ctx      context.Context
	clock    *Clock
	users    latchkey.UserStore
	sessions latchkey.SessionStore
}

// newUser returns an unsaved user named name, as registration would build it.
func newUser(tb testing.TB, name string, now time.Time) *latchkey.User {
	tb.Helper()
	display, key, err := latchkey.NormalizeUsername(name)
	if err != nil {
		tb.Fatalf("NormalizeUsername(%q): %v", name, err)
	}
	return &latchkey.User{
		Username:         display,
		UsernameKey:      key,
		UsernameSkeleton: username.Skeleton(display),
		Email:            key + "@example.com",
		PasswordHash:     "$argon2id$v=19$m=65536,t=3,p=4$c2FsdHNhbHRzYWx0$" + key,
		// Roles not the zero value, so a store that drops them fails.
		Roles:     []string{"reader", "team:" + key},
		CreatedAt: now,
		UpdatedAt: now,
	}
}

func (f *fixture) createUser(tb testing.TB, name string) *latchkey.User {
	tb.Helper()
	u := newUser(tb, name, f.clock.Now())
	if err := f.users.CreateUser(f.ctx, u); err != nil {
		tb.Fatalf("CreateUser(%q): %v", name, err)
	}
	return u
}

// newSession returns an unsaved session of userID created now, with the
// given idle and absolute lifetimes.
func newSession(userID int64, now time.Time, idle, absolute time.Duration) *latchkey.Session {
	token := make([]byte, 32)
	rand.Read(token)
	h := sha256.Sum256(token)
	return &latchkey.Session{
		TokenHash:     h[:],
		UserID:        userID,
		CreatedAt:     now,
		LastSeenAt:    now,
		IdleExpiresAt: now.Add(idle),
		ExpiresAt:     now.Add(absolute),
		Remember:      true,
		Fresh:         true,
		UserAgent:     "Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0",
		IP:            "203.0.113.7",
		UserEpoch:     3, // not the zero value, so a store that drops it fails
	}
}

func (f *fixture) createSession(tb testing.TB, userID int64, idle, absolute time.Duration) *latchkey.Session {
	tb.Helper()
	s := newSession(userID, f.clock.Now(), idle, absolute)
	if err := f.sessions.CreateSession(f.ctx, s); err != nil {
		tb.Fatalf("CreateSession: %v", err)
	}
	return s
}

func cloneSession(s *latchkey.Session) *latchkey.Session {
	c := *s
	c.TokenHash = bytes.Clone(s.TokenHash)
	return &c
}

// sameTime compares at millisecond precision, the coarsest a store keeps.
func sameTime(a, b time.Time) bool { return a.UnixMilli() == b.UnixMilli() }

func checkUser(tb testing.TB, what string, got, want *latchkey.User) {
	tb.Helper()
	if got == nil {
		tb.Errorf("%s: got nil user, want %+v", what, want)
		return
	}
	if got.ID != want.ID {
		tb.Errorf("%s: ID: got %d, want %d", what, got.ID, want.ID)
	}
	if got.EmailVerified != want.EmailVerified {
		tb.Errorf("%s: EmailVerified: got %v, want %v", what, got.EmailVerified, want.EmailVerified)
	}
	if got.Epoch != want.Epoch {
		tb.Errorf("%s: Epoch: got %d, want %d", what, got.Epoch, want.Epoch)
	}
	if got.Locked != want.Locked {
		tb.Errorf("%s: Locked: got %v, want %v", what, got.Locked, want.Locked)
	}
	if fmt.Sprint(got.Roles) != fmt.Sprint(want.Roles) {
		tb.Errorf("%s: Roles: got %q, want %q", what, got.Roles, want.Roles)
	}
	for _, f := range []struct{ name, got, want string }{
		{"Username", got.Username, want.Username},
		{"UsernameKey", got.UsernameKey, want.UsernameKey},
		{"UsernameSkeleton", got.UsernameSkeleton, want.UsernameSkeleton},
		{"Email", got.Email, want.Email},
		{"PasswordHash", got.PasswordHash, want.PasswordHash},
	} {
		if f.got != f.want {
			tb.Errorf("%s: %s: got %q, want %q", what, f.name, f.got, f.want)
		}
	}
	for _, f := range []struct {
		name      string
		got, want time.Time
	}{
		{"CreatedAt", got.CreatedAt, want.CreatedAt},
		{"UpdatedAt", got.UpdatedAt, want.UpdatedAt},
	} {
		if !sameTime(f.got, f.want) {
			tb.Errorf("%s: %s: got %v, want %v", what, f.name, f.got, f.want)
		}
	}
}

func checkSession(tb testing.TB, what string, got, want *latchkey.Session) {
	tb.Helper()
	if got == nil {
		tb.Errorf("%s: got nil session, want %+v", what, want)
		return
	}
	if !bytes.Equal(got.TokenHash, want.TokenHash) {
		tb.Errorf("%s: TokenHash: got %x, want %x", what, got.TokenHash, want.TokenHash)
	}
	if got.UserID != want.UserID {
		tb.Errorf("%s: UserID: got %d, want %d", what, got.UserID, want.UserID)
	}
	for _, f := range []struct {
		name      string
		got, want time.Time
	}{
		{"CreatedAt", got.CreatedAt, want.CreatedAt},
		{"LastSeenAt", got.LastSeenAt, want.LastSeenAt},
		{"IdleExpiresAt", got.IdleExpiresAt, want.IdleExpiresAt},
		{"ExpiresAt", got.ExpiresAt, want.ExpiresAt},
		{"RotatedAt", got.RotatedAt, want.RotatedAt},
	} {
		if !sameTime(f.got, f.want) {
			tb.Errorf("%s: %s: got %v, want %v", what, f.name, f.got, f.want)
		}
	}
	if got.Generation != want.Generation {
		tb.Errorf("%s: Generation: got %d, want %d", what, got.Generation, want.Generation)
	}
	if got.UserEpoch != want.UserEpoch {
		tb.Errorf("%s: UserEpoch: got %d, want %d", what, got.UserEpoch, want.UserEpoch)
	}
	if got.Remember != want.Remember {
		tb.Errorf("%s: Remember: got %v, want %v", what, got.Remember, want.Remember)
	}
	if got.Fresh != want.Fresh {
		tb.Errorf("%s: Fresh: got %v, want %v", what, got.Fresh, want.Fresh)
	}
	if got.UserAgent != want.UserAgent {
		tb.Errorf("%s: UserAgent: got %q, want %q", what, got.UserAgent, want.UserAgent)
	}
	if got.IP != want.IP {
		tb.Errorf("%s: IP: got %q, want %q", what, got.IP, want.IP)
	}
}

// checkErr reports err unless it wraps want (or is nil when want is nil).
func checkErr(tb testing.TB, what string, err, want error) {
	tb.Helper()
	if !errors.Is(err, want) { // errors.Is(nil, nil) is true
		tb.Errorf("%s: got error %v, want %v", what, err, want)
	}
}

// findGone checks that the session with hash h cannot be found.
func (f *fixture) findGone(tb testing.TB, what string, h []byte) {
	tb.Helper()
	s, err := f.sessions.FindSession(f.ctx, h)
	if !errors.Is(err, latchkey.ErrNotFound) {
		tb.Errorf("%s: FindSession: got (%+v, %v), want ErrNotFound", what, s, err)
	}
}

// findEqual checks that the session with want's hash is found and equal to want.
func (f *fixture) findEqual(tb testing.TB, what string, want *latchkey.Session) {
	tb.Helper()
	got, err := f.sessions.FindSession(f.ctx, want.TokenHash)
	if err != nil {
		tb.Errorf("%s: FindSession: got error %v, want the session", what, err)
		return
	}
	checkSession(tb, what, got, want)
}

// ---- Users ----

func testCreateUserSetsID(t *testing.T, f *fixture) {
	a := newUser(t, "alice", f.clock.Now())
	want := *a
	if err := f.users.CreateUser(f.ctx, a); err != nil {
		t.Fatalf("CreateUser: %v", err)
	}
	if a.ID <= 0 {
		t.Errorf("ID: got %d, want > 0 (ListUsers pages from afterID 0)", a.ID)
	}
	want.ID = a.ID
	checkUser(t, "user after CreateUser", a, &want)
	b := f.createUser(t, "bob")
	if b.ID <= 0 || b.ID == a.ID {
		t.Errorf("second ID: got %d, want > 0 and not %d", b.ID, a.ID)
	}
}

func testLookupReturnsEqualFields(t *testing.T, f *fixture) {
	want := newUser(t, "Alice", f.clock.Now())
	want.UpdatedAt = want.CreatedAt.Add(90*time.Minute + 123*time.Millisecond)
	if err := f.users.CreateUser(f.ctx, want); err != nil {
		t.Fatalf("CreateUser: %v", err)
	}
	f.createUser(t, "bob") // a neighbour, so lookups must pick the right row

	got, err := f.users.UserByID(f.ctx, want.ID)
	if err != nil {
		t.Fatalf("UserByID: %v", err)
	}
	checkUser(t, "UserByID", got, want)

	got, err = f.users.UserByUsernameKey(f.ctx, want.UsernameKey)
	if err != nil {
		t.Fatalf("UserByUsernameKey: %v", err)
	}
	checkUser(t, "UserByUsernameKey", got, want)
}

func testUnknownUserIsNotFound(t *testing.T, f *fixture) {
	u := f.createUser(t, "alice")
	for _, id := range []int64{0, -1, u.ID + 1, 1 << 62} {
		got, err := f.users.UserByID(f.ctx, id)
		if !errors.Is(err, latchkey.ErrNotFound) {
			t.Errorf("UserByID(%d): got (%+v, %v), want ErrNotFound", id, got, err)
		}
	}
	// "Alice" is not a key: keys are case-folded, and lookups do not fold.
	for _, key := range []string{"", "bob", "Alice", "alice "} {
		got, err := f.users.UserByUsernameKey(f.ctx, key)
		if !errors.Is(err, latchkey.ErrNotFound) {
			t.Errorf("UserByUsernameKey(%q): got (%+v, %v), want ErrNotFound", key, got, err)
		}
	}
}

func testDuplicateUsernameIsTaken(t *testing.T, f *fixture) {
	first := f.createUser(t, "alice")
	for _, name := range []string{"alice", "Alice", "ALICE", "Ａｌｉｃｅ", "  aLiCe "} {
		t.Run(name, func(t *testing.T) {
			u := newUser(t, name, f.clock.Now())
			err := f.users.CreateUser(f.ctx, u)
			checkErr(t, fmt.Sprintf("CreateUser(%q)", name), err, latchkey.ErrUsernameTaken)
		})
	}
	got, err := f.users.UserByUsernameKey(f.ctx, first.UsernameKey)
	if err != nil {
		t.Fatalf("UserByUsernameKey: %v", err)
	}
	checkUser(t, "first user after the duplicates", got, first)
	f.createUser(t, "alicia") // a different name still registers
}

// testLookAlikeUsernameIsTaken: names with other keys but the same
// skeleton are refused, and the first user is untouched.
func testLookAlikeUsernameIsTaken(t *testing.T, f *fixture) {
	first := f.createUser(t, "admin")
	for _, name := range []string{"\u0430dmin", "adm\u0456n", "admi\u0307n", "adrnin"} {
		t.Run(name, func(t *testing.T) {
			u := newUser(t, name, f.clock.Now())
			if u.UsernameKey == first.UsernameKey {
				t.Fatalf("%q has admin's key; the case tests nothing", name)
			}
			err := f.users.CreateUser(f.ctx, u)
			checkErr(t, fmt.Sprintf("CreateUser(%q)", name), err, latchkey.ErrUsernameTaken)
			if _, err := f.users.UserByUsernameKey(f.ctx, u.UsernameKey); !errors.Is(err, latchkey.ErrNotFound) {
				t.Errorf("UserByUsernameKey(%q) after a refused create: %v, want ErrNotFound", u.UsernameKey, err)
			}
		})
	}
	got, err := f.users.UserByID(f.ctx, first.ID)
	if err != nil {
		t.Fatalf("UserByID: %v", err)
	}
	checkUser(t, "first user", got, first)
	// Deleting the user frees the look-alike name too.
	if err := f.users.DeleteUser(f.ctx, first.ID); err != nil {
		t.Fatalf("DeleteUser: %v", err)
	}
	f.createUser(t, "\u0430dmin")
}

// testEmptySkeletonsDoNotCollide: users without a skeleton (stored before
// stores kept one) are many, and unique by key alone.
func testEmptySkeletonsDoNotCollide(t *testing.T, f *fixture) {
	for _, name := range []string{"old-one", "old-two"} {
		u := newUser(t, name, f.clock.Now())
		u.UsernameSkeleton = ""
		if err := f.users.CreateUser(f.ctx, u); err != nil {
			t.Fatalf("CreateUser(%q) without a skeleton: %v", name, err)
		}
		got, err := f.users.UserByID(f.ctx, u.ID)
		if err != nil || got.UsernameSkeleton != "" {
			t.Errorf("UserByID(%q): skeleton %q, %v; want empty", name, got.UsernameSkeleton, err)
		}
	}
}

func testIDsAreNeverReused(t *testing.T, f *fixture) {
	used := map[int64]bool{}
	var last *latchkey.User
	for _, name := range []string{"alice", "bob", "carol"} {
		last = f.createUser(t, name)
		used[last.ID] = true
	}
	// Deleting the highest ID is what catches a plain SQLite rowid.
	if err := f.users.DeleteUser(f.ctx, last.ID); err != nil {
		t.Fatalf("DeleteUser: %v", err)
	}
	for _, name := range []string{"carol", "dave"} {
		u := f.createUser(t, name)
		if used[u.ID] {
			t.Errorf("CreateUser(%q): got ID %d, which was used before", name, u.ID)
		}
		used[u.ID] = true
	}
}

func testUpdatePasswordHash(t *testing.T, f *fixture) {
	u := f.createUser(t, "alice")
	other := f.createUser(t, "bob")
	f.clock.Advance(time.Hour)
	want := *u
	want.PasswordHash = "$argon2id$v=19$m=65536,t=3,p=4$bmV3c2FsdG5ld3NhbHQ$bmV3aGFzaA"
	want.UpdatedAt = f.clock.Now()
	if err := f.users.UpdatePasswordHash(f.ctx, u.ID, want.PasswordHash, want.UpdatedAt); err != nil {
		t.Fatalf("UpdatePasswordHash: %v", err)
	}
	got, err := f.users.UserByID(f.ctx, u.ID)
	if err != nil {
		t.Fatalf("UserByID: %v", err)
	}
	checkUser(t, "after UpdatePasswordHash", got, &want)
	got, err = f.users.UserByID(f.ctx, other.ID)
	if err != nil {
		t.Fatalf("UserByID(other): %v", err)
	}
	checkUser(t, "other user", got, other)

	err = f.users.UpdatePasswordHash(f.ctx, other.ID+100, "x", f.clock.Now())
	checkErr(t, "UpdatePasswordHash(unknown id)", err, latchkey.ErrNotFound)
}

// testAdvanceEpoch: each call adds exactly one, atomically, to that user
// only, and the users read back carry it.
func testAdvanceEpoch(t *testing.T, f *fixture) {
	u := f.createUser(t, "alice")
	other := f.createUser(t, "bob")
	for want := int64(1); want <= 2; want++ {
		got, err := f.users.AdvanceEpoch(f.ctx, u.ID)
		if err != nil || got != want {
			t.Fatalf("AdvanceEpoch: got %d, %v; want %d", got, err, want)
		}
	}
	const n = 16
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			if _, err := f.users.AdvanceEpoch(f.ctx, u.ID); err != nil {
				t.Errorf("concurrent AdvanceEpoch: %v", err)
			}
		})
	}
	wg.Wait()
	want := *u
	want.Epoch = 2 + n
	got, err := f.users.UserByID(f.ctx, u.ID)
	if err != nil {
		t.Fatalf("UserByID: %v", err)
	}
	checkUser(t, "after AdvanceEpoch", got, &want)
	got, err = f.users.UserByUsernameKey(f.ctx, u.UsernameKey)
	if err != nil {
		t.Fatalf("UserByUsernameKey: %v", err)
	}
	checkUser(t, "after AdvanceEpoch, by key", got, &want)
	got, err = f.users.UserByID(f.ctx, other.ID)
	if err != nil {
		t.Fatalf("UserByID(other): %v", err)
	}
	checkUser(t, "other user", got, other)
	_, err = f.users.AdvanceEpoch(f.ctx, other.ID+100)
	checkErr(t, "AdvanceEpoch(unknown id)", err, latchkey.ErrNotFound)
}

// testUserByEmail: addresses are compared in lower case; a verified owner
// wins over earlier unverified claimants.
func testUserByEmail(t *testing.T, f *fixture) {
	squatter := f.createUser(t, "squatter") // created first, address unverified
	if err := f.setEmail(t, squatter.ID, "Owner@Example.com", false, f.clock.Now()); err != nil {
		t.Fatalf("UpdateEmail: %v", err)
	}
	got, err := f.users.UserByEmail(f.ctx, "owner@example.COM")
	if err != nil || got.ID != squatter.ID {
		t.Fatalf("UserByEmail with only an unverified claim: %+v, %v; want the squatter", got, err)
	}
	owner := f.createUser(t, "owner")
	if err := f.setEmail(t, owner.ID, "owner@example.com", true, f.clock.Now()); err != nil {
		t.Fatalf("UpdateEmail(verified): %v", err)
	}
	for _, addr := range []string{"owner@example.com", "OWNER@EXAMPLE.COM", "Owner@Example.com"} {
		got, err := f.users.UserByEmail(f.ctx, addr)
		if err != nil || got.ID != owner.ID || !got.EmailVerified {
			t.Errorf("UserByEmail(%q): %+v, %v; want the verified owner", addr, got, err)
		}
	}
	for _, addr := range []string{"", "nobody@example.com", "owner@example.co"} {
		_, err := f.users.UserByEmail(f.ctx, addr)
		checkErr(t, fmt.Sprintf("UserByEmail(%q)", addr), err, latchkey.ErrNotFound)
	}
}

// setEmail is UpdateEmail from the user's current address.
func (f *fixture) setEmail(t *testing.T, id int64, email string, verified bool, at time.Time) error {
	t.Helper()
	u, err := f.users.UserByID(f.ctx, id)
	if err != nil {
		t.Fatalf("UserByID(%d): %v", id, err)
	}
	return f.users.UpdateEmail(f.ctx, id, u.Email, email, verified, at)
}

// testUpdateEmailFromStaleAddress: an update from an address the user no
// longer has changes nothing, and of concurrent updates from one address
// exactly one is made.
func testUpdateEmailFromStale(t *testing.T, f *fixture) {
	u := f.createUser(t, "alice")
	if err := f.users.UpdateEmail(f.ctx, u.ID, u.Email, "second@example.com", true, f.clock.Now()); err != nil {
		t.Fatalf("UpdateEmail: %v", err)
	}
	err := f.users.UpdateEmail(f.ctx, u.ID, u.Email, u.Email, true, f.clock.Now()) // a verification of the old address
	checkErr(t, "UpdateEmail from the old address", err, latchkey.ErrConflict)
	got, err := f.users.UserByID(f.ctx, u.ID)
	if err != nil || got.Email != "second@example.com" || !got.EmailVerified {
		t.Errorf("after the refused update: %+v, %v; want second@example.com, verified", got, err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	made := 0
	for i := range 8 {
		wg.Go(func() {
			err := f.users.UpdateEmail(f.ctx, u.ID, "second@example.com", fmt.Sprintf("third%d@example.com", i), false, f.clock.Now())
			switch {
			case err == nil:
				mu.Lock()
				made++
				mu.Unlock()
			case !errors.Is(err, latchkey.ErrConflict):
				t.Errorf("concurrent UpdateEmail: %v", err)
			}
		})
	}
	wg.Wait()
	if made != 1 {
		t.Errorf("%d of 8 concurrent updates from one address were made, want 1", made)
	}
}

func testUpdateEmail(t *testing.T, f *fixture) {
	u := f.createUser(t, "alice")
	other := f.createUser(t, "bob")
	f.clock.Advance(time.Minute)
	want := *u
	want.Email, want.EmailVerified, want.UpdatedAt = "Alice.New@example.org", true, f.clock.Now()
	if err := f.setEmail(t, u.ID, want.Email, true, want.UpdatedAt); err != nil {
		t.Fatalf("UpdateEmail: %v", err)
	}
	got, err := f.users.UserByID(f.ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	checkUser(t, "after UpdateEmail", got, &want)
	// Verified again at another address, the old one is free.
	if err := f.setEmail(t, u.ID, "alice3@example.org", true, f.clock.Now()); err != nil {
		t.Fatalf("UpdateEmail again: %v", err)
	}
	if err := f.setEmail(t, other.ID, "alice.new@EXAMPLE.org", true, f.clock.Now()); err != nil {
		t.Errorf("verifying an address its owner gave up: %v", err)
	}
	got, err = f.users.UserByID(f.ctx, other.ID)
	if err != nil || got.Username != other.Username || got.PasswordHash != other.PasswordHash {
		t.Errorf("other fields of bob changed: %+v, %v", got, err)
	}
	err = f.users.UpdateEmail(f.ctx, other.ID+100, "", "x@example.com", false, f.clock.Now())
	checkErr(t, "UpdateEmail(unknown id)", err, latchkey.ErrNotFound)
}

func testVerifiedEmailUnique(t *testing.T, f *fixture) {
	owner := f.createUser(t, "owner")
	if err := f.setEmail(t, owner.ID, "Shared@Example.com", true, f.clock.Now()); err != nil {
		t.Fatal(err)
	}
	other := f.createUser(t, "other")
	err := f.setEmail(t, other.ID, "shared@example.com", true, f.clock.Now())
	checkErr(t, "verifying an address another user has verified", err, latchkey.ErrEmailTaken)
	if err := f.setEmail(t, other.ID, "SHARED@example.com", false, f.clock.Now()); err != nil {
		t.Errorf("claiming it unverified: %v, want nil (enumeration-safe registration)", err)
	}
	u := newUser(t, "third", f.clock.Now())
	u.Email, u.EmailVerified = "shared@example.com", true
	checkErr(t, "CreateUser with an address another user has verified", f.users.CreateUser(f.ctx, u), latchkey.ErrEmailTaken)
	// The refused writes changed nothing.
	got, err := f.users.UserByEmail(f.ctx, "shared@example.com")
	if err != nil || got.ID != owner.ID {
		t.Errorf("UserByEmail after refused claims: %+v, %v; want the owner", got, err)
	}
	if err := f.users.DeleteUser(f.ctx, owner.ID); err != nil {
		t.Fatal(err)
	}
	if err := f.setEmail(t, other.ID, "shared@example.com", true, f.clock.Now()); err != nil {
		t.Errorf("verifying the address once its owner was deleted: %v", err)
	}
}

func testDeleteUser(t *testing.T, f *fixture) {
	u := f.createUser(t, "alice")
	other := f.createUser(t, "bob")
	if err := f.users.DeleteUser(f.ctx, u.ID); err != nil {
		t.Fatalf("DeleteUser: %v", err)
	}
	_, err := f.users.UserByID(f.ctx, u.ID)
	checkErr(t, "UserByID after delete", err, latchkey.ErrNotFound)
	_, err = f.users.UserByUsernameKey(f.ctx, u.UsernameKey)
	checkErr(t, "UserByUsernameKey after delete", err, latchkey.ErrNotFound)
	checkErr(t, "second DeleteUser", f.users.DeleteUser(f.ctx, u.ID), latchkey.ErrNotFound)
	checkErr(t, "DeleteUser(unknown id)", f.users.DeleteUser(f.ctx, other.ID+100), latchkey.ErrNotFound)
	if _, err := f.users.UserByID(f.ctx, other.ID); err != nil {
		t.Errorf("UserByID(other): got error %v, want the user", err)
	}
	// The name is free again, under a new ID.
	again := f.createUser(t, "Alice")
	if again.ID == u.ID {
		t.Errorf("re-registered user: got ID %d, want a new one", again.ID)
	}
}

func testListUsersPages(t *testing.T, f *fixture) {
	var want []*latchkey.User
	for i := range 25 {
		want = append(want, f.createUser(t, fmt.Sprintf("user%02d", i)))
		f.clock.Advance(time.Second)
	}
	var got []latchkey.User
	var sizes []int
	after := int64(0)
	for range 10 { // bounded, in case a store ignores afterID
		page, err := f.users.ListUsers(f.ctx, after, 10)
		if err != nil {
			t.Fatalf("ListUsers(%d, 10): %v", after, err)
		}
		if len(page) == 0 {
			break
		}
		sizes = append(sizes, len(page))
		got = append(got, page...)
		after = page[len(page)-1].ID
	}
	if fmt.Sprint(sizes) != "[10 10 5]" {
		t.Errorf("page sizes: got %v, want [10 10 5]", sizes)
	}
	if len(got) != len(want) {
		t.Fatalf("users listed: got %d, want %d", len(got), len(want))
	}
	for i := range got {
		checkUser(t, fmt.Sprintf("user %d", i), &got[i], want[i])
	}

	// A deleted user drops out of its page.
	if err := f.users.DeleteUser(f.ctx, want[1].ID); err != nil {
		t.Fatalf("DeleteUser: %v", err)
	}
	page, err := f.users.ListUsers(f.ctx, want[0].ID, 2)
	if err != nil {
		t.Fatalf("ListUsers: %v", err)
	}
	var ids []int64
	for _, u := range page {
		ids = append(ids, u.ID)
	}
	if wantIDs := []int64{want[2].ID, want[3].ID}; fmt.Sprint(ids) != fmt.Sprint(wantIDs) {
		t.Errorf("ListUsers after a delete: got IDs %v, want %v", ids, wantIDs)
	}
}

func testReturnedUserIsACopy(t *testing.T, f *fixture) {
	u := f.createUser(t, "alice")
	want := *u
	// The value passed to CreateUser stays the caller's.
	u.Username, u.PasswordHash = "mallory", "stolen"

	got, err := f.users.UserByID(f.ctx, want.ID)
	if err != nil {
		t.Fatalf("UserByID: %v", err)
	}
	got.Username, got.Email, got.PasswordHash = "mallory", "m@example.com", "stolen"
	got.Roles[0] = "admin"
	got, err = f.users.UserByUsernameKey(f.ctx, want.UsernameKey)
	if err != nil {
		t.Fatalf("UserByUsernameKey: %v", err)
	}
	checkUser(t, "after mutating returned users", got, &want)
	got.PasswordHash = "stolen"

	list, err := f.users.ListUsers(f.ctx, 0, 10)
	if err != nil || len(list) != 1 {
		t.Fatalf("ListUsers: got (%d users, %v), want 1 user", len(list), err)
	}
	list[0].PasswordHash = "stolen"
	list[0].Roles[0] = "admin"
	got, err = f.users.UserByID(f.ctx, want.ID)
	if err != nil {
		t.Fatalf("UserByID: %v", err)
	}
	checkUser(t, "after mutating a listed user", got, &want)
}

// ---- Sessions ----

func testCreateFindRoundTrip(t *testing.T, f *fixture) {
	for _, tc := range []struct {
		name            string
		remember, fresh bool
		ua, ip          string
	}{
		{"remembered fresh", true, true, "Mozilla/5.0 (iPhone; CPU iPhone OS 18_0 like Mac OS X)", "2001:db8::1"},
		{"plain stale", false, false, "curl/8.9.1", "198.51.100.20"},
		{"empty strings", false, true, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want := newSession(42, f.clock.Now(), 30*time.Minute, 30*24*time.Hour)
			want.LastSeenAt = want.CreatedAt.Add(1500 * time.Millisecond)
			want.Remember, want.Fresh, want.UserAgent, want.IP = tc.remember, tc.fresh, tc.ua, tc.ip
			if err := f.sessions.CreateSession(f.ctx, want); err != nil {
				t.Fatalf("CreateSession: %v", err)
			}
			f.findEqual(t, "FindSession", want)
		})
	}
}

func testFindUnknownIsNotFound(t *testing.T, f *fixture) {
	s := f.createSession(t, 1, time.Hour, 24*time.Hour)
	near := bytes.Clone(s.TokenHash)
	near[31] ^= 1
	for _, tc := range []struct {
		name string
		hash []byte
	}{
		{"unknown", newSession(1, f.clock.Now(), 0, 0).TokenHash},
		{"one bit off", near},
		{"prefix", s.TokenHash[:16]},
		{"empty", []byte{}},
		{"nil", nil},
	} {
		f.findGone(t, tc.name, tc.hash)
	}
}

func testDuplicateTokenHashConflicts(t *testing.T, f *fixture) {
	s := f.createSession(t, 1, time.Hour, 24*time.Hour)
	dup := newSession(2, f.clock.Now(), 2*time.Hour, 48*time.Hour)
	dup.TokenHash = bytes.Clone(s.TokenHash)
	checkErr(t, "CreateSession(duplicate hash)", f.sessions.CreateSession(f.ctx, dup), latchkey.ErrConflict)
	f.findEqual(t, "original after the duplicate", s)
}

func testUpdateSessionWritesOnlyMutableFields(t *testing.T, f *fixture) {
	s := f.createSession(t, 7, 30*time.Minute, 24*time.Hour)
	f.clock.Advance(10 * time.Minute)
	now := f.clock.Now()

	upd := cloneSession(s)
	upd.LastSeenAt = now
	upd.IdleExpiresAt = now.Add(30 * time.Minute)
	upd.Fresh = false
	// None of these may be written.
	upd.UserID = 8
	upd.CreatedAt = now
	upd.ExpiresAt = now.Add(48 * time.Hour)
	upd.Remember = false
	upd.UserAgent = "changed"
	upd.IP = "192.0.2.99"
	if err := f.sessions.UpdateSession(f.ctx, upd); err != nil {
		t.Fatalf("UpdateSession: %v", err)
	}

	want := cloneSession(s)
	want.LastSeenAt, want.IdleExpiresAt, want.Fresh = upd.LastSeenAt, upd.IdleExpiresAt, upd.Fresh
	f.findEqual(t, "after UpdateSession", want)
	list, err := f.sessions.ListUserSessions(f.ctx, 8)
	if err != nil || len(list) != 0 {
		t.Errorf("ListUserSessions(8): got (%d sessions, %v), want none: UpdateSession must not move a session", len(list), err)
	}

	// The renewed idle deadline is the one that counts now.
	f.clock.Advance(25 * time.Minute)
	f.findEqual(t, "past the old idle deadline", want)
}

func testUpdateGoneSessionIsNotFound(t *testing.T, f *fixture) {
	f.forEachGoneSession(t, 0, func(t *testing.T, s *latchkey.Session, now time.Time) {
		upd := cloneSession(s)
		upd.LastSeenAt, upd.IdleExpiresAt = now, now.Add(time.Minute)
		upd.ExpiresAt = now.Add(time.Hour) // a store that upserts would write this
		checkErr(t, "UpdateSession", f.sessions.UpdateSession(f.ctx, upd), latchkey.ErrNotFound)
	})
}

// forEachGoneSession runs write, as a subtest, on a session of user 1 with
// this generation that was never created, was deleted, or is past its idle
// or absolute deadline; afterwards the session must still be gone.
func (f *fixture) forEachGoneSession(t *testing.T, gen int64, write func(t *testing.T, s *latchkey.Session, now time.Time)) {
	for _, tc := range []struct {
		name     string
		idle     time.Duration
		absolute time.Duration
		advance  time.Duration
		create   bool
		delete   bool
	}{
		{"never created", time.Hour, 24 * time.Hour, 0, false, false},
		{"deleted", time.Hour, 24 * time.Hour, 0, true, true},
		{"idle deadline passed", 30 * time.Minute, 24 * time.Hour, 30 * time.Minute, true, false},
		{"absolute deadline passed", time.Hour, time.Hour, time.Hour, true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newSession(1, f.clock.Now(), tc.idle, tc.absolute)
			s.Generation = gen
			if tc.create {
				if err := f.sessions.CreateSession(f.ctx, s); err != nil {
					t.Fatalf("CreateSession: %v", err)
				}
			}
			if tc.delete {
				if err := f.sessions.DeleteSession(f.ctx, s.TokenHash); err != nil {
					t.Fatalf("DeleteSession: %v", err)
				}
			}
			f.clock.Advance(tc.advance)
			write(t, s, f.clock.Now())
			f.findGone(t, "after the write", s.TokenHash)
			list, err := f.sessions.ListUserSessions(f.ctx, 1)
			if err != nil || len(list) != 0 {
				t.Errorf("ListUserSessions: got (%d sessions, %v), want none", len(list), err)
			}
		})
	}
}

func testExpiresAtDeadline(t *testing.T, f *fixture) {
	for _, tc := range []struct {
		name string
		// renew, if set, renews the idle deadline this long after creation
		// to 45 minutes later, past the absolute deadline: FindSession must
		// check both.
		renew    time.Duration
		deadline time.Duration
	}{
		{"idle", 0, 45 * time.Minute},
		{"absolute", 40 * time.Minute, time.Hour},
	} {
		t.Run(tc.name, func(t *testing.T) {
			created := f.clock.Now()
			s := f.createSession(t, 3, 45*time.Minute, time.Hour)
			if tc.renew > 0 {
				f.clock.Advance(tc.renew)
				now := f.clock.Now()
				upd := cloneSession(s)
				upd.LastSeenAt, upd.IdleExpiresAt = now, now.Add(45*time.Minute)
				if err := f.sessions.UpdateSession(f.ctx, upd); err != nil {
					t.Fatalf("UpdateSession: %v", err)
				}
			}
			deadline := created.Add(tc.deadline)
			f.clock.Advance(deadline.Add(-time.Millisecond).Sub(f.clock.Now()))
			if _, err := f.sessions.FindSession(f.ctx, s.TokenHash); err != nil {
				t.Fatalf("FindSession 1ms before the deadline: got error %v, want the session", err)
			}
			if list, err := f.sessions.ListUserSessions(f.ctx, 3); err != nil || len(list) != 1 {
				t.Errorf("ListUserSessions 1ms before the deadline: got (%d sessions, %v), want 1", len(list), err)
			}

			f.clock.Advance(time.Millisecond)
			f.findGone(t, "at the deadline", s.TokenHash)
			if list, err := f.sessions.ListUserSessions(f.ctx, 3); err != nil || len(list) != 0 {
				t.Errorf("ListUserSessions at the deadline: got (%d sessions, %v), want none", len(list), err)
			}
			f.clock.Advance(time.Hour)
			f.findGone(t, "an hour after the deadline", s.TokenHash)
		})
	}
}

func testDeleteSession(t *testing.T, f *fixture) {
	a := f.createSession(t, 1, time.Hour, 24*time.Hour)
	b := f.createSession(t, 1, time.Hour, 24*time.Hour)
	if err := f.sessions.DeleteSession(f.ctx, a.TokenHash); err != nil {
		t.Fatalf("DeleteSession: %v", err)
	}
	f.findGone(t, "deleted session", a.TokenHash)
	f.findEqual(t, "other session", b)
	checkErr(t, "second DeleteSession", f.sessions.DeleteSession(f.ctx, a.TokenHash), nil)
	unknown := newSession(1, f.clock.Now(), 0, 0).TokenHash
	checkErr(t, "DeleteSession(unknown)", f.sessions.DeleteSession(f.ctx, unknown), nil)
}

func testDeleteUserSessions(t *testing.T, f *fixture) {
	expiring := f.createSession(t, 1, 10*time.Minute, 24*time.Hour)
	live1 := f.createSession(t, 1, time.Hour, 24*time.Hour)
	live2 := f.createSession(t, 1, time.Hour, 24*time.Hour)
	other := f.createSession(t, 2, time.Hour, 24*time.Hour)
	f.clock.Advance(20 * time.Minute)

	n, err := f.sessions.DeleteUserSessions(f.ctx, 1)
	if err != nil {
		t.Fatalf("DeleteUserSessions: %v", err)
	}
	if n != 2 {
		t.Errorf("DeleteUserSessions: got %d, want 2 (the expired session does not count)", n)
	}
	for _, s := range []*latchkey.Session{expiring, live1, live2} {
		f.findGone(t, "user 1's session", s.TokenHash)
	}
	f.findEqual(t, "user 2's session", other)

	n, err = f.sessions.DeleteUserSessions(f.ctx, 1)
	if err != nil || n != 0 {
		t.Errorf("second DeleteUserSessions: got (%d, %v), want (0, nil)", n, err)
	}
	n, err = f.sessions.DeleteUserSessions(f.ctx, 99)
	if err != nil || n != 0 {
		t.Errorf("DeleteUserSessions(user without sessions): got (%d, %v), want (0, nil)", n, err)
	}
	// Every session of the user went, the expired one too.
	if p, ok := f.sessions.(latchkey.SessionPruner); ok {
		n, err := p.PruneSessions(f.ctx, 100)
		if err != nil || n != 0 {
			t.Errorf("PruneSessions: got (%d, %v), want (0, nil)", n, err)
		}
	}
}

func testListUserSessionsNewestFirst(t *testing.T, f *fixture) {
	var want []*latchkey.Session
	for range 3 {
		want = append([]*latchkey.Session{f.createSession(t, 1, 30*time.Minute, 24*time.Hour)}, want...)
		f.clock.Advance(time.Minute)
	}
	f.createSession(t, 1, time.Minute, 24*time.Hour) // newest, but expires first
	otherUser := f.createSession(t, 2, time.Hour, 24*time.Hour)
	f.clock.Advance(2 * time.Minute)

	got, err := f.sessions.ListUserSessions(f.ctx, 1)
	if err != nil {
		t.Fatalf("ListUserSessions: %v", err)
	}
	if len(got) != len(want) {
		t.Fatalf("ListUserSessions: got %d sessions, want %d", len(got), len(want))
	}
	for i := range got {
		checkSession(t, fmt.Sprintf("session %d", i), &got[i], want[i])
	}

	got, err = f.sessions.ListUserSessions(f.ctx, 2)
	if err != nil || len(got) != 1 {
		t.Fatalf("ListUserSessions(2): got (%d sessions, %v), want 1", len(got), err)
	}
	checkSession(t, "user 2's session", &got[0], otherUser)

	got, err = f.sessions.ListUserSessions(f.ctx, 3)
	if err != nil || len(got) != 0 {
		t.Errorf("ListUserSessions(user without sessions): got (%d sessions, %v), want none", len(got), err)
	}
}

func testPruneSessions(t *testing.T, f *fixture) {
	p, ok := f.sessions.(latchkey.SessionPruner)
	if !ok {
		t.Fatal("store is not a latchkey.SessionPruner") // Run registers this case only for pruners
	}
	// At start+1h: three sessions are dead (one exactly at its deadline),
	// two alive (one by a millisecond).
	f.createSession(t, 1, 10*time.Minute, 24*time.Hour)
	f.createSession(t, 1, 20*time.Minute, 20*time.Minute)
	f.createSession(t, 2, time.Hour, 24*time.Hour)
	live := []*latchkey.Session{
		f.createSession(t, 1, time.Hour+time.Millisecond, 24*time.Hour),
		f.createSession(t, 2, 2*time.Hour, 24*time.Hour),
	}
	f.clock.Advance(time.Hour)

	for _, tc := range []struct{ limit, want int }{
		{0, 0}, // up to zero is none
		{2, 2},
		{2, 1},
		{2, 0},
	} {
		n, err := p.PruneSessions(f.ctx, tc.limit)
		if err != nil || n != tc.want {
			t.Errorf("PruneSessions(%d): got (%d, %v), want (%d, nil)", tc.limit, n, err, tc.want)
		}
	}
	for i, s := range live {
		f.findEqual(t, fmt.Sprintf("live session %d", i), s)
	}
}

func testReturnedSessionIsACopy(t *testing.T, f *fixture) {
	s := f.createSession(t, 5, time.Hour, 24*time.Hour)
	want := cloneSession(s)
	// The value passed to CreateSession stays the caller's, hash bytes too.
	s.TokenHash[0] ^= 0xff
	s.UserAgent = "changed"

	got, err := f.sessions.FindSession(f.ctx, want.TokenHash)
	if err != nil {
		t.Fatalf("FindSession: %v", err)
	}
	checkSession(t, "after mutating the created session", got, want)
	got.TokenHash[0] ^= 0xff
	got.TokenHash = got.TokenHash[:4]
	got.UserID, got.Fresh, got.IP = 6, false, "changed"
	f.findEqual(t, "after mutating a found session", want)

	list, err := f.sessions.ListUserSessions(f.ctx, 5)
	if err != nil || len(list) != 1 {
		t.Fatalf("ListUserSessions: got (%d sessions, %v), want 1", len(list), err)
	}
	list[0].TokenHash[1] ^= 0xff
	list[0].UserAgent = "changed"
	f.findEqual(t, "after mutating a listed session", want)
	list, err = f.sessions.ListUserSessions(f.ctx, 5)
	if err != nil || len(list) != 1 {
		t.Fatalf("ListUserSessions: got (%d sessions, %v), want 1", len(list), err)
	}
	checkSession(t, "listed after mutating a listed session", &list[0], want)
}

// ---- Concurrency ----

func testConcurrentRegisterSameUsername(t *testing.T, f *fixture) {
	names := []string{"alice", "Alice", "ALICE", "Ａｌｉｃｅ", "aLiCe"}
	const n = 20
	var (
		wg        sync.WaitGroup
		mu        sync.Mutex
		ok, taken int
		other     []error
		ready     = make(chan struct{})
	)
	for i := range n {
		u := newUser(t, names[i%len(names)], f.clock.Now())
		wg.Go(func() {
			<-ready // start together, to race for real
			err := f.users.CreateUser(f.ctx, u)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				ok++
			case errors.Is(err, latchkey.ErrUsernameTaken):
				taken++
			default:
				other = append(other, err)
			}
		})
	}
	close(ready)
	wg.Wait()
	if ok != 1 || taken != n-1 || len(other) != 0 {
		t.Errorf("%d concurrent registrations: got %d created, %d taken, other errors %v; want 1, %d, none",
			n, ok, taken, other, n-1)
	}
	list, err := f.users.ListUsers(f.ctx, 0, 100)
	if err != nil || len(list) != 1 {
		t.Errorf("ListUsers: got (%d users, %v), want 1", len(list), err)
	}
}

// testConcurrentRegisterLookAlikes: of look-alike names registered at
// once, exactly one is created.
func testConcurrentRegisterLookAlikes(t *testing.T, f *fixture) {
	names := []string{"admin", "\u0430dmin", "adm\u0456n", "admi\u0307n", "\u0430dm\u0456n", "ADMIN"}
	var wg sync.WaitGroup
	var mu sync.Mutex
	created := 0
	for _, name := range names {
		wg.Go(func() {
			err := f.users.CreateUser(f.ctx, newUser(t, name, f.clock.Now()))
			switch {
			case err == nil:
				mu.Lock()
				created++
				mu.Unlock()
			case !errors.Is(err, latchkey.ErrUsernameTaken):
				t.Errorf("CreateUser(%q): %v, want nil or ErrUsernameTaken", name, err)
			}
		})
	}
	wg.Wait()
	if created != 1 {
		t.Errorf("%d of %d look-alike names were created, want 1", created, len(names))
	}
}

// testConcurrentVerifySameEmail: of users verifying one address at once,
// exactly one gets it.
func testConcurrentVerifySameEmail(t *testing.T, f *fixture) {
	var users []*latchkey.User
	for i := range 8 {
		users = append(users, f.createUser(t, fmt.Sprintf("claimant%d", i)))
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	won := 0
	for i, u := range users {
		wg.Go(func() {
			err := f.users.UpdateEmail(f.ctx, u.ID, u.Email, []string{"Race@Example.com", "race@example.com", "RACE@EXAMPLE.COM"}[i%3], true, f.clock.Now())
			switch {
			case err == nil:
				mu.Lock()
				won++
				mu.Unlock()
			case !errors.Is(err, latchkey.ErrEmailTaken):
				t.Errorf("UpdateEmail: %v, want nil or ErrEmailTaken", err)
			}
		})
	}
	wg.Wait()
	if won != 1 {
		t.Errorf("%d of %d users verified the same address, want 1", won, len(users))
	}
}

func testConcurrentSessionsOfOneUser(t *testing.T, f *fixture) {
	const n = 20
	var wg sync.WaitGroup
	ready := make(chan struct{})
	hashes := make([][]byte, n)
	for i := range n {
		s := newSession(9, f.clock.Now(), 30*time.Minute, 24*time.Hour)
		hashes[i] = bytes.Clone(s.TokenHash)
		wg.Go(func() {
			<-ready
			if err := f.sessions.CreateSession(f.ctx, s); err != nil {
				t.Errorf("session %d: CreateSession: %v", i, err)
				return
			}
			if _, err := f.sessions.FindSession(f.ctx, s.TokenHash); err != nil {
				t.Errorf("session %d: FindSession: %v", i, err)
				return
			}
			upd := cloneSession(s)
			upd.LastSeenAt = s.LastSeenAt.Add(time.Second)
			upd.IdleExpiresAt = s.IdleExpiresAt.Add(time.Second)
			upd.Fresh = false
			if err := f.sessions.UpdateSession(f.ctx, upd); err != nil {
				t.Errorf("session %d: UpdateSession: %v", i, err)
				return
			}
			got, err := f.sessions.FindSession(f.ctx, s.TokenHash)
			if err != nil {
				t.Errorf("session %d: FindSession after update: %v", i, err)
				return
			}
			checkSession(t, fmt.Sprintf("session %d after update", i), got, upd)
		})
	}
	close(ready)
	wg.Wait()

	list, err := f.sessions.ListUserSessions(f.ctx, 9)
	if err != nil {
		t.Fatalf("ListUserSessions: %v", err)
	}
	seen := map[string]bool{}
	for _, s := range list {
		seen[string(s.TokenHash)] = true
	}
	for i, h := range hashes {
		if !seen[string(h)] {
			t.Errorf("ListUserSessions: session %d missing", i)
		}
	}
	if len(list) != n {
		t.Errorf("ListUserSessions: got %d sessions, want %d", len(list), n)
	}
}

// ---- Values ----

// longUsername is a 64-character name after NormalizeUsername, mixing CJK,
// Hangul, Greek, Devanagari, combining marks that have no precomposed form
// (so NFC keeps them and the count), and full-width letters that
// normalisation narrows.
func longUsername(tb testing.TB) string {
	tb.Helper()
	name := "日本語ユーザー名Σίσυφοςq\u0301q\u0308देवनागरी한국어ÅngströmＦｕｌｌ"
	for {
		display, _, err := latchkey.NormalizeUsername(name)
		if err != nil {
			tb.Fatalf("NormalizeUsername(%q): %v", name, err)
		}
		switch n := utf8.RuneCountInString(display); {
		case n == latchkey.MaxUsernameLen:
			return name
		case n > latchkey.MaxUsernameLen:
			tb.Fatalf("long username fixture: %d characters, want %d", n, latchkey.MaxUsernameLen)
		}
		name += "z"
	}
}

// fill repeats pattern and cuts it at a character boundary to n bytes,
// padding with ASCII.
func fill(pattern string, n int) string {
	s := strings.Repeat(pattern, n/len(pattern)+1)
	for len(s) > n || !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s + strings.Repeat("x", n-len(s))
}

func testLongAndUnicodeRoundTrip(t *testing.T, f *fixture) {
	u := newUser(t, longUsername(t), f.clock.Now())
	local := "jörg.🦊."
	u.Email = fill(local, 254-len("@example.com")) + "@example.com"
	rng := mathrand.New(mathrand.NewPCG(1, 2))
	const b64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	var hash strings.Builder
	hash.WriteString("$argon2id$v=19$m=65536,t=3,p=4$c29tZXNhbHRzb21lc2FsdA$")
	for hash.Len() < 1000 {
		hash.WriteByte(b64[rng.IntN(len(b64))])
	}
	u.PasswordHash = hash.String()
	for _, c := range []struct {
		name string
		got  int
		want int
	}{
		{"username characters", utf8.RuneCountInString(u.Username), 64},
		{"email bytes", len(u.Email), 254},
		{"password hash characters", utf8.RuneCountInString(u.PasswordHash), 1000},
	} {
		if c.got != c.want {
			t.Fatalf("fixture %s: got %d, want %d", c.name, c.got, c.want)
		}
	}
	if err := f.users.CreateUser(f.ctx, u); err != nil {
		t.Fatalf("CreateUser: %v", err)
	}
	got, err := f.users.UserByUsernameKey(f.ctx, u.UsernameKey)
	if err != nil {
		t.Fatalf("UserByUsernameKey: %v", err)
	}
	checkUser(t, "long user", got, u)

	s := newSession(u.ID, f.clock.Now(), time.Hour, 24*time.Hour)
	s.UserAgent = fill("Mozilla/5.0 (X11; 日本語; ü) Gecko/20100101 🦊 Ωmega/1.0 ", latchkey.MaxUserAgentBytes)
	s.IP = "fe80::1ff:fe23:4567:890a%eth0"
	if len(s.UserAgent) != latchkey.MaxUserAgentBytes {
		t.Fatalf("fixture user agent: got %d bytes, want %d", len(s.UserAgent), latchkey.MaxUserAgentBytes)
	}
	if err := f.sessions.CreateSession(f.ctx, s); err != nil {
		t.Fatalf("CreateSession: %v", err)
	}
	f.findEqual(t, "long session", s)
}

// BenchFindSession measures FindSession on a store holding 1,000 live
// sessions, looking up a random one each time. Call it from a store's
// BenchmarkFindSession with a fresh store on the real clock.
func BenchFindSession(b *testing.B, sessions latchkey.SessionStore) {
	ctx := b.Context()
	now := time.Now()
	hashes := make([][]byte, 1000)
	for i := range hashes {
		s := newSession(int64(i%50+1), now, time.Hour, 24*time.Hour)
		if err := sessions.CreateSession(ctx, s); err != nil {
			b.Fatalf("CreateSession: %v", err)
		}
		hashes[i] = s.TokenHash
	}
	rng := mathrand.New(mathrand.NewPCG(1, 2))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := sessions.FindSession(ctx, hashes[rng.IntN(len(hashes))]); err != nil {
			b.Fatalf("FindSession: %v", err)
		}
	}
}

// ---- SessionUserFinder (optional) ----

// finder returns the stores' SessionUserFinder.
func (f *fixture) finder(t *testing.T) latchkey.SessionUserFinder {
	t.Helper()
	fd, ok := f.sessions.(latchkey.SessionUserFinder)
	if !ok {
		t.Fatal("the session store does not implement latchkey.SessionUserFinder") // Run registers these cases only for finders
	}
	if us, ok := f.users.(latchkey.SessionUserFinder); !ok || us != fd {
		t.Fatal("SessionUserFinder needs users and sessions in one store")
	}
	return fd
}

func testFindSessionUserRoundTrip(t *testing.T, f *fixture) {
	fd := f.finder(t)
	u := f.createUser(t, "alice")
	if err := f.setEmail(t, u.ID, u.Email, true, u.UpdatedAt); err != nil {
		t.Fatal(err)
	}
	u.EmailVerified = true // so a finder that drops the column fails
	if err := f.users.SetLocked(f.ctx, u.ID, true, u.UpdatedAt); err != nil {
		t.Fatal(err)
	}
	u.Locked = true
	s := f.createSession(t, u.ID, time.Hour, 24*time.Hour)
	f.createSession(t, f.createUser(t, "bob").ID, time.Hour, 24*time.Hour)
	gotS, gotU, err := fd.FindSessionUser(f.ctx, s.TokenHash)
	if err != nil {
		t.Fatalf("FindSessionUser: %v", err)
	}
	checkSession(t, "FindSessionUser", gotS, s)
	checkFoundUser(t, "FindSessionUser", gotU, u)
}

func testFindSessionUserNotFound(t *testing.T, f *fixture) {
	fd := f.finder(t)
	u := f.createUser(t, "alice")
	s := f.createSession(t, u.ID, time.Hour, 24*time.Hour)
	if gs, gu, err := fd.FindSessionUser(f.ctx, bytes.Repeat([]byte{7}, 32)); !errors.Is(err, latchkey.ErrNotFound) {
		t.Errorf("unknown hash: got (%+v, %+v, %v), want ErrNotFound", gs, gu, err)
	}
	f.clock.Advance(time.Hour)
	if gs, gu, err := fd.FindSessionUser(f.ctx, s.TokenHash); !errors.Is(err, latchkey.ErrNotFound) {
		t.Errorf("at the idle deadline: got (%+v, %+v, %v), want ErrNotFound", gs, gu, err)
	}
	s2 := f.createSession(t, u.ID, time.Hour, 24*time.Hour)
	if err := f.sessions.DeleteSession(f.ctx, s2.TokenHash); err != nil {
		t.Fatal(err)
	}
	if gs, gu, err := fd.FindSessionUser(f.ctx, s2.TokenHash); !errors.Is(err, latchkey.ErrNotFound) {
		t.Errorf("deleted: got (%+v, %+v, %v), want ErrNotFound", gs, gu, err)
	}
}

func testFindSessionUserGone(t *testing.T, f *fixture) {
	fd := f.finder(t)
	u := f.createUser(t, "alice")
	s := f.createSession(t, u.ID, time.Hour, 24*time.Hour)
	if err := f.users.DeleteUser(f.ctx, u.ID); err != nil {
		t.Fatal(err)
	}
	gotS, gotU, err := fd.FindSessionUser(f.ctx, s.TokenHash)
	if err != nil || gotU != nil {
		t.Fatalf("user deleted: got (%+v, %+v, %v), want the session and a nil user", gotS, gotU, err)
	}
	checkSession(t, "user deleted", gotS, s)
}

func testFindSessionUserCopies(t *testing.T, f *fixture) {
	fd := f.finder(t)
	u := f.createUser(t, "alice")
	s := f.createSession(t, u.ID, time.Hour, 24*time.Hour)
	gotS, gotU, err := fd.FindSessionUser(f.ctx, s.TokenHash)
	if err != nil {
		t.Fatalf("FindSessionUser: %v", err)
	}
	gotS.TokenHash[0] ^= 0xff
	gotS.Fresh = !gotS.Fresh
	gotU.Username = "mallory"
	gotU.Roles[0] = "admin"
	gotS, gotU, err = fd.FindSessionUser(f.ctx, s.TokenHash)
	if err != nil {
		t.Fatalf("FindSessionUser again: %v", err)
	}
	checkSession(t, "after changing a returned session", gotS, s)
	checkFoundUser(t, "after changing a returned user", gotU, u)
}

// checkFoundUser is checkUser for a user FindSessionUser read, which may
// leave UsernameSkeleton empty (see SessionUserFinder).
func checkFoundUser(tb testing.TB, what string, got, want *latchkey.User) {
	tb.Helper()
	if got != nil && got.UsernameSkeleton == "" {
		c := *got
		c.UsernameSkeleton = want.UsernameSkeleton
		got = &c
	}
	checkUser(tb, what, got, want)
}

// BenchFindSessionUser is BenchFindSession for a SessionUserFinder: a
// random one of 1,000 live sessions of 50 users, with its user.
func BenchFindSessionUser(b *testing.B, users latchkey.UserStore, finder latchkey.SessionUserFinder) {
	ctx := b.Context()
	now := time.Now()
	sessions, ok := finder.(latchkey.SessionStore)
	if !ok {
		b.Fatal("the finder is not a SessionStore")
	}
	var ids []int64
	for i := range 50 {
		u := newUser(b, fmt.Sprintf("user%02d", i), now)
		if err := users.CreateUser(ctx, u); err != nil {
			b.Fatalf("CreateUser: %v", err)
		}
		ids = append(ids, u.ID)
	}
	hashes := make([][]byte, 1000)
	for i := range hashes {
		s := newSession(ids[i%len(ids)], now, time.Hour, 24*time.Hour)
		if err := sessions.CreateSession(ctx, s); err != nil {
			b.Fatalf("CreateSession: %v", err)
		}
		hashes[i] = s.TokenHash
	}
	rng := mathrand.New(mathrand.NewPCG(1, 2))
	b.ReportAllocs()
	for b.Loop() {
		if _, u, err := finder.FindSessionUser(ctx, hashes[rng.IntN(len(hashes))]); err != nil || u == nil {
			b.Fatalf("FindSessionUser: (%v, %v)", u, err)
		}
	}
}
