package memstore

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/latchkey/latchkey"
)

// cloneUser returns a copy of u that shares no slice with the store.
func cloneUser(u latchkey.User) *latchkey.User {
	u.Roles = slices.Clone(u.Roles)
	return &u
}

// SearchUsers implements latchkey.UserStore, by a scan: memstore is for
// tests and demos.
func (s *Store) SearchUsers(ctx context.Context, query string, afterID int64, limit int) ([]latchkey.User, error) {
	if limit <= 0 {
		return nil, nil
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	var out []latchkey.User
	for _, id := range s.userIDs {
		u := s.users[id]
		if id <= afterID || !strings.Contains(u.UsernameKey, query) && !strings.Contains(latchkey.EmailKey(u.Email), query) {
			continue
		}
		out = append(out, *cloneUser(u))
		if len(out) == limit {
			break
		}
	}
	return out, nil
}

// update applies change to the user with this id under the write lock.
func (s *Store) update(id int64, op string, change func(u *latchkey.User) bool, updatedAt time.Time) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.users[id]
	if !ok {
		return false, fmt.Errorf("memstore: %s of user %d: %w", op, id, latchkey.ErrNotFound)
	}
	if !change(&u) {
		return false, nil
	}
	u.UpdatedAt = norm(updatedAt)
	s.users[id] = u
	return true, nil
}

// SetRoles implements latchkey.UserStore.
func (s *Store) SetRoles(ctx context.Context, id int64, roles []string, updatedAt time.Time) error {
	_, err := s.update(id, "set roles", func(u *latchkey.User) bool {
		u.Roles = slices.Clone(roles)
		return true
	}, updatedAt)
	return err
}

// ChangeRole implements latchkey.UserStore.
func (s *Store) ChangeRole(ctx context.Context, id int64, role string, add bool, updatedAt time.Time) (bool, error) {
	return s.update(id, "change role", func(u *latchkey.User) bool {
		i, has := slices.BinarySearch(u.Roles, role)
		switch {
		case add && !has:
			u.Roles = slices.Insert(slices.Clone(u.Roles), i, role)
		case !add && has:
			u.Roles = slices.Delete(slices.Clone(u.Roles), i, i+1)
		default:
			return false
		}
		return true
	}, updatedAt)
}

// SetLocked implements latchkey.UserStore.
func (s *Store) SetLocked(ctx context.Context, id int64, locked bool, updatedAt time.Time) error {
	_, err := s.update(id, "set locked", func(u *latchkey.User) bool {
		u.Locked = locked
		return true
	}, updatedAt)
	return err
}
