package latchkey

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime"
	"strings"
	"time"

	"github.com/latchkey/latchkey/password"
)

// SessionProtection says what happens to a session whose User-Agent changes,
// as in Flask-Login.
type SessionProtection string

const (
	// ProtectionOff ignores User-Agent changes.
	ProtectionOff SessionProtection = "off"
	// ProtectionBasic marks the session non-fresh; it stays logged in.
	ProtectionBasic SessionProtection = "basic"
	// ProtectionStrong deletes the session.
	ProtectionStrong SessionProtection = "strong"
)

// MinSecretLen is the shortest secret key accepted, in bytes.
const MinSecretLen = 32

// Config configures an Auth. The zero value of every field but Secrets means
// its default.
type Config struct {
	// APIPrefix is the path the API is served under. Default "/api".
	APIPrefix string

	// Secrets are the server's secret keys, each at least 32 bytes. The first
	// signs CSRF tokens; all of them verify, so keys can be rotated. Required.
	Secrets [][]byte

	// Secure makes every cookie Secure (and __Host- prefixed). Default false:
	// cookies are Secure only on requests that arrived over TLS.
	Secure bool

	// SameSite is the session cookie's SameSite attribute. Default Strict.
	SameSite http.SameSite

	// IdleTimeout ends a session unused for this long. Default 2h.
	IdleTimeout time.Duration
	// AbsoluteTimeout ends a session this long after login. Default 24h.
	AbsoluteTimeout time.Duration
	// RememberIdleTimeout replaces IdleTimeout for "remember me". Default 14 days.
	RememberIdleTimeout time.Duration
	// RememberAbsoluteTimeout replaces AbsoluteTimeout for "remember me". Default 30 days.
	RememberAbsoluteTimeout time.Duration
	// TouchInterval is how often, at most, a session's idle deadline is
	// written back to the store, so authenticated reads are not writes.
	// Default 1m.
	TouchInterval time.Duration

	// Protection is the session protection mode. Default ProtectionBasic.
	Protection SessionProtection

	// Argon2 are the password hashing parameters. Default
	// password.DefaultParams (OWASP: m=19 MiB, t=2, p=1).
	Argon2 password.Params
	// MaxConcurrentHashes bounds the password hashes computed at once, so a
	// login flood cannot exhaust memory (each argon2id hash holds Argon2.Memory).
	// Default: the number of CPUs, at least 2.
	MaxConcurrentHashes int
	// HashQueueTimeout is how long a login waits for a hashing slot before it
	// gets 503 busy. Default 3s.
	HashQueueTimeout time.Duration

	// LoginBurst is how many failed logins one client may make for one
	// username before it gets 429; one more is allowed every LoginRefill.
	// Defaults 20 and 3s.
	LoginBurst  int
	LoginRefill time.Duration

	// MaxBodyBytes bounds JSON request bodies. Default 64 KiB.
	MaxBodyBytes int64

	// Logger receives operational logs; never passwords, tokens or cookies.
	// Default slog.Default().
	Logger *slog.Logger

	// Now is the clock. Default time.Now.
	Now func() time.Time
}

func (c Config) withDefaults() Config {
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	if c.APIPrefix == "" {
		c.APIPrefix = "/api"
	}
	c.APIPrefix = strings.TrimRight(c.APIPrefix, "/")
	if c.SameSite == 0 {
		c.SameSite = http.SameSiteStrictMode
	}
	def(&c.IdleTimeout, 2*time.Hour)
	def(&c.AbsoluteTimeout, 24*time.Hour)
	def(&c.RememberIdleTimeout, 14*24*time.Hour)
	def(&c.RememberAbsoluteTimeout, 30*24*time.Hour)
	def(&c.TouchInterval, time.Minute)
	def(&c.HashQueueTimeout, 3*time.Second)
	def(&c.LoginRefill, 3*time.Second)
	if c.Protection == "" {
		c.Protection = ProtectionBasic
	}
	if c.Argon2 == (password.Params{}) {
		c.Argon2 = password.DefaultParams()
	}
	if c.MaxConcurrentHashes == 0 {
		c.MaxConcurrentHashes = max(2, runtime.NumCPU())
	}
	if c.LoginBurst == 0 {
		c.LoginBurst = 20
	}
	if c.MaxBodyBytes == 0 {
		c.MaxBodyBytes = 64 << 10
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

// validate checks a Config after defaults are applied.
func (c Config) validate() error {
	var errs []error
	if len(c.Secrets) == 0 {
		errs = append(errs, errors.New("no secret key: set Secrets (LATCHKEY_SECRET)"))
	}
	for i, s := range c.Secrets {
		if len(s) < MinSecretLen {
			errs = append(errs, fmt.Errorf("secret key %d is %d bytes; need at least %d", i+1, len(s), MinSecretLen))
		}
	}
	if !strings.HasPrefix(c.APIPrefix, "/") || strings.ContainsAny(c.APIPrefix, " {}") {
		errs = append(errs, fmt.Errorf("API prefix %q must be a path starting with /", c.APIPrefix))
	}
	switch c.Protection {
	case ProtectionOff, ProtectionBasic, ProtectionStrong:
	default:
		errs = append(errs, fmt.Errorf("session protection %q: want off, basic or strong", c.Protection))
	}
	if c.SameSite == http.SameSiteNoneMode && !c.Secure {
		errs = append(errs, errors.New("SameSite=None needs Secure cookies"))
	}
	if c.IdleTimeout > c.AbsoluteTimeout || c.RememberIdleTimeout > c.RememberAbsoluteTimeout {
		errs = append(errs, errors.New("idle timeout must not exceed the absolute timeout"))
	}
	if c.IdleTimeout < 0 || c.TouchInterval < 0 || c.HashQueueTimeout < 0 || c.LoginRefill < 0 || c.MaxBodyBytes < 0 {
		errs = append(errs, errors.New("durations and sizes must not be negative"))
	}
	if c.MaxConcurrentHashes < 1 {
		errs = append(errs, errors.New("MaxConcurrentHashes must be at least 1"))
	}
	if err := c.Argon2.Validate(); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("latchkey: config: %w", err)
	}
	return nil
}

// ParseSameSite parses "strict", "lax" or "none" (any case).
func ParseSameSite(s string) (http.SameSite, error) {
	switch strings.ToLower(s) {
	case "strict":
		return http.SameSiteStrictMode, nil
	case "lax":
		return http.SameSiteLaxMode, nil
	case "none":
		return http.SameSiteNoneMode, nil
	}
	return 0, fmt.Errorf("latchkey: SameSite %q: want strict, lax or none", s)
}
