package latchkey

import (
	"context"
	"net/http"
	"strconv"
	"time"
)

// The admin API, under APIPrefix/admin/: for users with the admin role
// whose login is fresh (FreshLogin), so a session left open, or stolen,
// cannot be used to take over other accounts. Every action is a security
// event naming the admin.

// RequireRole is Require for users with the role: requests without a
// login get 401, logged-in users without the role 403 forbidden.
func (a *Auth) RequireRole(role string) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return a.Require(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if u, _ := UserFromContext(r.Context()); !u.HasRole(role) {
				a.writeError(w, r, ErrForbidden, "")
				return
			}
			next.ServeHTTP(w, r)
		}))
	}
}

// adminCheck lets through an admin with a fresh login.
func (a *Auth) adminCheck(cur *current) error {
	switch {
	case cur.user == nil:
		return cur.unauthenticated()
	case !cur.user.HasRole(RoleAdmin):
		return ErrForbidden
	case !a.FreshLogin(cur.session):
		return &passwordFieldError{ErrReauthRequired, "password"}
	}
	return nil
}

// adminRead and adminWrite are read and write for admin routes.
func (a *Auth) adminRead(h handlerFunc) http.Handler {
	return a.read(func(w http.ResponseWriter, r *http.Request, cur *current) error {
		if err := a.adminCheck(cur); err != nil {
			return err
		}
		return h(w, a.withRequestClient(r), cur)
	})
}

func (a *Auth) adminWrite(h handlerFunc) http.Handler {
	return a.write(func(w http.ResponseWriter, r *http.Request, cur *current) error {
		if err := a.adminCheck(cur); err != nil {
			return err
		}
		return h(w, r, cur)
	})
}

// adminUserJSON is a user as the admin API shows it.
type adminUserJSON struct {
	userJSON
	Locked    bool      `json:"locked"`
	UpdatedAt time.Time `json:"updatedAt"`
}

func adminUser(u *User) adminUserJSON {
	return adminUserJSON{userJSON: publicUser(u), Locked: u.Locked, UpdatedAt: u.UpdatedAt.UTC()}
}

// pathID reads the {id} of a route: a positive whole number, the id of a
// what ("user", "passkey").
func pathID(r *http.Request, what string) (int64, error) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		return 0, &InputError{Code: "invalid_input", Field: "id", Message: "A " + what + " id is a positive whole number."}
	}
	return id, nil
}

func (a *Auth) adminListUsers(w http.ResponseWriter, r *http.Request, cur *current) error {
	cursor, limit, err := pageQuery(r)
	if err != nil {
		return err
	}
	if limit == 0 {
		limit = DefaultActivityLimit
	}
	users, err := a.SearchUsers(r.Context(), r.URL.Query().Get("q"), cursor, limit+1)
	if err != nil {
		return err
	}
	resp := map[string]any{}
	if len(users) > limit {
		users = users[:limit]
		resp["nextCursor"] = strconv.FormatInt(users[limit-1].ID, 10)
	}
	out := make([]adminUserJSON, len(users))
	for i := range users {
		out[i] = adminUser(&users[i])
	}
	resp["users"] = out
	writeJSON(w, http.StatusOK, resp)
	return nil
}

func (a *Auth) adminShowUser(w http.ResponseWriter, r *http.Request, cur *current) error {
	id, err := pathID(r, "user")
	if err != nil {
		return err
	}
	ctx := r.Context()
	u, err := a.userByID(ctx, id)
	if err != nil {
		return err
	}
	sessions, err := a.Sessions(ctx, id, cur.session)
	if err != nil {
		return err
	}
	events, _, err := a.Activity(ctx, id, 0, 0)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"user": adminUser(u), "sessions": sessionsJSON(sessions), "events": eventsJSON(events)})
	return nil
}

// adminDeleteUser deletes the user {id}, never the admin's own account:
// nobody might be left to undo mistakes.
func (a *Auth) adminDeleteUser(w http.ResponseWriter, r *http.Request, cur *current) error {
	id, err := pathID(r, "user")
	if err == nil && id == cur.user.ID {
		err = ErrSelfAction
	}
	if err != nil {
		return err
	}
	if err := a.RemoveUser(r.Context(), id, cur.user.ID); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]bool{"deleted": true})
	return nil
}

// adminAct adapts an action on the user {id} that answers with the user
// (lock, unlock); notSelf refuses it on the admin's own account.
func adminAct(act func(ctx context.Context, id, actor int64) (*User, error), notSelf bool) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request, cur *current) error {
		id, err := pathID(r, "user")
		if err == nil && notSelf && id == cur.user.ID {
			err = ErrSelfAction
		}
		if err != nil {
			return err
		}
		u, err := act(r.Context(), id, cur.user.ID)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, map[string]any{"user": adminUser(u)})
		return nil
	}
}

func (a *Auth) adminLogout(w http.ResponseWriter, r *http.Request, cur *current) error {
	id, err := pathID(r, "user")
	if err != nil {
		return err
	}
	n, err := a.LogoutUser(r.Context(), id, cur.user.ID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]int{"revoked": n})
	return nil
}

func (a *Auth) adminReset(w http.ResponseWriter, r *http.Request, cur *current) error {
	id, err := pathID(r, "user")
	if err != nil {
		return err
	}
	if err := a.SendPasswordReset(r.Context(), id, cur.user.ID); err != nil {
		return err
	}
	writeJSON(w, http.StatusAccepted, map[string]bool{"resetSent": true})
	return nil
}

func (a *Auth) adminSetRoles(w http.ResponseWriter, r *http.Request, cur *current) error {
	id, err := pathID(r, "user")
	if err != nil {
		return err
	}
	obj, err := readJSONObject(w, r, a.cfg.MaxBodyBytes)
	if err != nil {
		return err
	}
	roles, err := obj.strings("roles")
	if err != nil {
		return err
	}
	if id == cur.user.ID {
		if norm, err := NormalizeRoles(roles); err == nil && !(&User{Roles: norm}).HasRole(RoleAdmin) {
			return ErrSelfAction // an admin cannot drop their own admin role
		}
	}
	u, err := a.SetRoles(r.Context(), id, roles, cur.user.ID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"user": adminUser(u)})
	return nil
}
