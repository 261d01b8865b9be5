package latchkey

import (
	"context"
	"errors"
	"fmt"
	"net/http"
)

// ErrEmailUnverified: with Config.RequireVerifiedEmail, the account's
// address is not verified yet, so it cannot log in.
var ErrEmailUnverified = errors.New("latchkey: email not verified")

// ErrNoEmail: the account has no address to verify.
var ErrNoEmail = errors.New("latchkey: no email address")

// SendVerification mails u a link that verifies its address; a newer link
// replaces an older one. It is a no-op for a verified address, refuses an
// account without one, and is held to the mail budgets (429 with how long
// to wait).
func (a *Auth) SendVerification(ctx context.Context, ip string, u *User) error {
	if u.Email == "" {
		return ErrNoEmail
	}
	if u.EmailVerified {
		return nil
	}
	if err := a.chargeMail(ctx, ip, u.Email); err != nil {
		return err
	}
	return a.mailLink(ctx, u, PurposeVerifyEmail, u.Email)
}

// VerifyEmail marks the address a verification link went to as verified,
// if it is still the account's. It returns ErrEmailTaken if another
// account verified that address first.
func (a *Auth) VerifyEmail(ctx context.Context, token string) (*User, error) {
	u, t, err := a.linkUser(ctx, token, PurposeVerifyEmail)
	if err != nil {
		return nil, err
	}
	if EmailKey(t.Email) != EmailKey(u.Email) {
		return nil, ErrInvalidToken // the address changed since the link went out
	}
	if err := timedErr(a.met.op(opUpdateEmail), func() error { return a.users.UpdateEmail(ctx, u.ID, u.Email, u.Email, true, a.now()) }); errors.Is(err, ErrConflict) {
		return nil, ErrInvalidToken // the address changed since it was read
	} else if err != nil {
		return nil, fmt.Errorf("verify email: %w", err)
	}
	u.EmailVerified = true
	a.record(ctx, Event{Type: EventEmailVerified, UserID: u.ID})
	return u, nil
}

func (a *Auth) resendVerification(w http.ResponseWriter, r *http.Request, cur *current) error {
	if cur.user == nil {
		return cur.unauthenticated()
	}
	if err := a.SendVerification(r.Context(), a.ClientIP(r), cur.user); err != nil {
		return err
	}
	writeJSON(w, http.StatusAccepted, map[string]any{"sent": !cur.user.EmailVerified, "emailVerified": cur.user.EmailVerified})
	return nil
}
