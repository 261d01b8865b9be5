package latchkey

import (
	"context"
	"time"
)

// APIToken is a long-lived bearer token for scripts, CLIs and mobile apps,
// sent as "Authorization: Bearer lk_…". The token is shown once, when it is
// created; stores keep only its SHA-256.
type APIToken struct {
	// ID is assigned by the store on creation and never reused.
	ID int64
	// TokenHash is the SHA-256 of the token's random part (32 bytes); unique.
	TokenHash []byte
	UserID    int64
	// Name says what the token is for ("ci"); unique per user.
	Name      string
	CreatedAt time.Time
	// ExpiresAt is when the token stops working; zero means never.
	ExpiresAt time.Time
	// LastUsedAt is when the token was last accepted, renewed at most once
	// per TouchInterval; zero if never used.
	LastUsedAt time.Time
}

// Expired reports whether t is dead at now.
func (t *APIToken) Expired(now time.Time) bool {
	return !t.ExpiresAt.IsZero() && !now.Before(t.ExpiresAt)
}

// APITokenStore keeps API tokens. It is implemented by user stores (tokens
// belong to users and are as durable); Auth accepts bearer tokens only when
// its UserStore implements it. Implementations must be safe for concurrent
// use.
type APITokenStore interface {
	// CreateAPIToken inserts t and sets t.ID. It returns ErrNotFound if no
	// user has t.UserID, and ErrConflict if the user already has a token
	// with this Name or a token with this TokenHash exists.
	CreateAPIToken(ctx context.Context, t *APIToken) error

	// FindAPIToken returns the unexpired token with this hash, or
	// ErrNotFound.
	FindAPIToken(ctx context.Context, tokenHash []byte) (*APIToken, error)

	// ListAPITokens returns the user's tokens, expired ones included,
	// ordered by ID; userID 0 lists every user's.
	ListAPITokens(ctx context.Context, userID int64) ([]APIToken, error)

	// TouchAPIToken sets LastUsedAt. It returns ErrNotFound if no token has
	// this id.
	TouchAPIToken(ctx context.Context, id int64, at time.Time) error

	// DeleteAPIToken removes the token. It returns ErrNotFound if no token
	// has this id. Deleting a user deletes its tokens.
	DeleteAPIToken(ctx context.Context, id int64) error
}
