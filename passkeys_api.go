package latchkey

import (
	"net/http"
	"time"
)

// The passkey routes: thin adapters of passkeys.go, with the ceremony's
// state in its cookie (passkey_ceremony.go).

type passkeyJSON struct {
	ID         int64     `json:"id"`
	Name       string    `json:"name"`
	CreatedAt  time.Time `json:"createdAt"`
	LastUsedAt time.Time `json:"lastUsedAt"`
	BackedUp   bool      `json:"backedUp"`
}

func toPasskeyJSON(p PasskeyInfo) passkeyJSON {
	return passkeyJSON{ID: p.ID, Name: p.Name, CreatedAt: p.CreatedAt.UTC(), LastUsedAt: p.LastUsedAt.UTC(), BackedUp: p.BackedUp}
}

// credential returns the "credential" field: the browser's
// PublicKeyCredential, as JSON.
func credential(obj jsonObject) ([]byte, error) {
	raw, ok := obj["credential"]
	if !ok || len(raw) == 0 || raw[0] != '{' {
		return nil, &InputError{Code: "invalid_input", Field: "credential", Message: `The field "credential" must be the PublicKeyCredential as JSON.`}
	}
	return raw, nil
}

func (a *Auth) listPasskeys(w http.ResponseWriter, r *http.Request, cur *current) error {
	if cur.user == nil {
		return cur.unauthenticated()
	}
	list, err := a.Passkeys(r.Context(), cur.user.ID)
	if err != nil {
		return err
	}
	out := make([]passkeyJSON, len(list))
	for i, p := range list {
		out[i] = toPasskeyJSON(p)
	}
	writeJSON(w, http.StatusOK, map[string]any{"passkeys": out})
	return nil
}

// beginPasskeyRegistration needs a fresh login or the password: a passkey
// signs in alone, so adding one is as sensitive as changing the password.
func (a *Auth) beginPasskeyRegistration(w http.ResponseWriter, r *http.Request, cur *current) error {
	if cur.user == nil || cur.session == nil {
		return cur.unauthenticated()
	}
	if _, err := a.reauthBody(w, r, cur, true); err != nil {
		return err
	}
	opts, session, err := a.BeginPasskeyRegistration(r.Context(), cur.user)
	if err != nil {
		return err
	}
	c := &ceremony{Purpose: ceremonyRegister, UserID: cur.user.ID, Binding: cur.session.TokenHash, Session: *session}
	if err := a.beginCeremony(w, cur, c); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, opts)
	return nil
}

func (a *Auth) finishPasskeyRegistration(w http.ResponseWriter, r *http.Request, cur *current) error {
	if cur.user == nil || cur.session == nil {
		return cur.unauthenticated()
	}
	obj, err := readJSONObject(w, r, a.cfg.MaxBodyBytes)
	if err != nil {
		return err
	}
	name, err := obj.str("name", false)
	if err != nil {
		return err
	}
	resp, err := credential(obj)
	if err != nil {
		return err
	}
	c, err := a.endCeremony(w, r, cur, ceremonyRegister)
	if err != nil {
		return err
	}
	if c.UserID != cur.user.ID || string(c.Binding) != string(cur.session.TokenHash) {
		return errCeremony // begun in another session
	}
	p, err := a.FinishPasskeyRegistration(r.Context(), cur.user, c.Session, name, resp)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, map[string]any{"passkey": toPasskeyJSON(*p)})
	return nil
}

func (a *Auth) renamePasskey(w http.ResponseWriter, r *http.Request, cur *current) error {
	if cur.user == nil {
		return cur.unauthenticated()
	}
	id, err := pathID(r, "passkey")
	if err != nil {
		return err
	}
	obj, err := readJSONObject(w, r, a.cfg.MaxBodyBytes)
	if err != nil {
		return err
	}
	name, err := obj.str("name", true)
	if err != nil {
		return err
	}
	if err := a.RenamePasskey(r.Context(), cur.user.ID, id, name); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]bool{"renamed": true})
	return nil
}

// deletePasskey needs a fresh login or the password, as adding one does.
func (a *Auth) deletePasskey(w http.ResponseWriter, r *http.Request, cur *current) error {
	if cur.user == nil {
		return cur.unauthenticated()
	}
	id, err := pathID(r, "passkey")
	if err != nil {
		return err
	}
	if _, err := a.reauthBody(w, r, cur, true); err != nil {
		return err
	}
	if err := a.DeletePasskey(r.Context(), cur.user.ID, id); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]bool{"deleted": true})
	return nil
}

func (a *Auth) beginPasskeyLogin(w http.ResponseWriter, r *http.Request, cur *current) error {
	opts, session, err := a.BeginPasskeyLogin(r.Context())
	if err != nil {
		return err
	}
	if err := a.beginCeremony(w, cur, &ceremony{Purpose: ceremonyLogin, Session: *session}); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, opts)
	return nil
}

// finishPasskeyLogin signs in with a passkey alone. Its attempts count in
// the client's login budget, as password logins do.
func (a *Auth) finishPasskeyLogin(w http.ResponseWriter, r *http.Request, cur *current) error {
	fail := func(err error) error { a.met.login(err); a.writeError(w, r, err, "login"); return nil }
	obj, err := readJSONObject(w, r, a.cfg.MaxBodyBytes)
	if err != nil {
		return fail(err)
	}
	resp, err := credential(obj)
	if err != nil {
		return fail(err)
	}
	remember, err := obj.boolean("remember")
	if err != nil {
		return fail(err)
	}
	ctx := r.Context()
	c, err := a.endCeremony(w, r, cur, ceremonyLogin)
	if err != nil {
		return fail(err)
	}
	spent, err := a.chargeLogin(ctx, a.ClientIP(r), "\x00passkey", cur.now)
	if err != nil {
		return fail(err)
	}
	u, err := a.FinishPasskeyLogin(ctx, c.Session, resp)
	if err != nil {
		return fail(err)
	}
	spent.succeeded(ctx, a.now())
	if err := a.admit(w, r, cur, u, remember, "passkey", true); err != nil {
		return fail(err)
	}
	return nil
}
