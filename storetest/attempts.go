package storetest

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/latchkey/latchkey"
)

// ---- AttemptLimiter (optional: session stores shared by instances) ----

// attemptTests are the AttemptLimiter cases; Run registers them when the
// session store has the capability.
func attemptTests(supported bool) []test {
	return []test{
		{name: "BurstThenWait", fn: testAttemptBurstThenWait, supported: supported, optional: true},
		{name: "RefillOverTime", fn: testAttemptRefillOverTime, supported: supported, optional: true},
		{name: "ResetClears", fn: testAttemptResetClears, supported: supported, optional: true},
		{name: "KeysAreIndependent", fn: testAttemptKeysIndependent, supported: supported, optional: true},
		{name: "ConcurrentFailuresEachSpend", fn: testAttemptConcurrentFailures, supported: supported, optional: true},
		{name: "ExpiryKeepsPartialBucket", fn: testAttemptExpiryKeepsPartialBucket, supported: supported, optional: true},
	}
}

// attempts returns the session store's AttemptLimiter.
func (f *fixture) attempts(t *testing.T) latchkey.AttemptLimiter {
	t.Helper()
	l, ok := f.sessions.(latchkey.AttemptLimiter)
	if !ok {
		t.Fatal("the session store does not implement latchkey.AttemptLimiter") // Run registers these cases only for limiters
	}
	return l
}

// attemptKey returns a key as Auth makes them: a hex SHA-256.
func attemptKey(name string) string {
	h := sha256.Sum256([]byte(name))
	return hex.EncodeToString(h[:])
}

// bucket is one key's throttle under fixed parameters, for short tests.
type bucket struct {
	t      *testing.T
	f      *fixture
	l      latchkey.AttemptLimiter
	key    string
	burst  int
	refill time.Duration
}

func (f *fixture) bucket(t *testing.T, name string, burst int, refill time.Duration) *bucket {
	t.Helper()
	return &bucket{t: t, f: f, l: f.attempts(t), key: attemptKey(name), burst: burst, refill: refill}
}

func (b *bucket) fail(n int) {
	b.t.Helper()
	for range n {
		if err := b.l.AttemptFailed(b.f.ctx, b.key, b.burst, b.refill, b.f.clock.Now()); err != nil {
			b.t.Fatalf("AttemptFailed: %v", err)
		}
	}
}

// wantWait checks the wait to within the millisecond stores keep.
func (b *bucket) wantWait(what string, want time.Duration) {
	b.t.Helper()
	got, err := b.l.AttemptWait(b.f.ctx, b.key, b.burst, b.refill, b.f.clock.Now())
	if err != nil {
		b.t.Fatalf("%s: AttemptWait: %v", what, err)
	}
	if d := got - want; d < -time.Millisecond || d > time.Millisecond {
		b.t.Errorf("%s: wait: got %v, want %v", what, got, want)
	}
}

func (b *bucket) reset() {
	b.t.Helper()
	if err := b.l.AttemptReset(b.f.ctx, b.key); err != nil {
		b.t.Fatalf("AttemptReset: %v", err)
	}
}

func testAttemptBurstThenWait(t *testing.T, f *fixture) {
	b := f.bucket(t, "burst", 3, time.Minute)
	b.wantWait("a key never seen", 0)
	for i := range 2 {
		b.fail(1)
		b.wantWait(fmt.Sprintf("after failure %d", i+1), 0)
	}
	b.fail(1)
	b.wantWait("after the burst", time.Minute)
	// A failure that got past the wait (a race) still spends a token.
	b.fail(1)
	b.wantWait("one past the burst", 2*time.Minute)
}

func testAttemptRefillOverTime(t *testing.T, f *fixture) {
	b := f.bucket(t, "refill", 3, time.Minute)
	b.fail(3)
	f.clock.Advance(20 * time.Second)
	b.wantWait("a third of a refill later", 40*time.Second)
	f.clock.Advance(40 * time.Second)
	b.wantWait("one refill later", 0)
	b.fail(1)
	b.wantWait("the refilled token spent", time.Minute)
	// Refilling stops at burst: a long rest buys burst failures, no more.
	f.clock.Advance(24 * time.Hour)
	b.wantWait("a day later", 0)
	b.fail(2)
	b.wantWait("two failures after a day", 0)
	b.fail(1)
	b.wantWait("three failures after a day", time.Minute)
}

func testAttemptResetClears(t *testing.T, f *fixture) {
	b := f.bucket(t, "reset", 3, time.Hour)
	b.fail(4)
	b.reset()
	b.wantWait("after reset", 0)
	b.fail(2)
	b.wantWait("two failures after reset", 0)
	b.fail(1)
	b.wantWait("three failures after reset", time.Hour)
	f.bucket(t, "never seen", 3, time.Hour).reset() // not an error
}

func testAttemptKeysIndependent(t *testing.T, f *fixture) {
	a := f.bucket(t, "192.0.2.1\x00alice", 2, time.Minute)
	b := f.bucket(t, "192.0.2.1\x00bob", 2, time.Minute)
	a.fail(2)
	a.wantWait("a after its burst", time.Minute)
	b.wantWait("b while a waits", 0)
	b.fail(1)
	b.wantWait("b after one failure", 0)
	a.wantWait("a after b failed", time.Minute)
	a.reset()
	b.fail(1)
	b.wantWait("b after a was reset", time.Minute)
}

// testAttemptConcurrentFailures races n failures of one key, as n
// instances would: each must spend a token, none lost to a read-modify-write
// race.
func testAttemptConcurrentFailures(t *testing.T, f *fixture) {
	const n = 16
	b := f.bucket(t, "concurrent", 10, time.Hour)
	now := f.clock.Now()
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			errs[i] = b.l.AttemptFailed(f.ctx, b.key, b.burst, b.refill, now)
		})
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("AttemptFailed %d: %v", i, err)
		}
	}
	// 16 spent of 10: 6 below empty, so 7 refills until one token is whole.
	b.wantWait("after 16 concurrent failures", 7*time.Hour)
}

// testAttemptExpiryKeepsPartialBucket lets real time pass as well as the
// clock, for stores that expire keys by their own clock (Redis) or prune
// them as other keys fail (SQL): a bucket not yet full must survive both.
func testAttemptExpiryKeepsPartialBucket(t *testing.T, f *fixture) {
	const refill, rest = 300 * time.Millisecond, 500 * time.Millisecond
	b := f.bucket(t, "partial", 4, refill)
	b.fail(4) // empty: full again after 4 refills (1.2s)
	time.Sleep(rest)
	f.clock.Advance(rest)
	other := f.bucket(t, "other", 4, refill)
	other.fail(1) // where failures prune refilled keys, this one must stay
	b.fail(1)
	// 4 refills minus the rest, plus one: 1s ahead, 3 refills (0.9s) allowed.
	b.wantWait("a failure after resting less than the refill of the whole burst", 100*time.Millisecond)
}
