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

const apiTokenColumns = `id, token_hash, user_id, name, created_at, expires_at, last_used_at`

func scanAPIToken(row pgx.Row) (*latchkey.APIToken, error) {
	var t latchkey.APIToken
	var expires, lastUsed *time.Time
	if err := row.Scan(&t.ID, &t.TokenHash, &t.UserID, &t.Name, &t.CreatedAt, &expires, &lastUsed); err != nil {
		return nil, err
	}
	t.CreatedAt = t.CreatedAt.UTC()
	if expires != nil {
		t.ExpiresAt = expires.UTC()
	}
	if lastUsed != nil {
		t.LastUsedAt = lastUsed.UTC()
	}
	return &t, nil
}

// nullTime stores the zero time as NULL ("never").
func nullTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	m := ms(t)
	return &m
}

// CreateAPIToken implements latchkey.APITokenStore. The foreign key on
// user_id decides whether the user exists, in the same statement.
func (s *Store) CreateAPIToken(ctx context.Context, t *latchkey.APIToken) error {
	if len(t.TokenHash) == 0 {
		return errors.New("pgstore: create API token: empty token hash")
	}
	ctx, cancel := s.op(ctx)
	defer cancel()
	var id int64
	err := s.pool.QueryRow(ctx, `INSERT INTO api_tokens
		(token_hash, user_id, name, created_at, expires_at, last_used_at)
		VALUES ($1, $2, $3, $4, $5, $6) RETURNING id`,
		bytes.Clone(t.TokenHash), t.UserID, t.Name, ms(t.CreatedAt), nullTime(t.ExpiresAt), nullTime(t.LastUsedAt)).Scan(&id)
	if pgErr, ok := errors.AsType[*pgconn.PgError](err); ok && pgErr.Code == "23503" { // foreign_key_violation
		return fmt.Errorf("pgstore: create API token: user %d: %w", t.UserID, latchkey.ErrNotFound)
	}
	if isUniqueViolation(err, "api_tokens_user_id_name_key") || isUniqueViolation(err, "api_tokens_token_hash_key") {
		return fmt.Errorf("pgstore: create API token: %w", latchkey.ErrConflict)
	}
	if err != nil {
		return wrap("create API token", err)
	}
	t.ID = id
	return nil
}

// FindAPIToken implements latchkey.APITokenStore.
func (s *Store) FindAPIToken(ctx context.Context, tokenHash []byte) (*latchkey.APIToken, error) {
	ctx, cancel := s.op(ctx)
	defer cancel()
	t, err := scanAPIToken(s.pool.QueryRow(ctx, `SELECT `+apiTokenColumns+` FROM api_tokens
		WHERE token_hash = $1 AND (expires_at IS NULL OR expires_at > $2)`, tokenHash, ms(s.now())))
	if isNoRows(err) {
		return nil, fmt.Errorf("pgstore: find API token: %w", latchkey.ErrNotFound)
	}
	if err != nil {
		return nil, wrap("find API token", err)
	}
	return t, nil
}

// ListAPITokens implements latchkey.APITokenStore.
func (s *Store) ListAPITokens(ctx context.Context, userID int64) ([]latchkey.APIToken, error) {
	ctx, cancel := s.op(ctx)
	defer cancel()
	q, args := `SELECT `+apiTokenColumns+` FROM api_tokens ORDER BY id`, []any(nil)
	if userID != 0 {
		q, args = `SELECT `+apiTokenColumns+` FROM api_tokens WHERE user_id = $1 ORDER BY id`, []any{userID}
	}
	return queryAll(ctx, s, "list API tokens", scanAPIToken, q, args...)
}

// TouchAPIToken implements latchkey.APITokenStore.
func (s *Store) TouchAPIToken(ctx context.Context, id int64, at time.Time) error {
	ctx, cancel := s.op(ctx)
	defer cancel()
	tag, err := s.pool.Exec(ctx, `UPDATE api_tokens SET last_used_at = $1 WHERE id = $2`, ms(at), id)
	return affectedOne(tag, err, fmt.Sprintf("touch API token %d", id))
}

// DeleteAPIToken implements latchkey.APITokenStore.
func (s *Store) DeleteAPIToken(ctx context.Context, id int64) error {
	ctx, cancel := s.op(ctx)
	defer cancel()
	tag, err := s.pool.Exec(ctx, `DELETE FROM api_tokens WHERE id = $1`, id)
	return affectedOne(tag, err, fmt.Sprintf("delete API token %d", id))
}
