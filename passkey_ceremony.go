package latchkey

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/go-webauthn/webauthn/webauthn"

	"github.com/latchkey/latchkey/internal/seal"
)

// A WebAuthn ceremony (registering a passkey, signing in with one) has two
// steps; what the first decides (the challenge, the user, what is allowed)
// must reach the second unchanged, on whichever instance serves it. It
// travels in a short-lived HttpOnly cookie, sealed (internal/seal) under
// the secret keys, and bound to its purpose and to the
// session it began in. The challenge is spent in the store (single use).

// ceremonyCookie is the cookie a WebAuthn ceremony's state travels in.
const ceremonyCookie = "latchkey_webauthn"

// ceremonyTTL bounds a ceremony, as the browser's own timeout does.
const ceremonyTTL = 5 * time.Minute

type ceremonyPurpose string

const (
	ceremonyRegister ceremonyPurpose = "register"
	ceremonyLogin    ceremonyPurpose = "login"
	ceremonySecond   ceremonyPurpose = "second-factor"
)

// ceremony is the sealed state.
type ceremony struct {
	Purpose ceremonyPurpose      `json:"p"`
	UserID  int64                `json:"u,omitempty"`
	Binding []byte               `json:"b,omitempty"` // the session's store key, for registration
	Expires time.Time            `json:"e"`
	Session webauthn.SessionData `json:"s"`
}

// errCeremony: the ceremony's cookie is missing, expired, forged, spent or
// for another purpose or session.
var errCeremony = errors.New("latchkey: no such passkey ceremony")

// newCeremonyKeys are the keys ceremonies are sealed with.
func newCeremonyKeys(secrets [][]byte) (*seal.Keys, error) {
	return seal.New(secrets, "latchkey webauthn ceremony v1")
}

// sealCeremony seals c for its cookie, bound to its purpose.
func sealCeremony(k *seal.Keys, c *ceremony) (string, error) {
	plain, err := json.Marshal(c)
	if err != nil {
		return "", err
	}
	return b64.EncodeToString(k.Seal(plain, []byte(c.Purpose))), nil
}

// openCeremony returns the ceremony in v, if it was sealed for purpose.
func openCeremony(k *seal.Keys, v string, purpose ceremonyPurpose) (*ceremony, bool) {
	raw, err := b64.DecodeString(v)
	if err != nil {
		return nil, false
	}
	plain, err := k.Open(raw, []byte(purpose))
	if err != nil {
		return nil, false
	}
	var c ceremony
	if json.Unmarshal(plain, &c) != nil || c.Purpose != purpose {
		return nil, false
	}
	return &c, true
}

// beginCeremony sets the cookie that carries c to the second step.
func (a *Auth) beginCeremony(w http.ResponseWriter, cur *current, c *ceremony) error {
	c.Expires = cur.now.Add(ceremonyTTL)
	v, err := sealCeremony(a.passkeys.seal, c)
	if err != nil {
		return fmt.Errorf("seal passkey ceremony: %w", err)
	}
	cur.cookies.set(w, ceremonyCookie, v, true, c.Expires)
	return nil
}

// endCeremony reads the ceremony of purpose from r's cookie and clears the
// cookie; it is spent: the challenge counts once, on every instance.
func (a *Auth) endCeremony(w http.ResponseWriter, r *http.Request, cur *current, purpose ceremonyPurpose) (*ceremony, error) {
	name := cookieName(ceremonyCookie, cur.cookies.secure)
	ck, err := r.Cookie(name)
	if err != nil {
		return nil, errCeremony
	}
	cur.cookies.clear(w, ceremonyCookie, true)
	c, ok := openCeremony(a.passkeys.seal, ck.Value, purpose)
	if !ok || !cur.now.Before(c.Expires) {
		return nil, errCeremony
	}
	_, wait, err := a.throttles.ceremony.take(r.Context(), throttleKey("webauthn-challenge", c.Session.Challenge), cur.now)
	if err != nil {
		return nil, err
	}
	if wait > 0 {
		return nil, fmt.Errorf("%w: challenge used already", errCeremony)
	}
	return c, nil
}
