package latchkey

import (
	"math"
	"sync"
	"time"
)

// maxAttemptKeys bounds the limiter's memory: past it, keys whose bucket has
// refilled are dropped, and if none has, the oldest half is.
const maxAttemptKeys = 100_000

// attemptLimiter throttles failed logins per (client, username) with a
// token bucket: burst failures at once, then one per refill. Only failures
// spend tokens, so a user who types the password right is never held up.
type attemptLimiter struct {
	burst  float64
	refill time.Duration

	mu      sync.Mutex
	buckets map[string]*bucket
}

type bucket struct {
	tokens float64
	at     time.Time
}

func newAttemptLimiter(burst int, refill time.Duration) *attemptLimiter {
	return &attemptLimiter{burst: float64(burst), refill: refill, buckets: map[string]*bucket{}}
}

// level returns the bucket's tokens at now; callers hold mu.
func (l *attemptLimiter) level(b *bucket, now time.Time) float64 {
	if l.refill <= 0 {
		return l.burst
	}
	return math.Min(l.burst, b.tokens+float64(now.Sub(b.at))/float64(l.refill))
}

// wait reports how long the key must wait before its next attempt; 0 means now.
func (l *attemptLimiter) wait(key string, now time.Time) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.buckets[key]
	if !ok {
		return 0
	}
	if lv := l.level(b, now); lv < 1 {
		return time.Duration((1 - lv) * float64(l.refill))
	}
	return 0
}

// fail spends one token for a failed attempt.
func (l *attemptLimiter) fail(key string, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.buckets[key]
	if !ok {
		if len(l.buckets) >= maxAttemptKeys {
			l.evict(now)
		}
		b = &bucket{tokens: l.burst, at: now}
		l.buckets[key] = b
	}
	b.tokens, b.at = l.level(b, now)-1, now
}

// reset forgets a key after a successful login.
func (l *attemptLimiter) reset(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.buckets, key)
}

func (l *attemptLimiter) evict(now time.Time) {
	for k, b := range l.buckets {
		if l.level(b, now) >= l.burst {
			delete(l.buckets, k)
		}
	}
	if len(l.buckets) < maxAttemptKeys {
		return
	}
	n := 0
	for k := range l.buckets { // map order is random: an unbiased half
		delete(l.buckets, k)
		if n++; n >= maxAttemptKeys/2 {
			return
		}
	}
}
