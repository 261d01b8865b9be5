package latchkey

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"net/textproto"
	"slices"
	"strings"
	"time"
)

// Cookie names. The __Host- forms are used whenever cookies are Secure: the
// browser then refuses them from sibling subdomains and with a Domain or
// a Path other than /, so they cannot be planted or shadowed.
const (
	sessionCookie     = "latchkey_session"
	anonCookie        = "latchkey_csrf" // binds pre-login CSRF tokens to this browser
	xsrfCookie        = "XSRF-TOKEN"    // readable by JS (Axios, Angular)
	hostPrefix        = "__Host-"
	tokenBytes        = 32
	encodedTokenBytes = 43 // base64url, no padding, of tokenBytes
)

var b64 = base64.RawURLEncoding.Strict()

// OwnCookieNames returns the names of the cookies that hold latchkey's
// secrets (sessions, CSRF bindings, logins waiting for a second factor), for proxies that must not pass
// them on to other servers.
func OwnCookieNames() []string {
	return []string{
		sessionCookie, hostPrefix + sessionCookie, anonCookie, hostPrefix + anonCookie,
		accessCookie, hostPrefix + accessCookie, refreshCookie, securePrefix + refreshCookie,
		mfaCookie, hostPrefix + mfaCookie,
		ceremonyCookie, hostPrefix + ceremonyCookie,
		flashCookie, hostPrefix + flashCookie,
	}
}

// newToken returns a fresh 256-bit random token.
func newToken() [tokenBytes]byte {
	var t [tokenBytes]byte
	rand.Read(t[:]) // never fails (crypto/rand panics if it cannot)
	return t
}

func encodeToken(t [tokenBytes]byte) string { return b64.EncodeToString(t[:]) }

// parseToken decodes a session or anonymous cookie value. Anything but
// exactly 43 canonical base64url characters is rejected, so garbage,
// truncated and oversized cookies read as absent.
func parseToken(v string) (t [tokenBytes]byte, ok bool) {
	if len(v) != encodedTokenBytes {
		return t, false
	}
	n, err := b64.Decode(t[:], []byte(v))
	return t, err == nil && n == tokenBytes
}

// hashToken is the store key of a session token.
func hashToken(t [tokenBytes]byte) []byte {
	h := sha256.Sum256(t[:])
	return h[:]
}

// cookieName returns the name to use for base given whether cookies are Secure.
func cookieName(base string, secure bool) string {
	if !secure {
		return base
	}
	// Constants for the names read on every request, so Secure deployments
	// do not build them anew each time.
	switch base {
	case sessionCookie:
		return hostPrefix + sessionCookie
	case anonCookie:
		return hostPrefix + anonCookie
	case accessCookie:
		return hostPrefix + accessCookie
	}
	return hostPrefix + base
}

// maxCookieCandidates bounds the same-named cookies one request can make
// latchkey try, so piling cookies up cannot multiply store reads.
const maxCookieCandidates = 4

// tokenCandidates are the well-formed tokens among the cookies of one name,
// in the order sent, without repeats; a fixed array, so the common case of
// one cookie allocates nothing.
type tokenCandidates struct {
	n       int
	tok     [maxCookieCandidates][tokenBytes]byte
	present bool // a cookie of that name was sent, well-formed or not
	all     bool // every cookie of that name is among tok (none skipped as excess)
}

func (c *tokenCandidates) list() [][tokenBytes]byte { return c.tok[:c.n] }

// tokenCookies reads every cookie named name. Several can arrive for good
// reasons and bad (one tossed from a sibling subdomain, or set over plain
// HTTP, beside ours): callers try each rather than give up on all.
func tokenCookies(r *http.Request, name string) (c tokenCandidates) {
	if t, ok, present, sure := scanTokenCookie(r.Header["Cookie"], name); sure && (ok || !present) {
		c.present, c.all = present, true
		if ok {
			c.tok[0], c.n = t, 1
		}
		return c
	}
	cs := r.CookiesNamed(name)
	c.present, c.all = len(cs) > 0, true
	for _, ck := range cs {
		t, ok := parseToken(ck.Value)
		if !ok || slices.Contains(c.list(), t) {
			continue
		}
		if c.n == maxCookieCandidates {
			c.all = false
			break
		}
		c.tok[c.n] = t
		c.n++
	}
	return c
}

// cookieWriter sets latchkey's cookies with consistent attributes.
type cookieWriter struct {
	secure      bool
	sameSite    http.SameSite
	domain      string
	partitioned bool
	now         time.Time
}

func (c cookieWriter) set(w http.ResponseWriter, base, value string, httpOnly bool, expires time.Time) {
	name := cookieName(base, c.secure)
	if base == xsrfCookie {
		name = xsrfCookie // fixed name: clients look for exactly this one
	}
	c.setNamed(w, name, "/", value, httpOnly, expires)
}

// setNamed sets the cookie with this exact name and path.
func (c cookieWriter) setNamed(w http.ResponseWriter, name, path, value string, httpOnly bool, expires time.Time) {
	ck := &http.Cookie{
		Name:        name,
		Value:       value,
		Path:        path,
		HttpOnly:    httpOnly,
		Secure:      c.secure,
		SameSite:    c.sameSite,
		Domain:      c.domain,
		Partitioned: c.partitioned,
	}
	if !expires.IsZero() {
		ck.Expires = expires.UTC()
		ck.MaxAge = max(1, int(expires.Sub(c.now).Seconds()))
	}
	http.SetCookie(w, ck)
}

func (c cookieWriter) clear(w http.ResponseWriter, base string, httpOnly bool) {
	name := cookieName(base, c.secure)
	if base == xsrfCookie {
		name = xsrfCookie
	}
	c.clearNamed(w, name, "/", httpOnly)
}

func (c cookieWriter) clearNamed(w http.ResponseWriter, name, path string, httpOnly bool) {
	http.SetCookie(w, &http.Cookie{
		Name: name, Path: path, MaxAge: -1, HttpOnly: httpOnly, Domain: c.domain,
		Secure: c.secure, SameSite: c.sameSite, Partitioned: c.partitioned,
	})
}

// maxScannedCookies is how many cookies scanTokenCookie looks through;
// net/http stops parsing at a limit of its own (GODEBUG httpcookiemaxnum,
// 3000 by default), so beyond this one it decides.
const maxScannedCookies = 300

// scanTokenCookie reads the one cookie named name without allocating,
// splitting the header as net/http does, for the common case: every cookie
// of this name holds a well-formed token; present reports whether any was
// sent, and ok whether exactly one was. Where net/http's answer could differ (such a
// cookie holds anything else, which it may skip or unquote; or there are
// many cookies), it gives up with sure false. FuzzScanTokenCookie checks it
// against net/http.
func scanTokenCookie(lines []string, name string) (t [tokenBytes]byte, ok, present, sure bool) {
	n := 0
	for _, line := range lines {
		n += strings.Count(line, ";") + 1
	}
	if n > maxScannedCookies {
		return t, false, false, false
	}
	found := 0
	for _, line := range lines {
		line = textproto.TrimString(line)
		for len(line) > 0 {
			var part string
			part, line, _ = strings.Cut(line, ";")
			k, v, _ := strings.Cut(textproto.TrimString(part), "=")
			if textproto.TrimString(k) != name {
				continue
			}
			tok, valid := parseToken(v)
			if !valid {
				return t, false, false, false
			}
			t = tok
			found++
		}
	}
	if found != 1 {
		return [tokenBytes]byte{}, false, found > 0, true
	}
	return t, true, true, true
}
