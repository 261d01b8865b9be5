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
// logged in, the anonymous cookie's value otherwise. So a token cannot be
// forged without the key, is useless in another browser and needs no server
// record. The anonymous cookie lives across logins and logouts, as the
// Flask session that Flask-WTF binds its tokens to does; the session's
// binding changes at every login. A token issued while logged in carries
// both MACs: the session's, which authenticated writes need and which dies
// with the session, and the browser's, so a page that read its token once
// can still log in again after logging out. A token issued while logged out
// carries only the browser's, so it never authorises an authenticated write.
// Each issued copy is masked with a fresh one-time pad (pad || pad XOR macs)
// so responses never repeat it, which defeats BREACH-style compression
// attacks.
const (
	macBytes          = sha256.Size
	csrfTokenBytes    = 2 * macBytes // one MAC
	encodedCSRFTokens = 86           // base64url, no padding, of csrfTokenBytes
	dualTokenBytes    = 4 * macBytes // session MAC, then browser MAC
	encodedDualTokens = 171
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
	return deriveKeys(secrets, "latchkey csrf v1")
}

// deriveKeys derives one 256-bit key for a purpose (info) from each
// secret, in order: the first signs, all verify, so secrets can rotate.
func deriveKeys(secrets [][]byte, info string) ([][]byte, error) {
	keys := make([][]byte, len(secrets))
	for i, s := range secrets {
		k, err := hkdf.Key(sha256.New, s, nil, info, 32)
		if err != nil {
			return nil, fmt.Errorf("latchkey: derive %s key: %w", info, err)
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

// issue returns a freshly masked token for the binding, signed with the
// first key; with a browser binding too (dual), it carries both MACs.
func (k csrfKeys) issue(kind bindingKind, binding, browser []byte) string {
	macs := csrfMAC(k[0], kind, binding)
	if browser != nil {
		macs = append(macs, csrfMAC(k[0], bindAnon, browser)...)
	}
	raw := make([]byte, 2*len(macs))
	rand.Read(raw[:len(macs)])
	subtle.XORBytes(raw[len(macs):], raw[:len(macs)], macs)
	return b64.EncodeToString(raw)
}

// tokenMACs are the MACs of one token: one, or a session's and a browser's.
type tokenMACs struct {
	n   int
	buf [2 * macBytes]byte
}

func (m *tokenMACs) first() []byte { return m.buf[:macBytes] }
func (m *tokenMACs) last() []byte  { return m.buf[(m.n-1)*macBytes : m.n*macBytes] }

// parseCSRFToken unmasks a token into its MACs; ok is false for anything
// malformed.
func parseCSRFToken(tok string) (m tokenMACs, ok bool) {
	var n int
	switch len(tok) {
	case encodedCSRFTokens:
		n = csrfTokenBytes
	case encodedDualTokens:
		n = dualTokenBytes
	default:
		return m, false
	}
	var buf [dualTokenBytes]byte
	raw := buf[:n]
	if got, err := b64.Decode(raw, []byte(tok)); err != nil || got != n {
		return m, false
	}
	m.n = n / csrfTokenBytes
	subtle.XORBytes(m.buf[:n/2], raw[:n/2], raw[n/2:])
	return m, true
}

// valid reports whether tok was issued for this binding under any key: a
// session binding is the first MAC of a token, a browser (anonymous)
// binding the last, so a token issued while logged out (one browser MAC)
// never passes for a session.
func (k csrfKeys) valid(tok string, kind bindingKind, binding []byte) bool {
	macs, ok := parseCSRFToken(tok)
	if !ok || binding == nil {
		return false
	}
	mac := macs.first()
	if kind == bindAnon {
		mac = macs.last()
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
