package mail

import (
	"fmt"
	"net/url"
	"strings"
)

// Kind names a message template.
type Kind string

// The messages latchkey sends. Each has a text and an HTML template named
// after it (reset.txt, reset.html, …).
const (
	// KindReset carries a password reset link.
	KindReset Kind = "reset"
	// KindVerify carries a link that verifies the address of an account.
	KindVerify Kind = "verify"
	// KindConfirmEmail carries a link that confirms a new address, sent to
	// that address when a user changes theirs.
	KindConfirmEmail Kind = "confirm-email"
	// KindPasswordChanged tells a user their password was changed.
	KindPasswordChanged Kind = "password-changed"
	// KindEmailChanged tells the old address that the account's address
	// was changed.
	KindEmailChanged Kind = "email-changed"
	// KindMFAEnabled tells a user a second factor (an authenticator app)
	// was added to their account.
	KindMFAEnabled Kind = "mfa-enabled"
	// KindMFADisabled tells a user a second factor was removed.
	KindMFADisabled Kind = "mfa-disabled"
	// KindRecoveryCodeUsed tells a user one of their recovery codes
	// logged in.
	KindRecoveryCodeUsed Kind = "recovery-code-used"
	// KindRecoveryCodesRegenerated tells a user their recovery codes were
	// replaced.
	KindRecoveryCodesRegenerated Kind = "recovery-codes-regenerated"
	// KindPasskeyAdded and KindPasskeyRemoved tell a user a passkey was
	// added to, or removed from, their account.
	KindPasskeyAdded   Kind = "passkey-added"
	KindPasskeyRemoved Kind = "passkey-removed"
	// KindEmailLogin carries a sign-in link and the same sign-in's
	// 6-digit code (Data.Code), for signing in without a password.
	KindEmailLogin Kind = "email-login"
	// KindTest is what "latchkey mail test" sends.
	KindTest Kind = "test"
)

// Kinds are all the kinds, in a fixed order.
func Kinds() []Kind {
	return []Kind{KindReset, KindVerify, KindConfirmEmail, KindPasswordChanged, KindEmailChanged,
		KindMFAEnabled, KindMFADisabled, KindRecoveryCodeUsed, KindRecoveryCodesRegenerated,
		KindPasskeyAdded, KindPasskeyRemoved, KindEmailLogin, KindTest}
}

// Route is the SPA route the kind's link opens, "/" for the test message
// and "" for notices, which carry no token.
func (k Kind) Route() string {
	switch k {
	case KindReset:
		return "/reset-password"
	case KindVerify:
		return "/verify-email"
	case KindConfirmEmail:
		return "/confirm-email"
	case KindEmailLogin:
		return "/login/email"
	case KindTest:
		return "/"
	}
	return ""
}

// CheckAppURL returns an error wrapping ErrInvalidURL unless appURL is an
// absolute http(s) URL with no query or fragment, which links can be
// joined to.
func CheckAppURL(appURL string) error {
	_, err := parseAppURL(appURL)
	return err
}

func parseAppURL(appURL string) (*url.URL, error) {
	u, err := url.Parse(appURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
		return nil, fmt.Errorf("%w: app URL %q: want http(s)://host[:port][/path]", ErrInvalidURL, appURL)
	}
	if u.RawQuery != "" || u.Fragment != "" || u.ForceQuery {
		return nil, fmt.Errorf("%w: app URL %q: no query or fragment, links add their own", ErrInvalidURL, appURL)
	}
	return u, nil
}

// Link returns appURL joined with route and, unless token is "", a query
// token=TOKEN (escaped): Link("https://app.example.com", "/reset-password",
// t) is https://app.example.com/reset-password?token=t. A path in appURL is
// kept, so an SPA under /app gets /app/reset-password. Links are built
// from configuration alone so that a forged Host header cannot send a
// user's token to someone else's site.
func Link(appURL, route, token string) (string, error) {
	u, err := parseAppURL(appURL)
	if err != nil {
		return "", err
	}
	u.Path = strings.TrimRight(u.Path, "/") + route
	u.RawPath = ""
	if token != "" {
		u.RawQuery = url.Values{"token": {token}}.Encode()
	}
	return u.String(), nil
}
