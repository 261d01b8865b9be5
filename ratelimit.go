package latchkey

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"log/slog"
	"sync"
	"time"
)

// The login throttle is a token bucket per key, kept as one instant: when
// the bucket will be full again (GCRA's "theoretical arrival time"). The
// bucket then holds burst - (full-now)/refill tokens; a failure moves full
// one refill later, from now if it had passed. One instant per key is what
// makes a shared bucket cheap: a store changes it in one atomic step, and
// may drop the key at full, when it no longer means anything.

// AttemptBucketWait returns how long to wait before the next attempt (0:
// now) under a bucket of burst tokens, refilled at one per refill, that is
// full again at full: until it holds a whole token. A zero full is a full
// bucket, a refill of zero or less never throttles, and a burst below 1
// counts as 1. It is the arithmetic every AttemptLimiter shares; stores
// keeping full can answer AttemptWait with it.
func AttemptBucketWait(full time.Time, burst int, refill time.Duration, now time.Time) time.Duration {
	ahead := full.Sub(now)
	if refill <= 0 || ahead <= 0 {
		return 0
	}
	spare := time.Duration(max(burst-1, 0)) // tokens the bucket may lack with one left
	if ahead/refill < spare {
		return 0
	}
	return ahead - spare*refill
}

// maxAttemptKeys bounds the in-memory limiter: past it, keys whose bucket
// has refilled are dropped, and if none has, the oldest half is.
const maxAttemptKeys = 100_000

// memoryAttempts is the AttemptLimiter of one process: Auth's own when its
// session store is not one, and its fallback when the store fails.
type memoryAttempts struct {
	mu   sync.Mutex
	full map[string]time.Time // when each key's bucket is full again
}

var _ AttemptLimiter = (*memoryAttempts)(nil)

func (l *memoryAttempts) AttemptWait(_ context.Context, key string, burst int, refill time.Duration, now time.Time) (time.Duration, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return AttemptBucketWait(l.full[key], burst, refill, now), nil
}

func (l *memoryAttempts) AttemptFailed(_ context.Context, key string, _ int, refill time.Duration, now time.Time) error {
	if refill <= 0 {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.full == nil {
		l.full = map[string]time.Time{}
	}
	full, ok := l.full[key]
	if !ok && len(l.full) >= maxAttemptKeys {
		l.evict(now)
	}
	l.full[key] = later(full, now).Add(refill)
	return nil
}

func (l *memoryAttempts) AttemptReset(_ context.Context, key string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.full, key)
	return nil
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func (l *memoryAttempts) evict(now time.Time) {
	for k, full := range l.full {
		if !full.After(now) {
			delete(l.full, k)
		}
	}
	if len(l.full) < maxAttemptKeys {
		return
	}
	n := 0
	for k := range l.full { // map order is random: an unbiased half
		delete(l.full, k)
		if n++; n >= maxAttemptKeys/2 {
			return
		}
	}
}

// attempts throttles failed logins per client and username: Config.LoginBurst
// failures at once, then one per Config.LoginRefill. Only failures spend
// tokens, so a user who types the password right is held up only while the
// bucket is empty. It counts in the session store when that is an
// AttemptLimiter, so all instances sharing the store count together, and
// otherwise in memory.
//
// When the store fails, what happens depends on how. If it is unavailable,
// the login gets 503 store_unavailable at once: it could not start a session
// in that store anyway, and going on would spend a hash to tell an attacker
// whether the password was right (503) or wrong (401), with only this
// instance counting. Any other error (a bug, odd data under the key) is
// logged and that request is counted in memory instead, so a broken
// throttle neither lets attempts through uncounted nor locks everybody out.
type attempts struct {
	shared AttemptLimiter // nil: memory only
	local  memoryAttempts
	burst  int
	refill time.Duration
	log    *slog.Logger
}

func newAttempts(cfg Config, sessions SessionStore) *attempts {
	t := &attempts{burst: cfg.LoginBurst, refill: cfg.LoginRefill, log: cfg.Logger}
	t.shared, _ = sessions.(AttemptLimiter)
	return t
}

// attemptKey is the throttle's key for a client and a username key: hashed,
// so no store holds addresses or names for it.
func attemptKey(ip, usernameKey string) string {
	h := sha256.Sum256([]byte(ip + "\x00" + usernameKey))
	return hex.EncodeToString(h[:])
}

// wait reports how long key must wait before its next attempt; 0 means now.
// Its only error is the store's ErrStoreUnavailable.
func (t *attempts) wait(ctx context.Context, key string, now time.Time) (time.Duration, error) {
	if t.shared != nil {
		d, err := t.shared.AttemptWait(ctx, key, t.burst, t.refill, now)
		if err == nil || errors.Is(err, ErrStoreUnavailable) {
			return d, err
		}
		t.log.ErrorContext(ctx, "login throttle: the store failed; counting this request in memory", "err", err)
	}
	return t.local.AttemptWait(ctx, key, t.burst, t.refill, now)
}

// fail spends one token for a failed attempt. The login fails whatever
// happens here, so after a store error of any kind it counts in memory.
func (t *attempts) fail(ctx context.Context, key string, now time.Time) {
	if t.shared != nil {
		err := t.shared.AttemptFailed(ctx, key, t.burst, t.refill, now)
		if err == nil {
			return
		}
		t.log.WarnContext(ctx, "login throttle: the store failed; counting this failure in memory", "err", err)
	}
	t.local.AttemptFailed(ctx, key, t.burst, t.refill, now)
}

// reset forgets key after a successful login, in memory too: failures
// counted there while the store was failing must not outlive a success.
func (t *attempts) reset(ctx context.Context, key string) {
	if t.shared != nil {
		if err := t.shared.AttemptReset(ctx, key); err != nil {
			t.log.WarnContext(ctx, "login throttle: the store could not reset a key after a successful login", "err", err)
		}
	}
	t.local.AttemptReset(ctx, key)
}
