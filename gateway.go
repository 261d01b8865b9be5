package latchkey

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httputil"
	"net/url"
	"slices"
	"strings"

	"github.com/latchkey/latchkey/internal/forward"
)

// ErrUpstream: the backend behind the gateway could not be reached.
var ErrUpstream = errors.New("latchkey: upstream unavailable")

// gatewayMethods is the Allow header of the gateway's 405: any method but
// CONNECT, which would make latchkey a tunnel.
const gatewayMethods = "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS"

// newGateway proxies API requests latchkey does not serve itself to the
// application's backend, in any language, once Require has checked the
// session, the CSRF token and, for WebSocket handshakes, the Origin. The
// backend learns who is calling from X-Latchkey-User-Id and
// X-Latchkey-Username, which it can trust because client-sent headers of
// those names, in any spelling, are removed; latchkey's own cookies and
// API tokens are removed too, so the backend never holds a credential of
// latchkey's. Paths that a backend could read as outside APIPrefix are
// refused (forward.CheckPath).
func (a *Auth) newGateway(upstream *url.URL) http.Handler {
	rp := &httputil.ReverseProxy{
		// With Rewrite, ReverseProxy has already dropped hop-by-hop and
		// client-sent X-Forwarded-* headers in canonical spelling;
		// forward.Prepare drops the other spellings.
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(upstream)
			pr.Out.Host = pr.In.Host
			forward.Prepare(pr, a.FromTrustedProxy(pr.In))
			if u, ok := UserFromContext(pr.In.Context()); ok {
				setIdentityHeaders(pr.Out.Header, u)
			}
			stripOwnCookies(pr.Out)
			if _, ok := APITokenFromContext(pr.In.Context()); ok {
				// Any key: a middleware may have set a non-canonical one.
				for name := range pr.Out.Header {
					if strings.EqualFold(name, "Authorization") {
						delete(pr.Out.Header, name)
					}
				}
			}
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			a.log.WarnContext(r.Context(), "upstream request failed", "path", r.URL.Path, "err", err)
			a.writeError(w, r, ErrUpstream, "")
		},
	}
	guarded := a.Require(rp)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodConnect {
			w.Header().Set("Allow", gatewayMethods)
			a.writeError(w, r, errMethodNotAllowed, "")
			return
		}
		if err := forward.CheckPath(a.cfg.APIPrefix, r.URL.EscapedPath()); err != nil {
			a.writeError(w, r, fmt.Errorf("%w: %w", ErrInvalidPath, err), "")
			return
		}
		guarded.ServeHTTP(w, r)
	})
}

// checkUpgrade refuses a protocol upgrade, such as a WebSocket handshake,
// from a page of another origin: the handshake is a GET, so checkCSRF does
// not see it, yet it carries the user's cookies.
func (a *Auth) checkUpgrade(r *http.Request) error {
	if err := forward.CheckOrigin(r, a.originalHost(r), a.Secure(r), a.cfg.AllowedOrigins); err != nil {
		return &csrfError{err.Error()}
	}
	return nil
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
