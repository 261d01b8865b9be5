package latchkey

import (
	"net/mail"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/secure/precis"
)

// Username length bounds, in characters, after trimming.
const (
	MinUsernameLen = 3
	MaxUsernameLen = 64
	maxEmailLen    = 254
)

// NormalizeUsername trims name and checks it against the PRECIS
// UsernameCasePreserved profile (RFC 8265: letters, digits and ASCII
// punctuation; no spaces, emoji or control characters). It returns the name
// to display and the case-folded key that must be unique, so "Alice",
// "ALICE" and the full-width "Ａｌｉｃｅ" are one user.
func NormalizeUsername(name string) (display, key string, err error) {
	name = strings.TrimSpace(name)
	if n := utf8.RuneCountInString(name); n < MinUsernameLen || n > MaxUsernameLen {
		return "", "", &InputError{Code: "invalid_input", Field: "username", Message: "Username must be 3 to 64 characters long."}
	}
	display, err = precis.UsernameCasePreserved.String(name)
	if err != nil {
		return "", "", &InputError{Code: "invalid_input", Field: "username", Message: "Username may contain letters, digits and punctuation, but no spaces, emoji or control characters."}
	}
	key, err = precis.UsernameCaseMapped.String(name)
	if err != nil {
		return "", "", &InputError{Code: "invalid_input", Field: "username", Message: "Username may contain letters, digits and punctuation, but no spaces, emoji or control characters."}
	}
	// Width mapping can change the length; check the result too.
	if n := utf8.RuneCountInString(display); n < MinUsernameLen || n > MaxUsernameLen {
		return "", "", &InputError{Code: "invalid_input", Field: "username", Message: "Username must be 3 to 64 characters long."}
	}
	return display, key, nil
}

// ValidateEmail checks an optional email address: empty is allowed; otherwise
// it must be a bare address (no display name) of at most 254 bytes.
func ValidateEmail(email string) error {
	if email == "" {
		return nil
	}
	bad := &InputError{Code: "invalid_input", Field: "email", Message: "Email must be a valid address like name@example.com."}
	if len(email) > maxEmailLen {
		return bad
	}
	addr, err := mail.ParseAddress(email)
	if err != nil || addr.Address != email || addr.Name != "" {
		return bad
	}
	at := strings.LastIndexByte(email, '@')
	if at <= 0 || !strings.Contains(email[at+1:], ".") || strings.HasSuffix(email, ".") {
		return bad
	}
	return nil
}
