package memstore

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/latchkey/latchkey"
)

var (
	_ latchkey.MFAStore          = (*Store)(nil)
	_ latchkey.PendingLoginStore = (*Store)(nil)
)

// factorKey names one factor of a user.
type factorKey struct {
	kind latchkey.FactorKind
	id   string
}

func copyFactor(f latchkey.Factor) latchkey.Factor {
	f.Secret = bytes.Clone(f.Secret)
	f.CreatedAt, f.LastUsedAt = norm(f.CreatedAt), normZero(f.LastUsedAt)
	return f
}

// normZero is norm that keeps the zero time zero.
func normZero(t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	return norm(t)
}

// Factors implements latchkey.MFAStore.
func (s *Store) Factors(ctx context.Context, userID int64, kind latchkey.FactorKind) ([]latchkey.Factor, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var out []latchkey.Factor
	for k, f := range s.factors[userID] {
		if kind == "" || k.kind == kind {
			out = append(out, copyFactor(f))
		}
	}
	slices.SortFunc(out, func(a, b latchkey.Factor) int {
		return cmp.Or(cmp.Compare(a.Kind, b.Kind), a.CreatedAt.Compare(b.CreatedAt), cmp.Compare(a.ID, b.ID))
	})
	return out, nil
}

// AddFactor implements latchkey.MFAStore.
func (s *Store) AddFactor(ctx context.Context, f *latchkey.Factor) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.users[f.UserID]; !ok {
		return fmt.Errorf("memstore: add factor: user %d: %w", f.UserID, latchkey.ErrNotFound)
	}
	k := factorKey{f.Kind, f.ID}
	if _, ok := s.factors[f.UserID][k]; ok {
		return fmt.Errorf("memstore: add factor: %w", latchkey.ErrConflict)
	}
	if s.factors[f.UserID] == nil {
		s.factors[f.UserID] = map[factorKey]latchkey.Factor{}
	}
	s.factors[f.UserID][k] = copyFactor(*f)
	return nil
}

// ReplaceFactors implements latchkey.MFAStore.
func (s *Store) ReplaceFactors(ctx context.Context, userID int64, kind latchkey.FactorKind, fs []latchkey.Factor) error {
	for _, f := range fs {
		if f.UserID != userID || f.Kind != kind {
			return fmt.Errorf("memstore: replace factors: a factor of user %d, kind %s among those of user %d, kind %s", f.UserID, f.Kind, userID, kind)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.users[userID]; !ok {
		return fmt.Errorf("memstore: replace factors: user %d: %w", userID, latchkey.ErrNotFound)
	}
	m := s.factors[userID]
	if m == nil {
		m = map[factorKey]latchkey.Factor{}
		s.factors[userID] = m
	}
	for k := range m {
		if k.kind == kind {
			delete(m, k)
		}
	}
	for _, f := range fs {
		m[factorKey{f.Kind, f.ID}] = copyFactor(f)
	}
	return nil
}

// AdvanceFactorCounter implements latchkey.MFAStore.
func (s *Store) AdvanceFactorCounter(ctx context.Context, userID int64, kind latchkey.FactorKind, id string, counter int64, at time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := factorKey{kind, id}
	f, ok := s.factors[userID][k]
	if !ok {
		return fmt.Errorf("memstore: advance factor counter: %w", latchkey.ErrNotFound)
	}
	if f.Counter >= counter {
		return fmt.Errorf("memstore: advance factor counter: at %d already: %w", f.Counter, latchkey.ErrConflict)
	}
	f.Counter, f.LastUsedAt = counter, norm(at)
	s.factors[userID][k] = f
	return nil
}

// DeleteFactor implements latchkey.MFAStore.
func (s *Store) DeleteFactor(ctx context.Context, userID int64, kind latchkey.FactorKind, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := factorKey{kind, id}
	if _, ok := s.factors[userID][k]; !ok {
		return fmt.Errorf("memstore: delete factor: %w", latchkey.ErrNotFound)
	}
	delete(s.factors[userID], k)
	return nil
}

// DeleteFactors implements latchkey.MFAStore.
func (s *Store) DeleteFactors(ctx context.Context, userID int64, kind latchkey.FactorKind) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for k := range s.factors[userID] {
		if kind == "" || k.kind == kind {
			delete(s.factors[userID], k)
			n++
		}
	}
	return n, nil
}

// CreatePendingLogin implements latchkey.PendingLoginStore.
func (s *Store) CreatePendingLogin(ctx context.Context, p *latchkey.PendingLogin) error {
	now := s.now()
	c := *p
	c.TokenHash = bytes.Clone(p.TokenHash)
	c.CreatedAt, c.ExpiresAt = norm(c.CreatedAt), norm(c.ExpiresAt)
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, old := range s.pending { // the map holds only what may still be live
		if old.Expired(now) {
			delete(s.pending, k)
		}
	}
	if old, ok := s.pending[string(p.TokenHash)]; ok && !old.Expired(now) {
		return fmt.Errorf("memstore: create pending login: %w", latchkey.ErrConflict)
	}
	s.pending[string(p.TokenHash)] = c
	return nil
}

// AttemptPendingLogin implements latchkey.PendingLoginStore.
func (s *Store) AttemptPendingLogin(ctx context.Context, tokenHash []byte, max int) (*latchkey.PendingLogin, error) {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.pending[string(tokenHash)]
	if !ok || p.Expired(now) || p.Attempts >= max {
		delete(s.pending, string(tokenHash))
		return nil, fmt.Errorf("memstore: attempt pending login: %w", latchkey.ErrNotFound)
	}
	p.Attempts++
	s.pending[string(tokenHash)] = p
	p.TokenHash = bytes.Clone(p.TokenHash)
	return &p, nil
}

// DeletePendingLogin implements latchkey.PendingLoginStore.
func (s *Store) DeletePendingLogin(ctx context.Context, tokenHash []byte) error {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.pending[string(tokenHash)]
	delete(s.pending, string(tokenHash))
	if !ok || p.Expired(now) {
		return fmt.Errorf("memstore: delete pending login: %w", latchkey.ErrNotFound)
	}
	return nil
}
