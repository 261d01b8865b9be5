package latchkey

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/latchkey/latchkey/mail"
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

	// SameSite is the cookies' SameSite attribute. Default: Strict without
	// AllowedOrigins; with them Lax when every origin is same-site with
	// PublicURL, else None (which needs Secure, so HTTPS).
	SameSite http.SameSite

	// AllowedOrigins are the exact origins (scheme://host[:port]) of SPAs on
	// other origins. They get CORS with credentials and are trusted by the
	// cross-origin check; nothing else is. Default none.
	AllowedOrigins []string
	// PublicURL is where browsers reach latchkey (https://api.example.com);
	// with AllowedOrigins it decides SameSite. Default "".
	PublicURL string
	// Partitioned adds the Partitioned attribute (CHIPS) to cookies, for a
	// cross-site SPA in browsers that block third-party cookies. Needs Secure.
	Partitioned bool
	// CookieDomain sets the cookies' Domain. Default "" (host-only, which
	// the __Host- prefix of Secure cookies requires).
	CookieDomain string

	// ClearSiteData are the Clear-Site-Data types a logout response asks the
	// browser to clear ("cache", "storage", "executionContexts",
	// "clientHints", "prefetchCache", "prerenderCache", "cookies", "*").
	// Default none. Browsers apply "cookies" to the whole registrable domain
	// and its subdomains: every other app on *.example.com (or on
	// localhost) loses its cookies too, and so does latchkey's anonymous
	// CSRF cookie, so the page must fetch a new token before logging in.
	ClearSiteData []string

	// TrustedProxies are the peers whose X-Forwarded-For, -Proto and -Host
	// headers are believed. Default none: the headers are ignored.
	TrustedProxies []netip.Prefix
	// ServesTLS says the server terminates TLS itself; with Secure and no
	// trusted proxy, start-up is refused unless it does.
	ServesTLS bool

	// ContentSecurityPolicy is sent on non-API responses (the SPA).
	// Default DefaultContentSecurityPolicy.
	ContentSecurityPolicy string

	// Upstream, when set, receives every other request under APIPrefix
	// after the session and CSRF checks, with the user's identity in
	// X-Latchkey-User-Id and X-Latchkey-Username (client-sent copies are
	// stripped). Default nil: unknown API paths are 404.
	Upstream *url.URL

	// PagesPrefix is the path under which the hosted pages are served
	// (package pages: PagesPrefix+PageLogin and the others). Form posts to
	// the API that fail go back to them with their error, and RequireLogin
	// and verify send logged-out visitors to PagesPrefix+PageLogin.
	// Default "/auth".
	PagesPrefix string
	// LinkPages makes the links in e-mail open the hosted pages on AppURL
	// (AppURL+PagesPrefix+"/reset?token=…", PageVerify, PageConfirm)
	// instead of the SPA's routes (AppURL/reset-password?token=…), for a
	// site without the SPA. Default false.
	LinkPages bool

	// TokenMode is how a logged-in browser is recognised: TokenModeSession
	// (default) or TokenModeJWT, configured by JWT.
	TokenMode TokenMode
	// JWT configures TokenModeJWT; ignored in session mode.
	JWT JWTConfig

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

	// MaxSessionsPerUser caps a user's live sessions (token families in
	// token mode): a login past it ends the oldest, so one account cannot
	// fill the store. Default 100; -1 turns the cap off.
	MaxSessionsPerUser int

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
	// Defaults 20 and 3s. A client is an IPv4 address or an IPv6 /64. This
	// and the budgets below are counted in the SessionStore if it is an
	// AttemptLimiter, so instances sharing it share them; otherwise in this
	// process.
	LoginBurst  int
	LoginRefill time.Duration

	// LoginIPBurst is how many failed logins one client may make across
	// all usernames before it gets 429, so that trying a common password
	// on many accounts (spraying) costs what guessing one does; one more
	// is allowed every LoginIPRefill. Successful logins do not count.
	// Defaults 100 and 1m: Auth0's suspicious-IP threshold (100 failures
	// per address across accounts), refilled faster than Auth0's 100 a day
	// so that a shared address (an office NAT) recovers from its users'
	// typos within the hour; a sprayer gets 1,440 guesses a day from one
	// address.
	LoginIPBurst  int
	LoginIPRefill time.Duration

	// RegisterBurst is how many registrations one client may attempt,
	// successful or not, before it gets 429; one more is allowed every
	// RegisterRefill. Defaults 25 and 12s: Mastodon's 25 sign-ups per
	// address per 5 minutes, as a bucket, so a class signing up together
	// fits while a script makes at most 300 accounts an hour per address
	// and no longer fills the hashing slots that logins need.
	RegisterBurst  int
	RegisterRefill time.Duration

	// RequireVerifiedEmail refuses logins (403 email_unverified, and a new
	// link goes out) until the user has verified an address. Default off.
	RequireVerifiedEmail bool
	// EmailLoginSignUp lets POST /login/email create an account for an
	// address no account has: a username derived from the address, no
	// password, the address verified only when the mailed link or code
	// signs in (which proves it). Default off: only existing accounts with
	// the address verified may sign in by email.
	EmailLoginSignUp bool
	// FreshLoginWindow is how young a password login must be for changing
	// the password or address, or deleting the account, without typing the
	// password again. Default 10m.
	FreshLoginWindow time.Duration
	// EventRetention is how long security events are kept (PruneEvents
	// deletes older ones). Default 90 days.
	EventRetention time.Duration
	// PasskeyOrigins are the origins passkey ceremonies may run in: the
	// pages that call navigator.credentials. Default: the origins of
	// PublicURL, AppURL and AllowedOrigins. With none, passkeys are off.
	PasskeyOrigins []string
	// PasskeyRPID is the WebAuthn relying party id: a domain every one of
	// PasskeyOrigins is on (app.example.com and api.example.com share
	// example.com). Default: the host of the first origin. Passkeys belong
	// to it: changing it orphans them.
	PasskeyRPID string
	// ResetTokenTTL and VerifyTokenTTL are how long a mailed password reset
	// link, and an address verification or change link, work. Defaults 1h
	// (Kratos, allauth and OWASP's range for resets) and 24h.
	ResetTokenTTL  time.Duration
	VerifyTokenTTL time.Duration
	// MailAddressBurst mails may go to one address before more wait, one
	// more every MailAddressRefill; MailClientBurst and MailClientRefill are
	// the same for what one client asks for, across addresses; and the same
	// mail to the same user goes out at most once per MailCooldown. So
	// latchkey cannot be used to flood an inbox. Defaults 5 and 12s (5 a
	// minute), 20 and 3s (20 a minute), and 2m. Shared by instances as the
	// login throttle is.
	MailAddressBurst  int
	MailAddressRefill time.Duration
	MailClientBurst   int
	MailClientRefill  time.Duration
	MailCooldown      time.Duration

	// MaxBodyBytes bounds JSON request bodies. Default 64 KiB.
	MaxBodyBytes int64

	// AppURL is the SPA's URL, which links in e-mail are built on
	// (AppURL/reset-password?token=…); never the request's Host, which
	// the client chooses. Default: the one AllowedOrigins entry, where the
	// SPA is in cross-origin mode; none with several; else PublicURL.
	AppURL string
	// Mailer sends account e-mail. Default mail.NewLog(Logger): each
	// message is logged, not sent. Wrap a real one in a mail.Queue, so
	// that no request waits on the mail server.
	Mailer mail.Mailer
	// MailTemplates render the e-mail. Default mail.DefaultTemplates().
	MailTemplates *mail.Templates
	// ProductName is what the e-mail calls the service. Default "latchkey".
	ProductName string

	// DisableMetrics turns the Prometheus metrics off: nothing is counted
	// or timed, and MetricsHandler answers 404. Default false: the Auth
	// keeps its metrics (see MetricsHandler), which costs a few clock reads
	// and atomic adds per request.
	DisableMetrics bool

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
	if c.PagesPrefix == "" {
		c.PagesPrefix = "/auth"
	}
	c.PagesPrefix = strings.TrimRight(c.PagesPrefix, "/")
	if c.ContentSecurityPolicy == "" {
		c.ContentSecurityPolicy = DefaultContentSecurityPolicy
	}
	def(&c.IdleTimeout, 2*time.Hour)
	def(&c.AbsoluteTimeout, 24*time.Hour)
	def(&c.RememberIdleTimeout, 14*24*time.Hour)
	def(&c.RememberAbsoluteTimeout, 30*24*time.Hour)
	def(&c.TouchInterval, time.Minute)
	def(&c.HashQueueTimeout, 3*time.Second)
	def(&c.LoginRefill, 3*time.Second)
	def(&c.LoginIPRefill, time.Minute)
	def(&c.RegisterRefill, 12*time.Second)
	def(&c.FreshLoginWindow, 10*time.Minute)
	def(&c.EventRetention, 90*24*time.Hour)
	def(&c.ResetTokenTTL, time.Hour)
	def(&c.VerifyTokenTTL, 24*time.Hour)
	def(&c.MailAddressRefill, 12*time.Second)
	def(&c.MailClientRefill, 3*time.Second)
	def(&c.MailCooldown, 2*time.Minute)
	if c.MailAddressBurst == 0 {
		c.MailAddressBurst = 5
	}
	if c.MailClientBurst == 0 {
		c.MailClientBurst = 20
	}
	if c.TokenMode == "" {
		c.TokenMode = TokenModeSession
	}
	if c.TokenMode == TokenModeJWT {
		c.JWT = c.JWT.withDefaults(strings.TrimRight(c.PublicURL, "/"))
	}
	if c.Protection == "" {
		c.Protection = ProtectionBasic
	}
	if c.MaxSessionsPerUser == 0 {
		c.MaxSessionsPerUser = 100
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
	if c.LoginIPBurst == 0 {
		c.LoginIPBurst = 100
	}
	if c.RegisterBurst == 0 {
		c.RegisterBurst = 25
	}
	if c.MaxBodyBytes == 0 {
		c.MaxBodyBytes = 64 << 10
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.AppURL == "" && len(c.AllowedOrigins) == 1 {
		c.AppURL = c.AllowedOrigins[0]
	}
	if c.AppURL == "" && len(c.AllowedOrigins) == 0 {
		c.AppURL = c.PublicURL
	}
	c.AppURL = strings.TrimRight(c.AppURL, "/")
	if c.Mailer == nil {
		c.Mailer = mail.NewLog(c.Logger)
	}
	if c.MailTemplates == nil {
		c.MailTemplates = mail.DefaultTemplates()
	}
	if c.ProductName == "" {
		c.ProductName = "latchkey"
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

// clearSiteDataTypes are the types of the Clear-Site-Data header
// (W3C Clear Site Data, and the ones Chromium adds).
var clearSiteDataTypes = []string{"cache", "cookies", "storage", "executionContexts", "clientHints", "prefetchCache", "prerenderCache", "*"}

// clearSiteDataHeader is the header value for types: each quoted.
func clearSiteDataHeader(types []string) string {
	q := make([]string, len(types))
	for i, t := range types {
		q[i] = `"` + t + `"`
	}
	return strings.Join(q, ", ")
}

// validate checks a Config after defaults are applied.
func (c *Config) validate() error {
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
	if err := c.checkPagesPrefix(); err != nil {
		errs = append(errs, err)
	}
	switch c.Protection {
	case ProtectionOff, ProtectionBasic, ProtectionStrong:
	default:
		errs = append(errs, fmt.Errorf("session protection %q: want off, basic or strong", c.Protection))
	}
	switch c.TokenMode {
	case TokenModeSession:
	case TokenModeJWT:
		errs = append(errs, c.JWT.validate()...)
	default:
		errs = append(errs, fmt.Errorf("token mode %q: want session or jwt", c.TokenMode))
	}
	errs = append(errs, c.resolveCookies()...)
	if c.IdleTimeout > c.AbsoluteTimeout || c.RememberIdleTimeout > c.RememberAbsoluteTimeout {
		errs = append(errs, errors.New("idle timeout must not exceed the absolute timeout"))
	}
	if c.IdleTimeout < 0 || c.TouchInterval < 0 || c.HashQueueTimeout < 0 || c.MaxBodyBytes < 0 {
		errs = append(errs, errors.New("durations and sizes must not be negative"))
	}
	if c.FreshLoginWindow < 0 || c.EventRetention < 0 || c.ResetTokenTTL < 0 || c.VerifyTokenTTL < 0 || c.MailAddressBurst < 0 || c.MailAddressRefill < 0 ||
		c.MailClientBurst < 0 || c.MailClientRefill < 0 || c.MailCooldown < 0 {
		errs = append(errs, errors.New("account flow durations and mail budgets must not be negative"))
	}
	if c.LoginBurst < 0 || c.LoginRefill < 0 || c.LoginIPBurst < 0 || c.LoginIPRefill < 0 || c.RegisterBurst < 0 || c.RegisterRefill < 0 {
		errs = append(errs, errors.New("throttle bursts and refills must not be negative"))
	}
	for _, t := range c.ClearSiteData {
		if !slices.Contains(clearSiteDataTypes, t) {
			errs = append(errs, fmt.Errorf("Clear-Site-Data type %q: want one of %s", t, strings.Join(clearSiteDataTypes, ", ")))
		}
	}
	if c.MaxSessionsPerUser < 1 && c.MaxSessionsPerUser != -1 {
		errs = append(errs, errors.New("MaxSessionsPerUser must be at least 1, or -1 for no cap"))
	}
	if c.MaxConcurrentHashes < 1 {
		errs = append(errs, errors.New("MaxConcurrentHashes must be at least 1"))
	}
	if err := c.Argon2.Validate(); err != nil {
		errs = append(errs, err)
	}
	if c.AppURL != "" {
		if err := mail.CheckAppURL(c.AppURL); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("latchkey: config: %w", err)
	}
	return nil
}

// checkPagesPrefix refuses a pages prefix that is not a plain path, or
// that overlaps the API's, so that neither can shadow the other.
func (c *Config) checkPagesPrefix() error {
	p := c.PagesPrefix
	if !strings.HasPrefix(p, "/") || strings.ContainsAny(p, " {}?#%\\") || strings.Contains(p, "//") {
		return fmt.Errorf("pages prefix %q must be a path starting with / (and not / alone)", p)
	}
	if p == c.APIPrefix || strings.HasPrefix(p+"/", c.APIPrefix+"/") || strings.HasPrefix(c.APIPrefix+"/", p+"/") {
		return fmt.Errorf("pages prefix %q overlaps the API prefix %q", p, c.APIPrefix)
	}
	return nil
}

// resolveCookies normalises AllowedOrigins, picks SameSite when it is not
// set, and refuses cookie settings browsers would not honour, saying what
// to change.
func (c *Config) resolveCookies() (errs []error) {
	origins := make([]string, 0, len(c.AllowedOrigins))
	for _, o := range c.AllowedOrigins {
		n, err := ParseOrigin(o)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		origins = append(origins, n)
	}
	c.AllowedOrigins = origins
	crossSite := ""
	if len(origins) > 0 {
		pub, err := publicOrigin(c.PublicURL)
		if err != nil {
			return append(errs, err)
		}
		for _, o := range origins {
			if same, _ := sameSite(o, pub); !same && crossSite == "" {
				crossSite = o
			}
		}
		if crossSite != "" && strings.HasPrefix(pub, "https://") && c.SameSite == 0 {
			c.Secure = true // SameSite=None cookies must be Secure
		}
	}
	switch {
	case c.SameSite == 0 && crossSite != "":
		c.SameSite = http.SameSiteNoneMode
	case c.SameSite == 0 && len(origins) > 0:
		c.SameSite = http.SameSiteLaxMode
	case c.SameSite == 0:
		c.SameSite = http.SameSiteStrictMode
	case crossSite != "" && c.SameSite != http.SameSiteNoneMode:
		errs = append(errs, fmt.Errorf("the SPA origin %s is cross-site from %s, so browsers will not send SameSite=%s cookies with its requests: use SameSite=None with Secure cookies over HTTPS", crossSite, c.PublicURL, SameSiteName(c.SameSite)))
	}
	if crossSite != "" && !strings.HasPrefix(c.PublicURL, "https://") {
		errs = append(errs, fmt.Errorf("the SPA origin %s is cross-site from %s: that needs SameSite=None; Secure cookies, so serve latchkey over HTTPS (and set the public URL to https://…)", crossSite, c.PublicURL))
	}
	if c.SameSite == http.SameSiteNoneMode && !c.Secure {
		errs = append(errs, errors.New("SameSite=None needs Secure cookies: set Secure (--cookie-secure) and serve over HTTPS"))
	}
	if c.Partitioned && !c.Secure {
		errs = append(errs, errors.New("Partitioned cookies must be Secure: set Secure (--cookie-secure)"))
	}
	if c.Secure && !c.ServesTLS && len(c.TrustedProxies) == 0 {
		errs = append(errs, errors.New("Secure cookies, but latchkey serves plain HTTP and trusts no TLS-terminating proxy, so browsers would drop them: give a TLS certificate (--tls-cert, --tls-key), or the proxy that terminates TLS (--trusted-proxies), or drop --cookie-secure"))
	}
	if c.Secure && c.CookieDomain != "" {
		errs = append(errs, fmt.Errorf("Secure cookies use the __Host- prefix, which forbids a Domain: drop the cookie domain %q", c.CookieDomain))
	}
	return errs
}

// publicOrigin returns the origin part of the public URL.
func publicOrigin(s string) (string, error) {
	if s == "" {
		return "", errNeedPublicURL
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("public URL %q: want http(s)://host[:port]", s)
	}
	return ParseOrigin(u.Scheme + "://" + u.Host)
}

// SameSiteName returns "Strict", "Lax" or "None", as in a Set-Cookie header.
func SameSiteName(s http.SameSite) string {
	switch s {
	case http.SameSiteLaxMode:
		return "Lax"
	case http.SameSiteNoneMode:
		return "None"
	}
	return "Strict"
}

// ParseSameSite parses "strict", "lax" or "none" (any case); "" is the
// zero value, which lets New choose.
func ParseSameSite(s string) (http.SameSite, error) {
	switch strings.ToLower(s) {
	case "":
		return 0, nil
	case "strict":
		return http.SameSiteStrictMode, nil
	case "lax":
		return http.SameSiteLaxMode, nil
	case "none":
		return http.SameSiteNoneMode, nil
	}
	return 0, fmt.Errorf("latchkey: SameSite %q: want strict, lax or none", s)
}
