package storetest

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/latchkey/latchkey"
)

// ---- AccountTokenStore (optional: session stores) ----

func accountTokenTests(supported bool) []test {
	return []test{
		{name: "IssueThenUseOnce", fn: testAccountTokenUseOnce, supported: supported, optional: true},
		{name: "WrongHashChangesNothing", fn: testAccountTokenWrongHash, supported: supported, optional: true},
		{name: "NewerSupersedesOlder", fn: testAccountTokenSupersede, supported: supported, optional: true},
		{name: "PurposesAndUsersAreIndependent", fn: testAccountTokenIndependent, supported: supported, optional: true},
		{name: "ExpiresAtDeadline", fn: testAccountTokenExpiry, supported: supported, optional: true},
		{name: "Delete", fn: testAccountTokenDelete, supported: supported, optional: true},
		{name: "ConcurrentUsesOneWins", fn: testAccountTokenConcurrentUse, supported: supported, optional: true},
		{name: "ConcurrentIssuesOneStands", fn: testAccountTokenConcurrentIssue, supported: supported, optional: true},
	}
}

func (f *fixture) accountTokens(t *testing.T) latchkey.AccountTokenStore {
	t.Helper()
	s, ok := f.sessions.(latchkey.AccountTokenStore)
	if !ok {
		t.Fatal("the session store does not implement latchkey.AccountTokenStore")
	}
	return s
}

// newAccountToken returns an unsaved token of the user for purpose, issued
// now and valid for ttl.
func newAccountToken(userID int64, purpose latchkey.AccountPurpose, now time.Time, ttl time.Duration) *latchkey.AccountToken {
	raw := make([]byte, 32)
	rand.Read(raw)
	h := sha256.Sum256(raw)
	return &latchkey.AccountToken{
		UserID: userID, Purpose: purpose, TokenHash: h[:],
		Email:     "ünïcode+tag@example.com",
		UserEpoch: 7, // not the zero value, so a store that drops it fails
		CreatedAt: now, ExpiresAt: now.Add(ttl),
	}
}

func (f *fixture) issueAccountToken(t *testing.T, userID int64, purpose latchkey.AccountPurpose, ttl time.Duration) *latchkey.AccountToken {
	t.Helper()
	tok := newAccountToken(userID, purpose, f.clock.Now(), ttl)
	if err := f.accountTokens(t).IssueAccountToken(f.ctx, tok); err != nil {
		t.Fatalf("IssueAccountToken: %v", err)
	}
	return tok
}

func checkAccountToken(tb testing.TB, what string, got, want *latchkey.AccountToken) {
	tb.Helper()
	if got == nil {
		tb.Errorf("%s: got nil, want %+v", what, want)
		return
	}
	if got.UserID != want.UserID || got.Purpose != want.Purpose || !bytes.Equal(got.TokenHash, want.TokenHash) ||
		got.Email != want.Email || got.UserEpoch != want.UserEpoch ||
		!sameTime(got.CreatedAt, want.CreatedAt) || !sameTime(got.ExpiresAt, want.ExpiresAt) {
		tb.Errorf("%s:\ngot  %+v\nwant %+v", what, got, want)
	}
}

// useGone checks that the token cannot be used (now).
func (f *fixture) useGone(t *testing.T, what string, tok *latchkey.AccountToken) {
	t.Helper()
	got, err := f.accountTokens(t).UseAccountToken(f.ctx, tok.UserID, tok.Purpose, tok.TokenHash)
	checkErr(t, what, err, latchkey.ErrNotFound)
	if got != nil {
		t.Errorf("%s: returned %+v with the error", what, got)
	}
}

func (f *fixture) useOK(t *testing.T, what string, tok *latchkey.AccountToken) {
	t.Helper()
	got, err := f.accountTokens(t).UseAccountToken(f.ctx, tok.UserID, tok.Purpose, tok.TokenHash)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	checkAccountToken(t, what, got, tok)
}

func testAccountTokenUseOnce(t *testing.T, f *fixture) {
	tok := f.issueAccountToken(t, 1, latchkey.PurposeResetPassword, time.Hour)
	f.useOK(t, "first use", tok)
	f.useGone(t, "second use", tok)
}

func testAccountTokenWrongHash(t *testing.T, f *fixture) {
	tok := f.issueAccountToken(t, 1, latchkey.PurposeResetPassword, time.Hour)
	for name, h := range map[string][]byte{
		"other hash":     bytes.Repeat([]byte{0xab}, 32),
		"truncated hash": tok.TokenHash[:16],
		"empty hash":     nil,
		"longer hash":    append(bytes.Clone(tok.TokenHash), 0),
	} {
		wrong := *tok
		wrong.TokenHash = h
		f.useGone(t, name, &wrong)
	}
	f.useOK(t, "the real one after wrong guesses", tok)
}

func testAccountTokenSupersede(t *testing.T, f *fixture) {
	old := f.issueAccountToken(t, 1, latchkey.PurposeResetPassword, time.Hour)
	f.clock.Advance(time.Second)
	newer := f.issueAccountToken(t, 1, latchkey.PurposeResetPassword, time.Hour)
	f.useGone(t, "superseded token", old)
	f.useOK(t, "newest token", newer)
}

func testAccountTokenIndependent(t *testing.T, f *fixture) {
	reset := f.issueAccountToken(t, 1, latchkey.PurposeResetPassword, time.Hour)
	verify := f.issueAccountToken(t, 1, latchkey.PurposeVerifyEmail, time.Hour)
	change := f.issueAccountToken(t, 1, latchkey.PurposeChangeEmail, time.Hour)
	var rest []*latchkey.AccountToken // every other purpose, which "" must reach too
	for _, p := range latchkey.AccountPurposes() {
		if p != latchkey.PurposeResetPassword && p != latchkey.PurposeVerifyEmail && p != latchkey.PurposeChangeEmail {
			rest = append(rest, f.issueAccountToken(t, 1, p, time.Hour))
		}
	}
	other := f.issueAccountToken(t, 2, latchkey.PurposeResetPassword, time.Hour)
	// A token presented for another purpose or user is not found, and
	// stays usable for its own.
	asVerify := *reset
	asVerify.Purpose = latchkey.PurposeVerifyEmail
	f.useGone(t, "reset token used to verify", &asVerify)
	asOther := *reset
	asOther.UserID = 2
	f.useGone(t, "user 1's token for user 2", &asOther)
	for _, tok := range []*latchkey.AccountToken{reset, verify, change, other} {
		f.useOK(t, string(tok.Purpose)+" token", tok)
	}
}

func testAccountTokenExpiry(t *testing.T, f *fixture) {
	early := f.issueAccountToken(t, 1, latchkey.PurposeResetPassword, time.Hour)
	late := f.issueAccountToken(t, 2, latchkey.PurposeResetPassword, time.Hour)
	f.clock.Advance(time.Hour - time.Millisecond)
	f.useOK(t, "a millisecond before expiry", early)
	f.clock.Advance(time.Millisecond)
	f.useGone(t, "at expiry", late)
}

func testAccountTokenDelete(t *testing.T, f *fixture) {
	s := f.accountTokens(t)
	reset := f.issueAccountToken(t, 1, latchkey.PurposeResetPassword, time.Hour)
	verify := f.issueAccountToken(t, 1, latchkey.PurposeVerifyEmail, time.Hour)
	change := f.issueAccountToken(t, 1, latchkey.PurposeChangeEmail, time.Hour)
	var rest []*latchkey.AccountToken // every other purpose, which "" must reach too
	for _, p := range latchkey.AccountPurposes() {
		if p != latchkey.PurposeResetPassword && p != latchkey.PurposeVerifyEmail && p != latchkey.PurposeChangeEmail {
			rest = append(rest, f.issueAccountToken(t, 1, p, time.Hour))
		}
	}
	other := f.issueAccountToken(t, 2, latchkey.PurposeResetPassword, time.Hour)
	if err := s.DeleteAccountTokens(f.ctx, 1, latchkey.PurposeResetPassword); err != nil {
		t.Fatalf("DeleteAccountTokens(reset): %v", err)
	}
	f.useGone(t, "deleted reset token", reset)
	if err := s.DeleteAccountTokens(f.ctx, 1, ""); err != nil {
		t.Fatalf("DeleteAccountTokens(all): %v", err)
	}
	f.useGone(t, "verify token after deleting all", verify)
	f.useGone(t, "change token after deleting all", change)
	for _, tok := range rest {
		f.useGone(t, string(tok.Purpose)+" token after deleting all", tok)
	}
	f.useOK(t, "another user's token", other)
	if err := s.DeleteAccountTokens(f.ctx, 99, ""); err != nil {
		t.Errorf("DeleteAccountTokens of a user with none: %v", err)
	}
}

func testAccountTokenConcurrentUse(t *testing.T, f *fixture) {
	s := f.accountTokens(t)
	tok := f.issueAccountToken(t, 1, latchkey.PurposeResetPassword, time.Hour)
	var wins atomic.Int32
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			_, err := s.UseAccountToken(f.ctx, tok.UserID, tok.Purpose, tok.TokenHash)
			switch {
			case err == nil:
				wins.Add(1)
			case !errors.Is(err, latchkey.ErrNotFound):
				t.Errorf("concurrent UseAccountToken: %v", err)
			}
		})
	}
	wg.Wait()
	if wins.Load() != 1 {
		t.Errorf("%d of 16 concurrent uses succeeded, want 1", wins.Load())
	}
}

func testAccountTokenConcurrentIssue(t *testing.T, f *fixture) {
	s := f.accountTokens(t)
	toks := make([]*latchkey.AccountToken, 12)
	var wg sync.WaitGroup
	for i := range toks {
		toks[i] = newAccountToken(1, latchkey.PurposeVerifyEmail, f.clock.Now(), time.Hour)
		wg.Go(func() {
			if err := s.IssueAccountToken(f.ctx, toks[i]); err != nil {
				t.Errorf("concurrent IssueAccountToken: %v", err)
			}
		})
	}
	wg.Wait()
	usable := 0
	for _, tok := range toks {
		if _, err := s.UseAccountToken(f.ctx, tok.UserID, tok.Purpose, tok.TokenHash); err == nil {
			usable++
		}
	}
	if usable != 1 {
		t.Errorf("%d of %d concurrently issued tokens are usable, want exactly 1", usable, len(toks))
	}
}
