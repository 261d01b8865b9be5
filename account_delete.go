package latchkey

import (
	"context"
	"fmt"
	"net/http"
)

// DeleteAccount removes u for good: its sessions and token families (the
// epoch first, so none made meanwhile survives), its mailed links, and the
// user with its API tokens. The caller has checked the password or a fresh
// login.
func (a *Auth) DeleteAccount(ctx context.Context, u *User) error {
	return a.removeAccount(ctx, u, 0)
}

// removeAccount is DeleteAccount by actor (an admin; 0 for the user).
func (a *Auth) removeAccount(ctx context.Context, u *User, actor int64) error {
	if _, err := a.EndUserSessions(ctx, u.ID); err != nil {
		return err
	}
	if err := timedErr(a.met.op(opDeleteAccountTokens), func() error { return a.accountTokens.DeleteAccountTokens(ctx, u.ID, "") }); err != nil {
		return fmt.Errorf("delete account links: %w", err)
	}
	if _, err := a.deleteUserPasskeys(ctx, u.ID); err != nil {
		return fmt.Errorf("delete passkeys: %w", err)
	}
	if err := timedErr(a.met.op(opDeleteUser), func() error { return a.users.DeleteUser(ctx, u.ID) }); err != nil {
		return fmt.Errorf("delete user: %w", err)
	}
	a.record(ctx, Event{Type: EventAccountDeleted, UserID: u.ID, ActorID: actor})
	return nil
}

func (a *Auth) deleteAccount(w http.ResponseWriter, r *http.Request, cur *current) error {
	if cur.user == nil {
		return cur.unauthenticated()
	}
	if _, err := a.reauthBody(w, r, cur, false); err != nil {
		return err
	}
	if err := a.DeleteAccount(r.Context(), cur.user); err != nil {
		return err
	}
	if err := a.endSession(w, r, cur); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"deleted": true})
	return nil
}
