package latchkey

import (
	"net/http"
	"strings"

	"github.com/latchkey/latchkey/internal/forward"
)

// RequireLogin puts the login page in front of a site that latchkey
// proxies (serve --require-login), the way oauth2-proxy fronts an app:
//   - a request from a logged-in browser reaches next with the user in its
//     context, for IdentityHeaders;
//   - a logged-out page load gets 303 See Other to the hosted login page,
//     PagesPrefix+PageLogin?next=PATH, which sends the browser back to
//     PATH after the login;
//   - a logged-out script (see scriptRequest: Accept: application/json,
//     fetch, XMLHttpRequest) gets 401 unauthorized JSON, as Require gives;
//   - a write (POST and the like) from a page of another origin gets 403
//     csrf_failed (Fetch Metadata, then Origin, as http.CrossOriginProtection
//     checks them; AllowedOrigins are trusted). latchkey's CSRF token is not
//     asked for: the site's own forms cannot have it, and keep their own.
//
// Paths in publicPaths need no login and reach next without a user: an
// entry ending in "/" is a prefix ("/static/"), any other an exact path
// ("/about"). A path that some server could read as another one (an
// encoded '/' or '\', a dot segment, see forward.CheckPath) is never
// public. Only session cookies count, not API tokens; in token mode an
// expired access token reads as logged out, since pages cannot refresh it.
func (a *Auth) RequireLogin(next http.Handler, publicPaths ...string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if publicPath(r, publicPaths) {
			next.ServeHTTP(w, r)
			return
		}
		cur, err := a.load(w, r)
		if err == nil && cur.user == nil {
			if !scriptRequest(r) {
				seeOther(w, a.loginURL(r.URL.RequestURI()))
				return
			}
			err = cur.unauthenticated()
		}
		if err == nil && unsafeMethod(r.Method) && a.crossOrigin(r, r.Method) != nil {
			err = &csrfError{"cross-origin request refused"}
		}
		if err != nil {
			a.writeError(w, r, err, "")
			return
		}
		next.ServeHTTP(w, r.WithContext(cur.context(r.Context())))
	})
}

// publicPath reports whether r's path is one of public (see RequireLogin).
func publicPath(r *http.Request, public []string) bool {
	if len(public) == 0 || forward.CheckPath("", r.URL.EscapedPath()) != nil {
		return false
	}
	for _, p := range public {
		if p == r.URL.Path || strings.HasSuffix(p, "/") && strings.HasPrefix(r.URL.Path, p) {
			return true
		}
	}
	return false
}

// IdentityHeaders returns the headers that tell a server behind latchkey
// who is calling, for the user that RequireLogin (or Require) put in r's
// context: X-Latchkey-User-Id, X-Latchkey-Username and X-Latchkey-Roles,
// as verify and the gateway send them. It returns nil without a user. A
// proxy must remove the client's own copies, in every spelling
// (forward.StripOwned), before adding these; spa.Proxy does.
func IdentityHeaders(r *http.Request) http.Header {
	u, ok := UserFromContext(r.Context())
	if !ok {
		return nil
	}
	h := http.Header{}
	setIdentityHeaders(h, u)
	return h
}
