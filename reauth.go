package latchkey

import (
	"context"
	"errors"
	"net/http"
)

// Sensitive account changes (password, address, deletion) need proof that
// the person at the keyboard is the account's owner now, not whoever found
// the session open: a password login younger than Config.FreshLoginWindow,
// or the current password in the same request.

// ErrReauthRequired: the action needs the current password, since the
// session's login is not fresh (older than the window, or renewed without
// a password).
var ErrReauthRequired = errors.New("latchkey: enter your password again")

// ErrWrongPassword: the current password given for a sensitive action is
// wrong. It is 403, never 401: the user is still logged in.
var ErrWrongPassword = errors.New("latchkey: wrong password")

// passwordFieldError says which request field held the wrong or missing
// password, so the SPA can mark it.
type passwordFieldError struct {
	err   error
	field string
}

func (e *passwordFieldError) Error() string { return e.err.Error() + " (" + e.field + ")" }
func (e *passwordFieldError) Unwrap() error { return e.err }

// FreshLogin reports whether the session comes from a password login made
// within Config.FreshLoginWindow.
func (a *Auth) FreshLogin(s *Session) bool {
	return s != nil && s.Fresh && a.now().Sub(s.CreatedAt) < a.cfg.FreshLoginWindow
}

// CheckPassword checks u's current password as a login would, through the
// same throttle (per client and username, and per client), so a stolen
// session cannot be used to guess it faster than a login form could.
func (a *Auth) CheckPassword(ctx context.Context, ip string, u *User, pw string) error {
	got, err := a.authenticate(ctx, ip, u.Username, pw)
	if errors.Is(err, ErrInvalidCredentials) || err == nil && got.ID != u.ID {
		a.record(ctx, Event{Type: EventLoginFailed, UserID: u.ID, Detail: "reauth_wrong_password"})
		return ErrWrongPassword
	}
	return err
}

// reauth allows a sensitive action: with pw given it must be the user's
// password; without it, the login must be fresh. field names the request's
// password field in errors.
func (a *Auth) reauth(ctx context.Context, ip string, cur *current, pw, field string) error {
	if pw == "" {
		if a.FreshLogin(cur.session) {
			return nil
		}
		return &passwordFieldError{ErrReauthRequired, field}
	}
	if err := a.CheckPassword(ctx, ip, cur.user, pw); err != nil {
		if errors.Is(err, ErrWrongPassword) {
			return &passwordFieldError{err, field}
		}
		return err
	}
	return nil
}

// reauthBody reads a request's JSON object body (an empty body reads as
// {} when optional) and allows the sensitive action by its "password"
// field or a fresh login (see reauth). It returns the body for the
// action's other fields.
func (a *Auth) reauthBody(w http.ResponseWriter, r *http.Request, cur *current, optional bool) (jsonObject, error) {
	var obj jsonObject
	var err error
	if optional && r.ContentLength == 0 {
		obj = jsonObject{}
	} else if obj, err = readJSONObject(w, r, a.cfg.MaxBodyBytes); err != nil {
		return nil, err
	}
	pw, err := obj.str("password", false)
	if err != nil {
		return nil, err
	}
	if err := a.reauth(r.Context(), a.ClientIP(r), cur, pw, "password"); err != nil {
		return nil, err
	}
	return obj, nil
}
