package pgstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"github.com/latchkey/latchkey"
)

var _ latchkey.AccountTokenStore = (*Store)(nil)

// maxPrunedAccountTokens bounds the expired tokens one issue removes, so
// the table needs no pruning job and no issue waits on a big delete.
const maxPrunedAccountTokens = 100

// IssueAccountToken implements latchkey.AccountTokenStore: one upsert on
// the (user, purpose) key, so of concurrent issues the last one stands,
// after dropping a few expired tokens of anyone (SKIP LOCKED: instances
// doing so at once do not wait for each other).
func (s *Store) IssueAccountToken(ctx context.Context, t *latchkey.AccountToken) error {
	if len(t.TokenHash) == 0 {
		return errors.New("pgstore: issue account token: empty token hash")
	}
	ctx, cancel := s.op(ctx)
	defer cancel()
	if _, err := s.pool.Exec(ctx, `DELETE FROM account_tokens WHERE (user_id, purpose) IN
		(SELECT user_id, purpose FROM account_tokens WHERE expires_at <= $1 LIMIT $2 FOR UPDATE SKIP LOCKED)`,
		ms(s.now()), maxPrunedAccountTokens); err != nil {
		return wrap("issue account token: prune", err)
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO account_tokens
		(user_id, purpose, token_hash, email, user_epoch, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7)
		ON CONFLICT (user_id, purpose) DO UPDATE SET token_hash = excluded.token_hash, email = excluded.email,
			user_epoch = excluded.user_epoch, created_at = excluded.created_at, expires_at = excluded.expires_at`,
		t.UserID, string(t.Purpose), bytes.Clone(t.TokenHash), t.Email, t.UserEpoch, ms(t.CreatedAt), ms(t.ExpiresAt))
	if err != nil {
		return wrap("issue account token", err)
	}
	return nil
}

// UseAccountToken implements latchkey.AccountTokenStore. The DELETE that
// matches user, purpose, hash and expiry is the whole check; concurrent
// ones queue on the row's lock and only the first finds it.
func (s *Store) UseAccountToken(ctx context.Context, userID int64, purpose latchkey.AccountPurpose, tokenHash []byte) (*latchkey.AccountToken, error) {
	now := ms(s.now())
	ctx, cancel := s.op(ctx)
	defer cancel()
	t := &latchkey.AccountToken{UserID: userID, Purpose: purpose, TokenHash: bytes.Clone(tokenHash)}
	err := s.pool.QueryRow(ctx, `DELETE FROM account_tokens
		WHERE user_id = $1 AND purpose = $2 AND token_hash = $3 AND expires_at > $4
		RETURNING email, user_epoch, created_at, expires_at`,
		userID, string(purpose), tokenHash, now).Scan(&t.Email, &t.UserEpoch, &t.CreatedAt, &t.ExpiresAt)
	if isNoRows(err) {
		return nil, fmt.Errorf("pgstore: use account token: %w", latchkey.ErrNotFound)
	}
	if err != nil {
		return nil, wrap("use account token", err)
	}
	t.CreatedAt, t.ExpiresAt = t.CreatedAt.UTC(), t.ExpiresAt.UTC()
	return t, nil
}

// DeleteAccountTokens implements latchkey.AccountTokenStore.
func (s *Store) DeleteAccountTokens(ctx context.Context, userID int64, purpose latchkey.AccountPurpose) error {
	ctx, cancel := s.op(ctx)
	defer cancel()
	_, err := s.pool.Exec(ctx, `DELETE FROM account_tokens WHERE user_id = $1 AND ($2 = '' OR purpose = $2)`,
		userID, string(purpose))
	if err != nil {
		return wrap("delete account tokens", err)
	}
	return nil
}
