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
		{name: "RefusedTakesSpendNothing", fn: testAttemptRefusedTakesSpendNothing, supported: supported, optional: true},
		{name: "RefillOverTime", fn: testAttemptRefillOverTime, supported: supported, optional: true},
		{name: "ResetClears", fn: testAttemptResetClears, supported: supported, optional: true},
		{name: "RefundGivesBackOne", fn: testAttemptRefundGivesBackOne, supported: supported, optional: true},
		{name: "KeysAreIndependent", fn: testAttemptKeysIndependent, supported: supported, optional: true},
		{name: "ConcurrentTakesAtMostBurst", fn: testAttemptConcurrentTakes, supported: supported, optional: true},
		{name: "ConcurrentRefundsEachGiveBack", fn: testAttemptConcurrentRefunds, supported: supported, optional: true},
		{name: "ExpiryKeepsPartialBucket", fn: testAttemptExpiryKeepsPartialBucket, supported: supported, optional: true},
	}
}

// RunAttemptLimiter runs the AttemptLimiter cases alone, for a limiter
// that is not a session store (latchkey's own, in memory). open must
// return a fresh, empty limiter.
func RunAttemptLimiter(t *testing.T, open func(tb testing.TB) latchkey.AttemptLimiter) {
	for _, tc := range attemptTests(true) {
		t.Run(tc.name, func(t *testing.T) {
			f := &fixture{ctx: t.Context(), clock: NewClock(start), sessions: limiterOnly{AttemptLimiter: open(t)}}
			tc.fn(t, f)
		})
	}
}

// limiterOnly is a limiter in a fixture's session store; the attempt
// cases use nothing else of it.
type limiterOnly struct {
	latchkey.SessionStore
	latchkey.AttemptLimiter
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

// take takes n tokens, each of which must be there.
func (b *bucket) take(what string, n int) {
	b.t.Helper()
	for i := range n {
		wait, err := b.l.AttemptTake(b.f.ctx, b.key, b.burst, b.refill, b.f.clock.Now())
		if err != nil {
			b.t.Fatalf("%s: AttemptTake: %v", what, err)
		}
		if wait != 0 {
			b.t.Fatalf("%s: take %d of %d: refused with a wait of %v, want a token", what, i+1, n, wait)
		}
	}
}

// wantRefused checks that a take is refused with this wait, to within the
// millisecond stores keep.
func (b *bucket) wantRefused(what string, want time.Duration) {
	b.t.Helper()
	got, err := b.l.AttemptTake(b.f.ctx, b.key, b.burst, b.refill, b.f.clock.Now())
	if err != nil {
		b.t.Fatalf("%s: AttemptTake: %v", what, err)
	}
	if d := got - want; got == 0 || d < -time.Millisecond || d > time.Millisecond {
		b.t.Errorf("%s: got a wait of %v (0: a token taken), want a refusal with %v", what, got, want)
	}
}

func (b *bucket) refund(n int) {
	b.t.Helper()
	for range n {
		if err := b.l.AttemptRefund(b.f.ctx, b.key, b.refill, b.f.clock.Now()); err != nil {
			b.t.Fatalf("AttemptRefund: %v", err)
		}
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
	b.take("a key never seen", 3)
	b.wantRefused("after the burst", time.Minute)
	f.clock.Advance(time.Minute)
	b.take("one refill later", 1)
	b.wantRefused("the refilled token taken", time.Minute)
}

// A refused take spends nothing, or a client retrying while throttled
// would never get in again.
func testAttemptRefusedTakesSpendNothing(t *testing.T, f *fixture) {
	b := f.bucket(t, "refused", 2, time.Minute)
	b.take("the burst", 2)
	for i := range 5 {
		b.wantRefused(fmt.Sprintf("refusal %d", i+1), time.Minute)
	}
	f.clock.Advance(time.Minute)
	b.take("one refill after five refusals", 1)
}

func testAttemptRefillOverTime(t *testing.T, f *fixture) {
	b := f.bucket(t, "refill", 3, time.Minute)
	b.take("the burst", 3)
	f.clock.Advance(20 * time.Second)
	b.wantRefused("a third of a refill later", 40*time.Second)
	f.clock.Advance(40 * time.Second)
	b.take("one refill later", 1)
	b.wantRefused("the refilled token taken", time.Minute)
	// Refilling stops at burst: a long rest buys burst tokens, no more.
	f.clock.Advance(24 * time.Hour)
	b.take("a day later", 3)
	b.wantRefused("four takes after a day", time.Minute)
}

func testAttemptResetClears(t *testing.T, f *fixture) {
	b := f.bucket(t, "reset", 3, time.Hour)
	b.take("the burst", 3)
	b.reset()
	b.take("after reset", 3)
	b.wantRefused("four after reset", time.Hour)
	f.bucket(t, "never seen", 3, time.Hour).reset() // not an error
}

func testAttemptRefundGivesBackOne(t *testing.T, f *fixture) {
	b := f.bucket(t, "refund", 3, time.Hour)
	b.take("the burst", 3)
	b.refund(1)
	b.take("after a refund", 1)
	b.wantRefused("after the refunded token", time.Hour)
	b.refund(2)
	b.take("after two refunds", 2)
	b.wantRefused("after two refunded tokens", time.Hour)
	// A refund after half a refill gives back a whole token: half a token
	// short of two.
	f.clock.Advance(30 * time.Minute)
	b.refund(1)
	b.take("a refund and half a refill later", 1)
	b.wantRefused("the refunded token taken", 30*time.Minute)

	// A bucket never holds more than burst: refunds to a full or unknown
	// bucket change nothing.
	full := f.bucket(t, "refund when full", 2, time.Hour)
	full.refund(3)
	full.take("after refunds to an unknown key", 2)
	full.wantRefused("a third take", time.Hour)
	f.clock.Advance(3 * time.Hour)
	full.refund(3)
	full.take("after refunds to a refilled key", 2)
	full.wantRefused("a third take after refilling", time.Hour)
}

func testAttemptKeysIndependent(t *testing.T, f *fixture) {
	a := f.bucket(t, "192.0.2.1\x00alice", 2, time.Minute)
	b := f.bucket(t, "192.0.2.1\x00bob", 2, time.Minute)
	a.take("a", 2)
	a.wantRefused("a after its burst", time.Minute)
	b.take("b while a waits", 1)
	a.wantRefused("a after b took one", time.Minute)
	a.reset()
	b.take("b after a was reset", 1)
	b.wantRefused("b after its burst", time.Minute)
	a.take("a after its reset", 2)
}

// testAttemptConcurrentTakes races n takes of one key, as n instances
// would: exactly burst of them get a token, none lost to or won by a
// read-modify-write race.
func testAttemptConcurrentTakes(t *testing.T, f *fixture) {
	const n, burst = 16, 10
	b := f.bucket(t, "concurrent", burst, time.Hour)
	now := f.clock.Now()
	waits := make([]time.Duration, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			waits[i], errs[i] = b.l.AttemptTake(f.ctx, b.key, b.burst, b.refill, now)
		})
	}
	close(start)
	wg.Wait()
	taken := 0
	for i, err := range errs {
		if err != nil {
			t.Fatalf("AttemptTake %d: %v", i, err)
		}
		if waits[i] == 0 {
			taken++
		}
	}
	if taken != burst {
		t.Errorf("%d concurrent takes from a bucket of %d: %d got a token, want %d (waits %v)", n, burst, taken, burst, waits)
	}
	b.wantRefused("after the concurrent takes", time.Hour)
}

// testAttemptConcurrentRefunds races refunds of one key: each gives back
// one token.
func testAttemptConcurrentRefunds(t *testing.T, f *fixture) {
	const burst, n = 10, 6
	b := f.bucket(t, "concurrent refunds", burst, time.Hour)
	b.take("the burst", burst)
	now := f.clock.Now()
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			errs[i] = b.l.AttemptRefund(f.ctx, b.key, b.refill, now)
		})
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("AttemptRefund %d: %v", i, err)
		}
	}
	b.take("after the concurrent refunds", n)
	b.wantRefused("one more", time.Hour)
}

// testAttemptExpiryKeepsPartialBucket lets real time pass as well as the
// clock, for stores that expire keys by their own clock (Redis) or prune
// them as other keys are taken (SQL): a bucket not yet full must survive
// both.
func testAttemptExpiryKeepsPartialBucket(t *testing.T, f *fixture) {
	const refill, rest = 300 * time.Millisecond, 500 * time.Millisecond
	b := f.bucket(t, "partial", 4, refill)
	b.take("the burst", 4) // empty: full again after 4 refills (1.2s)
	time.Sleep(rest)
	f.clock.Advance(rest)
	other := f.bucket(t, "other", 4, refill)
	other.take("another key", 1) // where takes prune refilled keys, this one must stay
	b.take("after resting less than the refill of the whole burst", 1)
	// 4 refills minus the rest, plus one: 1s ahead, 3 refills (0.9s) allowed.
	b.wantRefused("the token refilled during the rest taken", 100*time.Millisecond)
}
