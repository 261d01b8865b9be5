package latchkey

import (
	"errors"
	"fmt"
	"net/http"
)

// Sentinel errors. Stores and the API wrap them with %w; errorResponse maps
// them to HTTP statuses in one place.
var (
	// ErrNotFound: the user or session does not exist (or has expired).
	ErrNotFound = errors.New("latchkey: not found")
	// ErrUsernameTaken: a user with the same case-folded username exists.
	ErrUsernameTaken = errors.New("latchkey: username taken")
	// ErrEmailTaken: another user has this address verified.
	ErrEmailTaken = errors.New("latchkey: email taken")
	// ErrConflict: a unique key other than the username collided.
	ErrConflict = errors.New("latchkey: conflict")
	// ErrInvalidCredentials: unknown username or wrong password (never says which).
	ErrInvalidCredentials = errors.New("latchkey: invalid credentials")
	// ErrUnauthorized: the request carries no valid session.
	ErrUnauthorized = errors.New("latchkey: not logged in")
	// ErrTokenExpired: the access token is authentic but has expired; the
	// client should refresh it (POST /api/auth/refresh) and retry.
	ErrTokenExpired = errors.New("latchkey: access token expired")
	// ErrTokenReused: a refresh token was used twice; its whole login has
	// been revoked.
	ErrTokenReused = errors.New("latchkey: refresh token reused")
	// ErrCSRF: the CSRF token is missing or wrong, or the request is cross-origin.
	ErrCSRF = errors.New("latchkey: CSRF check failed")
	// ErrBusy: too many password hashes are running; retry shortly.
	ErrBusy = errors.New("latchkey: busy")
	// ErrTooManyAttempts: too many failed logins from this client, for this
	// username or in all.
	ErrTooManyAttempts = errors.New("latchkey: too many attempts")
	// ErrInvalidPath: the gateway refuses a path that a backend could read
	// as outside the API prefix, such as /api/%2e%2e/admin.
	ErrInvalidPath = errors.New("latchkey: path not allowed")
	// ErrReservedHeader: the request carries a header that only latchkey
	// and the proxy in front of it may set, such as X-Latchkey-Role or
	// X_Latchkey_User_Id; verify refuses it, since nginx would pass it on.
	ErrReservedHeader = errors.New("latchkey: reserved header")
	// ErrTooManyRegistrations: too many registrations from this client.
	ErrTooManyRegistrations = errors.New("latchkey: too many registrations")
	// ErrStoreUnavailable: a store could not be reached in time.
	ErrStoreUnavailable = errors.New("latchkey: store unavailable")
	// ErrForbidden: logged in, but without the role the route requires.
	ErrForbidden = errors.New("latchkey: forbidden")
	// ErrAccountLocked: an operator locked the account; it cannot log in.
	ErrAccountLocked = errors.New("latchkey: account locked")
	// ErrSelfAction: an admin tried to lock or delete their own account
	// through the admin API, which would leave nobody to undo it.
	ErrSelfAction = errors.New("latchkey: not on your own account")
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

// apiError is the body of every error response.
type apiError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Field   string `json:"field,omitempty"`
}

// errorResponse is the one mapping from errors to HTTP statuses and bodies.
// Anything it does not know is a 500 whose detail goes to the log only.
func errorResponse(err error) (status int, body apiError, known bool) {
	if ie, ok := errors.AsType[*InputError](err); ok {
		status = http.StatusBadRequest
		switch ie.Code {
		case "unsupported_media_type":
			status = http.StatusUnsupportedMediaType
		case "body_too_large":
			status = http.StatusRequestEntityTooLarge
		}
		return status, apiError{Code: ie.Code, Message: ie.Message, Field: ie.Field}, true
	}
	switch {
	case errors.Is(err, ErrInvalidCredentials):
		return http.StatusUnauthorized, apiError{"invalid_credentials", "The username or password is incorrect.", ""}, true
	case errors.Is(err, ErrUnauthorized):
		return http.StatusUnauthorized, apiError{"unauthorized", "You are not logged in.", ""}, true
	case errors.Is(err, ErrTokenExpired):
		return http.StatusUnauthorized, apiError{"token_expired", "The access token has expired; refresh it and retry.", ""}, true
	case errors.Is(err, ErrTokenReused):
		return http.StatusUnauthorized, apiError{"token_reused", "This login was ended because a refresh token was used twice. Log in again.", ""}, true
	case errors.Is(err, ErrCSRF):
		return http.StatusForbidden, apiError{"csrf_failed", csrfMessage(err), ""}, true
	case errors.Is(err, ErrEmailTaken):
		return http.StatusConflict, apiError{"email_taken", "Another account uses that email address.", "email"}, true
	case errors.Is(err, ErrInvalidToken):
		return http.StatusBadRequest, apiError{"invalid_token", "This link is invalid, was used already or has expired. Ask for a new one.", "token"}, true
	case errors.Is(err, ErrReauthRequired):
		return http.StatusForbidden, apiError{"reauth_required", "Enter your current password to do this: your login is not recent.", passwordField(err)}, true
	case errors.Is(err, ErrWrongPassword):
		return http.StatusForbidden, apiError{"wrong_password", "That is not your current password.", passwordField(err)}, true
	case errors.Is(err, ErrEmailUnverified):
		return http.StatusForbidden, apiError{"email_unverified", "Verify your email address first: follow the link we sent to it.", ""}, true
	case errors.Is(err, ErrNoEmail):
		return http.StatusConflict, apiError{"no_email", "This account has no email address.", "email"}, true
	case errors.Is(err, ErrTooManyMails):
		return http.StatusTooManyRequests, apiError{"too_many_emails", "Too many emails asked for. Wait a little and try again.", ""}, true
	case errors.Is(err, ErrUsernameTaken):
		return http.StatusConflict, apiError{"username_taken", "That username, or one that looks the same, is already taken.", "username"}, true
	case errors.Is(err, ErrTooManyAttempts):
		return http.StatusTooManyRequests, apiError{"too_many_attempts", "Too many failed attempts. Wait a little and try again.", ""}, true
	case errors.Is(err, ErrTooManyRegistrations):
		return http.StatusTooManyRequests, apiError{"too_many_attempts", "Too many sign-ups from this address. Wait a little and try again.", ""}, true
	case errors.Is(err, ErrBusy):
		return http.StatusServiceUnavailable, apiError{"busy", "The server is busy. Try again in a moment.", ""}, true
	case errors.Is(err, ErrStoreUnavailable):
		return http.StatusServiceUnavailable, apiError{"store_unavailable", "The server cannot reach its storage. Try again shortly.", ""}, true
	case errors.Is(err, ErrUpstream):
		return http.StatusBadGateway, apiError{"upstream_unavailable", "The application server behind latchkey cannot be reached.", ""}, true
	case errors.Is(err, ErrInvalidPath):
		return http.StatusBadRequest, apiError{"invalid_path", "This path is not forwarded: a segment is, or decodes to, '.' or '..', or holds an encoded '/', '\\' or NUL.", ""}, true
	case errors.Is(err, ErrReservedHeader):
		return http.StatusForbidden, apiError{"reserved_header", "The request carries an X-Latchkey-* header, or an X-Forwarded-* one spelled with '_'; only latchkey and its proxy may set those.", ""}, true
	case errors.Is(err, ErrForbidden):
		return http.StatusForbidden, apiError{"forbidden", "You are not allowed to do this.", ""}, true
	case errors.Is(err, ErrAccountLocked):
		return http.StatusForbidden, apiError{"account_locked", "This account is locked. Contact the site's administrators.", ""}, true
	case errors.Is(err, ErrSelfAction):
		return http.StatusConflict, apiError{"self_action", "You cannot do this to your own account here.", ""}, true
	case errors.Is(err, ErrMFAPending):
		return http.StatusUnauthorized, apiError{"mfa_expired", "Your sign-in expired or was not started in this browser. Log in with your password again.", ""}, true
	case errors.Is(err, ErrInvalidMFACode):
		return http.StatusUnauthorized, apiError{"invalid_code", "That code is wrong or was used already.", proofField(err)}, true
	case errors.Is(err, ErrMFAEnabled):
		return http.StatusConflict, apiError{"mfa_enabled", "An authenticator app is set up already. Remove it first to set up another.", ""}, true
	case errors.Is(err, ErrMFANotEnabled):
		return http.StatusConflict, apiError{"mfa_not_enabled", "Two-factor authentication is not set up.", ""}, true
	case errors.Is(err, ErrTOTPSetupExpired):
		return http.StatusConflict, apiError{"mfa_setup_expired", "No authenticator set-up is waiting for a code. Start again.", ""}, true
	case errors.Is(err, ErrPasskeysOff):
		return http.StatusNotFound, apiError{"passkeys_off", "Passkeys are not set up on this server.", ""}, true
	case errors.Is(err, ErrPasskeyExists):
		return http.StatusConflict, apiError{"passkey_exists", "This passkey is registered already.", ""}, true
	case errors.Is(err, ErrTooManyPasskeys):
		return http.StatusConflict, apiError{"too_many_passkeys", "You have as many passkeys as an account may have; remove one first.", ""}, true
	case errors.Is(err, errCeremony):
		return http.StatusBadRequest, apiError{"passkey_ceremony", "This passkey request has expired or was used already. Start again.", ""}, true
	case errors.Is(err, ErrNotFound):
		return http.StatusNotFound, apiError{"not_found", "Not found.", ""}, true
	case errors.Is(err, errMethodNotAllowed):
		return http.StatusMethodNotAllowed, apiError{"method_not_allowed", "This method is not allowed here.", ""}, true
	}
	return http.StatusInternalServerError, apiError{"internal_error", "Something went wrong on the server.", ""}, false
}

var errMethodNotAllowed = errors.New("latchkey: method not allowed")

// csrfError carries why a CSRF check failed, for the client's message.
type csrfError struct{ reason string }

func (e *csrfError) Error() string { return "latchkey: CSRF check failed: " + e.reason }
func (e *csrfError) Unwrap() error { return ErrCSRF }

func csrfMessage(err error) string {
	if ce, ok := errors.AsType[*csrfError](err); ok {
		return "CSRF check failed: " + ce.reason
	}
	return "CSRF check failed."
}

var errPanic = errors.New("latchkey: panic")

// proofField is the request field a wrong second-factor proof was in.
func proofField(err error) string {
	if pe, ok := errors.AsType[*proofError](err); ok {
		return pe.field
	}
	return ""
}

// passwordField is the request field a wrong or missing password was in.
func passwordField(err error) string {
	if pf, ok := errors.AsType[*passwordFieldError](err); ok {
		return pf.field
	}
	return "password"
}
