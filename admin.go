package latchkey

import (
	"context"
	"errors"
	"fmt"
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
	a.log.InfoContext(ctx, "email verified by an operator", "user_id", u.ID)
	return u, nil
}
