package latchkey

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"
)

// The second login step. A user with a second factor who gives the right
// password gets no session, but a pending login: a record in the session
// store (PendingLoginStore) behind an HttpOnly cookie, bound to the
// browser's CSRF cookie too, that lives 5 minutes and takes 5 attempts.
// POST /login/mfa with a proof of one of the user's methods turns it into
// a session (startSession: a new one, the old dropped), once.
//
// Each way to pass the step is a loginMethod in Auth.loginMethods; TOTP
// codes and recovery codes are two (mfa_totp.go, mfa_recovery.go), and
// passkeys plug in as a third.

const (
	// pendingLoginTTL is how long the second step may take.
	pendingLoginTTL = 5 * time.Minute
	// maxPendingAttempts is how many second steps one pending login takes.
	maxPendingAttempts = 5
	// mfaCookie holds the pending login's token (__Host- when Secure).
	mfaCookie = "latchkey_mfa"
)

// ErrMFAPending: the second step came without a live pending login of
// this browser: none was started here, or it expired, was used, ran out of
// attempts, or its user's password changed. Log in with the password again.
var ErrMFAPending = errors.New("latchkey: no second login step under way")

// ErrInvalidMFACode: the second factor's proof is wrong, malformed or was
// used already.
var ErrInvalidMFACode = errors.New("latchkey: wrong or used code")

// proofError is ErrInvalidMFACode with the request field at fault and the
// detail of the mfa_failed event.
type proofError struct{ field, detail string }

func (e *proofError) Error() string { return ErrInvalidMFACode.Error() + " (" + e.detail + ")" }
func (e *proofError) Unwrap() error { return ErrInvalidMFACode }

// loginMethod is one way to pass the second login step.
type loginMethod struct {
	// name lists it in the "methods" of a login's mfaRequired answer.
	name string
	// field is the field of POST /login/mfa's body that carries its
	// proof; exactly one method's field must be present.
	field string
	// primary methods make the second step required; the others (recovery
	// codes) only stand in for them.
	primary bool
	// enrolled reports whether a user with these factors can use it.
	enrolled func(fs []Factor) bool
	// challenge, if not nil, returns what the browser needs to make its
	// proof (WebAuthn's assertion options), which the mfaRequired answer
	// carries under the method's name. A challenge that must be single-use
	// and bound to this login can be a.pendingChallenge(p).
	challenge func(ctx context.Context, a *Auth, u *User, fs []Factor, p *PendingLogin) (any, error)
	// parse reads the proof from the body's field, before anything is
	// counted: an InputError for one of the wrong type or shape.
	parse func(raw json.RawMessage) (any, error)
	// verify checks the parsed proof and spends what it spent (a TOTP
	// step, a recovery code) so it works once, returning a *proofError for
	// a wrong or spent one. It may set at.detail for the login's security
	// event.
	verify func(ctx context.Context, a *Auth, at *mfaAttempt, proof any) error
}

// mfaAttempt is one second step under way: the pending login (its attempt
// counted), its user, checked still able to log in, and their factors.
type mfaAttempt struct {
	user    *User
	pending *PendingLogin
	factors []Factor
	// detail says, for the login_succeeded event, how the step was passed
	// ("totp", "recovery code, 9 left").
	detail string
}

// defaultLoginMethods are the methods of the second step, in the order
// answers list them.
func defaultLoginMethods() []loginMethod {
	return []loginMethod{totpLoginMethod, recoveryLoginMethod, passkeyLoginMethod}
}

// stringProof is the parse of methods whose proof is a string (a code).
func stringProof(field string) func(json.RawMessage) (any, error) {
	return func(raw json.RawMessage) (any, error) {
		var s string
		if len(raw) == 0 || raw[0] != '"' || json.Unmarshal(raw, &s) != nil {
			return nil, &InputError{Code: "invalid_input", Field: field, Message: fmt.Sprintf("The field %q must be a string.", field)}
		}
		return s, nil
	}
}

// hasKind reports whether fs holds a factor of kind.
func hasKind(fs []Factor, kind FactorKind) bool {
	return slices.ContainsFunc(fs, func(f Factor) bool { return f.Kind == kind })
}

// userFactors returns every factor of the user: the MFAStore's, and a
// FactorPasskey for each passkey.
func (a *Auth) userFactors(ctx context.Context, userID int64) ([]Factor, error) {
	fs, err := timed(a.met.op(opFactors), func() ([]Factor, error) { return a.factors.Factors(ctx, userID, "") })
	if err != nil {
		return nil, fmt.Errorf("read factors: %w", err)
	}
	pks, err := a.passkeyFactors(ctx, userID)
	if err != nil {
		return nil, err
	}
	return append(fs, pks...), nil
}

// loginMethodsOf returns the methods a user with these factors can log in
// with, none unless one is primary.
func (a *Auth) loginMethodsOf(fs []Factor) []loginMethod {
	var out []loginMethod
	primary := false
	for _, m := range a.loginMethods {
		if m.enrolled(fs) {
			out = append(out, m)
			primary = primary || m.primary
		}
	}
	if !primary {
		return nil
	}
	return out
}

// needsSecondFactor reports whether the user must pass the second step;
// an error reads as yes, which errs on the safe side.
func (a *Auth) needsSecondFactor(ctx context.Context, userID int64) bool {
	fs, err := a.userFactors(ctx, userID)
	if err != nil {
		a.log.WarnContext(ctx, "cannot tell whether a user has a second factor", "user_id", userID, "err", err)
		return true
	}
	return len(a.loginMethodsOf(fs)) > 0
}

// mfaRequired is the answer to a right password of a user with a second
// factor. Methods with a challenge add it under their name.
func mfaRequired(methods []string, challenges map[string]any) map[string]any {
	resp := map[string]any{"login": false, "mfaRequired": true, "methods": methods}
	for k, v := range challenges {
		resp[k] = v
	}
	return resp
}

// beginSecondStep is what login does after a right password: for a user
// with a second factor it starts a pending login (replacing any this
// browser had), sets its cookie and the CSRF token, and returns the
// mfaRequired answer; for others it returns nil and does nothing.
func (a *Auth) beginSecondStep(w http.ResponseWriter, r *http.Request, cur *current, u *User, remember bool) (map[string]any, error) {
	ctx := r.Context()
	fs, err := a.userFactors(ctx, u.ID)
	if err != nil {
		return nil, err
	}
	methods := a.loginMethodsOf(fs)
	if len(methods) == 0 {
		return nil, nil
	}
	a.dropPending(ctx, w, r, cur)
	browser := a.browserID(w, cur)
	tok := newToken()
	now := cur.now
	p := &PendingLogin{TokenHash: pendingKey(tok, browser), UserID: u.ID, UserEpoch: u.Epoch, Remember: remember,
		CreatedAt: now, ExpiresAt: now.Add(pendingLoginTTL)}
	if err := timedErr(a.met.op(opCreatePendingLogin), func() error { return a.pending.CreatePendingLogin(ctx, p) }); err != nil {
		return nil, fmt.Errorf("create pending login: %w", err)
	}
	cur.cookies.set(w, mfaCookie, encodeToken(tok), true, p.ExpiresAt)
	a.issueCSRF(w, cur)
	names := make([]string, len(methods))
	challenges := map[string]any{}
	for i, m := range methods {
		names[i] = m.name
		if m.challenge != nil {
			c, err := m.challenge(ctx, a, u, fs, p)
			if err != nil {
				return nil, fmt.Errorf("%s challenge: %w", m.name, err)
			}
			challenges[m.name] = c
		}
	}
	return mfaRequired(names, challenges), nil
}

// browserID returns the browser's anonymous cookie, which pending logins
// are bound to, creating it if the browser has none.
func (a *Auth) browserID(w http.ResponseWriter, cur *current) []byte {
	if cur.anonID == nil {
		id := newToken()
		cur.anonID = id[:]
		cur.cookies.set(w, anonCookie, encodeToken(id), true, time.Time{})
	}
	return cur.anonID
}

// pendingKey is the store key of a pending login: its cookie's token and
// the browser's anonymous cookie, hashed together, so the cookie alone,
// copied into another browser, finds nothing.
func pendingKey(tok [tokenBytes]byte, browser []byte) []byte {
	h := sha256.New()
	h.Write([]byte("latchkey pending login\x00"))
	h.Write(tok[:])
	h.Write(browser)
	return h.Sum(nil)
}

// pendingKeys are the store keys that the request's pending and anonymous
// cookies can make (a planted cookie beside ours must not get in the way).
func (a *Auth) pendingKeys(r *http.Request, cur *current) [][]byte {
	toks := tokenCookies(r, cookieName(mfaCookie, cur.cookies.secure))
	var keys [][]byte
	for _, t := range toks.list() {
		for _, b := range append([][]byte{cur.anonID}, cur.anonAlt...) {
			if b != nil {
				keys = append(keys, pendingKey(t, b))
			}
		}
	}
	return keys
}

// dropPending deletes any pending login of this browser and clears its
// cookie: a new password login replaces it.
func (a *Auth) dropPending(ctx context.Context, w http.ResponseWriter, r *http.Request, cur *current) {
	keys := a.pendingKeys(r, cur)
	for _, k := range keys {
		if err := a.deletePending(ctx, k); err != nil && !errors.Is(err, ErrNotFound) {
			a.log.WarnContext(ctx, "a replaced pending login stays until it expires", "err", err)
		}
	}
	if len(keys) > 0 {
		cur.cookies.clear(w, mfaCookie, true)
	}
}

// pendingChallenge is a challenge bound to one pending login: an HMAC of
// its key under the server's first secret, so it is unpredictable,
// differs for every pending login and needs no storing. It is as
// single-use as the pending login itself.
func (a *Auth) pendingChallenge(p *PendingLogin) []byte {
	m := hmac.New(sha256.New, a.challengeKey)
	m.Write(p.TokenHash)
	return m.Sum(nil)
}

// attemptSecondStep counts an attempt on the browser's pending login and
// returns it with its user, who must still be able to log in: the same
// epoch (no password change or "log out everywhere" since), not locked,
// not deleted. Otherwise the pending login is deleted, its cookie cleared,
// and the error is ErrMFAPending (ErrAccountLocked for a locked user,
// which only whoever knows the password learns).
func (a *Auth) attemptSecondStep(w http.ResponseWriter, r *http.Request, cur *current) (*mfaAttempt, error) {
	ctx := r.Context()
	var p *PendingLogin
	for _, k := range a.pendingKeys(r, cur) {
		found, err := timed(a.met.op(opAttemptPendingLogin), func() (*PendingLogin, error) { return a.pending.AttemptPendingLogin(ctx, k, maxPendingAttempts) })
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("attempt pending login: %w", err)
		}
		p = found
		break
	}
	if p == nil {
		cur.cookies.clear(w, mfaCookie, true)
		return nil, ErrMFAPending
	}
	gone := func(err error) (*mfaAttempt, error) {
		if derr := a.deletePending(ctx, p.TokenHash); derr != nil && !errors.Is(derr, ErrNotFound) {
			return nil, fmt.Errorf("delete pending login: %w", derr)
		}
		cur.cookies.clear(w, mfaCookie, true)
		return nil, err
	}
	u, err := a.userByID(ctx, p.UserID)
	if errors.Is(err, ErrNotFound) {
		return gone(ErrMFAPending)
	}
	if err != nil {
		return nil, fmt.Errorf("load user: %w", err)
	}
	if u.Epoch != p.UserEpoch {
		return gone(ErrMFAPending)
	}
	if u.Locked {
		a.record(ctx, Event{Type: EventLoginFailed, UserID: u.ID, Detail: "locked"})
		return gone(ErrAccountLocked)
	}
	fs, err := a.userFactors(ctx, u.ID)
	if err != nil {
		return nil, err
	}
	return &mfaAttempt{user: u, pending: p, factors: fs}, nil
}

// loginMFA serves POST /login/mfa: the second step, with exactly one
// method's proof. A failure counts in the login throttle, per client and
// username and per client, as a wrong password does, and in the pending
// login's own 5 attempts.
func (a *Auth) loginMFA(w http.ResponseWriter, r *http.Request, cur *current) error {
	fail := func(err error) error { a.met.login(err); a.writeError(w, r, err, "login"); return nil }
	obj, err := readJSONObject(w, r, a.cfg.MaxBodyBytes)
	if err != nil {
		return fail(err)
	}
	m, raw, err := a.pickLoginMethod(obj)
	if err != nil {
		return fail(err)
	}
	proof, err := m.parse(raw)
	if err != nil {
		return fail(err)
	}
	at, err := a.attemptSecondStep(w, r, cur)
	if err != nil {
		return fail(err)
	}
	ctx := r.Context()
	spent, err := a.chargeLogin(ctx, a.ClientIP(r), at.user.UsernameKey, cur.now)
	if err != nil {
		return fail(err)
	}
	if !slices.ContainsFunc(a.loginMethodsOf(at.factors), func(e loginMethod) bool { return e.name == m.name }) {
		err = &proofError{field: m.field, detail: m.name + "_not_enrolled"}
	} else {
		err = m.verify(ctx, a, at, proof)
	}
	if pe, ok := errors.AsType[*proofError](err); ok {
		a.record(ctx, Event{Type: EventMFAFailed, UserID: at.user.ID, Detail: pe.detail})
		if at.pending.Attempts >= maxPendingAttempts {
			// That was its last attempt: the next one must start over.
			if err := a.deletePending(ctx, at.pending.TokenHash); err != nil && !errors.Is(err, ErrNotFound) {
				a.log.WarnContext(ctx, "a spent pending login stays until it expires", "err", err)
			}
			cur.cookies.clear(w, mfaCookie, true)
		}
		return fail(err)
	}
	if err != nil {
		spent.unchecked(ctx, a.now())
		return fail(err)
	}
	spent.succeeded(ctx, a.now())
	if at.detail == "" {
		at.detail = m.name
	}
	if err := a.completeLogin(w, r, cur, at.pending, at.user, at.detail); err != nil {
		return fail(err)
	}
	return nil
}

// pickLoginMethod finds the one method whose field the body holds.
func (a *Auth) pickLoginMethod(obj jsonObject) (loginMethod, json.RawMessage, error) {
	var found []loginMethod
	var fields []string
	for _, m := range a.loginMethods {
		fields = append(fields, fmt.Sprintf("%q", m.field))
		if raw, ok := obj[m.field]; ok && string(raw) != "null" {
			found = append(found, m)
		}
	}
	if len(found) != 1 {
		return loginMethod{}, nil, &InputError{Code: "invalid_input", Message: "Send exactly one of the fields " + strings.Join(fields, ", ") + "."}
	}
	return found[0], obj[found[0].field], nil
}

// completeLogin turns a pending login whose second factor was proven into
// a session (or token family): once, however many requests prove it at
// the same time, on whichever instance. method says how, for the
// login_succeeded event. It answers as login does.
func (a *Auth) completeLogin(w http.ResponseWriter, r *http.Request, cur *current, p *PendingLogin, u *User, method string) error {
	ctx := r.Context()
	if err := a.deletePending(ctx, p.TokenHash); errors.Is(err, ErrNotFound) {
		cur.cookies.clear(w, mfaCookie, true)
		return ErrMFAPending // another request completed it, or it expired meanwhile
	} else if err != nil {
		return fmt.Errorf("delete pending login: %w", err)
	}
	cur.cookies.clear(w, mfaCookie, true)
	if _, err := a.startSession(w, r, cur, u, p.Remember); err != nil {
		return err
	}
	detail := "second factor: " + method
	if p.Remember {
		detail += ", remember me"
	}
	a.record(ctx, Event{Type: EventLoginSucceeded, UserID: u.ID, Detail: detail})
	a.met.login(nil)
	writeJSON(w, http.StatusOK, map[string]any{"login": true, "user": publicUser(u)})
	return nil
}

// deletePending is PendingLoginStore.DeletePendingLogin, timed.
func (a *Auth) deletePending(ctx context.Context, key []byte) error {
	return timedErr(a.met.op(opDeletePendingLogin), func() error { return a.pending.DeletePendingLogin(ctx, key) })
}
