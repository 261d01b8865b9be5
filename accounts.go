package latchkey

import (
	"context"
	"errors"
	"fmt"

	"github.com/latchkey/latchkey/username"
)

// CreateUser validates and creates a user, as registration does: the
// username is normalised, the email checked and the password held to the
// policy (see password.Check).
func (a *Auth) CreateUser(ctx context.Context, username, pw, email string) (*User, error) {
	display, key, err := NormalizeUsername(username)
	if err != nil {
		return nil, err
	}
	if err := ValidateEmail(email); err != nil {
		return nil, err
	}
	if err := checkNewPassword(display, pw); err != nil {
		return nil, err
	}
	return a.createUser(ctx, display, key, pw, email)
}

func (a *Auth) createUser(ctx context.Context, display, key, pw, email string) (*User, error) {
	// Registration reveals whether a name is taken anyway (409); asking
	// first spares a hash for the common case. CreateUser still decides races.
	if _, err := timed(a.met.op(opUserByUsername), func() (*User, error) { return a.users.UserByUsernameKey(ctx, key) }); err == nil {
		return nil, ErrUsernameTaken
	} else if !errors.Is(err, ErrNotFound) {
		return nil, err
	}
	hash, err := a.hash(ctx, pw)
	if err != nil {
		return nil, err
	}
	now := a.now()
	u := &User{Username: display, UsernameKey: key, UsernameSkeleton: username.Skeleton(display),
		Email: email, PasswordHash: hash, CreatedAt: now, UpdatedAt: now}
	if err := timedErr(a.met.op(opCreateUser), func() error { return a.users.CreateUser(ctx, u) }); err != nil {
		return nil, fmt.Errorf("create user: %w", err)
	}
	return u, nil
}

// EnsureDemoUser creates the tutorial's demo account test/test if it does
// not exist, bypassing the password policy: it is the only way to get a
// password that weak, and reports whether it created the account.
func (a *Auth) EnsureDemoUser(ctx context.Context) (bool, error) {
	display, key, err := NormalizeUsername("test")
	if err != nil {
		return false, err
	}
	_, err = a.createUser(ctx, display, key, "test", "")
	if errors.Is(err, ErrUsernameTaken) {
		return false, nil
	}
	return err == nil, err
}

// LookupUser finds a user by username in any letter case.
func (a *Auth) LookupUser(ctx context.Context, username string) (*User, error) {
	_, key, err := NormalizeUsername(username)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNotFound, err)
	}
	return timed(a.met.op(opUserByUsername), func() (*User, error) { return a.users.UserByUsernameKey(ctx, key) })
}

// SetPassword replaces a user's password (held to the policy) and ends all
// of the user's sessions, as any password change must.
func (a *Auth) SetPassword(ctx context.Context, username, pw string) error {
	u, err := a.LookupUser(ctx, username)
	if err != nil {
		return err
	}
	if err := checkNewPassword(u.Username, pw); err != nil {
		return err
	}
	if err := a.replacePassword(ctx, u, pw); err != nil {
		return err
	}
	a.record(ctx, Event{Type: EventPasswordChanged, UserID: u.ID, Detail: "by an operator"})
	return nil
}

// EndUserSessions ends every session and token family of the user,
// including any a concurrent login is creating right now: it advances the
// user's epoch (one write; sessions of an older epoch are refused when
// loaded), then deletes what it can find. It reports how many unexpired
// sessions it deleted.
func (a *Auth) EndUserSessions(ctx context.Context, userID int64) (int, error) {
	_, n, err := a.endUserSessions(ctx, userID)
	return n, err
}

// endUserSessions is EndUserSessions that also returns the user's new epoch.
func (a *Auth) endUserSessions(ctx context.Context, userID int64) (epoch int64, n int, err error) {
	if epoch, err = timed(a.met.op(opAdvanceEpoch), func() (int64, error) { return a.users.AdvanceEpoch(ctx, userID) }); err != nil {
		return 0, 0, fmt.Errorf("end sessions: %w", err)
	}
	n, err = timed(a.met.op(opDeleteUserSessions), func() (int, error) { return a.sessions.DeleteUserSessions(ctx, userID) })
	if err != nil {
		// The epoch already ended them; what is left is only garbage.
		a.log.WarnContext(ctx, "ended sessions stay stored until they expire", "user_id", userID, "err", err)
	}
	a.met.epochAdvanced(n)
	return epoch, n, nil
}

// DeleteUser deletes the user named username as DeleteAccount does, for
// an operator.
func (a *Auth) DeleteUser(ctx context.Context, username string) error {
	u, err := a.LookupUser(ctx, username)
	if err != nil {
		return err
	}
	return a.removeAccount(ctx, u, 0)
}

// ListUsers pages through users by ID; see UserStore.ListUsers.
func (a *Auth) ListUsers(ctx context.Context, afterID int64, limit int) ([]User, error) {
	return timed(a.met.op(opListUsers), func() ([]User, error) { return a.users.ListUsers(ctx, afterID, limit) })
}
