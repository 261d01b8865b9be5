package latchkey

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// Account actions for an operator ("latchkey user …", an embedder's admin
// page): trusted callers, so no mail budgets and no HTTP.

// ErrNoAppURL: a link was asked for, but Config.AppURL is unknown.
var ErrNoAppURL = errors.New("latchkey: no app URL to build links on (Config.AppURL)")

// ResetLink issues a password reset link for the user and returns it
// instead of mailing it, for operators without mail: the same link the
// forgot flow mails, replacing any earlier one, bound to the user's
// current password (epoch) and address, and working for
// Config.ResetTokenTTL, once. It works for users without an address too.
// Hand it to the user over a trusted channel: it is as good as the password.
func (a *Auth) ResetLink(ctx context.Context, username string) (string, error) {
	if a.cfg.AppURL == "" {
		return "", ErrNoAppURL
	}
	u, err := a.LookupUser(ctx, username)
	if err != nil {
		return "", err
	}
	link, err := a.issueLink(ctx, u, PurposeResetPassword, u.Email)
	if err != nil {
		return "", err
	}
	a.log.InfoContext(ctx, "password reset link issued by an operator", "user_id", u.ID)
	return link, nil
}

// MarkEmailVerified marks the user's current address verified, as
// following a verification link would. It returns ErrNoEmail for a user
// without an address and ErrEmailTaken if another user has that address
// verified; an address verified already is left as it is.
func (a *Auth) MarkEmailVerified(ctx context.Context, username string) (*User, error) {
	u, err := a.LookupUser(ctx, username)
	if err != nil {
		return nil, err
	}
	if u.Email == "" {
		return nil, ErrNoEmail
	}
	if u.EmailVerified {
		return u, nil
	}
	if err := timedErr(a.met.op(opUpdateEmail), func() error { return a.users.UpdateEmail(ctx, u.ID, u.Email, u.Email, true, a.now()) }); err != nil {
		return nil, fmt.Errorf("verify email: %w", err)
	}
	u.EmailVerified = true
	a.record(ctx, Event{Type: EventEmailVerified, UserID: u.ID, Detail: "by an operator"})
	return u, nil
}

// The admin's actions on other accounts. Each takes the acting admin's id
// (0 for an operator at the command line) for the security event it
// records; none checks that the actor may act: the admin API and the CLI
// do.

// SetRoles replaces the user's roles (see ValidRole) and returns the user.
func (a *Auth) SetRoles(ctx context.Context, userID int64, roles []string, actor int64) (*User, error) {
	roles, err := NormalizeRoles(roles)
	if err != nil {
		return nil, err
	}
	if err := timedErr(a.met.op(opSetRoles), func() error { return a.users.SetRoles(ctx, userID, roles, a.now()) }); err != nil {
		return nil, fmt.Errorf("set roles: %w", err)
	}
	a.record(ctx, Event{Type: EventRoleChanged, UserID: userID, ActorID: actor, Detail: "=" + strings.Join(roles, ",")})
	return a.userByID(ctx, userID)
}

// ChangeRole gives the user the role (add) or takes it away, and reports
// whether that changed anything.
func (a *Auth) ChangeRole(ctx context.Context, userID int64, role string, add bool, actor int64) (bool, error) {
	if !ValidRole(role) {
		return false, &InputError{Code: "invalid_input", Field: "role", Message: "A role is lower-case letters, digits and _ . : - (at most 64), starting with a letter."}
	}
	if add {
		u, err := a.userByID(ctx, userID)
		if err != nil {
			return false, err
		}
		if !u.HasRole(role) && len(u.Roles) >= MaxRoles {
			return false, &InputError{Code: "invalid_input", Field: "role", Message: "At most 32 roles."}
		}
	}
	changed, err := timed(a.met.op(opChangeRole), func() (bool, error) { return a.users.ChangeRole(ctx, userID, role, add, a.now()) })
	if err != nil {
		return false, fmt.Errorf("change role: %w", err)
	}
	if changed {
		sign := "-"
		if add {
			sign = "+"
		}
		a.record(ctx, Event{Type: EventRoleChanged, UserID: userID, ActorID: actor, Detail: sign + role})
	}
	return changed, nil
}

// LockUser locks the account: it cannot log in, its sessions and token
// families end at once on every instance (the epoch moves on), and its API
// tokens are refused until it is unlocked.
func (a *Auth) LockUser(ctx context.Context, userID, actor int64) (*User, error) {
	if err := timedErr(a.met.op(opSetLocked), func() error { return a.users.SetLocked(ctx, userID, true, a.now()) }); err != nil {
		return nil, fmt.Errorf("lock user: %w", err)
	}
	if _, err := a.EndUserSessions(ctx, userID); err != nil {
		return nil, err
	}
	a.record(ctx, Event{Type: EventAccountLocked, UserID: userID, ActorID: actor})
	return a.userByID(ctx, userID)
}

// UnlockUser lets a locked account log in again; its old sessions stay
// ended.
func (a *Auth) UnlockUser(ctx context.Context, userID, actor int64) (*User, error) {
	if err := timedErr(a.met.op(opSetLocked), func() error { return a.users.SetLocked(ctx, userID, false, a.now()) }); err != nil {
		return nil, fmt.Errorf("unlock user: %w", err)
	}
	a.record(ctx, Event{Type: EventAccountUnlocked, UserID: userID, ActorID: actor})
	return a.userByID(ctx, userID)
}

// LogoutUser ends every session and token family of the user, on every
// instance at once, and reports how many live ones there were.
func (a *Auth) LogoutUser(ctx context.Context, userID, actor int64) (int, error) {
	n, err := a.EndUserSessions(ctx, userID)
	if err != nil {
		return 0, err
	}
	a.record(ctx, Event{Type: EventSessionsRevoked, UserID: userID, ActorID: actor, Detail: fmt.Sprintf("all: %d", n)})
	return n, nil
}

// SendPasswordReset mails the user a password reset link, as the forgot
// flow would, but at once and without its budgets. It returns ErrNoEmail
// for a user without an address.
func (a *Auth) SendPasswordReset(ctx context.Context, userID, actor int64) error {
	u, err := a.userByID(ctx, userID)
	if err != nil {
		return err
	}
	if u.Email == "" {
		return ErrNoEmail
	}
	if err := a.issueAndMail(ctx, u, PurposeResetPassword, u.Email); err != nil {
		return fmt.Errorf("send reset link: %w", err)
	}
	a.record(ctx, Event{Type: EventResetRequested, UserID: userID, ActorID: actor})
	return nil
}

// RemoveUser deletes the account as DeleteAccount does, for an admin.
func (a *Auth) RemoveUser(ctx context.Context, userID, actor int64) error {
	u, err := a.userByID(ctx, userID)
	if err != nil {
		return err
	}
	return a.removeAccount(ctx, u, actor)
}

// SearchUsers pages through the users whose username or address contains
// query (any letter case; all users when empty), by ID.
func (a *Auth) SearchUsers(ctx context.Context, query string, afterID int64, limit int) ([]User, error) {
	q := strings.ToLower(strings.TrimSpace(query))
	return timed(a.met.op(opSearchUsers), func() ([]User, error) { return a.users.SearchUsers(ctx, q, afterID, limit) })
}
