package latchkey

import (
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"net/http"
)

// CSRF tokens are HMAC(key, kind || binding), where binding is what only
// this browser holds in an HttpOnly cookie: the session token's hash once
// logged in, the anonymous cookie's value before. So a token cannot be
// forged without the key, is useless in another browser, needs no server
// record, and dies when the session changes. Each issued copy is masked with
// a fresh one-time pad (pad || pad XOR mac) so responses never repeat it,
// which defeats BREACH-style compression attacks.
const (
	macBytes          = sha256.Size
	csrfTokenBytes    = 2 * macBytes
	encodedCSRFTokens = 86 // base64url, no padding, of csrfTokenBytes
)

// csrfHeaders are the request headers a token is read from, in order:
// Flask-WTF, gorilla/csrf, Axios and Angular.
var csrfHeaders = [...]string{"X-CSRFToken", "X-CSRF-Token", "X-XSRF-TOKEN"}

type bindingKind byte

const (
	bindSession bindingKind = 's'
	bindAnon    bindingKind = 'a'
)

// csrfKeys derives the CSRF MAC keys from the secrets (first signs, all verify).
type csrfKeys [][]byte

func newCSRFKeys(secrets [][]byte) (csrfKeys, error) {
	keys := make(csrfKeys, len(secrets))
	for i, s := range secrets {
		k, err := hkdf.Key(sha256.New, s, nil, "latchkey csrf v1", 32)
		if err != nil {
			return nil, fmt.Errorf("latchkey: derive CSRF key: %w", err)
		}
		keys[i] = k
	}
	return keys, nil
}

func csrfMAC(key []byte, kind bindingKind, binding []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte{byte(kind)})
	m.Write(binding)
	return m.Sum(nil)
}

// issue returns a freshly masked token for the binding, signed with the first key.
func (k csrfKeys) issue(kind bindingKind, binding []byte) string {
	mac := csrfMAC(k[0], kind, binding)
	var raw [csrfTokenBytes]byte
	rand.Read(raw[:macBytes])
	subtle.XORBytes(raw[macBytes:], raw[:macBytes], mac)
	return b64.EncodeToString(raw[:])
}

// parseCSRFToken unmasks a token; ok is false for anything malformed.
func parseCSRFToken(tok string) (mac []byte, ok bool) {
	if len(tok) != encodedCSRFTokens {
		return nil, false
	}
	var raw [csrfTokenBytes]byte
	if n, err := b64.Decode(raw[:], []byte(tok)); err != nil || n != csrfTokenBytes {
		return nil, false
	}
	mac = make([]byte, macBytes)
	subtle.XORBytes(mac, raw[:macBytes], raw[macBytes:])
	return mac, true
}

// valid reports whether tok was issued for this binding under any key.
func (k csrfKeys) valid(tok string, kind bindingKind, binding []byte) bool {
	mac, ok := parseCSRFToken(tok)
	if !ok || binding == nil {
		return false
	}
	for _, key := range k {
		if hmac.Equal(mac, csrfMAC(key, kind, binding)) {
			return true
		}
	}
	return false
}

// requestCSRFToken returns the token a request carries. More than one
// distinct value across the accepted headers is refused rather than guessed at.
func requestCSRFToken(r *http.Request) (string, bool) {
	var tok string
	for _, h := range csrfHeaders {
		for _, v := range r.Header.Values(h) {
			if tok != "" && v != tok {
				return "", false
			}
			tok = v
		}
	}
	return tok, tok != ""
}

// unsafeMethod reports whether a request method can change state.
func unsafeMethod(m string) bool {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace:
		return false
	}
	return true
}
