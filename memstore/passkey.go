package memstore

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/latchkey/latchkey"
)

var _ latchkey.PasskeyStore = (*Store)(nil)

func copyPasskey(p latchkey.Passkey) latchkey.Passkey {
	p.CredentialID, p.Data = bytes.Clone(p.CredentialID), bytes.Clone(p.Data)
	return p
}

// AddPasskey implements latchkey.PasskeyStore.
func (s *Store) AddPasskey(ctx context.Context, p *latchkey.Passkey) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, o := range s.passkeys {
		if bytes.Equal(o.CredentialID, p.CredentialID) {
			return fmt.Errorf("memstore: add passkey: %w", latchkey.ErrConflict)
		}
	}
	s.lastPasskeyID++
	c := copyPasskey(*p)
	c.ID = s.lastPasskeyID
	c.CreatedAt, c.LastUsedAt = norm(c.CreatedAt), norm(c.LastUsedAt)
	s.passkeys = append(s.passkeys, c) // IDs only grow: sorted
	p.ID = c.ID
	return nil
}

// ListPasskeys implements latchkey.PasskeyStore.
func (s *Store) ListPasskeys(ctx context.Context, userID int64) ([]latchkey.Passkey, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var out []latchkey.Passkey
	for _, p := range s.passkeys {
		if p.UserID == userID {
			out = append(out, copyPasskey(p))
		}
	}
	return out, nil
}

// PasskeyByCredentialID implements latchkey.PasskeyStore.
func (s *Store) PasskeyByCredentialID(ctx context.Context, credentialID []byte) (*latchkey.Passkey, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	for _, p := range s.passkeys {
		if bytes.Equal(p.CredentialID, credentialID) {
			c := copyPasskey(p)
			return &c, nil
		}
	}
	return nil, fmt.Errorf("memstore: passkey: %w", latchkey.ErrNotFound)
}

// passkeyIndex finds the user's passkey with this ID; the caller holds mu.
func (s *Store) passkeyIndex(userID, id int64) (int, error) {
	i := slices.IndexFunc(s.passkeys, func(p latchkey.Passkey) bool { return p.ID == id && p.UserID == userID })
	if i < 0 {
		return 0, fmt.Errorf("memstore: passkey %d of user %d: %w", id, userID, latchkey.ErrNotFound)
	}
	return i, nil
}

// UpdatePasskey implements latchkey.PasskeyStore.
func (s *Store) UpdatePasskey(ctx context.Context, userID, id int64, data []byte, lastUsedAt time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	i, err := s.passkeyIndex(userID, id)
	if err == nil {
		s.passkeys[i].Data, s.passkeys[i].LastUsedAt = bytes.Clone(data), norm(lastUsedAt)
	}
	return err
}

// RenamePasskey implements latchkey.PasskeyStore.
func (s *Store) RenamePasskey(ctx context.Context, userID, id int64, name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	i, err := s.passkeyIndex(userID, id)
	if err == nil {
		s.passkeys[i].Name = name
	}
	return err
}

// DeletePasskey implements latchkey.PasskeyStore.
func (s *Store) DeletePasskey(ctx context.Context, userID, id int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	i, err := s.passkeyIndex(userID, id)
	if err == nil {
		s.passkeys = slices.Delete(s.passkeys, i, i+1)
	}
	return err
}
