package latchkey

import (
	"context"
	"errors"
	"time"
)

// FactorKind names a kind of second-factor record.
type FactorKind string

// The kinds of factor records latchkey keeps.
const (
	// FactorTOTP is a user's authenticator app: Secret is the TOTP
	// secret, sealed under Config.Secrets; Counter is the last time step
	// accepted, so a code works once. A user has at most one, with ID
	// "totp".
	FactorTOTP FactorKind = "totp"
	// FactorTOTPSetup is a TOTP secret shown to the user but not yet
	// confirmed with a code: it becomes their FactorTOTP when confirmed.
	// It is not a factor a login can use.
	FactorTOTPSetup FactorKind = "totp_setup"
	// FactorRecoveryCode is one single-use recovery code: its ID is the
	// hex SHA-256 of the code (recoverycode.Hash), Secret is empty, and
	// using it deletes it.
	FactorRecoveryCode FactorKind = "recovery_code"
)

// MaxFactorIDBytes bounds Factor.ID, so every store can index it.
const MaxFactorIDBytes = 255

// Factor is one record of a user's second factors: an authenticator app's
// secret, a recovery code, and later a passkey. Stores keep what latchkey
// gives them and read none of it but the keys (UserID, Kind, ID) and
// Counter.
type Factor struct {
	UserID int64
	Kind   FactorKind
	// ID tells apart the factors of one kind of a user (a recovery code's
	// hash, a passkey's credential id); at most MaxFactorIDBytes.
	ID string
	// Name is what the user calls it, if anything.
	Name string
	// Secret is the kind's own data, opaque to the store (a sealed TOTP
	// secret, a serialized credential); it may be empty.
	Secret []byte
	// Counter only grows (AdvanceFactorCounter): TOTP's last accepted time
	// step, a passkey's signature counter.
	Counter   int64
	CreatedAt time.Time
	// LastUsedAt is when the factor last logged in; zero if never.
	LastUsedAt time.Time
}

// MFAStore keeps users' second factors. Auth finds it by type assertion on
// its UserStore, since factors are as durable as passwords and belong with
// them; latchkey's SQL and memory stores have it. Auth refuses to start
// without it, because users who enrolled a factor must never log in
// without it. Implementations must be safe for concurrent use.
//
// Each factor is keyed by (UserID, Kind, ID). A store that implements both
// MFAStore and UserStore deletes a user's factors with the user.
type MFAStore interface {
	// Factors returns the user's factors of kind, or of every kind when
	// kind is "", ordered by Kind, then CreatedAt, then ID.
	Factors(ctx context.Context, userID int64, kind FactorKind) ([]Factor, error)

	// AddFactor stores f. It returns ErrConflict if the user has a factor
	// of the same kind and ID.
	AddFactor(ctx context.Context, f *Factor) error

	// ReplaceFactors deletes the user's factors of kind and stores fs,
	// which are all of that user and kind, in one atomic step: of
	// concurrent replacements one set stands whole, never a mix.
	ReplaceFactors(ctx context.Context, userID int64, kind FactorKind, fs []Factor) error

	// AdvanceFactorCounter sets the factor's Counter to counter and its
	// LastUsedAt to at, if its stored Counter is below counter, in one
	// atomic step: of concurrent advances to one counter exactly one
	// succeeds, across every instance sharing the store. It returns
	// ErrConflict if the stored Counter is not below counter, and
	// ErrNotFound if the user has no such factor.
	AdvanceFactorCounter(ctx context.Context, userID int64, kind FactorKind, id string, counter int64, at time.Time) error

	// DeleteFactor deletes the factor, or returns ErrNotFound if the user
	// has no such factor: of concurrent deletions of one factor exactly
	// one succeeds, which is how a single-use factor is spent.
	DeleteFactor(ctx context.Context, userID int64, kind FactorKind, id string) error

	// DeleteFactors deletes the user's factors of kind, or of every kind
	// when kind is "", and reports how many it deleted.
	DeleteFactors(ctx context.Context, userID int64, kind FactorKind) (int, error)
}

// PendingLogin is a login whose password was right and whose second
// factor is still to come: the state behind the HttpOnly cookie that
// POST /login answers a user with a factor with. It is not a session:
// nothing but the second step accepts it.
type PendingLogin struct {
	// TokenHash is the SHA-256 of the cookie's token and the browser's
	// CSRF cookie (32 bytes): the key, and what binds it to the browser.
	TokenHash []byte
	UserID    int64
	// UserEpoch is the user's Epoch at the password step: a password
	// change or "log out everywhere" since ends the pending login too.
	UserEpoch int64
	// Remember is the login's "remember me", for the session it becomes.
	Remember bool
	// Attempts counts the second steps tried with it.
	Attempts  int
	CreatedAt time.Time
	ExpiresAt time.Time
}

// Expired reports whether p is dead at now.
func (p *PendingLogin) Expired(now time.Time) bool { return !now.Before(p.ExpiresAt) }

// PendingLoginStore keeps pending logins. Auth finds it by type assertion
// on its SessionStore: they are as short-lived as sessions and must be
// shared as widely, so that the second step can reach any instance. Every
// session store in this module has it; Auth refuses to start without it.
// Implementations must be safe for concurrent use, and treat a pending
// login as gone once Expired reports true by their clock.
type PendingLoginStore interface {
	// CreatePendingLogin stores p. It returns ErrConflict if one with the
	// same TokenHash exists.
	CreatePendingLogin(ctx context.Context, p *PendingLogin) error

	// AttemptPendingLogin counts one attempt at the second step: if the
	// unexpired pending login with this hash has had fewer than max
	// attempts, it increments Attempts and returns the login as it now
	// is, in one atomic step, so that of any number of concurrent attempts
	// at most max are ever counted. Otherwise it returns ErrNotFound, and
	// deletes the login if it has had max.
	AttemptPendingLogin(ctx context.Context, tokenHash []byte, max int) (*PendingLogin, error)

	// DeletePendingLogin deletes the pending login, or returns ErrNotFound
	// if there is no unexpired one with this hash: of concurrent deletions
	// exactly one succeeds, so one second step alone turns it into a
	// session.
	DeletePendingLogin(ctx context.Context, tokenHash []byte) error
}

// ErrMFAUnsupported: the stores cannot keep second factors or pending
// logins.
var ErrMFAUnsupported = errors.New("latchkey: the stores do not keep second factors")
