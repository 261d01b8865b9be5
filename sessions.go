package latchkey

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"fmt"
	"net/http"
	"time"

	"github.com/latchkey/latchkey/device"
)

// A user's own sessions: where they are logged in, and signing out of any
// of them. In token mode a "session" is a refresh-token family.

// SessionInfo is a live session as its user sees it. ID is opaque: a MAC
// of the session's store key, never the token or its hash, so it can be
// shown, logged and sent back without granting anything.
type SessionInfo struct {
	ID         string
	Current    bool
	CreatedAt  time.Time
	LastSeenAt time.Time
	// ExpiresAt is when the session ends if not used again: the earlier of
	// its idle and absolute deadlines.
	ExpiresAt time.Time
	Remember  bool
	Device    string
	IP        string
}

// sessionPublicID is the ID a session shows under key: 128 bits of
// HMAC-SHA256 over its store key, base64url.
func sessionPublicID(key, tokenHash []byte) string {
	m := hmac.New(sha256.New, key)
	m.Write(tokenHash)
	return b64.EncodeToString(m.Sum(nil)[:16])
}

// matchesPublicID reports whether id names the session under any key, so
// an ID listed before a secret rotation still works after it.
func (a *Auth) matchesPublicID(id string, tokenHash []byte) bool {
	for _, k := range a.sessionIDKeys {
		if hmac.Equal([]byte(sessionPublicID(k, tokenHash)), []byte(id)) {
			return true
		}
	}
	return false
}

// Sessions lists the user's live sessions, newest first; current, if not
// nil, is marked as such.
func (a *Auth) Sessions(ctx context.Context, userID int64, current *Session) ([]SessionInfo, error) {
	list, err := a.liveSessions(ctx, userID)
	if err != nil {
		return nil, err
	}
	out := make([]SessionInfo, len(list))
	for i, s := range list {
		out[i] = SessionInfo{
			ID:         sessionPublicID(a.sessionIDKeys[0], s.TokenHash),
			Current:    current != nil && bytes.Equal(current.TokenHash, s.TokenHash),
			CreatedAt:  s.CreatedAt,
			LastSeenAt: s.LastSeenAt,
			ExpiresAt:  minTime(s.IdleExpiresAt, s.ExpiresAt),
			Remember:   s.Remember,
			Device:     device.Name(s.UserAgent),
			IP:         s.IP,
		}
	}
	return out, nil
}

// liveSessions is the user's sessions that are still valid: the store's
// unexpired ones, less those of an older epoch, which load would refuse.
func (a *Auth) liveSessions(ctx context.Context, userID int64) ([]Session, error) {
	u, err := a.userByID(ctx, userID)
	if err != nil {
		return nil, fmt.Errorf("load user: %w", err)
	}
	list, err := timed(a.met.op(opListUserSessions), func() ([]Session, error) { return a.sessions.ListUserSessions(ctx, userID) })
	if err != nil {
		return nil, fmt.Errorf("list sessions: %w", err)
	}
	live := list[:0]
	for _, s := range list {
		if s.UserEpoch == u.Epoch {
			live = append(live, s)
		}
	}
	return live, nil
}

// RevokeSession ends the user's session with this public ID (see
// SessionInfo) on every instance at once, and returns it. It returns
// ErrNotFound if the user has no live session with that ID: another user's
// ID is not found either. actor is who asked, when not the user (an
// admin), for the security event.
func (a *Auth) RevokeSession(ctx context.Context, userID int64, id string, actor int64) (*Session, error) {
	list, err := a.liveSessions(ctx, userID)
	if err != nil {
		return nil, err
	}
	for _, s := range list {
		if !a.matchesPublicID(id, s.TokenHash) {
			continue
		}
		if err := a.deleteSession(ctx, s.TokenHash, endRevoked); err != nil {
			return nil, fmt.Errorf("delete session: %w", err)
		}
		a.record(ctx, Event{Type: EventSessionRevoked, UserID: userID, ActorID: actor, Detail: device.Name(s.UserAgent) + ", " + s.IP})
		return &s, nil
	}
	return nil, fmt.Errorf("session %q of user %d: %w", id, userID, ErrNotFound)
}

// RevokeOtherSessions ends every session of the user but keep (the one
// asking) and reports how many it ended.
func (a *Auth) RevokeOtherSessions(ctx context.Context, userID int64, keep *Session) (int, error) {
	list, err := a.liveSessions(ctx, userID)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, s := range list {
		if keep != nil && bytes.Equal(s.TokenHash, keep.TokenHash) {
			continue
		}
		if err := a.deleteSession(ctx, s.TokenHash, endRevoked); err != nil {
			return n, fmt.Errorf("delete session: %w", err)
		}
		n++
	}
	a.record(ctx, Event{Type: EventSessionsRevoked, UserID: userID, Detail: fmt.Sprintf("others: %d", n)})
	return n, nil
}

// sessionJSONItem is how a session appears in a listing.
type sessionItemJSON struct {
	ID         string    `json:"id"`
	Current    bool      `json:"current"`
	CreatedAt  time.Time `json:"createdAt"`
	LastSeenAt time.Time `json:"lastSeenAt"`
	ExpiresAt  time.Time `json:"expiresAt"`
	Remember   bool      `json:"remember"`
	Device     string    `json:"device"`
	IP         string    `json:"ip"`
}

func sessionsJSON(list []SessionInfo) []sessionItemJSON {
	out := make([]sessionItemJSON, len(list))
	for i, s := range list {
		out[i] = sessionItemJSON{ID: s.ID, Current: s.Current, CreatedAt: s.CreatedAt.UTC(), LastSeenAt: s.LastSeenAt.UTC(),
			ExpiresAt: s.ExpiresAt.UTC(), Remember: s.Remember, Device: s.Device, IP: s.IP}
	}
	return out
}

func (a *Auth) listSessions(w http.ResponseWriter, r *http.Request, cur *current) error {
	if cur.user == nil {
		return cur.unauthenticated()
	}
	list, err := a.Sessions(r.Context(), cur.user.ID, cur.session)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"sessions": sessionsJSON(list)})
	return nil
}

func (a *Auth) revokeSession(w http.ResponseWriter, r *http.Request, cur *current) error {
	if cur.user == nil {
		return cur.unauthenticated()
	}
	s, err := a.RevokeSession(r.Context(), cur.user.ID, r.PathValue("id"), 0)
	if err != nil {
		return err
	}
	current := cur.session != nil && bytes.Equal(s.TokenHash, cur.session.TokenHash)
	if current {
		// Signed out of this very browser: as a logout, with the cookies
		// (already deleted, so endSession deletes nothing more).
		cur.session, cur.familyHash = nil, nil
		if err := a.endSession(w, r, cur); err != nil {
			return err
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"revoked": true, "current": current})
	return nil
}

func (a *Auth) revokeOtherSessions(w http.ResponseWriter, r *http.Request, cur *current) error {
	if cur.user == nil {
		return cur.unauthenticated()
	}
	n, err := a.RevokeOtherSessions(r.Context(), cur.user.ID, cur.session)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"revoked": n})
	return nil
}
