package latchkey

import (
	"context"
	"errors"
	"time"
)

// AccountPurpose says what a mailed account token is for.
type AccountPurpose string

// The purposes of account tokens.
const (
	PurposeResetPassword AccountPurpose = "reset"        // forgot password: set a new one
	PurposeVerifyEmail   AccountPurpose = "verify-email" // prove the account's address
	PurposeChangeEmail   AccountPurpose = "change-email" // prove a new address before it replaces the old
	PurposeEmailLogin    AccountPurpose = "email-login"  // sign in by a mailed link
	PurposeEmailCode     AccountPurpose = "email-code"   // sign in by the code mailed with that link
)

// AccountPurposes are every purpose, for stores that must list them.
func AccountPurposes() []AccountPurpose {
	return []AccountPurpose{PurposeResetPassword, PurposeVerifyEmail, PurposeChangeEmail, PurposeEmailLogin, PurposeEmailCode}
}

// AccountToken is a single-use token mailed to a user: a password reset, an
// email verification or a change of email. A user has at most one per
// purpose, so a newer link supersedes an older one. Stores keep only its
// hash.
type AccountToken struct {
	UserID  int64
	Purpose AccountPurpose
	// TokenHash is the SHA-256 of the token's random part (32 bytes).
	TokenHash []byte
	// Email is the address the link went to: the account's for a reset or
	// verification, the new one for a change.
	Email string
	// UserEpoch is the user's Epoch when the token was issued; a token from
	// an earlier epoch (the password changed since) is not honoured.
	UserEpoch int64
	CreatedAt time.Time
	ExpiresAt time.Time
}

// Expired reports whether t is dead at now.
func (t *AccountToken) Expired(now time.Time) bool { return !now.Before(t.ExpiresAt) }

// AccountTokenStore keeps account tokens. It is implemented by session
// stores (the tokens are as short-lived as sessions, and live where they
// do, so every instance sharing sessions shares them); the account flows
// refuse to start without it. Implementations must be safe for concurrent
// use, and treat a token as gone once Expired reports true by their clock.
type AccountTokenStore interface {
	// IssueAccountToken stores t as its user's token of its purpose,
	// replacing any earlier one in the same atomic step.
	IssueAccountToken(ctx context.Context, t *AccountToken) error

	// UseAccountToken deletes and returns the user's unexpired token of
	// this purpose if its hash is tokenHash: of concurrent uses, exactly
	// one gets it. Otherwise it returns ErrNotFound and changes nothing, so
	// a wrong guess cannot cancel the real link.
	UseAccountToken(ctx context.Context, userID int64, purpose AccountPurpose, tokenHash []byte) (*AccountToken, error)

	// DeleteAccountTokens deletes the user's token of this purpose, or of
	// every purpose when purpose is "". Deleting none is not an error.
	DeleteAccountTokens(ctx context.Context, userID int64, purpose AccountPurpose) error
}

// ErrAccountTokensUnsupported: the session store does not implement
// AccountTokenStore.
var ErrAccountTokensUnsupported = errors.New("latchkey: the session store does not keep account tokens")
