package latchkey

import (
	"container/heap"
	"context"
	"sync"
	"time"
)

// maxAttemptKeys bounds each in-memory throttle: about 20 MB at most.
const maxAttemptKeys = 100_000

// memoryAttempts is the AttemptLimiter of one process: each throttle's own
// when the session store is not one, and its fallback when the store fails.
// Each throttle has its own, so junk keys of one purpose cannot crowd out
// another's.
//
// When it is full and a new key comes, it drops the bucket that becomes
// unthrottled soonest, if that one is unthrottled already: a bucket that has
// refilled, whose loss changes nothing, or else the fullest, whose loss
// changes least. It never drops a throttled bucket: while every bucket is
// throttled, a new key is refused as if throttled itself, until the first
// of them refills a token. So an attacker flooding the table with keys of
// his own can never free a throttled key, nor empty a half-spent one unless
// his own keys are spent further; at worst, by keeping 100,000 keys
// throttled (one attempt per key per refill, each from another client,
// since every client's failures are also counted on its own), he makes new
// clients wait, which fails safe.
type memoryAttempts struct {
	mu       sync.Mutex
	capacity int // 0: maxAttemptKeys
	buckets  map[string]*memoryBucket
	queue    bucketQueue // the same buckets, soonest unthrottled first
}

var _ AttemptLimiter = (*memoryAttempts)(nil)

type memoryBucket struct {
	key   string
	full  time.Time     // when the bucket is full again
	span  time.Duration // AttemptSpan of its burst and refill
	index int           // in the queue
}

// until is when the bucket holds a whole token again: unthrottled from then.
func (b *memoryBucket) until() time.Time { return b.full.Add(-b.span) }

func (l *memoryAttempts) AttemptTake(_ context.Context, key string, burst int, refill time.Duration, now time.Time) (time.Duration, error) {
	if refill <= 0 {
		return 0, nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.buckets[key]
	if b == nil {
		if wait := l.makeRoom(now); wait > 0 {
			return wait, nil
		}
		b = &memoryBucket{key: key}
		if l.buckets == nil {
			l.buckets = map[string]*memoryBucket{}
		}
		l.buckets[key] = b
		heap.Push(&l.queue, b)
	}
	if wait := AttemptBucketWait(b.full, burst, refill, now); wait > 0 {
		return wait, nil
	}
	b.full = later(b.full, now).Add(refill)
	b.span = AttemptSpan(burst, refill)
	heap.Fix(&l.queue, b.index)
	return 0, nil
}

// makeRoom drops a bucket if the table is full, or, if every bucket is
// throttled, returns how long until the first is not.
func (l *memoryAttempts) makeRoom(now time.Time) time.Duration {
	capacity := l.capacity
	if capacity <= 0 {
		capacity = maxAttemptKeys
	}
	if len(l.buckets) < capacity {
		return 0
	}
	first := l.queue[0]
	if wait := first.until().Sub(now); wait > 0 {
		return wait
	}
	l.drop(first)
	return 0
}

func (l *memoryAttempts) AttemptRefund(_ context.Context, key string, refill time.Duration, now time.Time) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.buckets[key]
	if b == nil || refill <= 0 {
		return nil
	}
	b.full = b.full.Add(-refill)
	if !b.full.After(now) {
		l.drop(b)
		return nil
	}
	heap.Fix(&l.queue, b.index)
	return nil
}

func (l *memoryAttempts) AttemptReset(_ context.Context, key string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if b := l.buckets[key]; b != nil {
		l.drop(b)
	}
	return nil
}

func (l *memoryAttempts) drop(b *memoryBucket) {
	heap.Remove(&l.queue, b.index)
	delete(l.buckets, b.key)
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// bucketQueue is a heap of buckets by when they are unthrottled.
type bucketQueue []*memoryBucket

func (q bucketQueue) Len() int           { return len(q) }
func (q bucketQueue) Less(i, j int) bool { return q[i].until().Before(q[j].until()) }
func (q bucketQueue) Swap(i, j int) {
	q[i], q[j] = q[j], q[i]
	q[i].index, q[j].index = i, j
}
func (q *bucketQueue) Push(x any) {
	b := x.(*memoryBucket)
	b.index = len(*q)
	*q = append(*q, b)
}
func (q *bucketQueue) Pop() any {
	old := *q
	b := old[len(old)-1]
	old[len(old)-1] = nil
	*q = old[:len(old)-1]
	return b
}
