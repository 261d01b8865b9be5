// Package seal encrypts small secrets at rest (TOTP secrets in a user
// store) under the server's configured secret keys: AES-256-GCM with a key
// derived by HKDF-SHA-256 from each secret and a purpose. The first secret
// seals; every one opens, so secrets can be rotated by putting a new one
// first and keeping the old one until what it sealed is gone.
package seal

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
)

// ErrOpen: the ciphertext was not sealed by any of the keys with this
// additional data (a wrong key, tampered or moved data).
var ErrOpen = errors.New("seal: cannot open: not sealed by these keys for this use")

// version starts every sealed value, so the format can change later.
const version = 1

// Keys seal and open values for one purpose. It is safe for concurrent use.
type Keys struct {
	aeads []cipher.AEAD // the first seals
}

// New derives a key per secret for purpose (such as "latchkey totp
// secret v1"): values sealed for one purpose never open for another.
func New(secrets [][]byte, purpose string) (*Keys, error) {
	if len(secrets) == 0 {
		return nil, errors.New("seal: no secret")
	}
	k := &Keys{}
	for i, s := range secrets {
		key, err := hkdf.Key(sha256.New, s, nil, purpose, 32)
		if err != nil {
			return nil, fmt.Errorf("seal: derive key %d: %w", i, err)
		}
		block, err := aes.NewCipher(key)
		if err != nil {
			return nil, err
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, err
		}
		k.aeads = append(k.aeads, aead)
	}
	return k, nil
}

// Seal encrypts plaintext under the first key with a fresh random nonce,
// authenticating ad with it (say, the owner's id, so a sealed value copied
// to another record does not open there).
func (k *Keys) Seal(plaintext, ad []byte) []byte {
	a := k.aeads[0]
	out := make([]byte, 1+a.NonceSize(), 1+a.NonceSize()+len(plaintext)+a.Overhead())
	out[0] = version
	rand.Read(out[1:]) // never fails (crypto/rand panics if it cannot)
	return a.Seal(out, out[1:], plaintext, ad)
}

// Open decrypts what Seal made with any of the keys and the same ad, or
// returns ErrOpen.
func (k *Keys) Open(sealed, ad []byte) ([]byte, error) {
	for _, a := range k.aeads {
		if len(sealed) < 1+a.NonceSize()+a.Overhead() || sealed[0] != version {
			return nil, ErrOpen
		}
		nonce, ct := sealed[1:1+a.NonceSize()], sealed[1+a.NonceSize():]
		if p, err := a.Open(nil, nonce, ct, ad); err == nil {
			return p, nil
		}
	}
	return nil, ErrOpen
}
