package memstore

import (
	"bytes"
	"context"
	"crypto/subtle"
	"fmt"

	"github.com/latchkey/latchkey"
)

var _ latchkey.AccountTokenStore = (*Store)(nil)

// IssueAccountToken implements latchkey.AccountTokenStore.
func (s *Store) IssueAccountToken(ctx context.Context, t *latchkey.AccountToken) error {
	c := *t
	c.TokenHash = bytes.Clone(t.TokenHash)
	c.CreatedAt, c.ExpiresAt = norm(c.CreatedAt), norm(c.ExpiresAt)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.accountTokens[accountTokenKey{t.UserID, t.Purpose}] = c
	return nil
}

// UseAccountToken implements latchkey.AccountTokenStore.
func (s *Store) UseAccountToken(ctx context.Context, userID int64, purpose latchkey.AccountPurpose, tokenHash []byte) (*latchkey.AccountToken, error) {
	now := s.now()
	k := accountTokenKey{userID, purpose}
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.accountTokens[k]
	if ok && t.Expired(now) {
		delete(s.accountTokens, k)
		ok = false
	}
	if !ok || subtle.ConstantTimeCompare(t.TokenHash, tokenHash) != 1 {
		return nil, fmt.Errorf("memstore: use account token: %w", latchkey.ErrNotFound)
	}
	delete(s.accountTokens, k)
	return &t, nil
}

// DeleteAccountTokens implements latchkey.AccountTokenStore.
func (s *Store) DeleteAccountTokens(ctx context.Context, userID int64, purpose latchkey.AccountPurpose) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k := range s.accountTokens {
		if k.userID == userID && (purpose == "" || k.purpose == purpose) {
			delete(s.accountTokens, k)
		}
	}
	return nil
}
