package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"strings"

	"github.com/latchkey/latchkey"
)

// The three ways an SPA is deployed.
const (
	modeEmbedded    = "embedded"     // latchkey serves the SPA and the API
	modeProxy       = "proxy"        // one domain; the SPA is served by something else
	modeCrossOrigin = "cross-origin" // the SPA is on another origin: CORS
)

// deployment holds the flags that say how the SPA is deployed.
type deployment struct {
	mode           string
	spaDir         string
	spaUpstream    string
	allowedOrigins string
	publicURL      string
	trustedProxies string
	tlsCert        string
	tlsKey         string
	upstream       string
	csp            string
	partitioned    bool
	cookieDomain   string
	pagesDir       string
	requireLogin   bool
	publicPaths    string
}

func (d *deployment) register(fs *flag.FlagSet) {
	fs.StringVar(&d.mode, "mode", modeEmbedded, "embedded (latchkey serves the SPA), proxy (same domain, SPA served elsewhere) or cross-origin (CORS)")
	fs.StringVar(&d.spaDir, "spa-dir", "", "embedded mode: serve this SPA build instead of the built-in demo")
	fs.StringVar(&d.spaUpstream, "spa-upstream", "", "proxy mode: reverse-proxy every non-API path to this URL (a Vite dev server, a static server)")
	fs.StringVar(&d.allowedOrigins, "allowed-origins", "", "cross-origin mode: comma-separated exact SPA origins, e.g. https://app.example.com,http://localhost:5173")
	fs.StringVar(&d.publicURL, "public-url", "", "the URL browsers use for latchkey (default: from --addr); decides SameSite in cross-origin mode")
	fs.StringVar(&d.trustedProxies, "trusted-proxies", "", "comma-separated IPs/CIDRs whose X-Forwarded-For/-Proto/-Host are believed")
	fs.StringVar(&d.tlsCert, "tls-cert", "", "TLS certificate file (PEM); serves HTTPS with HTTP/2")
	fs.StringVar(&d.tlsKey, "tls-key", "", "TLS private key file (PEM)")
	fs.StringVar(&d.upstream, "upstream", "", "proxy every other API request to this backend after the session and CSRF checks")
	fs.StringVar(&d.csp, "csp", latchkey.DefaultContentSecurityPolicy, "Content-Security-Policy for the SPA")
	fs.BoolVar(&d.partitioned, "partitioned", false, "Partitioned (CHIPS) cookies for a cross-site SPA; needs Secure")
	fs.StringVar(&d.cookieDomain, "cookie-domain", "", "cookie Domain (not with Secure/__Host- cookies)")
	fs.StringVar(&d.pagesDir, "pages-dir", "", "directory with files that replace the hosted pages' built-in ones: layout.html, login.html, register.html, forgot.html, reset.html, verify.html, confirm.html, logout.html, style.css")
	fs.BoolVar(&d.requireLogin, "require-login", false, "proxy mode with --spa-upstream: every proxied path needs a session; logged-out page loads go to the login page and back, scripts get 401")
	fs.StringVar(&d.publicPaths, "public-paths", "", `with --require-login: comma-separated paths that need no login; one ending in "/" is a prefix (/static/,/about)`)
}

// apply checks the mode's flag combinations and puts them into cfg; addr is
// the listen address. Every refusal says what to change.
func (d *deployment) apply(cfg *latchkey.Config, addr string) error {
	var errs []error
	wrongMode := func(flag, mode string) {
		errs = append(errs, fmt.Errorf("--%s is for --mode %s, not %s", flag, mode, d.mode))
	}
	switch d.mode {
	case modeEmbedded:
		if d.spaUpstream != "" {
			wrongMode("spa-upstream", modeProxy)
		}
		if d.allowedOrigins != "" {
			wrongMode("allowed-origins", modeCrossOrigin)
		}
	case modeProxy:
		if d.spaDir != "" {
			wrongMode("spa-dir", modeEmbedded)
		}
		if d.allowedOrigins != "" {
			wrongMode("allowed-origins", modeCrossOrigin)
		}
	case modeCrossOrigin:
		if d.allowedOrigins == "" {
			errs = append(errs, errors.New("--mode cross-origin needs --allowed-origins: the exact origins of the SPA"))
		}
		if d.spaDir != "" || d.spaUpstream != "" {
			errs = append(errs, errors.New("in --mode cross-origin the SPA is served from its own origin: drop --spa-dir/--spa-upstream"))
		}
	default:
		errs = append(errs, fmt.Errorf("--mode %q: want embedded, proxy or cross-origin", d.mode))
	}
	errs = append(errs, d.checkRequireLogin(cfg)...)
	if (d.tlsCert == "") != (d.tlsKey == "") {
		errs = append(errs, errors.New("--tls-cert and --tls-key go together"))
	}
	cfg.ServesTLS = d.tlsCert != ""
	cfg.ContentSecurityPolicy = d.csp
	cfg.Partitioned = d.partitioned
	cfg.CookieDomain = d.cookieDomain
	if d.allowedOrigins != "" {
		cfg.AllowedOrigins = strings.Split(d.allowedOrigins, ",")
		for i := range cfg.AllowedOrigins {
			cfg.AllowedOrigins[i] = strings.TrimSpace(cfg.AllowedOrigins[i])
		}
	}
	cfg.PublicURL = d.publicURL
	if cfg.PublicURL == "" && d.mode == modeCrossOrigin {
		pub, err := publicURLFromAddr(addr, cfg.ServesTLS)
		if err != nil {
			errs = append(errs, err)
		}
		cfg.PublicURL = pub
	}
	if d.trustedProxies != "" {
		p, err := latchkey.ParseTrustedProxies(d.trustedProxies)
		if err != nil {
			errs = append(errs, fmt.Errorf("--trusted-proxies: %w", err))
		}
		cfg.TrustedProxies = p
	}
	for _, u := range []struct{ flag, v string }{{"upstream", d.upstream}, {"spa-upstream", d.spaUpstream}} {
		if u.v == "" {
			continue
		}
		parsed, err := url.Parse(u.v)
		if err != nil || (parsed.Scheme != "http" && parsed.Scheme != "https") || parsed.Host == "" {
			errs = append(errs, fmt.Errorf("--%s %q: want http(s)://host[:port]", u.flag, u.v))
			continue
		}
		if u.flag == "upstream" {
			cfg.Upstream = parsed
		}
	}
	return errors.Join(errs...)
}

// checkRequireLogin checks --require-login and --public-paths; cfg has the
// token mode.
func (d *deployment) checkRequireLogin(cfg *latchkey.Config) (errs []error) {
	if d.publicPaths != "" && !d.requireLogin {
		errs = append(errs, errors.New("--public-paths lists the exceptions to --require-login: add --require-login"))
	}
	for _, p := range d.publicList() {
		if !strings.HasPrefix(p, "/") {
			errs = append(errs, fmt.Errorf("--public-paths: %q is not a path starting with /", p))
		}
	}
	if !d.requireLogin {
		return errs
	}
	if d.mode != modeProxy || d.spaUpstream == "" {
		errs = append(errs, errors.New("--require-login protects the site latchkey proxies: it needs --mode proxy --spa-upstream URL (with nginx in front, use auth_request instead: deploy/nginx/auth-request.conf)"))
	}
	if cfg.TokenMode == latchkey.TokenModeJWT {
		errs = append(errs, errors.New("--require-login works in session mode: pages without JavaScript cannot refresh token mode's short-lived access tokens; drop --token-mode jwt"))
	}
	return errs
}

// publicList is --public-paths as a list.
func (d *deployment) publicList() []string {
	var out []string
	for p := range strings.SplitSeq(d.publicPaths, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// publicURLFromAddr guesses the public URL from a specific listen address.
func publicURLFromAddr(addr string, tls bool) (string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil || host == "" || host == "0.0.0.0" || host == "::" {
		return "", fmt.Errorf("listening on %q, latchkey cannot tell the URL browsers use for it: set --public-url (e.g. https://api.example.com)", addr)
	}
	scheme := "http"
	if tls {
		scheme = "https"
	}
	return scheme + "://" + net.JoinHostPort(host, port), nil
}

// printSummary writes one short summary of the effective settings.
func printSummary(w io.Writer, d *deployment, m *mailOptions, cfg latchkey.Config, addr string) {
	secure := "only over HTTPS"
	if cfg.Secure {
		secure = "always"
	}
	spa := map[string]string{
		modeEmbedded:    "built-in demo",
		modeProxy:       "served by your reverse proxy (e.g. deploy/nginx/same-origin.conf)",
		modeCrossOrigin: "on " + strings.Join(cfg.AllowedOrigins, ", "),
	}[d.mode]
	if d.spaDir != "" {
		spa = d.spaDir
	}
	if d.spaUpstream != "" {
		spa = "proxied to " + d.spaUpstream
	}
	scheme := "http"
	if cfg.ServesTLS {
		scheme = "https (HTTP/2)"
	}
	fmt.Fprintf(w, "mode      %s; listening on %s as %s; API under %s\n", d.mode, addr, scheme, cfg.APIPrefix)
	fmt.Fprintf(w, "spa       %s\n", spa)
	cookies, bound := "session cookie", "the session"
	if cfg.TokenMode == latchkey.TokenModeJWT {
		cookies, bound = "access and refresh token cookies", "the access token (double submit)"
		j := cfg.JWT
		fmt.Fprintf(w, "tokens    JWT %s, access %s, login %s, refresh reuse grace %s; iss %s, aud %s; public keys at /.well-known/jwks.json\n",
			j.Algorithm, j.AccessTTL, j.RefreshTTL, j.ReuseGrace, j.Issuer, j.Audience)
	}
	fmt.Fprintf(w, "cookies   %s HttpOnly, SameSite=%s, Secure %s%s\n", cookies, latchkey.SameSiteName(cfg.SameSite), secure, map[bool]string{true: ", Partitioned"}[cfg.Partitioned])
	cors := "off (same origin only)"
	if len(cfg.AllowedOrigins) > 0 {
		cors = "credentials for exactly " + strings.Join(cfg.AllowedOrigins, ", ")
	}
	fmt.Fprintf(w, "cors      %s\n", cors)
	fmt.Fprintf(w, "csrf      token in X-CSRFToken/X-CSRF-Token/X-XSRF-TOKEN, bound to %s; cross-origin writes refused%s\n",
		bound, map[bool]string{true: " except from the allowed origins"}[len(cfg.AllowedOrigins) > 0])
	proxies := "none (X-Forwarded-* ignored)"
	if len(cfg.TrustedProxies) > 0 {
		proxies = fmt.Sprint(cfg.TrustedProxies)
	}
	fmt.Fprintf(w, "proxies   trusted: %s\n", proxies)
	if cfg.Upstream != nil {
		fmt.Fprintf(w, "gateway   other %s/ requests go to %s with X-Latchkey-User-Id/-Username\n", cfg.APIPrefix, cfg.Upstream)
	}
	pages := "built in"
	if d.pagesDir != "" {
		pages = "templates from " + d.pagesDir
	}
	fmt.Fprintf(w, "pages     %s%s, /register, /forgot, /reset, /verify, /confirm, /logout (%s); HTML forms post to the API\n", cfg.PagesPrefix, latchkey.PageLogin, pages)
	if d.requireLogin {
		public := "none"
		if l := d.publicList(); len(l) > 0 {
			public = strings.Join(l, ", ")
		}
		fmt.Fprintf(w, "login     required on every proxied path (public: %s); logged-out page loads go to %s%s, scripts get 401; the app gets X-Latchkey-User-Id/-Username/-Roles\n",
			public, cfg.PagesPrefix, latchkey.PageLogin)
	}
	fmt.Fprintf(w, "mail      %s\n", mailSummary(cfg, m.templates))
	if cfg.RequireVerifiedEmail {
		fmt.Fprintln(w, "accounts  logins need a verified e-mail address, and registration an address (--require-verified-email)")
	}
	if cfg.EmailLoginSignUp {
		fmt.Fprintln(w, "accounts  an email sign-in for an address no account has makes an account (--email-login-signup)")
	}
}
