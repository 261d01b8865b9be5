package latchkey

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
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

// ErrAPITokensUnsupported: the user store does not implement APITokenStore.
var ErrAPITokensUnsupported = errors.New("latchkey: the user store does not keep API tokens")

// apiTokenPrefix starts every API token, so scanners and people can tell
// one from other secrets, and a session token sent as a bearer is refused.
const apiTokenPrefix = "lk_"

// MaxAPITokenNameLen bounds an API token's name, in characters.
const MaxAPITokenNameLen = 64

// newAPIToken returns a fresh API token, "lk_" and 43 base64url characters
// of 256 random bits, and the hash a store keeps of it.
func newAPIToken() (plain string, hash []byte) {
	t := newToken()
	return apiTokenPrefix + encodeToken(t), hashToken(t)
}

// parseAPIToken returns the store hash of an API token. Anything but the
// prefix and exactly 43 canonical base64url characters is rejected, so a
// token has one spelling and one hash.
func parseAPIToken(s string) (hash []byte, ok bool) {
	rest, found := strings.CutPrefix(s, apiTokenPrefix)
	if !found {
		return nil, false
	}
	t, ok := parseToken(rest)
	if !ok {
		return nil, false
	}
	return hashToken(t), true
}

// apiTokens returns the user store as an APITokenStore.
func (a *Auth) apiTokens() (APITokenStore, error) {
	ts, ok := a.users.(APITokenStore)
	if !ok {
		return nil, fmt.Errorf("%w (%T)", ErrAPITokensUnsupported, a.users)
	}
	return ts, nil
}

// checkAPITokenName trims name and checks it is 1 to MaxAPITokenNameLen
// printable characters (spaces allowed, control characters not), so
// listings print cleanly.
func checkAPITokenName(name string) (string, error) { return checkLabel(name, "Token") }

// checkLabel trims a user's label for a credential (an API token's, a
// passkey's) and checks it: 1 to 64 printable characters. what starts the
// error's message.
func checkLabel(name, what string) (string, error) {
	name = strings.TrimSpace(name)
	n := utf8.RuneCountInString(name)
	if n < 1 || n > MaxAPITokenNameLen {
		return "", &InputError{Code: "invalid_input", Field: "name", Message: fmt.Sprintf("%s name must be 1 to %d characters long.", what, MaxAPITokenNameLen)}
	}
	for _, r := range name {
		if r == utf8.RuneError || !unicode.IsPrint(r) {
			return "", &InputError{Code: "invalid_input", Field: "name", Message: what + " name may contain printable characters and spaces only."}
		}
	}
	return name, nil
}

// CreateAPIToken creates an API token for the user and returns it: plain
// is the token itself, which is not kept anywhere and cannot be shown
// again. The name (trimmed, 1 to 64 printable characters) must be unique
// among the user's tokens, else the error wraps ErrConflict; an unknown user
// gives ErrNotFound. A ttl of 0 makes a token that never expires.
func (a *Auth) CreateAPIToken(ctx context.Context, username, name string, ttl time.Duration) (plain string, t *APIToken, err error) {
	ts, err := a.apiTokens()
	if err != nil {
		return "", nil, err
	}
	name, err = checkAPITokenName(name)
	if err != nil {
		return "", nil, err
	}
	if ttl < 0 {
		return "", nil, &InputError{Code: "invalid_input", Field: "expires", Message: "A token's lifetime cannot be negative."}
	}
	u, err := a.LookupUser(ctx, username)
	if err != nil {
		return "", nil, err
	}
	// Millisecond precision, as stores keep it, so t equals what they return.
	now := a.now().UTC().Truncate(time.Millisecond)
	plain, hash := newAPIToken()
	t = &APIToken{TokenHash: hash, UserID: u.ID, Name: name, CreatedAt: now}
	if ttl > 0 {
		t.ExpiresAt = now.Add(ttl)
	}
	if err := timedErr(a.met.op(opCreateAPIToken), func() error { return ts.CreateAPIToken(ctx, t) }); err != nil {
		if errors.Is(err, ErrConflict) {
			return "", nil, fmt.Errorf("user %q already has a token named %q: %w", u.Username, name, err)
		}
		return "", nil, fmt.Errorf("create API token: %w", err)
	}
	a.record(ctx, Event{Type: EventAPITokenCreated, UserID: u.ID, Detail: name})
	return plain, t, nil
}

// ListAPITokens returns the user's API tokens, expired ones included,
// ordered by ID; username "" lists every user's.
func (a *Auth) ListAPITokens(ctx context.Context, username string) ([]APIToken, error) {
	ts, err := a.apiTokens()
	if err != nil {
		return nil, err
	}
	var userID int64
	if username != "" {
		u, err := a.LookupUser(ctx, username)
		if err != nil {
			return nil, err
		}
		userID = u.ID
	}
	return timed(a.met.op(opListAPITokens), func() ([]APIToken, error) { return ts.ListAPITokens(ctx, userID) })
}

// RevokeAPIToken deletes the API token with this ID, which stops working at
// once. It returns ErrNotFound if there is no such token.
func (a *Auth) RevokeAPIToken(ctx context.Context, id int64) error {
	ts, err := a.apiTokens()
	if err != nil {
		return err
	}
	// Whose it is, for the event: the store finds tokens by hash or user
	// only, and revoking is an operator's rare act.
	all, err := ts.ListAPITokens(ctx, 0)
	if err != nil {
		return err
	}
	for _, t := range all {
		if t.ID == id {
			return a.revokeAPIToken(ctx, ts, &t)
		}
	}
	return fmt.Errorf("API token %d: %w", id, ErrNotFound)
}

func (a *Auth) revokeAPIToken(ctx context.Context, ts APITokenStore, t *APIToken) error {
	if err := timedErr(a.met.op(opDeleteAPIToken), func() error { return ts.DeleteAPIToken(ctx, t.ID) }); err != nil {
		return err
	}
	a.record(ctx, Event{Type: EventAPITokenRevoked, UserID: t.UserID, Detail: t.Name})
	return nil
}

// RevokeAPITokenByName deletes the user's API token with this name. It
// returns ErrNotFound if the user or the token does not exist.
func (a *Auth) RevokeAPITokenByName(ctx context.Context, username, name string) error {
	ts, err := a.apiTokens()
	if err != nil {
		return err
	}
	u, err := a.LookupUser(ctx, username)
	if err != nil {
		return err
	}
	tokens, err := timed(a.met.op(opListAPITokens), func() ([]APIToken, error) { return ts.ListAPITokens(ctx, u.ID) })
	if err != nil {
		return err
	}
	name = strings.TrimSpace(name)
	for _, t := range tokens {
		if t.Name == name {
			return a.revokeAPIToken(ctx, ts, &t)
		}
	}
	return fmt.Errorf("user %q has no token named %q: %w", u.Username, name, ErrNotFound)
}
