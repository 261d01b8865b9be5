package latchkey

import (
	"context"
	"time"
)

// Session is the server-side record behind a session cookie. The cookie holds
// a 256-bit random token; the store only ever sees its SHA-256 hash, so a
// leaked store holds no usable sessions.
type Session struct {
	// TokenHash is the SHA-256 of the cookie's token (32 bytes). It is the key.
	TokenHash []byte
	UserID    int64
	CreatedAt time.Time
	// LastSeenAt is when the idle deadline was last renewed.
	LastSeenAt time.Time
	// IdleExpiresAt is when the session dies if unused; never after ExpiresAt.
	IdleExpiresAt time.Time
	// ExpiresAt is the absolute end of the session, however active it is.
	ExpiresAt time.Time
	// Remember is set for "remember me" logins (longer timeouts, persistent cookie).
	Remember bool
	// Fresh is true for a session created by entering a password and not yet
	// marked stale by session protection; sensitive operations can require it.
	Fresh bool
	// UserAgent is the User-Agent at login, cut to MaxUserAgentBytes; session
	// protection compares it.
	UserAgent string
	// IP is the client address at login, for session listings.
	IP string
	// UserEpoch is the user's Epoch when the session was made; the session
	// is valid only while the user's Epoch is still this.
	UserEpoch int64
	// Generation counts the refresh-token rotations of a token-mode session
	// (a refresh-token family); it stays 0 for cookie sessions. Only
	// RotateSession changes it.
	Generation int64
	// RotatedAt is when Generation last changed, or when the session was
	// created; whole seconds, as token timestamps are.
	RotatedAt time.Time
}

// MaxUserAgentBytes bounds the User-Agent kept in a Session.
const MaxUserAgentBytes = 512

// Expired reports whether s is dead at now: past its idle or absolute deadline.
func (s *Session) Expired(now time.Time) bool {
	return !now.Before(s.IdleExpiresAt) || !now.Before(s.ExpiresAt)
}

// SessionStore keeps sessions by token hash. Implementations must be safe for
// concurrent use, and treat a session as gone from the moment Expired reports
// true by their own clock, whether or not it has been pruned yet.
type SessionStore interface {
	// CreateSession inserts s. It returns ErrConflict if a session with the
	// same TokenHash exists (a 256-bit random token never collides, so this
	// signals a bug).
	CreateSession(ctx context.Context, s *Session) error

	// FindSession returns ErrNotFound if no unexpired session has this token
	// hash.
	FindSession(ctx context.Context, tokenHash []byte) (*Session, error)

	// UpdateSession writes the mutable fields of s (LastSeenAt, IdleExpiresAt,
	// Fresh) to the session with s.TokenHash. It returns ErrNotFound if that
	// session is gone or expired, and never resurrects it.
	UpdateSession(ctx context.Context, s *Session) error

	// RotateSession writes s.Generation and s.RotatedAt, with the fields
	// UpdateSession writes, to the session with s.TokenHash, but only if
	// that session's stored Generation is prevGen; it is the atomic
	// compare-and-swap behind single-use refresh tokens, so of several
	// concurrent rotations from one generation exactly one succeeds. It
	// returns ErrConflict if the stored Generation is not prevGen, and
	// ErrNotFound if the session is gone or expired.
	RotateSession(ctx context.Context, s *Session, prevGen int64) error

	// DeleteSession removes the session. Deleting a missing session is not an
	// error, so logout is idempotent.
	DeleteSession(ctx context.Context, tokenHash []byte) error

	// DeleteUserSessions removes every session of the user and reports how
	// many unexpired ones there were.
	DeleteUserSessions(ctx context.Context, userID int64) (int, error)

	// ListUserSessions returns the user's unexpired sessions, newest first
	// (ties broken by token hash).
	ListUserSessions(ctx context.Context, userID int64) ([]Session, error)
}

// SessionUserFinder is implemented by stores that keep users and sessions
// together and can read a session and its user in one step (one query),
// so an authenticated request costs one round trip to the store instead of
// two. Auth uses it, found by type assertion, when the same value is both
// its UserStore and its SessionStore; nothing is cached across requests.
type SessionUserFinder interface {
	// FindSessionUser returns the unexpired session with this token hash
	// and its user, read together, as FindSession and UserByID would, but
	// for the user's UsernameSkeleton, which it may leave empty: no request
	// needs it, and every column costs on this path. It
	// returns ErrNotFound if there is no such session, and the session with
	// a nil user if the session's user does not exist.
	FindSessionUser(ctx context.Context, tokenHash []byte) (*Session, *User, error)
}

// SessionPruner is implemented by stores whose expired sessions stay on disk
// until removed (SQL stores); stores with native expiry need not.
type SessionPruner interface {
	// PruneSessions deletes up to limit sessions that have expired and
	// reports how many it deleted, so callers can prune in bounded batches.
	// A limit of zero or less deletes none.
	PruneSessions(ctx context.Context, limit int) (int, error)
}

// Pinger is implemented by stores that depend on a service or file that can
// become unreachable; /readyz calls it.
type Pinger interface {
	Ping(ctx context.Context) error
}

// AttemptLimiter is implemented by session stores that count login and
// registration attempts for every instance sharing them, so that N
// instances behind a load balancer allow an attacker the attempts of one,
// not N times as many. Auth uses it, found by type assertion on its
// SessionStore, instead of counting in its own memory. Implementations must
// be safe for concurrent use.
//
// Each key has a token bucket of burst tokens, refilled at one per refill
// (a refill of zero or less never throttles). A key never seen, or
// forgotten, has a full bucket; so a store may forget a key once its bucket
// has refilled, and must not sooner. Keys are opaque strings Auth derives (a
// hex SHA-256 of a purpose, the client address and perhaps the username),
// never a raw name or address; each purpose (failed logins per username,
// failed logins per client, registrations) has its own keys and its own
// burst and refill. now is the caller's clock, so every instance and the
// tests decide time alike; stores may keep it to the millisecond.
//
// Auth takes a token before it checks a password, so that concurrent
// guesses cannot outrun the bucket, and gives it back (AttemptRefund) or
// forgets the key (AttemptReset) when the attempt turns out not to count.
type AttemptLimiter interface {
	// AttemptTake spends one token of key's bucket if it holds a whole one,
	// and returns 0. Otherwise it spends nothing and returns how long until
	// the bucket holds one (see AttemptBucketWait). It is atomic: of n
	// concurrent calls on a bucket holding k whole tokens, min(n, k) take
	// one.
	AttemptTake(ctx context.Context, key string, burst int, refill time.Duration, now time.Time) (time.Duration, error)

	// AttemptRefund gives back one token that AttemptTake spent from key,
	// atomically; the bucket never holds more than burst (a refund to a
	// full or forgotten bucket does nothing).
	AttemptRefund(ctx context.Context, key string, refill time.Duration, now time.Time) error

	// AttemptReset forgets key (refills its bucket), as after a successful
	// login.
	AttemptReset(ctx context.Context, key string) error
}
