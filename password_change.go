package latchkey

import (
	"context"
	"fmt"
	"net/http"
)

// ChangePassword replaces the password of u, who proved it with current,
// with next (held to the policy). Every session and token family of u ends,
// mailed reset links die with them (the user's epoch moves on), and API
// tokens too when revokeAPITokens is set; a notice is mailed. The caller
// starts a new session for the browser that asked, as the HTTP handler does.
func (a *Auth) ChangePassword(ctx context.Context, ip string, u *User, current, next string, revokeAPITokens bool) error {
	if err := checkNewPassword(u.Username, next); err != nil {
		return err
	}
	if err := a.CheckPassword(ctx, ip, u, current); err != nil {
		return err
	}
	if err := a.setPassword(ctx, u, next); err != nil {
		return err
	}
	if revokeAPITokens {
		if err := a.revokeAPITokens(ctx, u.ID); err != nil {
			return fmt.Errorf("revoke API tokens: %w", err)
		}
	}
	detail := ""
	if revokeAPITokens {
		detail = "API tokens revoked"
	}
	a.record(ctx, Event{Type: EventPasswordChanged, UserID: u.ID, Detail: detail})
	return nil
}

// revokeAPITokens deletes every API token of the user, if the user store
// keeps them.
func (a *Auth) revokeAPITokens(ctx context.Context, userID int64) error {
	ts, ok := a.users.(APITokenStore)
	if !ok {
		return nil
	}
	list, err := timed(a.met.op(opListAPITokens), func() ([]APIToken, error) { return ts.ListAPITokens(ctx, userID) })
	if err != nil {
		return err
	}
	for _, t := range list {
		if err := a.revokeAPIToken(ctx, ts, &t); err != nil {
			return err
		}
	}
	return nil
}

func (a *Auth) changePassword(w http.ResponseWriter, r *http.Request, cur *current) error {
	if cur.user == nil {
		return cur.unauthenticated()
	}
	obj, err := readJSONObject(w, r, a.cfg.MaxBodyBytes)
	if err != nil {
		return err
	}
	current, err := obj.str("currentPassword", true)
	if err != nil {
		return err
	}
	next, err := obj.str("newPassword", true)
	if err != nil {
		return err
	}
	revoke, err := obj.boolean("revokeApiTokens")
	if err != nil {
		return err
	}
	err = a.ChangePassword(r.Context(), a.ClientIP(r), cur.user, current, next, revoke)
	if err != nil {
		if pf, ok := err.(*passwordFieldError); ok {
			pf.field = "currentPassword"
		}
		if err == ErrWrongPassword {
			err = &passwordFieldError{err, "currentPassword"}
		}
		if ie, ok := err.(*InputError); ok && ie.Field == "password" {
			ie.Field = "newPassword"
		}
		return err
	}
	// Every session ended, this one too; the browser that asked carries on
	// in a new one (rotated: its old cookie and token are dead).
	remember := cur.session != nil && cur.session.Remember
	cur.session, cur.familyHash, cur.csrfClaim = nil, nil, ""
	if _, err := a.startSession(w, r, cur, cur.user, remember); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"passwordChanged": true, "user": publicUser(cur.user)})
	return nil
}
