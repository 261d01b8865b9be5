package pgstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/latchkey/latchkey"
)

var (
	_ latchkey.MFAStore          = (*Store)(nil)
	_ latchkey.PendingLoginStore = (*Store)(nil)
)

// maxPrunedPendingLogins bounds the expired pending logins one creation
// removes, as for account tokens: no pruning job, no big delete.
const maxPrunedPendingLogins = 100

// blob is b, never nil: pgx sends a nil slice as NULL.
func blob(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return bytes.Clone(b)
}

// Factors implements latchkey.MFAStore.
func (s *Store) Factors(ctx context.Context, userID int64, kind latchkey.FactorKind) ([]latchkey.Factor, error) {
	ctx, cancel := s.op(ctx)
	defer cancel()
	return queryAll(ctx, s, "factors", func(r pgx.Row) (*latchkey.Factor, error) {
		f := latchkey.Factor{UserID: userID}
		var used *time.Time
		if err := r.Scan(&f.Kind, &f.ID, &f.Name, &f.Secret, &f.Counter, &f.CreatedAt, &used); err != nil {
			return nil, err
		}
		f.CreatedAt = f.CreatedAt.UTC()
		if used != nil {
			f.LastUsedAt = used.UTC()
		}
		return &f, nil
	}, `SELECT kind, id, name, secret, counter, created_at, last_used_at FROM factors
		WHERE user_id = $1 AND ($2 = '' OR kind = $2) ORDER BY kind, created_at, id`, userID, string(kind))
}

// insertFactor runs the INSERT of f on db (the pool or a transaction).
func insertFactor(ctx context.Context, db interface {
	Exec(context.Context, string, ...any) (pgconn.CommandTag, error)
}, f *latchkey.Factor) error {
	_, err := db.Exec(ctx, `INSERT INTO factors (user_id, kind, id, name, secret, counter, created_at, last_used_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
		f.UserID, string(f.Kind), f.ID, f.Name, blob(f.Secret), f.Counter, ms(f.CreatedAt), nullTime(f.LastUsedAt))
	if pgErr, ok := errors.AsType[*pgconn.PgError](err); ok && pgErr.Code == "23503" { // foreign_key_violation
		return fmt.Errorf("user %d: %w", f.UserID, latchkey.ErrNotFound)
	}
	if isUniqueViolation(err, "factors_pkey") {
		return latchkey.ErrConflict
	}
	return err
}

// AddFactor implements latchkey.MFAStore. The foreign key decides whether
// the user exists, in the same statement.
func (s *Store) AddFactor(ctx context.Context, f *latchkey.Factor) error {
	ctx, cancel := s.op(ctx)
	defer cancel()
	if err := insertFactor(ctx, s.pool, f); err != nil {
		return wrap("add factor", err)
	}
	return nil
}

// ReplaceFactors implements latchkey.MFAStore in one transaction, which
// first locks the user's row: concurrent replacements of a user's factors
// then run one after the other, where READ COMMITTED alone would let each
// DELETE miss the other's INSERTs and leave both sets. FOR NO KEY UPDATE
// does not wait for inserts of other factors, whose foreign key check only
// takes a key share lock.
func (s *Store) ReplaceFactors(ctx context.Context, userID int64, kind latchkey.FactorKind, fs []latchkey.Factor) error {
	for _, f := range fs {
		if f.UserID != userID || f.Kind != kind {
			return fmt.Errorf("pgstore: replace factors: a factor of user %d, kind %s among those of user %d, kind %s", f.UserID, f.Kind, userID, kind)
		}
	}
	ctx, cancel := s.op(ctx)
	defer cancel()
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return wrap("replace factors", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	var one int
	err = tx.QueryRow(ctx, `SELECT 1 FROM users WHERE id = $1 FOR NO KEY UPDATE`, userID).Scan(&one)
	if isNoRows(err) {
		return fmt.Errorf("pgstore: replace factors: user %d: %w", userID, latchkey.ErrNotFound)
	}
	if err != nil {
		return wrap("replace factors", err)
	}
	if _, err := tx.Exec(ctx, `DELETE FROM factors WHERE user_id = $1 AND kind = $2`, userID, string(kind)); err != nil {
		return wrap("replace factors", err)
	}
	for i := range fs {
		if err := insertFactor(ctx, tx, &fs[i]); err != nil {
			return wrap("replace factors", err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return wrap("replace factors", err)
	}
	return nil
}

// AdvanceFactorCounter implements latchkey.MFAStore. Concurrent UPDATEs of
// the row queue on its lock, and each re-checks the WHERE on the row as
// the one before it left it: only the first to a counter matches. Only
// when it matched nothing does a read tell a spent counter from a missing
// factor.
func (s *Store) AdvanceFactorCounter(ctx context.Context, userID int64, kind latchkey.FactorKind, id string, counter int64, at time.Time) error {
	ctx, cancel := s.op(ctx)
	defer cancel()
	tag, err := s.pool.Exec(ctx, `UPDATE factors SET counter = $1, last_used_at = $2
		WHERE user_id = $3 AND kind = $4 AND id = $5 AND counter < $1`,
		counter, ms(at), userID, string(kind), id)
	if err != nil {
		return wrap("advance factor counter", err)
	}
	if tag.RowsAffected() == 1 {
		return nil
	}
	var stored int64
	err = s.pool.QueryRow(ctx, `SELECT counter FROM factors WHERE user_id = $1 AND kind = $2 AND id = $3`,
		userID, string(kind), id).Scan(&stored)
	if isNoRows(err) {
		return fmt.Errorf("pgstore: advance factor counter: %w", latchkey.ErrNotFound)
	}
	if err != nil {
		return wrap("advance factor counter", err)
	}
	return fmt.Errorf("pgstore: advance factor counter: at %d already: %w", stored, latchkey.ErrConflict)
}

// DeleteFactor implements latchkey.MFAStore.
func (s *Store) DeleteFactor(ctx context.Context, userID int64, kind latchkey.FactorKind, id string) error {
	ctx, cancel := s.op(ctx)
	defer cancel()
	tag, err := s.pool.Exec(ctx, `DELETE FROM factors WHERE user_id = $1 AND kind = $2 AND id = $3`, userID, string(kind), id)
	if err != nil {
		return wrap("delete factor", err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("pgstore: delete factor: %w", latchkey.ErrNotFound)
	}
	return nil
}

// DeleteFactors implements latchkey.MFAStore.
func (s *Store) DeleteFactors(ctx context.Context, userID int64, kind latchkey.FactorKind) (int, error) {
	ctx, cancel := s.op(ctx)
	defer cancel()
	tag, err := s.pool.Exec(ctx, `DELETE FROM factors WHERE user_id = $1 AND ($2 = '' OR kind = $2)`, userID, string(kind))
	if err != nil {
		return 0, wrap("delete factors", err)
	}
	return int(tag.RowsAffected()), nil
}

// CreatePendingLogin implements latchkey.PendingLoginStore, after dropping
// a few expired pending logins of anyone (SKIP LOCKED: instances doing so
// at once do not wait for each other), and any expired one with this hash,
// which may then be used again.
func (s *Store) CreatePendingLogin(ctx context.Context, p *latchkey.PendingLogin) error {
	if len(p.TokenHash) == 0 {
		return errors.New("pgstore: create pending login: empty token hash")
	}
	now := ms(s.now())
	ctx, cancel := s.op(ctx)
	defer cancel()
	if _, err := s.pool.Exec(ctx, `DELETE FROM pending_logins WHERE token_hash IN
		(SELECT token_hash FROM pending_logins WHERE expires_at <= $1 LIMIT $2 FOR UPDATE SKIP LOCKED)
		OR (token_hash = $3 AND expires_at <= $1)`,
		now, maxPrunedPendingLogins, p.TokenHash); err != nil {
		return wrap("create pending login: prune", err)
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO pending_logins
		(token_hash, user_id, user_epoch, remember, attempts, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
		bytes.Clone(p.TokenHash), p.UserID, p.UserEpoch, p.Remember, p.Attempts, ms(p.CreatedAt), ms(p.ExpiresAt))
	if isUniqueViolation(err, "pending_logins_pkey") {
		return fmt.Errorf("pgstore: create pending login: %w", latchkey.ErrConflict)
	}
	if err != nil {
		return wrap("create pending login", err)
	}
	return nil
}

// AttemptPendingLogin implements latchkey.PendingLoginStore: one UPDATE
// whose WHERE is the whole check (concurrent ones queue on the row and
// re-check it), then, if it matched nothing, a DELETE of a login that has
// had its attempts.
func (s *Store) AttemptPendingLogin(ctx context.Context, tokenHash []byte, max int) (*latchkey.PendingLogin, error) {
	now := ms(s.now())
	ctx, cancel := s.op(ctx)
	defer cancel()
	p := &latchkey.PendingLogin{TokenHash: bytes.Clone(tokenHash)}
	err := s.pool.QueryRow(ctx, `UPDATE pending_logins SET attempts = attempts + 1
		WHERE token_hash = $1 AND expires_at > $2 AND attempts < $3
		RETURNING user_id, user_epoch, remember, attempts, created_at, expires_at`,
		tokenHash, now, max).Scan(&p.UserID, &p.UserEpoch, &p.Remember, &p.Attempts, &p.CreatedAt, &p.ExpiresAt)
	if isNoRows(err) {
		if _, err := s.pool.Exec(ctx, `DELETE FROM pending_logins WHERE token_hash = $1`, tokenHash); err != nil {
			return nil, wrap("attempt pending login", err)
		}
		return nil, fmt.Errorf("pgstore: attempt pending login: %w", latchkey.ErrNotFound)
	}
	if err != nil {
		return nil, wrap("attempt pending login", err)
	}
	p.CreatedAt, p.ExpiresAt = p.CreatedAt.UTC(), p.ExpiresAt.UTC()
	return p, nil
}

// DeletePendingLogin implements latchkey.PendingLoginStore.
func (s *Store) DeletePendingLogin(ctx context.Context, tokenHash []byte) error {
	now := ms(s.now())
	ctx, cancel := s.op(ctx)
	defer cancel()
	var expires time.Time
	err := s.pool.QueryRow(ctx, `DELETE FROM pending_logins WHERE token_hash = $1 RETURNING expires_at`, tokenHash).Scan(&expires)
	if isNoRows(err) || err == nil && !expires.After(now) {
		return fmt.Errorf("pgstore: delete pending login: %w", latchkey.ErrNotFound)
	}
	if err != nil {
		return wrap("delete pending login", err)
	}
	return nil
}
