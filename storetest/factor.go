package storetest

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/latchkey/latchkey"
)

// ---- MFAStore (optional: user stores) ----

func factorTests(supported bool) []test {
	return []test{
		{name: "AddAndListRoundTrip", fn: testFactorRoundTrip, supported: supported, optional: true},
		{name: "AddDuplicateConflicts", fn: testFactorDuplicate, supported: supported, optional: true},
		{name: "UnknownUserIsNotFound", fn: testFactorUnknownUser, supported: supported, optional: true},
		{name: "ListOrderAndKinds", fn: testFactorOrder, supported: supported, optional: true},
		{name: "ReplaceFactors", fn: testFactorReplace, supported: supported, optional: true},
		{name: "AdvanceCounter", fn: testFactorAdvance, supported: supported, optional: true},
		{name: "DeleteFactor", fn: testFactorDelete, supported: supported, optional: true},
		{name: "DeleteFactors", fn: testFactorDeleteAll, supported: supported, optional: true},
		{name: "DeleteUserDeletesFactors", fn: testFactorDeleteUser, supported: supported, optional: true},
		{name: "ConcurrentAdvanceOneWins", fn: testFactorConcurrentAdvance, supported: supported, optional: true},
		{name: "ConcurrentDeleteOneWins", fn: testFactorConcurrentDelete, supported: supported, optional: true},
		{name: "ConcurrentReplaceOneStands", fn: testFactorConcurrentReplace, supported: supported, optional: true},
		{name: "ReturnedFactorIsACopy", fn: testFactorCopy, supported: supported, optional: true},
	}
}

func (f *fixture) mfa(t *testing.T) latchkey.MFAStore {
	t.Helper()
	s, ok := f.users.(latchkey.MFAStore)
	if !ok {
		t.Fatal("the user store does not implement latchkey.MFAStore")
	}
	return s
}

// newFactor returns an unsaved factor of the user, created now.
func newFactor(userID int64, kind latchkey.FactorKind, id string, now time.Time) *latchkey.Factor {
	secret := make([]byte, 45)
	rand.Read(secret)
	secret[0] = 0 // a NUL, and bytes that are not UTF-8, must survive
	return &latchkey.Factor{UserID: userID, Kind: kind, ID: id, Name: "Phone ✓ " + id, Secret: secret,
		Counter: 7, CreatedAt: now}
}

func (f *fixture) addFactor(t *testing.T, userID int64, kind latchkey.FactorKind, id string) *latchkey.Factor {
	t.Helper()
	fa := newFactor(userID, kind, id, f.clock.Now())
	if err := f.mfa(t).AddFactor(f.ctx, fa); err != nil {
		t.Fatalf("AddFactor(%s %s): %v", kind, id, err)
	}
	return fa
}

func checkFactor(tb testing.TB, what string, got, want *latchkey.Factor) {
	tb.Helper()
	if got.UserID != want.UserID || got.Kind != want.Kind || got.ID != want.ID || got.Name != want.Name ||
		!bytes.Equal(got.Secret, want.Secret) || got.Counter != want.Counter ||
		!sameTime(got.CreatedAt, want.CreatedAt) || got.LastUsedAt.IsZero() != want.LastUsedAt.IsZero() ||
		!want.LastUsedAt.IsZero() && !sameTime(got.LastUsedAt, want.LastUsedAt) {
		tb.Errorf("%s:\ngot  %+v\nwant %+v", what, got, want)
	}
}

// factors lists the user's factors of kind and checks they are want, in order.
func (f *fixture) wantFactors(t *testing.T, what string, userID int64, kind latchkey.FactorKind, want ...*latchkey.Factor) {
	t.Helper()
	got, err := f.mfa(t).Factors(f.ctx, userID, kind)
	if err != nil {
		t.Fatalf("%s: Factors: %v", what, err)
	}
	if len(got) != len(want) {
		ids := make([]string, len(got))
		for i, g := range got {
			ids[i] = string(g.Kind) + "/" + g.ID
		}
		t.Fatalf("%s: %d factors (%s), want %d", what, len(got), strings.Join(ids, ", "), len(want))
	}
	for i := range got {
		checkFactor(t, what, &got[i], want[i])
	}
}

func testFactorRoundTrip(t *testing.T, f *fixture) {
	u := f.createUser(t, "alice")
	fa := f.addFactor(t, u.ID, latchkey.FactorTOTP, "totp")
	f.wantFactors(t, "after AddFactor", u.ID, latchkey.FactorTOTP, fa)
	f.wantFactors(t, "every kind", u.ID, "", fa)
	f.wantFactors(t, "another kind", u.ID, latchkey.FactorRecoveryCode)
	f.wantFactors(t, "another user", u.ID+1000, "")
	// An empty secret and the longest id round-trip too.
	long := newFactor(u.ID, "webauthn", strings.Repeat("é", latchkey.MaxFactorIDBytes/2), f.clock.Now())
	long.Secret, long.Name = nil, ""
	if err := f.mfa(t).AddFactor(f.ctx, long); err != nil {
		t.Fatalf("AddFactor with a long id: %v", err)
	}
	f.wantFactors(t, "long id, no secret", u.ID, "webauthn", long)
}

func testFactorDuplicate(t *testing.T, f *fixture) {
	u := f.createUser(t, "alice")
	first := f.addFactor(t, u.ID, latchkey.FactorTOTP, "totp")
	err := f.mfa(t).AddFactor(f.ctx, newFactor(u.ID, latchkey.FactorTOTP, "totp", f.clock.Now()))
	checkErr(t, "the same kind and id again", err, latchkey.ErrConflict)
	f.wantFactors(t, "after the conflict", u.ID, "", first)
	// The same id of another kind, or of another user, is another factor.
	f.addFactor(t, u.ID, latchkey.FactorTOTPSetup, "totp")
	v := f.createUser(t, "bob")
	f.addFactor(t, v.ID, latchkey.FactorTOTP, "totp")
}

func testFactorUnknownUser(t *testing.T, f *fixture) {
	s := f.mfa(t)
	checkErr(t, "AddFactor for no user", s.AddFactor(f.ctx, newFactor(4242, latchkey.FactorTOTP, "totp", f.clock.Now())), latchkey.ErrNotFound)
	checkErr(t, "ReplaceFactors for no user", s.ReplaceFactors(f.ctx, 4242, latchkey.FactorRecoveryCode,
		[]latchkey.Factor{*newFactor(4242, latchkey.FactorRecoveryCode, "a", f.clock.Now())}), latchkey.ErrNotFound)
	checkErr(t, "AdvanceFactorCounter for no user", s.AdvanceFactorCounter(f.ctx, 4242, latchkey.FactorTOTP, "totp", 9, f.clock.Now()), latchkey.ErrNotFound)
	checkErr(t, "DeleteFactor for no user", s.DeleteFactor(f.ctx, 4242, latchkey.FactorTOTP, "totp"), latchkey.ErrNotFound)
	if n, err := s.DeleteFactors(f.ctx, 4242, ""); n != 0 || err != nil {
		t.Errorf("DeleteFactors for no user: %d, %v; want 0, nil", n, err)
	}
}

func testFactorOrder(t *testing.T, f *fixture) {
	u := f.createUser(t, "alice")
	c1 := f.addFactor(t, u.ID, latchkey.FactorRecoveryCode, "zz")
	f.clock.Advance(time.Millisecond)
	c2 := f.addFactor(t, u.ID, latchkey.FactorRecoveryCode, "bb")
	c3 := f.addFactor(t, u.ID, latchkey.FactorRecoveryCode, "aa") // same instant as bb: by id
	totp := f.addFactor(t, u.ID, latchkey.FactorTOTP, "totp")
	f.wantFactors(t, "every kind, by kind, time, id", u.ID, "", c1, c3, c2, totp)
	f.wantFactors(t, "recovery codes", u.ID, latchkey.FactorRecoveryCode, c1, c3, c2)
}

func testFactorReplace(t *testing.T, f *fixture) {
	s := f.mfa(t)
	u := f.createUser(t, "alice")
	totp := f.addFactor(t, u.ID, latchkey.FactorTOTP, "totp")
	f.addFactor(t, u.ID, latchkey.FactorRecoveryCode, "old")
	now := f.clock.Now()
	set := []latchkey.Factor{*newFactor(u.ID, latchkey.FactorRecoveryCode, "n1", now), *newFactor(u.ID, latchkey.FactorRecoveryCode, "n2", now)}
	if err := s.ReplaceFactors(f.ctx, u.ID, latchkey.FactorRecoveryCode, set); err != nil {
		t.Fatalf("ReplaceFactors: %v", err)
	}
	f.wantFactors(t, "after replacing the codes", u.ID, "", &set[0], &set[1], totp)
	if err := s.ReplaceFactors(f.ctx, u.ID, latchkey.FactorRecoveryCode, nil); err != nil {
		t.Fatalf("ReplaceFactors with none: %v", err)
	}
	f.wantFactors(t, "after replacing the codes with none", u.ID, "", totp)
	// A set that holds another kind or user is refused, and changes nothing.
	bad := []latchkey.Factor{*newFactor(u.ID, latchkey.FactorTOTP, "x", now)}
	if err := s.ReplaceFactors(f.ctx, u.ID, latchkey.FactorRecoveryCode, bad); err == nil {
		t.Error("ReplaceFactors with a factor of another kind: no error")
	}
	f.wantFactors(t, "after the refused replacement", u.ID, "", totp)
}

func testFactorAdvance(t *testing.T, f *fixture) {
	s := f.mfa(t)
	u := f.createUser(t, "alice")
	fa := f.addFactor(t, u.ID, latchkey.FactorTOTP, "totp") // counter 7
	for _, c := range []int64{7, 6, -1} {
		checkErr(t, "advance to a counter not above the stored one", s.AdvanceFactorCounter(f.ctx, u.ID, fa.Kind, fa.ID, c, f.clock.Now()), latchkey.ErrConflict)
	}
	f.wantFactors(t, "after refused advances", u.ID, "", fa)
	f.clock.Advance(time.Minute)
	at := f.clock.Now()
	if err := s.AdvanceFactorCounter(f.ctx, u.ID, fa.Kind, fa.ID, 8, at); err != nil {
		t.Fatalf("AdvanceFactorCounter(8): %v", err)
	}
	fa.Counter, fa.LastUsedAt = 8, at
	f.wantFactors(t, "after advancing", u.ID, "", fa)
	// Counters far apart (time steps) and large values.
	const big = int64(1) << 52
	if err := s.AdvanceFactorCounter(f.ctx, u.ID, fa.Kind, fa.ID, big, at); err != nil {
		t.Fatalf("AdvanceFactorCounter(2^52): %v", err)
	}
	checkErr(t, "advance to 2^52 again", s.AdvanceFactorCounter(f.ctx, u.ID, fa.Kind, fa.ID, big, at), latchkey.ErrConflict)
	checkErr(t, "advance a factor of another kind", s.AdvanceFactorCounter(f.ctx, u.ID, latchkey.FactorRecoveryCode, fa.ID, big+1, at), latchkey.ErrNotFound)
}

func testFactorDelete(t *testing.T, f *fixture) {
	s := f.mfa(t)
	u := f.createUser(t, "alice")
	code := f.addFactor(t, u.ID, latchkey.FactorRecoveryCode, "c1")
	other := f.addFactor(t, u.ID, latchkey.FactorRecoveryCode, "c2")
	if err := s.DeleteFactor(f.ctx, u.ID, code.Kind, code.ID); err != nil {
		t.Fatalf("DeleteFactor: %v", err)
	}
	checkErr(t, "deleting it again (a code used twice)", s.DeleteFactor(f.ctx, u.ID, code.Kind, code.ID), latchkey.ErrNotFound)
	checkErr(t, "deleting with another kind", s.DeleteFactor(f.ctx, u.ID, latchkey.FactorTOTP, other.ID), latchkey.ErrNotFound)
	f.wantFactors(t, "after deleting one", u.ID, "", other)
}

func testFactorDeleteAll(t *testing.T, f *fixture) {
	s := f.mfa(t)
	u, v := f.createUser(t, "alice"), f.createUser(t, "bob")
	totp := f.addFactor(t, u.ID, latchkey.FactorTOTP, "totp")
	f.addFactor(t, u.ID, latchkey.FactorRecoveryCode, "c1")
	f.addFactor(t, u.ID, latchkey.FactorRecoveryCode, "c2")
	bobs := f.addFactor(t, v.ID, latchkey.FactorRecoveryCode, "c1")
	if n, err := s.DeleteFactors(f.ctx, u.ID, latchkey.FactorRecoveryCode); n != 2 || err != nil {
		t.Errorf("DeleteFactors(recovery codes): %d, %v; want 2, nil", n, err)
	}
	f.wantFactors(t, "after deleting the codes", u.ID, "", totp)
	f.addFactor(t, u.ID, latchkey.FactorTOTPSetup, "totp")
	if n, err := s.DeleteFactors(f.ctx, u.ID, ""); n != 2 || err != nil {
		t.Errorf("DeleteFactors(every kind): %d, %v; want 2, nil", n, err)
	}
	f.wantFactors(t, "after deleting all", u.ID, "")
	f.wantFactors(t, "another user's", v.ID, "", bobs)
}

func testFactorDeleteUser(t *testing.T, f *fixture) {
	u, v := f.createUser(t, "alice"), f.createUser(t, "bob")
	f.addFactor(t, u.ID, latchkey.FactorTOTP, "totp")
	bobs := f.addFactor(t, v.ID, latchkey.FactorTOTP, "totp")
	if err := f.users.DeleteUser(f.ctx, u.ID); err != nil {
		t.Fatalf("DeleteUser: %v", err)
	}
	f.wantFactors(t, "the deleted user's", u.ID, "")
	f.wantFactors(t, "another user's", v.ID, "", bobs)
}

func testFactorConcurrentAdvance(t *testing.T, f *fixture) {
	s := f.mfa(t)
	u := f.createUser(t, "alice")
	fa := f.addFactor(t, u.ID, latchkey.FactorTOTP, "totp")
	var wins atomic.Int32
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			err := s.AdvanceFactorCounter(f.ctx, u.ID, fa.Kind, fa.ID, 100, f.clock.Now())
			switch {
			case err == nil:
				wins.Add(1)
			case !errors.Is(err, latchkey.ErrConflict):
				t.Errorf("concurrent AdvanceFactorCounter: %v", err)
			}
		})
	}
	wg.Wait()
	if wins.Load() != 1 {
		t.Errorf("%d of 16 concurrent advances to one counter succeeded, want 1 (a TOTP code accepted more than once)", wins.Load())
	}
}

func testFactorConcurrentDelete(t *testing.T, f *fixture) {
	s := f.mfa(t)
	u := f.createUser(t, "alice")
	fa := f.addFactor(t, u.ID, latchkey.FactorRecoveryCode, "c1")
	var wins atomic.Int32
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			err := s.DeleteFactor(f.ctx, u.ID, fa.Kind, fa.ID)
			switch {
			case err == nil:
				wins.Add(1)
			case !errors.Is(err, latchkey.ErrNotFound):
				t.Errorf("concurrent DeleteFactor: %v", err)
			}
		})
	}
	wg.Wait()
	if wins.Load() != 1 {
		t.Errorf("%d of 16 concurrent deletions succeeded, want 1 (a recovery code used more than once)", wins.Load())
	}
}

func testFactorConcurrentReplace(t *testing.T, f *fixture) {
	s := f.mfa(t)
	u := f.createUser(t, "alice")
	const sets, size = 8, 10
	var wg sync.WaitGroup
	for i := range sets {
		wg.Go(func() {
			fs := make([]latchkey.Factor, size)
			for j := range fs {
				h := sha256.Sum256([]byte{byte(i), byte(j)})
				fs[j] = *newFactor(u.ID, latchkey.FactorRecoveryCode, hex.EncodeToString(h[:]), f.clock.Now())
				fs[j].Name = string(rune('a' + i))
			}
			if err := s.ReplaceFactors(f.ctx, u.ID, latchkey.FactorRecoveryCode, fs); err != nil {
				t.Errorf("concurrent ReplaceFactors: %v", err)
			}
		})
	}
	wg.Wait()
	got, err := s.Factors(f.ctx, u.ID, latchkey.FactorRecoveryCode)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != size {
		t.Fatalf("%d codes after concurrent replacements, want one whole set of %d", len(got), size)
	}
	for _, g := range got {
		if g.Name != got[0].Name {
			t.Fatalf("codes of sets %q and %q stand together, want one set", got[0].Name, g.Name)
		}
	}
}

func testFactorCopy(t *testing.T, f *fixture) {
	s := f.mfa(t)
	u := f.createUser(t, "alice")
	fa := f.addFactor(t, u.ID, latchkey.FactorTOTP, "totp")
	want := *fa
	want.Secret = bytes.Clone(fa.Secret)
	fa.Secret[1] ^= 0xff // the caller's value changed after the call
	got, err := s.Factors(f.ctx, u.ID, "")
	if err != nil || len(got) != 1 {
		t.Fatalf("Factors: %v, %v", got, err)
	}
	checkFactor(t, "after changing the added value", &got[0], &want)
	got[0].Secret[1] ^= 0xff
	f.wantFactors(t, "after changing a returned value", u.ID, "", &want)
}

// ---- PendingLoginStore (optional: session stores) ----

func pendingLoginTests(supported bool) []test {
	return []test{
		{name: "AttemptsCountedUpToMax", fn: testPendingAttempts, supported: supported, optional: true},
		{name: "DeleteOnce", fn: testPendingDelete, supported: supported, optional: true},
		{name: "DuplicateConflicts", fn: testPendingDuplicate, supported: supported, optional: true},
		{name: "ExpiresAtDeadline", fn: testPendingExpiry, supported: supported, optional: true},
		{name: "ConcurrentAttemptsBounded", fn: testPendingConcurrentAttempts, supported: supported, optional: true},
		{name: "ConcurrentDeletesOneWins", fn: testPendingConcurrentDelete, supported: supported, optional: true},
	}
}

func (f *fixture) pendingStore(t *testing.T) latchkey.PendingLoginStore {
	t.Helper()
	s, ok := f.sessions.(latchkey.PendingLoginStore)
	if !ok {
		t.Fatal("the session store does not implement latchkey.PendingLoginStore")
	}
	return s
}

func (f *fixture) createPending(t *testing.T, userID int64, ttl time.Duration) *latchkey.PendingLogin {
	t.Helper()
	raw := make([]byte, 32)
	rand.Read(raw)
	h := sha256.Sum256(raw)
	now := f.clock.Now()
	p := &latchkey.PendingLogin{TokenHash: h[:], UserID: userID, UserEpoch: 5, Remember: true, CreatedAt: now, ExpiresAt: now.Add(ttl)}
	if err := f.pendingStore(t).CreatePendingLogin(f.ctx, p); err != nil {
		t.Fatalf("CreatePendingLogin: %v", err)
	}
	return p
}

func checkPending(tb testing.TB, what string, got, want *latchkey.PendingLogin, attempts int) {
	tb.Helper()
	if got == nil || !bytes.Equal(got.TokenHash, want.TokenHash) || got.UserID != want.UserID || got.UserEpoch != want.UserEpoch ||
		got.Remember != want.Remember || got.Attempts != attempts ||
		!sameTime(got.CreatedAt, want.CreatedAt) || !sameTime(got.ExpiresAt, want.ExpiresAt) {
		tb.Errorf("%s:\ngot  %+v\nwant %+v with %d attempts", what, got, want, attempts)
	}
}

func testPendingAttempts(t *testing.T, f *fixture) {
	s := f.pendingStore(t)
	p := f.createPending(t, 1, 5*time.Minute)
	other := f.createPending(t, 1, 5*time.Minute)
	for i := 1; i <= 5; i++ {
		got, err := s.AttemptPendingLogin(f.ctx, p.TokenHash, 5)
		if err != nil {
			t.Fatalf("attempt %d: %v", i, err)
		}
		checkPending(t, "attempt", got, p, i)
	}
	got, err := s.AttemptPendingLogin(f.ctx, p.TokenHash, 5)
	checkErr(t, "a 6th attempt with a maximum of 5", err, latchkey.ErrNotFound)
	if got != nil {
		t.Errorf("the refused attempt returned %+v", got)
	}
	_, err = s.AttemptPendingLogin(f.ctx, p.TokenHash, 10)
	checkErr(t, "an attempt after the maximum, with a higher one (it was deleted)", err, latchkey.ErrNotFound)
	checkErr(t, "deleting it after the maximum", s.DeletePendingLogin(f.ctx, p.TokenHash), latchkey.ErrNotFound)
	got, err = s.AttemptPendingLogin(f.ctx, other.TokenHash, 5)
	if err != nil {
		t.Fatalf("another pending login: %v", err)
	}
	checkPending(t, "another pending login", got, other, 1)
	_, err = s.AttemptPendingLogin(f.ctx, bytes.Repeat([]byte{1}, 32), 5)
	checkErr(t, "an unknown hash", err, latchkey.ErrNotFound)
}

func testPendingDelete(t *testing.T, f *fixture) {
	s := f.pendingStore(t)
	p := f.createPending(t, 1, 5*time.Minute)
	if _, err := s.AttemptPendingLogin(f.ctx, p.TokenHash, 5); err != nil {
		t.Fatal(err)
	}
	if err := s.DeletePendingLogin(f.ctx, p.TokenHash); err != nil {
		t.Fatalf("DeletePendingLogin: %v", err)
	}
	checkErr(t, "deleting it again", s.DeletePendingLogin(f.ctx, p.TokenHash), latchkey.ErrNotFound)
	_, err := s.AttemptPendingLogin(f.ctx, p.TokenHash, 5)
	checkErr(t, "an attempt after the deletion", err, latchkey.ErrNotFound)
}

func testPendingDuplicate(t *testing.T, f *fixture) {
	s := f.pendingStore(t)
	p := f.createPending(t, 1, 5*time.Minute)
	dup := *p
	dup.UserID = 2
	checkErr(t, "the same hash again", s.CreatePendingLogin(f.ctx, &dup), latchkey.ErrConflict)
	got, err := s.AttemptPendingLogin(f.ctx, p.TokenHash, 5)
	if err != nil {
		t.Fatal(err)
	}
	checkPending(t, "after the conflict", got, p, 1)
}

func testPendingExpiry(t *testing.T, f *fixture) {
	s := f.pendingStore(t)
	early := f.createPending(t, 1, 5*time.Minute)
	late := f.createPending(t, 1, 5*time.Minute)
	f.clock.Advance(5*time.Minute - time.Millisecond)
	if _, err := s.AttemptPendingLogin(f.ctx, early.TokenHash, 5); err != nil {
		t.Errorf("a millisecond before expiry: %v", err)
	}
	f.clock.Advance(time.Millisecond)
	_, err := s.AttemptPendingLogin(f.ctx, early.TokenHash, 5)
	checkErr(t, "an attempt at expiry", err, latchkey.ErrNotFound)
	checkErr(t, "deleting at expiry", s.DeletePendingLogin(f.ctx, late.TokenHash), latchkey.ErrNotFound)
	// An expired one's hash may be used again.
	again := *early
	again.CreatedAt, again.ExpiresAt = f.clock.Now(), f.clock.Now().Add(time.Minute)
	if err := s.CreatePendingLogin(f.ctx, &again); err != nil {
		t.Errorf("creating one with an expired one's hash: %v", err)
	}
}

func testPendingConcurrentAttempts(t *testing.T, f *fixture) {
	s := f.pendingStore(t)
	p := f.createPending(t, 1, 5*time.Minute)
	var counted atomic.Int32
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			_, err := s.AttemptPendingLogin(f.ctx, p.TokenHash, 5)
			switch {
			case err == nil:
				counted.Add(1)
			case !errors.Is(err, latchkey.ErrNotFound):
				t.Errorf("concurrent AttemptPendingLogin: %v", err)
			}
		})
	}
	wg.Wait()
	if counted.Load() != 5 {
		t.Errorf("%d of 20 concurrent attempts were counted, want exactly 5", counted.Load())
	}
}

func testPendingConcurrentDelete(t *testing.T, f *fixture) {
	s := f.pendingStore(t)
	p := f.createPending(t, 1, 5*time.Minute)
	var wins atomic.Int32
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			err := s.DeletePendingLogin(f.ctx, p.TokenHash)
			switch {
			case err == nil:
				wins.Add(1)
			case !errors.Is(err, latchkey.ErrNotFound):
				t.Errorf("concurrent DeletePendingLogin: %v", err)
			}
		})
	}
	wg.Wait()
	if wins.Load() != 1 {
		t.Errorf("%d of 16 concurrent deletions succeeded, want 1 (one pending login, two sessions)", wins.Load())
	}
}
