// Package totp implements time-based one-time passwords as authenticator
// apps make them: RFC 6238 over RFC 4226's HOTP, with HMAC-SHA-1, 6
// digits and 30-second steps, which is what every app supports. It holds
// no keys and does no I/O: it takes a secret and a time and returns codes
// and decisions; remembering which step was used last, so that a code
// works once, is the caller's business (Verify takes it).
package totp

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1"
	"crypto/subtle"
	"encoding/base32"
	"encoding/binary"
	"errors"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// The parameters of every code this package makes or accepts.
const (
	// Digits is the length of a code.
	Digits = 6
	// Period is how long one step lasts.
	Period = 30 * time.Second
	// Skew is how many steps before and after the current one are
	// accepted, for clocks that differ and users who type slowly: RFC
	// 6238's recommended one step back, and one forward.
	Skew = 1
	// SecretBytes is the size of a new secret: 160 bits, the HMAC-SHA-1
	// key size that RFC 4226 recommends.
	SecretBytes = 20
)

// ErrMalformedSecret: a base32 secret that does not decode, or is too short.
var ErrMalformedSecret = errors.New("totp: malformed secret")

var b32 = base32.StdEncoding.WithPadding(base32.NoPadding)

// NewSecret returns a fresh random secret of SecretBytes.
func NewSecret() []byte {
	s := make([]byte, SecretBytes)
	rand.Read(s) // never fails (crypto/rand panics if it cannot)
	return s
}

// EncodeSecret returns the secret as apps take it typed in: base32
// without padding.
func EncodeSecret(secret []byte) string { return b32.EncodeToString(secret) }

// DecodeSecret reads a base32 secret as EncodeSecret writes it; letter
// case, spaces and padding are ignored. Secrets under 80 bits (RFC 4226's
// minimum 128 bits, less a margin for old apps) are refused.
func DecodeSecret(s string) ([]byte, error) {
	s = strings.ToUpper(strings.TrimRight(strings.ReplaceAll(s, " ", ""), "="))
	b, err := b32.DecodeString(s)
	if err != nil || len(b) < 10 {
		return nil, ErrMalformedSecret
	}
	return b, nil
}

// URI returns the otpauth:// URI that authenticator apps read from a QR
// code (Google Authenticator's Key Uri Format): the issuer names the
// service and the account the user within it.
func URI(issuer, account string, secret []byte) string {
	q := url.Values{}
	q.Set("secret", EncodeSecret(secret))
	q.Set("issuer", issuer)
	q.Set("algorithm", "SHA1")
	q.Set("digits", strconv.Itoa(Digits))
	q.Set("period", strconv.Itoa(int(Period/time.Second)))
	label := url.PathEscape(issuer) + ":" + url.PathEscape(account)
	return "otpauth://totp/" + label + "?" + q.Encode()
}

// Step returns the time step t falls in: whole periods since the Unix
// epoch. Times before the epoch are step 0 and below, which no code uses.
func Step(t time.Time) int64 {
	s := t.Unix()
	p := int64(Period / time.Second)
	if s < 0 {
		return (s - p + 1) / p
	}
	return s / p
}

// Code returns the code of step for secret.
func Code(secret []byte, step int64) string { return HOTP(secret, uint64(step), Digits) }

// HOTP returns RFC 4226's HMAC-SHA-1 one-time password of counter, with
// digits digits (6 to 9). Code is HOTP of a time step with 6 digits; the
// digits are a parameter for RFC 6238's test vectors, which have 8.
func HOTP(secret []byte, counter uint64, digits int) string {
	mac := hmac.New(sha1.New, secret)
	var msg [8]byte
	binary.BigEndian.PutUint64(msg[:], counter)
	mac.Write(msg[:])
	sum := mac.Sum(nil)
	off := sum[len(sum)-1] & 0x0f
	bin := binary.BigEndian.Uint32(sum[off:off+4]) & 0x7fffffff
	mod := uint32(1)
	for range digits {
		mod *= 10
	}
	s := strconv.FormatUint(uint64(bin%mod), 10)
	return strings.Repeat("0", digits-len(s)) + s
}

// Normalize returns code without the spaces and dashes apps show in it
// ("123 456"), and whether what is left is Digits ASCII digits.
func Normalize(code string) (string, bool) {
	code = strings.Map(func(r rune) rune {
		if r == ' ' || r == '-' {
			return -1
		}
		return r
	}, code)
	if len(code) != Digits {
		return "", false
	}
	for i := range len(code) {
		if code[i] < '0' || code[i] > '9' {
			return "", false
		}
	}
	return code, true
}

// Verify reports whether code is the code of a step within Skew of now's
// and after the step after, the last one accepted for this secret (0 when
// none was), and returns that step. The caller then records the step, so
// that neither this code nor an older one works again (RFC 6238 section
// 5.2): store it atomically, compare-and-set, where several instances
// verify codes. Every candidate is compared in constant time.
func Verify(secret []byte, code string, now time.Time, after int64) (step int64, ok bool) {
	code, valid := Normalize(code)
	if !valid {
		return 0, false
	}
	cur := Step(now)
	for s := cur - Skew; s <= cur+Skew; s++ {
		match := subtle.ConstantTimeCompare([]byte(Code(secret, s)), []byte(code)) == 1
		if match && s > after && s > 0 && !ok {
			step, ok = s, true
		}
	}
	return step, ok
}
