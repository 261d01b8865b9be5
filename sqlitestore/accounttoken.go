package sqlitestore

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/latchkey/latchkey"
)

var _ latchkey.AccountTokenStore = (*Store)(nil)

// maxPrunedAccountTokens bounds the expired tokens one issue removes, so
// the table needs no pruning job and no issue waits on a big delete.
const maxPrunedAccountTokens = 100

// IssueAccountToken implements latchkey.AccountTokenStore: one upsert on
// the (user, purpose) key, after dropping a few expired tokens of anyone.
func (s *Store) IssueAccountToken(ctx context.Context, t *latchkey.AccountToken) error {
	if len(t.TokenHash) == 0 {
		return errors.New("sqlitestore: issue account token: empty token hash")
	}
	if _, err := s.writer.ExecContext(ctx, `DELETE FROM account_tokens WHERE (user_id, purpose) IN
		(SELECT user_id, purpose FROM account_tokens WHERE expires_at <= ? LIMIT ?)`,
		toMS(s.now()), maxPrunedAccountTokens); err != nil {
		return wrap("issue account token: prune", err)
	}
	_, err := s.writer.ExecContext(ctx, `INSERT INTO account_tokens
		(user_id, purpose, token_hash, email, user_epoch, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (user_id, purpose) DO UPDATE SET token_hash = excluded.token_hash, email = excluded.email,
			user_epoch = excluded.user_epoch, created_at = excluded.created_at, expires_at = excluded.expires_at`,
		t.UserID, string(t.Purpose), t.TokenHash, t.Email, t.UserEpoch, toMS(t.CreatedAt), toMS(t.ExpiresAt))
	if err != nil {
		return wrap("issue account token", err)
	}
	return nil
}

// UseAccountToken implements latchkey.AccountTokenStore. The DELETE that
// matches user, purpose, hash and expiry is the whole check, and the one
// write connection runs statements one at a time: one use wins.
func (s *Store) UseAccountToken(ctx context.Context, userID int64, purpose latchkey.AccountPurpose, tokenHash []byte) (*latchkey.AccountToken, error) {
	t := &latchkey.AccountToken{UserID: userID, Purpose: purpose, TokenHash: bytes.Clone(tokenHash)}
	var created, expires int64
	err := s.writer.QueryRowContext(ctx, `DELETE FROM account_tokens
		WHERE user_id = ? AND purpose = ? AND token_hash = ? AND expires_at > ?
		RETURNING email, user_epoch, created_at, expires_at`,
		userID, string(purpose), tokenHash, toMS(s.now())).Scan(&t.Email, &t.UserEpoch, &created, &expires)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("sqlitestore: use account token: %w", latchkey.ErrNotFound)
	}
	if err != nil {
		return nil, wrap("use account token", err)
	}
	t.CreatedAt, t.ExpiresAt = fromMS(created), fromMS(expires)
	return t, nil
}

// DeleteAccountTokens implements latchkey.AccountTokenStore.
func (s *Store) DeleteAccountTokens(ctx context.Context, userID int64, purpose latchkey.AccountPurpose) error {
	_, err := s.writer.ExecContext(ctx, `DELETE FROM account_tokens WHERE user_id = ? AND (? = '' OR purpose = ?)`,
		userID, string(purpose), string(purpose))
	if err != nil {
		return wrap("delete account tokens", err)
	}
	return nil
}
