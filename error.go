package latchkey

import (
	"errors"
	"fmt"
)

// Sentinel errors. Stores and the API wrap them with %w; errorResponse maps
// them to HTTP statuses in one place.
var (
	// ErrNotFound: the user or session does not exist (or has expired).
	ErrNotFound = errors.New("latchkey: not found")
	// ErrUsernameTaken: a user with the same case-folded username exists.
	ErrUsernameTaken = errors.New("latchkey: username taken")
	// ErrConflict: a unique key other than the username collided.
	ErrConflict = errors.New("latchkey: conflict")
	// ErrInvalidCredentials: unknown username or wrong password (never says which).
	ErrInvalidCredentials = errors.New("latchkey: invalid credentials")
	// ErrUnauthorized: the request carries no valid session.
	ErrUnauthorized = errors.New("latchkey: not logged in")
	// ErrCSRF: the CSRF token is missing or wrong, or the request is cross-origin.
	ErrCSRF = errors.New("latchkey: CSRF check failed")
	// ErrBusy: too many password hashes are running; retry shortly.
	ErrBusy = errors.New("latchkey: busy")
	// ErrTooManyAttempts: too many failed logins for this username from this client.
	ErrTooManyAttempts = errors.New("latchkey: too many attempts")
	// ErrStoreUnavailable: a store could not be reached in time.
	ErrStoreUnavailable = errors.New("latchkey: store unavailable")
)

// InputError describes bad client input: which field and why. Code is one of
// invalid_json, invalid_input, weak_password, unsupported_media_type,
// body_too_large.
type InputError struct {
	Code    string
	Field   string // empty when the problem is not one field's
	Message string
}

func (e *InputError) Error() string {
	if e.Field != "" {
		return fmt.Sprintf("latchkey: %s: %s: %s", e.Code, e.Field, e.Message)
	}
	return fmt.Sprintf("latchkey: %s: %s", e.Code, e.Message)
}
