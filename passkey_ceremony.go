package latchkey

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/go-webauthn/webauthn/webauthn"
)

// A WebAuthn ceremony (registering a passkey, signing in with one) has two
// steps; what the first decides (the challenge, the user, what is allowed)
// must reach the second unchanged, on whichever instance serves it. It
// travels in a short-lived HttpOnly cookie, sealed with AES-GCM under a
// key derived from the secret keys, and bound to its purpose and to the
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

// sealers are the AEADs of the ceremony keys: the first seals, all open.
type sealers []cipher.AEAD

func newSealers(secrets [][]byte) (sealers, error) {
	keys, err := deriveKeys(secrets, "latchkey webauthn ceremony v1")
	if err != nil {
		return nil, err
	}
	out := make(sealers, len(keys))
	for i, k := range keys {
		block, err := aes.NewCipher(k)
		if err != nil {
			return nil, fmt.Errorf("latchkey: ceremony key: %w", err)
		}
		if out[i], err = cipher.NewGCM(block); err != nil {
			return nil, fmt.Errorf("latchkey: ceremony key: %w", err)
		}
	}
	return out, nil
}

func (s sealers) seal(c *ceremony) (string, error) {
	plain, err := json.Marshal(c)
	if err != nil {
		return "", err
	}
	nonce := make([]byte, s[0].NonceSize(), s[0].NonceSize()+len(plain)+s[0].Overhead())
	rand.Read(nonce)
	return b64.EncodeToString(s[0].Seal(nonce, nonce, plain, []byte(c.Purpose))), nil
}

// open returns the ceremony in v, if some key sealed it for purpose.
func (s sealers) open(v string, purpose ceremonyPurpose) (*ceremony, bool) {
	raw, err := b64.DecodeString(v)
	if err != nil {
		return nil, false
	}
	for _, a := range s {
		if len(raw) < a.NonceSize() {
			continue
		}
		plain, err := a.Open(nil, raw[:a.NonceSize()], raw[a.NonceSize():], []byte(purpose))
		if err != nil {
			continue
		}
		var c ceremony
		if json.Unmarshal(plain, &c) != nil || c.Purpose != purpose {
			return nil, false
		}
		return &c, true
	}
	return nil, false
}

// beginCeremony sets the cookie that carries c to the second step.
func (a *Auth) beginCeremony(w http.ResponseWriter, cur *current, c *ceremony) error {
	c.Expires = cur.now.Add(ceremonyTTL)
	v, err := a.passkeys.seal.seal(c)
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
	c, ok := a.passkeys.seal.open(ck.Value, purpose)
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
