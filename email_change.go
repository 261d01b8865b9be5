package latchkey

import (
	"context"
	"errors"
	"fmt"
	"net/http"
)

// ChangeEmail starts a change of u's address to email: a confirmation link
// goes to the new address, and the address changes only when it is
// followed (ConfirmEmail). The caller has checked the user's password or a
// fresh login (see FreshLogin).
func (a *Auth) ChangeEmail(ctx context.Context, ip string, u *User, email string) error {
	if email == "" {
		return &InputError{Code: "invalid_input", Field: "email", Message: "Enter the new email address."}
	}
	if err := ValidateEmail(email); err != nil {
		return err
	}
	if EmailKey(email) == EmailKey(u.Email) && u.EmailVerified {
		return &InputError{Code: "invalid_input", Field: "email", Message: "That is already your address."}
	}
	if err := a.chargeMail(ctx, ip, email); err != nil {
		return err
	}
	return a.mailLink(ctx, u, PurposeChangeEmail, email)
}

// ConfirmEmail makes the address a change-of-address link went to the
// account's, verified, and mails a notice to the old address. It returns
// ErrEmailTaken if another account verified that address meanwhile.
func (a *Auth) ConfirmEmail(ctx context.Context, token string) (*User, error) {
	u, t, err := a.linkUser(ctx, token, PurposeChangeEmail)
	if err != nil {
		return nil, err
	}
	old := u.Email
	if err := timedErr(a.met.op(opUpdateEmail), func() error { return a.users.UpdateEmail(ctx, u.ID, old, t.Email, true, a.now()) }); errors.Is(err, ErrConflict) {
		return nil, ErrInvalidToken // the address changed since it was read
	} else if err != nil {
		return nil, fmt.Errorf("change email: %w", err)
	}
	u.Email, u.EmailVerified = t.Email, true
	// A verification link to the old address must not verify it again.
	if err := timedErr(a.met.op(opDeleteAccountTokens), func() error { return a.accountTokens.DeleteAccountTokens(ctx, u.ID, PurposeVerifyEmail) }); err != nil {
		a.log.WarnContext(ctx, "old verification link not deleted", "user_id", u.ID, "err", err)
	}
	if old != "" && EmailKey(old) != EmailKey(t.Email) {
		a.notify(ctx, u, mailEmailChanged, old)
	}
	a.record(ctx, Event{Type: EventEmailChanged, UserID: u.ID})
	return u, nil
}

func (a *Auth) changeEmail(w http.ResponseWriter, r *http.Request, cur *current) error {
	if cur.user == nil {
		return cur.unauthenticated()
	}
	obj, err := readJSONObject(w, r, a.cfg.MaxBodyBytes)
	if err != nil {
		return err
	}
	email, err := obj.str("email", true)
	if err != nil {
		return err
	}
	pw, err := obj.str("password", false)
	if err != nil {
		return err
	}
	ip := a.ClientIP(r)
	if err := a.reauth(r.Context(), ip, cur, pw, "password"); err != nil {
		return err
	}
	if err := a.ChangeEmail(r.Context(), ip, cur.user, email); err != nil {
		return err
	}
	writeJSON(w, http.StatusAccepted, map[string]any{"sent": true,
		"detail": "A link to confirm the new address is on its way to it."})
	return nil
}
