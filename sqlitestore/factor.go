package sqlitestore

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/latchkey/latchkey"
	sqlite3 "modernc.org/sqlite/lib"
)

var (
	_ latchkey.MFAStore          = (*Store)(nil)
	_ latchkey.PendingLoginStore = (*Store)(nil)
)

// maxPrunedPendingLogins bounds the expired pending logins one creation
// removes, as for account tokens: no pruning job, no big delete.
const maxPrunedPendingLogins = 100

// blob is b, never nil: a NOT NULL BLOB column takes no NULL.
func blob(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return bytes.Clone(b)
}

// Factors implements latchkey.MFAStore.
func (s *Store) Factors(ctx context.Context, userID int64, kind latchkey.FactorKind) ([]latchkey.Factor, error) {
	return queryAll(ctx, s.reader, "factors", func(r interface{ Scan(...any) error }) (*latchkey.Factor, error) {
		f := latchkey.Factor{UserID: userID}
		var created int64
		var used sql.NullInt64
		if err := r.Scan(&f.Kind, &f.ID, &f.Name, &f.Secret, &f.Counter, &created, &used); err != nil {
			return nil, err
		}
		f.CreatedAt, f.LastUsedAt = fromMS(created), fromNullMS(used)
		return &f, nil
	}, `SELECT kind, id, name, secret, counter, created_at, last_used_at FROM factors
		WHERE user_id = ? AND (? = '' OR kind = ?) ORDER BY kind, created_at, id`, userID, string(kind), string(kind))
}

// insertFactor runs the INSERT of f on db (the writer or a transaction).
func insertFactor(ctx context.Context, db interface {
	ExecContext(context.Context, string, ...any) (sql.Result, error)
}, f *latchkey.Factor) error {
	_, err := db.ExecContext(ctx, `INSERT INTO factors (user_id, kind, id, name, secret, counter, created_at, last_used_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		f.UserID, string(f.Kind), f.ID, f.Name, blob(f.Secret), f.Counter, toMS(f.CreatedAt), nullMS(f.LastUsedAt))
	switch {
	case isCode(err, sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY):
		return fmt.Errorf("user %d: %w", f.UserID, latchkey.ErrNotFound)
	case isCode(err, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY):
		return latchkey.ErrConflict
	}
	return err
}

// AddFactor implements latchkey.MFAStore. The foreign key decides whether
// the user exists, in the same statement.
func (s *Store) AddFactor(ctx context.Context, f *latchkey.Factor) error {
	if err := insertFactor(ctx, s.writer, f); err != nil {
		return wrap("add factor", err)
	}
	return nil
}

// ReplaceFactors implements latchkey.MFAStore in one transaction.
func (s *Store) ReplaceFactors(ctx context.Context, userID int64, kind latchkey.FactorKind, fs []latchkey.Factor) error {
	for _, f := range fs {
		if f.UserID != userID || f.Kind != kind {
			return fmt.Errorf("sqlitestore: replace factors: a factor of user %d, kind %s among those of user %d, kind %s", f.UserID, f.Kind, userID, kind)
		}
	}
	tx, err := s.writer.BeginTx(ctx, nil)
	if err != nil {
		return wrap("replace factors", err)
	}
	defer tx.Rollback()
	var exists int
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM users WHERE id = ?`, userID).Scan(&exists); err != nil {
		return wrap("replace factors", err)
	}
	if exists == 0 {
		return fmt.Errorf("sqlitestore: replace factors: user %d: %w", userID, latchkey.ErrNotFound)
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM factors WHERE user_id = ? AND kind = ?`, userID, string(kind)); err != nil {
		return wrap("replace factors", err)
	}
	for i := range fs {
		if err := insertFactor(ctx, tx, &fs[i]); err != nil {
			return wrap("replace factors", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return wrap("replace factors", err)
	}
	return nil
}

// AdvanceFactorCounter implements latchkey.MFAStore: the UPDATE's WHERE is
// the compare, and the one write connection runs statements one at a time.
// Only when it matched nothing does a read tell a spent counter from a
// missing factor.
func (s *Store) AdvanceFactorCounter(ctx context.Context, userID int64, kind latchkey.FactorKind, id string, counter int64, at time.Time) error {
	res, err := s.writer.ExecContext(ctx, `UPDATE factors SET counter = ?, last_used_at = ?
		WHERE user_id = ? AND kind = ? AND id = ? AND counter < ?`,
		counter, toMS(at), userID, string(kind), id, counter)
	if err != nil {
		return wrap("advance factor counter", err)
	}
	if n, _ := res.RowsAffected(); n == 1 {
		return nil
	}
	var stored int64
	err = s.writer.QueryRowContext(ctx, `SELECT counter FROM factors WHERE user_id = ? AND kind = ? AND id = ?`,
		userID, string(kind), id).Scan(&stored)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return fmt.Errorf("sqlitestore: advance factor counter: %w", latchkey.ErrNotFound)
	case err != nil:
		return wrap("advance factor counter", err)
	}
	return fmt.Errorf("sqlitestore: advance factor counter: at %d already: %w", stored, latchkey.ErrConflict)
}

// DeleteFactor implements latchkey.MFAStore.
func (s *Store) DeleteFactor(ctx context.Context, userID int64, kind latchkey.FactorKind, id string) error {
	res, err := s.writer.ExecContext(ctx, `DELETE FROM factors WHERE user_id = ? AND kind = ? AND id = ?`, userID, string(kind), id)
	if err != nil {
		return wrap("delete factor", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("sqlitestore: delete factor: %w", latchkey.ErrNotFound)
	}
	return nil
}

// DeleteFactors implements latchkey.MFAStore.
func (s *Store) DeleteFactors(ctx context.Context, userID int64, kind latchkey.FactorKind) (int, error) {
	res, err := s.writer.ExecContext(ctx, `DELETE FROM factors WHERE user_id = ? AND (? = '' OR kind = ?)`, userID, string(kind), string(kind))
	if err != nil {
		return 0, wrap("delete factors", err)
	}
	n, _ := res.RowsAffected()
	return int(n), nil
}

// CreatePendingLogin implements latchkey.PendingLoginStore, after dropping
// a few expired pending logins of anyone (and any expired one with this
// hash, which may then be used again).
func (s *Store) CreatePendingLogin(ctx context.Context, p *latchkey.PendingLogin) error {
	if len(p.TokenHash) == 0 {
		return errors.New("sqlitestore: create pending login: empty token hash")
	}
	now := toMS(s.now())
	if _, err := s.writer.ExecContext(ctx, `DELETE FROM pending_logins WHERE token_hash IN
		(SELECT token_hash FROM pending_logins WHERE expires_at <= ? LIMIT ?) OR (token_hash = ? AND expires_at <= ?)`,
		now, maxPrunedPendingLogins, p.TokenHash, now); err != nil {
		return wrap("create pending login: prune", err)
	}
	_, err := s.writer.ExecContext(ctx, `INSERT INTO pending_logins
		(token_hash, user_id, user_epoch, remember, attempts, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		bytes.Clone(p.TokenHash), p.UserID, p.UserEpoch, p.Remember, p.Attempts, toMS(p.CreatedAt), toMS(p.ExpiresAt))
	if isCode(err, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY) {
		return fmt.Errorf("sqlitestore: create pending login: %w", latchkey.ErrConflict)
	}
	if err != nil {
		return wrap("create pending login", err)
	}
	return nil
}

// AttemptPendingLogin implements latchkey.PendingLoginStore: one UPDATE
// whose WHERE is the whole check, then, if it matched nothing, a DELETE of
// a login that has had its attempts.
func (s *Store) AttemptPendingLogin(ctx context.Context, tokenHash []byte, max int) (*latchkey.PendingLogin, error) {
	now := toMS(s.now())
	p := &latchkey.PendingLogin{TokenHash: bytes.Clone(tokenHash)}
	var created, expires int64
	err := s.writer.QueryRowContext(ctx, `UPDATE pending_logins SET attempts = attempts + 1
		WHERE token_hash = ? AND expires_at > ? AND attempts < ?
		RETURNING user_id, user_epoch, remember, attempts, created_at, expires_at`,
		tokenHash, now, max).Scan(&p.UserID, &p.UserEpoch, &p.Remember, &p.Attempts, &created, &expires)
	if errors.Is(err, sql.ErrNoRows) {
		if _, err := s.writer.ExecContext(ctx, `DELETE FROM pending_logins WHERE token_hash = ?`, tokenHash); err != nil {
			return nil, wrap("attempt pending login", err)
		}
		return nil, fmt.Errorf("sqlitestore: attempt pending login: %w", latchkey.ErrNotFound)
	}
	if err != nil {
		return nil, wrap("attempt pending login", err)
	}
	p.CreatedAt, p.ExpiresAt = fromMS(created), fromMS(expires)
	return p, nil
}

// DeletePendingLogin implements latchkey.PendingLoginStore.
func (s *Store) DeletePendingLogin(ctx context.Context, tokenHash []byte) error {
	var expires int64
	err := s.writer.QueryRowContext(ctx, `DELETE FROM pending_logins WHERE token_hash = ? RETURNING expires_at`, tokenHash).Scan(&expires)
	if errors.Is(err, sql.ErrNoRows) || err == nil && expires <= toMS(s.now()) {
		return fmt.Errorf("sqlitestore: delete pending login: %w", latchkey.ErrNotFound)
	}
	if err != nil {
		return wrap("delete pending login", err)
	}
	return nil
}
