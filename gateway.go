package latchkey

import (
	"errors"
	"net/http"
	"net/http/httputil"
	"net/url"
	"slices"
	"strings"
)

// ErrUpstream: the backend behind the gateway could not be reached.
var ErrUpstream = errors.New("latchkey: upstream unavailable")

// newGateway proxies API requests latchkey does not serve itself to the
// application's backend, in any language, once Require has checked the
// session and CSRF token. The backend learns who is calling from
// X-Latchkey-User-Id and X-Latchkey-Username, which it can trust because
// client-sent copies are removed; latchkey's own cookies are removed too, so
// the backend never holds a session token.
func (a *Auth) newGateway(upstream *url.URL) http.Handler {
	rp := &httputil.ReverseProxy{
		// With Rewrite, ReverseProxy has already dropped hop-by-hop and
		// client-sent X-Forwarded-* headers.
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(upstream)
			pr.Out.Host = pr.In.Host
			pr.SetXForwarded()
			for name := range pr.Out.Header {
				if strings.HasPrefix(http.CanonicalHeaderKey(name), "X-Latchkey-") {
					delete(pr.Out.Header, name)
				}
			}
			if u, ok := UserFromContext(pr.In.Context()); ok {
				setIdentityHeaders(pr.Out.Header, u)
			}
			stripOwnCookies(pr.Out)
			if _, ok := APITokenFromContext(pr.In.Context()); ok {
				pr.Out.Header.Del("Authorization") // the backend never holds latchkey's tokens
			}
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			a.log.WarnContext(r.Context(), "upstream request failed", "path", r.URL.Path, "err", err)
			a.writeError(w, r, ErrUpstream, "")
		},
	}
	return a.Require(rp)
}

// stripOwnCookies removes latchkey's cookies from a request to a backend.
func stripOwnCookies(r *http.Request) {
	cookies := r.Cookies()
	r.Header.Del("Cookie")
	own := OwnCookieNames()
	for _, c := range cookies {
		if !slices.Contains(own, c.Name) {
			r.AddCookie(c)
		}
	}
}
