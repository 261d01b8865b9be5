// Package returnto decides which return-to URLs ("next") latchkey may send
// a browser to after a login or another form post: paths on its own origin,
// or URLs on origins the operator allowed, and never another site by any
// spelling that a browser, or a server behind latchkey that decodes the
// path again, could read as one.
package returnto

import (
	"net"
	"net/url"
	"strings"
)

// MaxLen is the longest return-to URL accepted, in bytes.
const MaxLen = 2048

// maxDecodes is how many times a path is percent-decoded in search of a
// hidden "//", '\' or dot segment, as servers that decode again would.
const maxDecodes = 3

// Check reports whether next is a safe place to redirect a browser to, and
// returns it unchanged if so. origins are the exact origins besides the
// server's own that next may name, as browsers write them (see
// latchkey.ParseOrigin): scheme://host[:port], lower case, no default port.
//
// Safe is either
//   - an absolute path: "/" and then anything but a second '/' ("/notes?page=2"); or
//   - an absolute http or https URL on one of origins, without user info
//     ("https://app.example.com/welcome").
//
// and, in both cases:
//   - 1 to MaxLen bytes of printable ASCII: no space, tab, line break, NUL or
//     other control character (browsers drop some of them, so "/\t/evil"
//     is "//evil"), and nothing outside ASCII;
//   - no backslash (browsers read "/\evil" as "//evil");
//   - percent-decoded once, twice and three times, the path still starts
//     with '/' but not "//", holds no '\' or control character, and has no
//     "." or ".." segment ("/%2f%2fevil", "/%5cevil", "/%2e%2e//evil").
//
// So "//evil.example", "https:evil.example", "https://app.example.com@evil.example",
// "javascript:…", "" and relative paths like "notes" are all refused.
func Check(next string, origins []string) (string, bool) {
	if next == "" || len(next) > MaxLen {
		return "", false
	}
	for i := 0; i < len(next); i++ {
		if c := next[i]; c < 0x21 || c > 0x7e || c == '\\' {
			return "", false
		}
	}
	path := next
	if next[0] != '/' {
		u, ok := absolute(next, origins)
		if !ok {
			return "", false
		}
		path = u.EscapedPath()
		if path == "" {
			path = "/"
		}
		if u.RawQuery != "" {
			path += "?" + u.RawQuery
		}
	}
	if !safePath(path) {
		return "", false
	}
	return next, true
}

// absolute parses next as an http(s) URL on one of origins.
func absolute(next string, origins []string) (*url.URL, bool) {
	scheme, rest, ok := strings.Cut(next, "://")
	if !ok || !strings.EqualFold(scheme, "http") && !strings.EqualFold(scheme, "https") {
		return nil, false // "https:evil", "https:/evil", "javascript:…"
	}
	if end := strings.IndexAny(rest, "/?#"); end >= 0 {
		rest = rest[:end]
	}
	if strings.ContainsAny(rest, "@%") {
		return nil, false // user info, or an encoded authority
	}
	u, err := url.Parse(next)
	if err != nil || u.User != nil || u.Host == "" || u.Opaque != "" {
		return nil, false
	}
	if !allowed(origin(u), origins) {
		return nil, false
	}
	return u, true
}

// origin returns u's origin as browsers write it.
func origin(u *url.URL) string {
	scheme := strings.ToLower(u.Scheme)
	host := strings.ToLower(u.Host)
	if h, p, err := net.SplitHostPort(host); err == nil &&
		(p == "" || scheme == "http" && p == "80" || scheme == "https" && p == "443") {
		host = h
		if strings.Contains(h, ":") {
			host = "[" + h + "]"
		}
	}
	return scheme + "://" + host
}

func allowed(o string, origins []string) bool {
	for _, a := range origins {
		if a == o {
			return true
		}
	}
	return false
}

// safePath checks a path (with its query, if any) as it was sent and as
// up to maxDecodes percent-decodings of it would read.
func safePath(p string) bool {
	for i := 0; ; i++ {
		if !strings.HasPrefix(p, "/") || strings.HasPrefix(p, "//") {
			return false
		}
		for j := 0; j < len(p); j++ {
			if c := p[j]; c < 0x20 || c == 0x7f || c == '\\' {
				return false
			}
		}
		path, _, _ := strings.Cut(p, "?")
		path, _, _ = strings.Cut(path, "#")
		for seg := range strings.SplitSeq(path, "/") {
			if seg == "." || seg == ".." {
				return false
			}
		}
		if i == maxDecodes || !strings.Contains(p, "%") {
			return i < maxDecodes || !strings.Contains(p, "%")
		}
		d, err := url.PathUnescape(p)
		if err != nil {
			return i > 0 // the raw form must be valid; a deeper layer that is not is just text
		}
		p = d
	}
}
