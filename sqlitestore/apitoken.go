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

const apiTokenColumns = `id, token_hash, user_id, name, created_at, expires_at, last_used_at`

// findAPITokenSQL is on the request path of every bearer request.
const findAPITokenSQL = `SELECT ` + apiTokenColumns + ` FROM api_tokens
	WHERE token_hash = ? AND (expires_at IS NULL OR expires_at > ?)`

func scanAPIToken(row interface{ Scan(...any) error }) (*latchkey.APIToken, error) {
	var t latchkey.APIToken
	var created int64
	var expires, lastUsed sql.NullInt64
	if err := row.Scan(&t.ID, &t.TokenHash, &t.UserID, &t.Name, &created, &expires, &lastUsed); err != nil {
		return nil, err
	}
	t.CreatedAt = fromMS(created)
	t.ExpiresAt, t.LastUsedAt = fromNullMS(expires), fromNullMS(lastUsed)
	return &t, nil
}

// nullMS stores the zero time as NULL ("never").
func nullMS(t time.Time) sql.NullInt64 {
	return sql.NullInt64{Int64: toMS(t), Valid: !t.IsZero()}
}

func fromNullMS(v sql.NullInt64) time.Time {
	if !v.Valid {
		return time.Time{}
	}
	return fromMS(v.Int64)
}

// CreateAPIToken implements latchkey.APITokenStore. The foreign key on
// user_id decides whether the user exists, in the same statement.
func (s *Store) CreateAPIToken(ctx context.Context, t *latchkey.APIToken) error {
	if len(t.TokenHash) == 0 {
		return errors.New("sqlitestore: create API token: empty token hash")
	}
	res, err := s.writer.ExecContext(ctx, `INSERT INTO api_tokens
		(token_hash, user_id, name, created_at, expires_at, last_used_at)
		VALUES (?, ?, ?, ?, ?, ?)`,
		bytes.Clone(t.TokenHash), t.UserID, t.Name, toMS(t.CreatedAt), nullMS(t.ExpiresAt), nullMS(t.LastUsedAt))
	switch {
	case isCode(err, sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY):
		return fmt.Errorf("sqlitestore: create API token: user %d: %w", t.UserID, latchkey.ErrNotFound)
	case isCode(err, sqlite3.SQLITE_CONSTRAINT_UNIQUE):
		// (user_id, name) or token_hash; ids come from AUTOINCREMENT.
		return fmt.Errorf("sqlitestore: create API token: %w", latchkey.ErrConflict)
	case err != nil:
		return wrap("create API token", err)
	}
	id, err := res.LastInsertId()
	if err != nil {
		return wrap("create API token", err)
	}
	t.ID = id
	return nil
}

// FindAPIToken implements latchkey.APITokenStore.
func (s *Store) FindAPIToken(ctx context.Context, tokenHash []byte) (*latchkey.APIToken, error) {
	t, err := scanAPIToken(s.findAPIToken.QueryRowContext(ctx, tokenHash, toMS(s.now())))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("sqlitestore: find API token: %w", latchkey.ErrNotFound)
	}
	if err != nil {
		return nil, wrap("find API token", err)
	}
	return t, nil
}

// ListAPITokens implements latchkey.APITokenStore.
func (s *Store) ListAPITokens(ctx context.Context, userID int64) ([]latchkey.APIToken, error) {
	q, args := `SELECT `+apiTokenColumns+` FROM api_tokens ORDER BY id`, []any(nil)
	if userID != 0 {
		q, args = `SELECT `+apiTokenColumns+` FROM api_tokens WHERE user_id = ? ORDER BY id`, []any{userID}
	}
	return queryAll(ctx, s.reader, "list API tokens", scanAPIToken, q, args...)
}

// TouchAPIToken implements latchkey.APITokenStore.
func (s *Store) TouchAPIToken(ctx context.Context, id int64, at time.Time) error {
	res, err := s.writer.ExecContext(ctx, `UPDATE api_tokens SET last_used_at = ? WHERE id = ?`, toMS(at), id)
	return affectedOne(res, err, fmt.Sprintf("touch API token %d", id))
}

// DeleteAPIToken implements latchkey.APITokenStore.
func (s *Store) DeleteAPIToken(ctx context.Context, id int64) error {
	res, err := s.writer.ExecContext(ctx, `DELETE FROM api_tokens WHERE id = ?`, id)
	return affectedOne(res, err, fmt.Sprintf("delete API token %d", id))
}
