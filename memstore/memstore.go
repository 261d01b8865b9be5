// Package memstore keeps users and sessions in memory, for tests, demos and
// single-process deployments that can afford to lose every account on
// restart.
package memstore

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/latchkey/latchkey"
)

var (
	_ latchkey.UserStore     = (*Store)(nil)
	_ latchkey.SessionStore  = (*Store)(nil)
	_ latchkey.SessionPruner = (*Store)(nil)
	_ latchkey.APITokenStore = (*Store)(nil)

	_ latchkey.SessionUserFinder = (*Store)(nil)
)

// Store is an in-memory UserStore, SessionStore, SessionUserFinder,
// SessionPruner, APITokenStore, MFAStore and PendingLoginStore. It is safe for concurrent use. It hands out and keeps
// copies only, so no caller can change stored data through a value it
// passed in or got back. Times are kept in UTC at millisecond precision,
// like the SQL stores, so code tested against Store behaves the same on
// them.
type Store struct {
	// Now is the clock that decides expiry; nil means time.Now. Set it
	// before first use.
	Now func() time.Time

	mu       sync.RWMutex
	lastID   int64
	users    map[int64]latchkey.User
	userIDs  []int64 // ascending, for ListUsers paging
	keyToID  map[string]int64
	skelToID map[string]int64            // UsernameSkeleton to ID, for the non-empty ones
	verified map[string]int64            // EmailKey to ID, for verified addresses
	sessions map[string]latchkey.Session // by string(TokenHash)
	// byUser indexes sessions by user, so per-user calls do not scan.
	byUser map[int64]map[string]struct{}

	lastTokenID int64
	tokens      map[int64]latchkey.APIToken
	tokenByHash map[string]int64    // by string(TokenHash)
	tokenByName map[tokenName]int64 // unique per user

	accountTokens map[accountTokenKey]latchkey.AccountToken

	factors map[int64]map[factorKey]latchkey.Factor
	pending map[string]latchkey.PendingLogin // by string(TokenHash)

	lastEventID int64
	events      []latchkey.Event // ascending by ID

	lastPasskeyID int64
	passkeys      []latchkey.Passkey // ascending by ID
}

// accountTokenKey: a user has one account token per purpose.
type accountTokenKey struct {
	userID  int64
	purpose latchkey.AccountPurpose
}

// tokenName is the per-user unique key of an API token.
type tokenName struct {
	userID int64
	name   string
}

// New returns an empty Store.
func New() *Store {
	return &Store{
		users:    make(map[int64]latchkey.User),
		keyToID:  make(map[string]int64),
		skelToID: make(map[string]int64),
		verified: make(map[string]int64),
		sessions: make(map[string]latchkey.Session),
		byUser:   make(map[int64]map[string]struct{}),

		tokens:      make(map[int64]latchkey.APIToken),
		tokenByHash: make(map[string]int64),
		tokenByName: make(map[tokenName]int64),

		accountTokens: make(map[accountTokenKey]latchkey.AccountToken),

		factors: make(map[int64]map[factorKey]latchkey.Factor),
		pending: make(map[string]latchkey.PendingLogin),
	}
}

func (s *Store) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// norm gives a time the precision and zone the SQL stores return.
func norm(t time.Time) time.Time {
	return t.UTC().Truncate(time.Millisecond)
}

// CreateUser implements latchkey.UserStore.
func (s *Store) CreateUser(ctx context.Context, u *latchkey.User) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.keyToID[u.UsernameKey]; ok {
		return fmt.Errorf("memstore: create user: %w", latchkey.ErrUsernameTaken)
	}
	if _, ok := s.skelToID[u.UsernameSkeleton]; ok && u.UsernameSkeleton != "" {
		return fmt.Errorf("memstore: create user: looks like another: %w", latchkey.ErrUsernameTaken)
	}
	if _, ok := s.verified[latchkey.EmailKey(u.Email)]; ok && u.EmailVerified {
		return fmt.Errorf("memstore: create user: %w", latchkey.ErrEmailTaken)
	}
	s.lastID++
	c := *u
	c.ID = s.lastID
	c.Roles = slices.Clone(c.Roles)
	c.CreatedAt = norm(c.CreatedAt)
	c.UpdatedAt = norm(c.UpdatedAt)
	s.users[c.ID] = c
	s.userIDs = append(s.userIDs, c.ID) // IDs only grow, so this stays sorted
	s.keyToID[c.UsernameKey] = c.ID
	if c.UsernameSkeleton != "" {
		s.skelToID[c.UsernameSkeleton] = c.ID
	}
	if c.EmailVerified {
		s.verified[latchkey.EmailKey(c.Email)] = c.ID
	}
	u.ID = c.ID
	return nil
}

// UserByID implements latchkey.UserStore.
func (s *Store) UserByID(ctx context.Context, id int64) (*latchkey.User, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	u, ok := s.users[id]
	if !ok {
		return nil, fmt.Errorf("memstore: user %d: %w", id, latchkey.ErrNotFound)
	}
	return cloneUser(u), nil
}

// UserByUsernameKey implements latchkey.UserStore.
func (s *Store) UserByUsernameKey(ctx context.Context, key string) (*latchkey.User, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	id, ok := s.keyToID[key]
	if !ok {
		return nil, fmt.Errorf("memstore: user by username: %w", latchkey.ErrNotFound)
	}
	return cloneUser(s.users[id]), nil
}

// UpdatePasswordHash implements latchkey.UserStore.
func (s *Store) UpdatePasswordHash(ctx context.Context, id int64, hash string, updatedAt time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.users[id]
	if !ok {
		return fmt.Errorf("memstore: update password hash of user %d: %w", id, latchkey.ErrNotFound)
	}
	u.PasswordHash = hash
	u.UpdatedAt = norm(updatedAt)
	s.users[id] = u
	return nil
}

// UserByEmail implements latchkey.UserStore. Unverified addresses are
// found by a scan: memstore is for tests and demos.
func (s *Store) UserByEmail(ctx context.Context, email string) (*latchkey.User, error) {
	key := latchkey.EmailKey(email)
	s.mu.RLock()
	defer s.mu.RUnlock()
	if id, ok := s.verified[key]; ok {
		return cloneUser(s.users[id]), nil
	}
	for _, id := range s.userIDs { // ascending: the earliest created first
		if u := s.users[id]; u.Email != "" && latchkey.EmailKey(u.Email) == key {
			return cloneUser(u), nil
		}
	}
	return nil, fmt.Errorf("memstore: user by email: %w", latchkey.ErrNotFound)
}

// UpdateEmail implements latchkey.UserStore.
func (s *Store) UpdateEmail(ctx context.Context, id int64, from, email string, verified bool, updatedAt time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.users[id]
	if !ok {
		return fmt.Errorf("memstore: update email of user %d: %w", id, latchkey.ErrNotFound)
	}
	if u.Email != from {
		return fmt.Errorf("memstore: update email of user %d: the address changed: %w", id, latchkey.ErrConflict)
	}
	key := latchkey.EmailKey(email)
	if other, taken := s.verified[key]; verified && taken && other != id {
		return fmt.Errorf("memstore: update email of user %d: %w", id, latchkey.ErrEmailTaken)
	}
	if u.EmailVerified && s.verified[latchkey.EmailKey(u.Email)] == id {
		delete(s.verified, latchkey.EmailKey(u.Email))
	}
	u.Email, u.EmailVerified, u.UpdatedAt = email, verified, norm(updatedAt)
	if verified {
		s.verified[key] = id
	}
	s.users[id] = u
	return nil
}

// AdvanceEpoch implements latchkey.UserStore.
func (s *Store) AdvanceEpoch(ctx context.Context, id int64) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.users[id]
	if !ok {
		return 0, fmt.Errorf("memstore: advance epoch of user %d: %w", id, latchkey.ErrNotFound)
	}
	u.Epoch++
	s.users[id] = u
	return u.Epoch, nil
}

// DeleteUser implements latchkey.UserStore.
func (s *Store) DeleteUser(ctx context.Context, id int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.users[id]
	if !ok {
		return fmt.Errorf("memstore: delete user %d: %w", id, latchkey.ErrNotFound)
	}
	delete(s.users, id)
	delete(s.keyToID, u.UsernameKey)
	if s.skelToID[u.UsernameSkeleton] == id {
		delete(s.skelToID, u.UsernameSkeleton)
	}
	if u.EmailVerified {
		delete(s.verified, latchkey.EmailKey(u.Email))
	}
	for tid, t := range s.tokens { // as ON DELETE CASCADE does in the SQL stores
		if t.UserID == id {
			s.deleteTokenLocked(tid)
		}
	}
	delete(s.factors, id)
	s.passkeys = slices.DeleteFunc(s.passkeys, func(p latchkey.Passkey) bool { return p.UserID == id })
	if i, found := slices.BinarySearch(s.userIDs, id); found {
		s.userIDs = slices.Delete(s.userIDs, i, i+1)
	}
	return nil
}

// ListUsers implements latchkey.UserStore. A limit below 1 returns no users.
func (s *Store) ListUsers(ctx context.Context, afterID int64, limit int) ([]latchkey.User, error) {
	if limit <= 0 {
		return nil, nil
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	// BinarySearch gives the index of the first ID >= afterID.
	i, found := slices.BinarySearch(s.userIDs, afterID)
	if found {
		i++
	}
	ids := s.userIDs[i:]
	ids = ids[:min(len(ids), limit)]
	out := make([]latchkey.User, len(ids))
	for j, id := range ids {
		out[j] = *cloneUser(s.users[id])
	}
	return out, nil
}

// copySession returns s with its own TokenHash, so the copy shares nothing.
func copySession(s latchkey.Session) latchkey.Session {
	s.TokenHash = bytes.Clone(s.TokenHash)
	return s
}

// CreateSession implements latchkey.SessionStore. It stores IdleExpiresAt
// no later than ExpiresAt, the invariant Session documents.
func (s *Store) CreateSession(ctx context.Context, sess *latchkey.Session) error {
	if len(sess.TokenHash) == 0 {
		return errors.New("memstore: create session: empty token hash")
	}
	c := copySession(*sess)
	c.CreatedAt = norm(c.CreatedAt)
	c.LastSeenAt = norm(c.LastSeenAt)
	c.ExpiresAt = norm(c.ExpiresAt)
	c.RotatedAt = norm(c.RotatedAt)
	c.IdleExpiresAt = earliest(norm(c.IdleExpiresAt), c.ExpiresAt)
	key := string(c.TokenHash)

	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.sessions[key]; ok {
		return fmt.Errorf("memstore: create session: %w", latchkey.ErrConflict)
	}
	s.sessions[key] = c
	idx := s.byUser[c.UserID]
	if idx == nil {
		idx = make(map[string]struct{})
		s.byUser[c.UserID] = idx
	}
	idx[key] = struct{}{}
	return nil
}

// FindSession implements latchkey.SessionStore.
func (s *Store) FindSession(ctx context.Context, tokenHash []byte) (*latchkey.Session, error) {
	now := s.now()
	s.mu.RLock()
	defer s.mu.RUnlock()
	sess, ok := s.sessions[string(tokenHash)]
	if !ok || sess.Expired(now) {
		return nil, fmt.Errorf("memstore: find session: %w", latchkey.ErrNotFound)
	}
	c := copySession(sess)
	return &c, nil
}

// UpdateSession implements latchkey.SessionStore. Like CreateSession, it
// keeps IdleExpiresAt no later than ExpiresAt.
func (s *Store) UpdateSession(ctx context.Context, sess *latchkey.Session) error {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	key := string(sess.TokenHash)
	cur, ok := s.sessions[key]
	if !ok || cur.Expired(now) {
		return fmt.Errorf("memstore: update session: %w", latchkey.ErrNotFound)
	}
	cur.LastSeenAt = norm(sess.LastSeenAt)
	cur.IdleExpiresAt = earliest(norm(sess.IdleExpiresAt), cur.ExpiresAt)
	cur.Fresh = sess.Fresh
	s.sessions[key] = cur
	return nil
}

// RotateSession implements latchkey.SessionStore.
func (s *Store) RotateSession(ctx context.Context, sess *latchkey.Session, prevGen int64) error {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	key := string(sess.TokenHash)
	cur, ok := s.sessions[key]
	if !ok || cur.Expired(now) {
		return fmt.Errorf("memstore: rotate session: %w", latchkey.ErrNotFound)
	}
	if cur.Generation != prevGen {
		return fmt.Errorf("memstore: rotate session: generation %d, not %d: %w", cur.Generation, prevGen, latchkey.ErrConflict)
	}
	cur.LastSeenAt = norm(sess.LastSeenAt)
	cur.IdleExpiresAt = earliest(norm(sess.IdleExpiresAt), cur.ExpiresAt)
	cur.Fresh = sess.Fresh
	cur.Generation = sess.Generation
	cur.RotatedAt = norm(sess.RotatedAt)
	s.sessions[key] = cur
	return nil
}

// DeleteSession implements latchkey.SessionStore.
func (s *Store) DeleteSession(ctx context.Context, tokenHash []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.deleteLocked(string(tokenHash))
	return nil
}

// deleteLocked removes a session and its index entry; s.mu must be held.
func (s *Store) deleteLocked(key string) {
	sess, ok := s.sessions[key]
	if !ok {
		return
	}
	delete(s.sessions, key)
	idx := s.byUser[sess.UserID]
	delete(idx, key)
	if len(idx) == 0 {
		delete(s.byUser, sess.UserID) // keep the index from growing with dead users
	}
}

// DeleteUserSessions implements latchkey.SessionStore.
func (s *Store) DeleteUserSessions(ctx context.Context, userID int64) (int, error) {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for key := range s.byUser[userID] {
		if sess := s.sessions[key]; !sess.Expired(now) {
			n++
		}
		delete(s.sessions, key)
	}
	delete(s.byUser, userID)
	return n, nil
}

// ListUserSessions implements latchkey.SessionStore. Sessions created at the
// same millisecond are ordered by token hash, as in the SQL stores.
func (s *Store) ListUserSessions(ctx context.Context, userID int64) ([]latchkey.Session, error) {
	now := s.now()
	s.mu.RLock()
	var out []latchkey.Session
	for key := range s.byUser[userID] {
		if sess := s.sessions[key]; !sess.Expired(now) {
			out = append(out, copySession(sess))
		}
	}
	s.mu.RUnlock()
	slices.SortFunc(out, func(a, b latchkey.Session) int {
		if c := b.CreatedAt.Compare(a.CreatedAt); c != 0 {
			return c
		}
		return bytes.Compare(a.TokenHash, b.TokenHash)
	})
	return out, nil
}

// PruneSessions implements latchkey.SessionPruner. Expired sessions are
// invisible already; pruning only frees their memory. A limit below 1
// deletes nothing.
func (s *Store) PruneSessions(ctx context.Context, limit int) (int, error) {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for key, sess := range s.sessions {
		if n >= limit {
			break
		}
		if sess.Expired(now) {
			s.deleteLocked(key)
			n++
		}
	}
	return n, nil
}

func earliest(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

// FindSessionUser implements latchkey.SessionUserFinder: both reads under
// one read lock.
func (s *Store) FindSessionUser(ctx context.Context, tokenHash []byte) (*latchkey.Session, *latchkey.User, error) {
	now := s.now()
	s.mu.RLock()
	defer s.mu.RUnlock()
	sess, ok := s.sessions[string(tokenHash)]
	if !ok || sess.Expired(now) {
		return nil, nil, fmt.Errorf("memstore: find session: %w", latchkey.ErrNotFound)
	}
	c := copySession(sess)
	u, ok := s.users[sess.UserID]
	if !ok {
		return &c, nil, nil
	}
	return &c, cloneUser(u), nil
}

// copyAPIToken returns t with its own TokenHash, so the copy shares nothing.
func copyAPIToken(t latchkey.APIToken) latchkey.APIToken {
	t.TokenHash = bytes.Clone(t.TokenHash)
	return t
}

// CreateAPIToken implements latchkey.APITokenStore.
func (s *Store) CreateAPIToken(ctx context.Context, t *latchkey.APIToken) error {
	if len(t.TokenHash) == 0 {
		return errors.New("memstore: create API token: empty token hash")
	}
	c := copyAPIToken(*t)
	c.CreatedAt = norm(c.CreatedAt)
	c.ExpiresAt = norm(c.ExpiresAt) // the zero time stays zero
	c.LastUsedAt = norm(c.LastUsedAt)
	key := tokenName{c.UserID, c.Name}

	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.users[c.UserID]; !ok {
		return fmt.Errorf("memstore: create API token: user %d: %w", c.UserID, latchkey.ErrNotFound)
	}
	if _, ok := s.tokenByName[key]; ok {
		return fmt.Errorf("memstore: create API token: name %q: %w", c.Name, latchkey.ErrConflict)
	}
	if _, ok := s.tokenByHash[string(c.TokenHash)]; ok {
		return fmt.Errorf("memstore: create API token: token hash: %w", latchkey.ErrConflict)
	}
	s.lastTokenID++
	c.ID = s.lastTokenID
	s.tokens[c.ID] = c
	s.tokenByHash[string(c.TokenHash)] = c.ID
	s.tokenByName[key] = c.ID
	t.ID = c.ID
	return nil
}

// FindAPIToken implements latchkey.APITokenStore.
func (s *Store) FindAPIToken(ctx context.Context, tokenHash []byte) (*latchkey.APIToken, error) {
	now := s.now()
	s.mu.RLock()
	defer s.mu.RUnlock()
	id, ok := s.tokenByHash[string(tokenHash)]
	if !ok {
		return nil, fmt.Errorf("memstore: find API token: %w", latchkey.ErrNotFound)
	}
	t := s.tokens[id]
	if t.Expired(now) {
		return nil, fmt.Errorf("memstore: find API token: %w", latchkey.ErrNotFound)
	}
	c := copyAPIToken(t)
	return &c, nil
}

// ListAPITokens implements latchkey.APITokenStore.
func (s *Store) ListAPITokens(ctx context.Context, userID int64) ([]latchkey.APIToken, error) {
	s.mu.RLock()
	var out []latchkey.APIToken
	for _, t := range s.tokens {
		if userID == 0 || t.UserID == userID {
			out = append(out, copyAPIToken(t))
		}
	}
	s.mu.RUnlock()
	slices.SortFunc(out, func(a, b latchkey.APIToken) int { return cmp.Compare(a.ID, b.ID) })
	return out, nil
}

// TouchAPIToken implements latchkey.APITokenStore.
func (s *Store) TouchAPIToken(ctx context.Context, id int64, at time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.tokens[id]
	if !ok {
		return fmt.Errorf("memstore: touch API token %d: %w", id, latchkey.ErrNotFound)
	}
	t.LastUsedAt = norm(at)
	s.tokens[id] = t
	return nil
}

// DeleteAPIToken implements latchkey.APITokenStore.
func (s *Store) DeleteAPIToken(ctx context.Context, id int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.tokens[id]; !ok {
		return fmt.Errorf("memstore: delete API token %d: %w", id, latchkey.ErrNotFound)
	}
	s.deleteTokenLocked(id)
	return nil
}

// deleteTokenLocked removes a token and its index entries; s.mu must be held.
func (s *Store) deleteTokenLocked(id int64) {
	t := s.tokens[id]
	delete(s.tokens, id)
	delete(s.tokenByHash, string(t.TokenHash))
	delete(s.tokenByName, tokenName{t.UserID, t.Name})
}
