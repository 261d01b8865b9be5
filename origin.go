package latchkey

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"

	"golang.org/x/net/publicsuffix"
)

// ParseOrigin checks an allowed origin as an operator wrote it: scheme
// (http or https), host and optional port, nothing else — no wildcard, path,
// query, user info or "null" — and returns it in the form browsers send.
func ParseOrigin(s string) (string, error) {
	bad := func(why string) error { return fmt.Errorf("allowed origin %q: %s", s, why) }
	if s == "" || s == "null" || strings.Contains(s, "*") {
		return "", bad("must be one exact origin like https://app.example.com (no wildcard, not null)")
	}
	u, err := url.Parse(s)
	if err != nil {
		return "", bad("not a URL")
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return "", bad("scheme must be http or https")
	case u.Host == "" || u.Opaque != "":
		return "", bad("has no host")
	case u.User != nil:
		return "", bad("must not contain user info")
	case u.Path != "" || u.RawQuery != "" || u.Fragment != "" || u.ForceQuery || strings.HasSuffix(s, "#"):
		return "", bad("must not have a path, query or fragment (not even a trailing /)")
	}
	host := strings.ToLower(u.Host)
	if h, p, err := net.SplitHostPort(host); err == nil {
		if p == "" || (u.Scheme == "http" && p == "80") || (u.Scheme == "https" && p == "443") {
			host = h // browsers omit default ports from Origin
			if strings.Contains(h, ":") {
				host = "[" + h + "]"
			}
		}
	}
	return u.Scheme + "://" + host, nil
}

// sameSite reports whether two origins are the same site in the schemeful
// sense browsers use for SameSite cookies: same scheme and same registrable
// domain (eTLD+1; the exact host for IP addresses and single labels).
func sameSite(a, b string) (bool, error) {
	ua, err := url.Parse(a)
	if err != nil {
		return false, err
	}
	ub, err := url.Parse(b)
	if err != nil {
		return false, err
	}
	if ua.Scheme != ub.Scheme {
		return false, nil
	}
	return site(ua.Hostname()) == site(ub.Hostname()), nil
}

func site(host string) string {
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	if net.ParseIP(host) != nil {
		return host
	}
	s, err := publicsuffix.EffectiveTLDPlusOne(host)
	if err != nil {
		return host // localhost, a bare TLD: the host is the site
	}
	return s
}

var errNeedPublicURL = errors.New("with allowed origins, set PublicURL (--public-url) to the address browsers use for latchkey, so it can tell whether the SPA's origins are same-site")
