package pgstore

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/latchkey/latchkey"
)

// A throttled key is a row of login_attempts holding when its bucket is full
// again (see latchkey.AttemptBucketWait). Every budget (failed logins per
// username, per client, registrations) keeps its keys there: they are
// hashes of distinct purposes, so they never meet.

const (
	// attemptTake takes a token if the bucket holds one ($2 now, $3 refill,
	// $4 span, both in ms; see latchkey.AttemptSpan): it moves full_at one
	// refill on, from now if it had passed, and answers NULL. Otherwise it
	// changes nothing and answers full_at, as this statement's snapshot
	// sees it. ON CONFLICT locks the key's row, so concurrent takes of one
	// key are decided one after another. No row at all means the key's
	// row was committed after the snapshot was taken and ON CONFLICT saw it
	// but the SELECT did not: the caller asks again.
	attemptTake = `WITH taken AS (
		INSERT INTO login_attempts AS a (key, full_at)
		VALUES ($1, $2::timestamptz + $3::bigint * interval '1 millisecond')
		ON CONFLICT (key) DO UPDATE
		SET full_at = GREATEST(a.full_at, $2::timestamptz) + $3::bigint * interval '1 millisecond'
		WHERE a.full_at <= $2::timestamptz + $4::bigint * interval '1 millisecond'
		RETURNING 1)
	SELECT NULL::timestamptz FROM taken
	UNION ALL
	SELECT full_at FROM login_attempts WHERE key = $1 AND NOT EXISTS (SELECT 1 FROM taken)`

	// attemptPrune deletes a few keys whose bucket has refilled. SKIP LOCKED
	// means it never waits, so, run after attemptTake, it cannot deadlock
	// with another take: the only wait is for the key's own row, before
	// any other lock is taken.
	attemptPrune = `DELETE FROM login_attempts WHERE key IN
		(SELECT key FROM login_attempts WHERE full_at <= $2 AND key <> $1 LIMIT 10 FOR UPDATE SKIP LOCKED)`
)

// errAttemptRace is attemptTake missing the row it locked, time after time.
var errAttemptRace = errors.New("pgstore: attempt take: the key's row keeps changing")

// AttemptTake implements latchkey.AttemptLimiter. The refill is rounded up
// to whole milliseconds. In the same round trip it deletes up to ten other
// keys whose bucket has refilled, so the table stays about as small as the
// set of keys being throttled, with no pruning job.
func (s *Store) AttemptTake(ctx context.Context, key string, burst int, refill time.Duration, now time.Time) (time.Duration, error) {
	if refill <= 0 {
		return 0, nil
	}
	ctx, cancel := s.op(ctx)
	defer cancel()
	refillMS := roundUpMS(refill)
	refill = time.Duration(refillMS) * time.Millisecond
	spanMS := latchkey.AttemptSpan(burst, refill).Milliseconds()
	for range 3 {
		var (
			full     *time.Time
			answered bool
		)
		b := &pgx.Batch{}
		b.Queue(attemptTake, key, ms(now), refillMS, spanMS).QueryRow(func(row pgx.Row) error {
			err := row.Scan(&full)
			if isNoRows(err) {
				return nil
			}
			answered = err == nil
			return err
		})
		b.Queue(attemptPrune, key, ms(now))
		if err := s.pool.SendBatch(ctx, b).Close(); err != nil {
			return 0, wrap("attempt take", err)
		}
		switch {
		case !answered:
			continue
		case full == nil:
			return 0, nil
		}
		// An older snapshot may show the bucket fuller than the row it was
		// refused on: never answer "now" for a refusal.
		return max(latchkey.AttemptBucketWait(*full, burst, refill, now), time.Millisecond), nil
	}
	return 0, errAttemptRace
}

// AttemptRefund implements latchkey.AttemptLimiter. A row it leaves full
// again is deleted by the next take's prune.
func (s *Store) AttemptRefund(ctx context.Context, key string, refill time.Duration, now time.Time) error {
	if refill <= 0 {
		return nil
	}
	ctx, cancel := s.op(ctx)
	defer cancel()
	if _, err := s.pool.Exec(ctx, `UPDATE login_attempts SET full_at = full_at - $2::bigint * interval '1 millisecond' WHERE key = $1`,
		key, roundUpMS(refill)); err != nil {
		return wrap("attempt refund", err)
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

// roundUpMS returns d in whole milliseconds, rounded up.
func roundUpMS(d time.Duration) int64 { return int64((d + time.Millisecond - 1) / time.Millisecond) }
