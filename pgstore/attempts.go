package pgstore

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/latchkey/latchkey"
)

// A throttled key is a row of login_attempts holding when its bucket is full
// again (see latchkey.AttemptBucketWait).

const (
	// attemptFailed moves the key's full_at one refill ($3, ms) on, from now
	// ($2) if it had passed; ON CONFLICT makes concurrent failures of one
	// key each count.
	attemptFailed = `INSERT INTO login_attempts (key, full_at)
		VALUES ($1, $2::timestamptz + $3::bigint * interval '1 millisecond')
		ON CONFLICT (key) DO UPDATE
		SET full_at = GREATEST(login_attempts.full_at, $2::timestamptz) + $3::bigint * interval '1 millisecond'`

	// attemptPrune deletes a few keys whose bucket has refilled. SKIP LOCKED
	// means it never waits, so, run after attemptFailed, it cannot deadlock
	// with another failure: the only wait is for the key's own row, before
	// any other lock is taken.
	attemptPrune = `DELETE FROM login_attempts WHERE key IN
		(SELECT key FROM login_attempts WHERE full_at <= $2 AND key <> $1 LIMIT 10 FOR UPDATE SKIP LOCKED)`
)

// AttemptWait implements latchkey.AttemptLimiter.
func (s *Store) AttemptWait(ctx context.Context, key string, burst int, refill time.Duration, now time.Time) (time.Duration, error) {
	ctx, cancel := s.op(ctx)
	defer cancel()
	var full time.Time
	err := s.pool.QueryRow(ctx, `SELECT full_at FROM login_attempts WHERE key = $1`, key).Scan(&full)
	if isNoRows(err) {
		return 0, nil
	}
	if err != nil {
		return 0, wrap("attempt wait", err)
	}
	return latchkey.AttemptBucketWait(full, burst, refill, now), nil
}

// AttemptFailed implements latchkey.AttemptLimiter. The refill is rounded
// up to whole milliseconds. In the same round trip it deletes up to ten
// other keys whose bucket has refilled, so the table stays about as small as
// the set of keys being throttled, with no pruning job.
func (s *Store) AttemptFailed(ctx context.Context, key string, _ int, refill time.Duration, now time.Time) error {
	if refill <= 0 {
		return nil
	}
	ctx, cancel := s.op(ctx)
	defer cancel()
	refillMS := int64((refill + time.Millisecond - 1) / time.Millisecond)
	b := &pgx.Batch{}
	b.Queue(attemptFailed, key, ms(now), refillMS)
	b.Queue(attemptPrune, key, ms(now))
	if err := s.pool.SendBatch(ctx, b).Close(); err != nil {
		return wrap("attempt failed", err)
	}
	return nil
}

// AttemptReset implements latchkey.AttemptLimiter.
func (s *Store) AttemptReset(ctx context.Context, key string) error {
	ctx, cancel := s.op(ctx)
	defer cancel()
	if _, err := s.pool.Exec(ctx, `DELETE FROM login_attempts WHERE key = $1`, key); err != nil {
		return wrap("attempt reset", err)
	}
	return nil
}
