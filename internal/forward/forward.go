// Package forward holds what latchkey's two reverse proxies, the API
// gateway (--upstream) and spa.Proxy (--spa-upstream), do alike to the
// requests they pass on: which client headers never get through, the
// X-Forwarded-* headers they send, which WebSocket handshakes they refuse,
// and which paths they refuse to forward.
package forward

import (
	"errors"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"slices"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"

	"golang.org/x/net/http/httpguts"
)

// Owned reports whether a request header is one latchkey sets for the
// servers behind it: X-Latchkey-* and the forwarding headers, X-Real-IP
// among them (backends behind nginx commonly trust it). Case and
// '-' versus '_' do not count, because CGI, PHP, WSGI and Rack read
// X_Latchkey_User_Id and X-Latchkey-User-Id alike as HTTP_X_LATCHKEY_USER_ID.
func Owned(name string) bool {
	if len(name) >= len("x-latchkey-") && same(name[:len("x-latchkey-")], "x-latchkey-") {
		return true
	}
	for _, n := range [...]string{"x-forwarded-for", "x-forwarded-host", "x-forwarded-proto", "forwarded", "x-real-ip"} {
		if same(name, n) {
			return true
		}
	}
	return false
}

// same reports whether name equals want, a lower-case name with '-', when
// ASCII case is ignored and '_' reads as '-'. It does not allocate: verify
// runs it on every header of every request nginx asks about.
func same(name, want string) bool {
	if len(name) != len(want) {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case 'A' <= c && c <= 'Z':
			c += 'a' - 'A'
		case c == '_':
			c = '-'
		}
		if c != want[i] {
			return false
		}
	}
	return true
}

// StripOwned deletes every header that Owned names, under any map key, not
// only the canonical one that Header.Del would.
func StripOwned(h http.Header) {
	for name := range h {
		if Owned(name) {
			delete(h, name)
		}
	}
}

// Prepare readies a ReverseProxy's outgoing request: it drops every
// client-sent header that Owned names and sets X-Real-IP, X-Forwarded-For,
// -Host and -Proto. trusted says the request came through a trusted proxy, whose
// values are passed on (the peer's address appended to X-Forwarded-For);
// otherwise they describe the peer as latchkey saw it.
func Prepare(pr *httputil.ProxyRequest, trusted bool) {
	StripOwned(pr.Out.Header)
	realIP := pr.In.Header.Get("X-Real-IP")
	if !trusted || realIP == "" {
		realIP, _, _ = net.SplitHostPort(pr.In.RemoteAddr)
	}
	if realIP != "" {
		pr.Out.Header.Set("X-Real-IP", realIP)
	}
	if !trusted {
		pr.SetXForwarded()
		return
	}
	if v := pr.In.Header.Values("X-Forwarded-For"); len(v) > 0 {
		pr.Out.Header["X-Forwarded-For"] = v // SetXForwarded extends it
	}
	pr.SetXForwarded()
	if v := pr.In.Header.Get("X-Forwarded-Host"); v != "" {
		pr.Out.Header.Set("X-Forwarded-Host", v)
	}
	if v := pr.In.Header.Get("X-Forwarded-Proto"); v != "" {
		pr.Out.Header.Set("X-Forwarded-Proto", v)
	}
}

// IsUpgrade reports whether r asks to switch protocols, as a WebSocket
// handshake does; CONNECT counts too (HTTP/2 WebSockets use it).
func IsUpgrade(r *http.Request) bool {
	return r.Method == http.MethodConnect || len(r.Header.Values("Upgrade")) > 0 ||
		httpguts.HeaderValuesContainsToken(r.Header["Connection"], "upgrade")
}

// ErrCrossOrigin: a page from another origin asked to switch protocols.
var ErrCrossOrigin = errors.New("cross-origin WebSocket refused")

// CheckOrigin is the cross-origin check for protocol upgrades, which are
// GETs that carry the browser's cookies and that browsers let any page
// make: a WebSocket handshake from another site would act as the user.
// host is the Host the browser used, secure whether it used https (then a
// same-origin page is https too), and allowed the exact origins, in the
// form browsers send them, that are trusted besides this one.
//
// Browsers always send Origin on a handshake; Chromium sends no Fetch
// Metadata with it. A request without Origin is not from a browser page
// and passes unless Sec-Fetch-Site says it is cross-site.
func CheckOrigin(r *http.Request, host string, secure bool, allowed []string) error {
	origins := r.Header.Values("Origin")
	if len(origins) > 1 {
		return ErrCrossOrigin
	}
	if len(origins) == 1 && slices.Contains(allowed, origins[0]) {
		return nil
	}
	switch r.Header.Get("Sec-Fetch-Site") {
	case "", "same-origin", "none":
	default:
		return ErrCrossOrigin
	}
	if len(origins) == 0 {
		return nil
	}
	u, err := url.Parse(origins[0])
	if err != nil || u.Host == "" || u.Opaque != "" || u.Path != "" || u.User != nil {
		return ErrCrossOrigin // "null" included
	}
	if !strings.EqualFold(u.Host, host) || (u.Scheme != "https" && (secure || u.Scheme != "http")) {
		return ErrCrossOrigin
	}
	return nil
}

// ErrPath: a path that a server behind latchkey might read as leaving the
// prefix it was forwarded under.
var ErrPath = errors.New("path not allowed")

// maxDecodes is how many times a path segment is percent-decoded, as
// servers that decode again would; more layers than that are refused.
const maxDecodes = 3

// dotSegment reports whether some server could read name as "." or "..":
// as it is; with trailing spaces, which Windows drops; after Unicode
// compatibility folding (a fullwidth "．．" is ".."), which some servers
// apply; or as bytes that are not UTF-8, such as the overlong "\xc0\xae"
// that old decoders read as '.'. A name whose folding holds a slash is
// refused too.
func dotSegment(name string) bool {
	if !utf8.ValidString(name) {
		return true
	}
	for _, n := range []string{name, strings.TrimRight(name, " "), norm.NFKC.String(name)} {
		if n == "." || n == ".." {
			return true
		}
	}
	return strings.ContainsAny(norm.NFKC.String(name), "/\\")
}

// CheckPath reports whether escapedPath, a request path as sent (see
// url.URL.EscapedPath), may be forwarded to a backend serving prefix/...:
// it must start with prefix + "/", and no segment may, after any number
// of percent-decodings up to maxDecodes, be "." or "..", hold a '/', '\'
// or NUL, or be a dot segment followed by ';' parameters (Tomcat drops
// those, so "..;x" is ".."). Servers that decode %2e, %2f or %5c, or that
// decode twice, would otherwise serve paths outside the prefix.
func CheckPath(prefix, escapedPath string) error {
	rest, ok := strings.CutPrefix(escapedPath, prefix+"/")
	if !ok {
		return ErrPath
	}
	if strings.ContainsAny(rest, "\\\x00") {
		return ErrPath
	}
	for seg := range strings.SplitSeq(rest, "/") {
		if !safeSegment(seg) {
			return ErrPath
		}
	}
	return nil
}

func safeSegment(seg string) bool {
	for i := 0; ; i++ {
		name, _, _ := strings.Cut(seg, ";")
		if dotSegment(name) {
			return false
		}
		if !strings.Contains(seg, "%") {
			return true
		}
		dec, err := url.PathUnescape(seg)
		if err != nil {
			return true // a literal '%': no server decodes this further
		}
		if i == maxDecodes || strings.ContainsAny(dec, "/\\\x00") {
			return false
		}
		seg = dec
	}
}
