package pgstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/latchkey/latchkey"
)

const sessionColumns = `token_hash, user_id, created_at, last_seen_at, idle_expires_at, expires_at, remember, fresh, user_agent, ip,
	generation, rotated_at, user_epoch`

// unexpired is the condition Session.Expired negates, at now ($1).
const unexpired = `idle_expires_at > $1 AND expires_at > $1`

func scanSession(row pgx.Row) (*latchkey.Session, error) {
	var s latchkey.Session
	var ua []byte
	if err := row.Scan(&s.TokenHash, &s.UserID, &s.CreatedAt, &s.LastSeenAt, &s.IdleExpiresAt, &s.ExpiresAt,
		&s.Remember, &s.Fresh, &ua, &s.IP, &s.Generation, &s.RotatedAt, &s.UserEpoch); err != nil {
		return nil, err
	}
	s.UserAgent = string(ua)
	s.CreatedAt, s.LastSeenAt = s.CreatedAt.UTC(), s.LastSeenAt.UTC()
	s.IdleExpiresAt, s.ExpiresAt = s.IdleExpiresAt.UTC(), s.ExpiresAt.UTC()
	s.RotatedAt = s.RotatedAt.UTC()
	return &s, nil
}

// CreateSession implements latchkey.SessionStore. It stores IdleExpiresAt
// no later than ExpiresAt, the invariant Session documents, so that pruning
// on the indexed idle deadline alone finds every expired session.
func (s *Store) CreateSession(ctx context.Context, sess *latchkey.Session) error {
	if len(sess.TokenHash) == 0 {
		return errors.New("pgstore: create session: empty token hash")
	}
	ctx, cancel := s.op(ctx)
	defer cancel()
	expires := ms(sess.ExpiresAt)
	idle := ms(sess.IdleExpiresAt)
	if expires.Before(idle) {
		idle = expires
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO sessions (`+sessionColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
		bytes.Clone(sess.TokenHash), sess.UserID, ms(sess.CreatedAt), ms(sess.LastSeenAt), idle, expires,
		sess.Remember, sess.Fresh, []byte(sess.UserAgent), sess.IP, sess.Generation, ms(sess.RotatedAt), sess.UserEpoch)
	if isUniqueViolation(err, "") {
		return fmt.Errorf("pgstore: create session: %w", latchkey.ErrConflict)
	}
	if err != nil {
		return wrap("create session", err)
	}
	return nil
}

// FindSession implements latchkey.SessionStore.
func (s *Store) FindSession(ctx context.Context, tokenHash []byte) (*latchkey.Session, error) {
	now := ms(s.now())
	ctx, cancel := s.op(ctx)
	defer cancel()
	sess, err := scanSession(s.pool.QueryRow(ctx,
		`SELECT `+sessionColumns+` FROM sessions WHERE token_hash = $2 AND `+unexpired, now, tokenHash))
	if isNoRows(err) {
		return nil, fmt.Errorf("pgstore: find session: %w", latchkey.ErrNotFound)
	}
	if err != nil {
		return nil, wrap("find session", err)
	}
	return sess, nil
}

// UpdateSession implements latchkey.SessionStore. Like CreateSession, it
// keeps IdleExpiresAt no later than ExpiresAt; the WHERE clause makes the
// expiry check and the write one atomic step.
func (s *Store) UpdateSession(ctx context.Context, sess *latchkey.Session) error {
	now := ms(s.now())
	ctx, cancel := s.op(ctx)
	defer cancel()
	tag, err := s.pool.Exec(ctx, `UPDATE sessions
		SET last_seen_at = $2, idle_expires_at = LEAST($3, expires_at), fresh = $4
		WHERE token_hash = $5 AND `+unexpired,
		now, ms(sess.LastSeenAt), ms(sess.IdleExpiresAt), sess.Fresh, sess.TokenHash)
	return affectedOne(tag, err, "update session")
}

// RotateSession implements latchkey.SessionStore. The conditional UPDATE is
// the atomic step: concurrent rotations of one row queue on its lock, and
// each re-checks the generation once the one before it commits, so only the
// first matches. Only when it changes nothing does a second read tell a
// missing or expired session (ErrNotFound) from another generation
// (ErrConflict).
func (s *Store) RotateSession(ctx context.Context, sess *latchkey.Session, prevGen int64) error {
	now := ms(s.now())
	ctx, cancel := s.op(ctx)
	defer cancel()
	tag, err := s.pool.Exec(ctx, `UPDATE sessions
		SET last_seen_at = $2, idle_expires_at = LEAST($3, expires_at), fresh = $4, generation = $5, rotated_at = $6
		WHERE token_hash = $7 AND generation = $8 AND `+unexpired,
		now, ms(sess.LastSeenAt), ms(sess.IdleExpiresAt), sess.Fresh, sess.Generation, ms(sess.RotatedAt),
		sess.TokenHash, prevGen)
	if err != nil {
		return wrap("rotate session", err)
	}
	if tag.RowsAffected() == 1 {
		return nil
	}
	var gen int64
	err = s.pool.QueryRow(ctx, `SELECT generation FROM sessions WHERE token_hash = $2 AND `+unexpired,
		now, sess.TokenHash).Scan(&gen)
	if isNoRows(err) {
		return fmt.Errorf("pgstore: rotate session: %w", latchkey.ErrNotFound)
	}
	if err != nil {
		return wrap("rotate session", err)
	}
	return fmt.Errorf("pgstore: rotate session: generation %d, not %d: %w", gen, prevGen, latchkey.ErrConflict)
}

// DeleteSession implements latchkey.SessionStore.
func (s *Store) DeleteSession(ctx context.Context, tokenHash []byte) error {
	ctx, cancel := s.op(ctx)
	defer cancel()
	if _, err := s.pool.Exec(ctx, `DELETE FROM sessions WHERE token_hash = $1`, tokenHash); err != nil {
		return wrap("delete session", err)
	}
	return nil
}

// DeleteUserSessions implements latchkey.SessionStore.
func (s *Store) DeleteUserSessions(ctx context.Context, userID int64) (int, error) {
	now := ms(s.now())
	ctx, cancel := s.op(ctx)
	defer cancel()
	// One statement, so the count and the delete see the same rows.
	var n int
	err := s.pool.QueryRow(ctx, `WITH gone AS (
			DELETE FROM sessions WHERE user_id = $2 RETURNING idle_expires_at, expires_at
		) SELECT COUNT(*) FROM gone WHERE `+unexpired, now, userID).Scan(&n)
	if err != nil {
		return 0, wrap("delete user sessions", err)
	}
	return n, nil
}

// ListUserSessions implements latchkey.SessionStore. Sessions created at the
// same millisecond are ordered by token hash.
func (s *Store) ListUserSessions(ctx context.Context, userID int64) ([]latchkey.Session, error) {
	now := ms(s.now())
	ctx, cancel := s.op(ctx)
	defer cancel()
	return queryAll(ctx, s, "list user sessions", scanSession, `SELECT `+sessionColumns+` FROM sessions
		WHERE user_id = $2 AND `+unexpired+` ORDER BY created_at DESC, token_hash`, now, userID)
}

// PruneSessions implements latchkey.SessionPruner. A limit below 1 deletes
// nothing. Because the store keeps idle_expires_at <= expires_at, the idle
// deadline alone finds every expired session, through its index. SKIP
// LOCKED lets instances prune at the same time without waiting for each
// other.
func (s *Store) PruneSessions(ctx context.Context, limit int) (int, error) {
	if limit <= 0 {
		return 0, nil
	}
	ctx, cancel := s.op(ctx)
	defer cancel()
	tag, err := s.pool.Exec(ctx, `DELETE FROM sessions WHERE token_hash IN
		(SELECT token_hash FROM sessions WHERE idle_expires_at <= $1 LIMIT $2 FOR UPDATE SKIP LOCKED)`,
		ms(s.now()), limit)
	if err != nil {
		return 0, wrap("prune sessions", err)
	}
	return int(tag.RowsAffected()), nil
}

// affectedOne turns "no row matched" into ErrNotFound.
func affectedOne(tag pgconn.CommandTag, err error, op string) error {
	if err != nil {
		return wrap(op, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("pgstore: %s: %w", op, latchkey.ErrNotFound)
	}
	return nil
}
