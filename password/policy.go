package password

import (
	"errors"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/ccojocar/zxcvbn-go/frequency"
)

// Length limits for new passwords. Following NIST SP 800-63B, length is the
// only composition rule. Long passwords are refused rather than truncated, so
// that what the user typed is what is checked; the byte cap keeps a request
// from making the server hash megabytes.
const (
	MinLength = 8    // characters (runes), so non-Latin passwords are not penalised
	MaxBytes  = 1024 // bytes of UTF-8
)

// Reasons Check refuses a new password. Their text is fit to show the user
// after the "password: " prefix.
var (
	ErrTooShort       = errors.New("password: must be at least 8 characters")
	ErrTooLong        = errors.New("password: must be at most 1024 bytes")
	ErrSameAsUsername = errors.New("password: must not be the same as the username")
	ErrCommon         = errors.New("password: is one of the most commonly used passwords")
)

// Check reports why password is refused as a new password for username, or
// nil: ErrTooShort, ErrTooLong, ErrSameAsUsername (ignoring case and
// surrounding spaces), or ErrCommon (see IsCommon), checked in that order.
func Check(username, password string) error {
	// Checking bytes first avoids counting the runes of a huge input; the two
	// cannot both fail, since 8 runes are at most 32 bytes.
	if len(password) > MaxBytes {
		return ErrTooLong
	}
	if utf8.RuneCountInString(password) < MinLength {
		return ErrTooShort
	}
	if u := strings.TrimSpace(username); u != "" && strings.EqualFold(u, strings.TrimSpace(password)) {
		return ErrSameAsUsername
	}
	if IsCommon(password) {
		return ErrCommon
	}
	return nil
}

// IsCommon reports whether password, ignoring case, is among the 7141 most
// common passwords of zxcvbn's list, the first ones an attacker tries.
func IsCommon(password string) bool {
	_, ok := common()[strings.ToLower(password)]
	return ok
}

// CommonCount returns the number of passwords IsCommon knows, so tests can
// tell that the list loaded.
func CommonCount() int {
	return len(common())
}

// common is a read-only set built on first use; the list is only needed
// when a password is set.
var common = sync.OnceValue(func() map[string]struct{} {
	list := frequency.Lists["Passwords"].List
	set := make(map[string]struct{}, len(list))
	for _, p := range list {
		set[strings.ToLower(p)] = struct{}{}
	}
	return set
})
