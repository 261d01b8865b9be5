package storetest

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey"
)

// ---- APITokenStore (optional: user stores that keep API tokens) ----

// apiTokenTests are the APITokenStore cases; Run registers them when the
// user store has the capability.
func apiTokenTests(supported bool) []test {
	return []test{
		{name: "CreateSetsIDAndRoundTrips", fn: testAPITokenRoundTrip, supported: supported, optional: true},
		{name: "UnknownUserIsNotFound", fn: testAPITokenUnknownUser, supported: supported, optional: true},
		{name: "DuplicateNameConflicts", fn: testAPITokenDuplicateName, supported: supported, optional: true},
		{name: "DuplicateHashConflicts", fn: testAPITokenDuplicateHash, supported: supported, optional: true},
		{name: "FindUnknownOrExpiredIsNotFound", fn: testAPITokenFindNotFound, supported: supported, optional: true},
		{name: "ListOrderedByID", fn: testAPITokenList, supported: supported, optional: true},
		{name: "Touch", fn: testAPITokenTouch, supported: supported, optional: true},
		{name: "Delete", fn: testAPITokenDelete, supported: supported, optional: true},
		{name: "DeleteUserDeletesTokens", fn: testAPITokenDeleteUser, supported: supported, optional: true},
		{name: "ReturnedTokenIsACopy", fn: testAPITokenCopies, supported: supported, optional: true},
	}
}

// apiTokens returns the user store's APITokenStore.
func (f *fixture) apiTokens(t *testing.T) latchkey.APITokenStore {
	t.Helper()
	ts, ok := f.users.(latchkey.APITokenStore)
	if !ok {
		t.Fatal("the user store does not implement latchkey.APITokenStore") // Run registers these cases only for token stores
	}
	return ts
}

// newAPIToken returns an unsaved token of userID named name, created now,
// with a random hash and no expiry.
func newAPIToken(userID int64, name string, now time.Time) *latchkey.APIToken {
	token := make([]byte, 32)
	rand.Read(token)
	h := sha256.Sum256(token)
	return &latchkey.APIToken{TokenHash: h[:], UserID: userID, Name: name, CreatedAt: now}
}

func (f *fixture) createAPIToken(t *testing.T, userID int64, name string, ttl time.Duration) *latchkey.APIToken {
	t.Helper()
	tok := newAPIToken(userID, name, f.clock.Now())
	if ttl > 0 {
		tok.ExpiresAt = tok.CreatedAt.Add(ttl)
	}
	if err := f.apiTokens(t).CreateAPIToken(f.ctx, tok); err != nil {
		t.Fatalf("CreateAPIToken(%q): %v", name, err)
	}
	return tok
}

func cloneAPIToken(t *latchkey.APIToken) *latchkey.APIToken {
	c := *t
	c.TokenHash = bytes.Clone(t.TokenHash)
	return &c
}

// checkAPIToken compares every field; a zero time must stay zero ("never").
func checkAPIToken(tb testing.TB, what string, got, want *latchkey.APIToken) {
	tb.Helper()
	if got == nil {
		tb.Errorf("%s: got nil token, want %+v", what, want)
		return
	}
	if got.ID != want.ID {
		tb.Errorf("%s: ID: got %d, want %d", what, got.ID, want.ID)
	}
	if !bytes.Equal(got.TokenHash, want.TokenHash) {
		tb.Errorf("%s: TokenHash: got %x, want %x", what, got.TokenHash, want.TokenHash)
	}
	if got.UserID != want.UserID {
		tb.Errorf("%s: UserID: got %d, want %d", what, got.UserID, want.UserID)
	}
	if got.Name != want.Name {
		tb.Errorf("%s: Name: got %q, want %q", what, got.Name, want.Name)
	}
	for _, f := range []struct {
		name      string
		got, want time.Time
	}{
		{"CreatedAt", got.CreatedAt, want.CreatedAt},
		{"ExpiresAt", got.ExpiresAt, want.ExpiresAt},
		{"LastUsedAt", got.LastUsedAt, want.LastUsedAt},
	} {
		if f.got.IsZero() != f.want.IsZero() || !f.want.IsZero() && !sameTime(f.got, f.want) {
			tb.Errorf("%s: %s: got %v, want %v", what, f.name, f.got, f.want)
		}
	}
}

// findAPITokenEqual checks that the token with want's hash is found and
// equal to want.
func (f *fixture) findAPITokenEqual(t *testing.T, what string, want *latchkey.APIToken) {
	t.Helper()
	got, err := f.apiTokens(t).FindAPIToken(f.ctx, want.TokenHash)
	if err != nil {
		t.Errorf("%s: FindAPIToken: got error %v, want the token", what, err)
		return
	}
	checkAPIToken(t, what, got, want)
}

func (f *fixture) findAPITokenGone(t *testing.T, what string, hash []byte) {
	t.Helper()
	got, err := f.apiTokens(t).FindAPIToken(f.ctx, hash)
	if !errors.Is(err, latchkey.ErrNotFound) {
		t.Errorf("%s: FindAPIToken: got (%+v, %v), want ErrNotFound", what, got, err)
	}
}

// listAPITokenIDs lists userID's tokens and returns their IDs in order.
func (f *fixture) listAPITokenIDs(t *testing.T, userID int64) []int64 {
	t.Helper()
	list, err := f.apiTokens(t).ListAPITokens(f.ctx, userID)
	if err != nil {
		t.Fatalf("ListAPITokens(%d): %v", userID, err)
	}
	ids := []int64{}
	for _, tok := range list {
		ids = append(ids, tok.ID)
	}
	return ids
}

func testAPITokenRoundTrip(t *testing.T, f *fixture) {
	ts := f.apiTokens(t)
	u := f.createUser(t, "alice")
	now := f.clock.Now()
	full := newAPIToken(u.ID, "déploiement 🚀 "+strings.Repeat("x", 40), now)
	full.ExpiresAt = now.Add(30*24*time.Hour + 123*time.Millisecond)
	full.LastUsedAt = now.Add(-time.Minute)
	never := newAPIToken(u.ID, "ci", now) // no expiry, never used
	for _, tok := range []*latchkey.APIToken{full, never} {
		want := cloneAPIToken(tok)
		if err := ts.CreateAPIToken(f.ctx, tok); err != nil {
			t.Fatalf("CreateAPIToken(%q): %v", tok.Name, err)
		}
		if tok.ID <= 0 {
			t.Errorf("CreateAPIToken(%q): ID: got %d, want > 0", tok.Name, tok.ID)
		}
		want.ID = tok.ID
		checkAPIToken(t, "token after CreateAPIToken", tok, want)
		f.findAPITokenEqual(t, "FindAPIToken", want)
	}
	if full.ID == never.ID {
		t.Errorf("two tokens got the same ID %d", full.ID)
	}
	list, err := ts.ListAPITokens(f.ctx, u.ID)
	if err != nil || len(list) != 2 {
		t.Fatalf("ListAPITokens: got (%d tokens, %v), want 2", len(list), err)
	}
	checkAPIToken(t, "listed token 0", &list[0], full)
	checkAPIToken(t, "listed token 1", &list[1], never)
}

func testAPITokenUnknownUser(t *testing.T, f *fixture) {
	ts := f.apiTokens(t)
	u := f.createUser(t, "alice")
	for _, id := range []int64{u.ID + 1, 1 << 62} {
		tok := newAPIToken(id, "ci", f.clock.Now())
		checkErr(t, fmt.Sprintf("CreateAPIToken(user %d)", id), ts.CreateAPIToken(f.ctx, tok), latchkey.ErrNotFound)
		f.findAPITokenGone(t, fmt.Sprintf("token of user %d", id), tok.TokenHash)
	}
	if ids := f.listAPITokenIDs(t, 0); len(ids) != 0 {
		t.Errorf("ListAPITokens(0) after refused creates: got IDs %v, want none", ids)
	}
}

func testAPITokenDuplicateName(t *testing.T, f *fixture) {
	ts := f.apiTokens(t)
	alice, bob := f.createUser(t, "alice"), f.createUser(t, "bob")
	first := f.createAPIToken(t, alice.ID, "ci", 0)
	dup := newAPIToken(alice.ID, "ci", f.clock.Now())
	checkErr(t, "CreateAPIToken(same user, same name)", ts.CreateAPIToken(f.ctx, dup), latchkey.ErrConflict)
	f.findAPITokenGone(t, "the refused duplicate", dup.TokenHash)
	f.findAPITokenEqual(t, "the first token", first)
	// Names are unique per user only, and exact: another user, or another
	// spelling, is another name.
	f.createAPIToken(t, bob.ID, "ci", 0)
	f.createAPIToken(t, alice.ID, "CI", 0)
}

func testAPITokenDuplicateHash(t *testing.T, f *fixture) {
	ts := f.apiTokens(t)
	alice, bob := f.createUser(t, "alice"), f.createUser(t, "bob")
	first := f.createAPIToken(t, alice.ID, "ci", 0)
	for _, userID := range []int64{alice.ID, bob.ID} {
		dup := newAPIToken(userID, "other", f.clock.Now())
		dup.TokenHash = bytes.Clone(first.TokenHash)
		checkErr(t, fmt.Sprintf("CreateAPIToken(user %d, same hash)", userID), ts.CreateAPIToken(f.ctx, dup), latchkey.ErrConflict)
	}
	f.findAPITokenEqual(t, "the first token", first)
	if ids := f.listAPITokenIDs(t, 0); fmt.Sprint(ids) != fmt.Sprint([]int64{first.ID}) {
		t.Errorf("ListAPITokens(0): got IDs %v, want only %d", ids, first.ID)
	}
}

func testAPITokenFindNotFound(t *testing.T, f *fixture) {
	u := f.createUser(t, "alice")
	expiring := f.createAPIToken(t, u.ID, "short", time.Hour)
	forever := f.createAPIToken(t, u.ID, "forever", 0)
	f.findAPITokenGone(t, "unknown hash", bytes.Repeat([]byte{7}, 32))
	f.findAPITokenGone(t, "empty hash", nil)

	f.clock.Advance(time.Hour - time.Millisecond)
	f.findAPITokenEqual(t, "a millisecond before expiry", expiring)
	f.clock.Advance(time.Millisecond)
	f.findAPITokenGone(t, "at expiry", expiring.TokenHash)
	f.clock.Advance(100 * 365 * 24 * time.Hour)
	f.findAPITokenEqual(t, "a token without expiry, a century on", forever)
}

func testAPITokenList(t *testing.T, f *fixture) {
	alice, bob, carol := f.createUser(t, "alice"), f.createUser(t, "bob"), f.createUser(t, "carol")
	a1 := f.createAPIToken(t, alice.ID, "zeta", time.Hour) // expires below, stays listed
	f.clock.Advance(time.Second)
	b1 := f.createAPIToken(t, bob.ID, "ci", 0)
	a2 := f.createAPIToken(t, alice.ID, "alpha", 0) // names do not order the list
	f.clock.Advance(2 * time.Hour)

	for _, tc := range []struct {
		name   string
		userID int64
		want   []int64
	}{
		{"alice", alice.ID, []int64{a1.ID, a2.ID}},
		{"bob", bob.ID, []int64{b1.ID}},
		{"carol, who has none", carol.ID, []int64{}},
		{"an unknown user", carol.ID + 100, []int64{}},
		{"everyone", 0, []int64{a1.ID, b1.ID, a2.ID}},
	} {
		if got := f.listAPITokenIDs(t, tc.userID); fmt.Sprint(got) != fmt.Sprint(tc.want) {
			t.Errorf("ListAPITokens(%s): got IDs %v, want %v", tc.name, got, tc.want)
		}
	}
	list, err := f.apiTokens(t).ListAPITokens(f.ctx, alice.ID)
	if err != nil || len(list) != 2 {
		t.Fatalf("ListAPITokens(alice): got (%d tokens, %v), want 2", len(list), err)
	}
	checkAPIToken(t, "listed token 0", &list[0], a1)
	checkAPIToken(t, "listed token 1", &list[1], a2)
}

func testAPITokenTouch(t *testing.T, f *fixture) {
	ts := f.apiTokens(t)
	u := f.createUser(t, "alice")
	tok := f.createAPIToken(t, u.ID, "ci", 24*time.Hour)
	other := f.createAPIToken(t, u.ID, "other", 0)
	for _, d := range []time.Duration{time.Minute, time.Hour + 7*time.Millisecond} {
		f.clock.Advance(d)
		at := f.clock.Now()
		if err := ts.TouchAPIToken(f.ctx, tok.ID, at); err != nil {
			t.Fatalf("TouchAPIToken: %v", err)
		}
		tok.LastUsedAt = at
		f.findAPITokenEqual(t, "touched token", tok)
	}
	f.findAPITokenEqual(t, "the other token, untouched", other)
	checkErr(t, "TouchAPIToken(unknown id)", ts.TouchAPIToken(f.ctx, other.ID+100, f.clock.Now()), latchkey.ErrNotFound)
}

func testAPITokenDelete(t *testing.T, f *fixture) {
	ts := f.apiTokens(t)
	u := f.createUser(t, "alice")
	keep := f.createAPIToken(t, u.ID, "keep", 0)
	gone := f.createAPIToken(t, u.ID, "ci", 0)
	if err := ts.DeleteAPIToken(f.ctx, gone.ID); err != nil {
		t.Fatalf("DeleteAPIToken: %v", err)
	}
	f.findAPITokenGone(t, "deleted token", gone.TokenHash)
	f.findAPITokenEqual(t, "the other token", keep)
	if ids := f.listAPITokenIDs(t, u.ID); fmt.Sprint(ids) != fmt.Sprint([]int64{keep.ID}) {
		t.Errorf("ListAPITokens after delete: got IDs %v, want only %d", ids, keep.ID)
	}
	checkErr(t, "second DeleteAPIToken", ts.DeleteAPIToken(f.ctx, gone.ID), latchkey.ErrNotFound)
	checkErr(t, "DeleteAPIToken(unknown id)", ts.DeleteAPIToken(f.ctx, gone.ID+100), latchkey.ErrNotFound)
	checkErr(t, "TouchAPIToken(deleted id)", ts.TouchAPIToken(f.ctx, gone.ID, f.clock.Now()), latchkey.ErrNotFound)
	// The name is free again, under a new ID: deleting the highest ID is
	// what catches a plain SQLite rowid.
	again := f.createAPIToken(t, u.ID, "ci", 0)
	if again.ID == gone.ID || again.ID == keep.ID {
		t.Errorf("re-created token: got ID %d, which was used before", again.ID)
	}
}

func testAPITokenDeleteUser(t *testing.T, f *fixture) {
	alice, bob := f.createUser(t, "alice"), f.createUser(t, "bob")
	a1 := f.createAPIToken(t, alice.ID, "ci", 0)
	a2 := f.createAPIToken(t, alice.ID, "phone", time.Hour)
	b1 := f.createAPIToken(t, bob.ID, "ci", 0)
	if err := f.users.DeleteUser(f.ctx, alice.ID); err != nil {
		t.Fatalf("DeleteUser: %v", err)
	}
	for _, tok := range []*latchkey.APIToken{a1, a2} {
		f.findAPITokenGone(t, "token of the deleted user", tok.TokenHash)
		checkErr(t, "DeleteAPIToken(token of the deleted user)", f.apiTokens(t).DeleteAPIToken(f.ctx, tok.ID), latchkey.ErrNotFound)
	}
	f.findAPITokenEqual(t, "the other user's token", b1)
	if ids := f.listAPITokenIDs(t, 0); fmt.Sprint(ids) != fmt.Sprint([]int64{b1.ID}) {
		t.Errorf("ListAPITokens(0) after DeleteUser: got IDs %v, want only %d", ids, b1.ID)
	}
}

func testAPITokenCopies(t *testing.T, f *fixture) {
	ts := f.apiTokens(t)
	u := f.createUser(t, "alice")
	tok := f.createAPIToken(t, u.ID, "ci", time.Hour)
	want := cloneAPIToken(tok)
	// The value passed to CreateAPIToken stays the caller's, hash bytes too.
	tok.TokenHash[0] ^= 0xff
	tok.Name = "changed"

	got, err := ts.FindAPIToken(f.ctx, want.TokenHash)
	if err != nil {
		t.Fatalf("FindAPIToken: %v", err)
	}
	checkAPIToken(t, "after mutating the created token", got, want)
	got.TokenHash[0] ^= 0xff
	got.Name, got.UserID = "changed", u.ID+1
	f.findAPITokenEqual(t, "after mutating a found token", want)

	list, err := ts.ListAPITokens(f.ctx, u.ID)
	if err != nil || len(list) != 1 {
		t.Fatalf("ListAPITokens: got (%d tokens, %v), want 1", len(list), err)
	}
	list[0].TokenHash[1] ^= 0xff
	list[0].Name = "changed"
	f.findAPITokenEqual(t, "after mutating a listed token", want)
	list, err = ts.ListAPITokens(f.ctx, 0)
	if err != nil || len(list) != 1 {
		t.Fatalf("ListAPITokens(0): got (%d tokens, %v), want 1", len(list), err)
	}
	checkAPIToken(t, "listed after mutating a listed token", &list[0], want)
}
