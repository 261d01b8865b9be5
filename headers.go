package latchkey

import "net/http"

// DefaultContentSecurityPolicy suits a built SPA served from latchkey's
// own origin: no inline script, no plugins, no framing. Images and fonts may
// also be data: URLs, which Vite inlines for small assets; it is the same
// policy as spa.DefaultCSP and deploy/nginx/same-origin.conf, so an SPA
// behaves alike in every deployment.
const DefaultContentSecurityPolicy = "default-src 'self'; img-src 'self' data:; font-src 'self' data:; " +
	"object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"

// apiContentSecurityPolicy is for JSON: nothing in it may load or run.
const apiContentSecurityPolicy = "default-src 'none'; frame-ancestors 'none'"

// SecurityHeaders sets the headers every response should carry, errors
// included; Handler already applies it, and a server can wrap everything
// else it serves too. Handlers may replace the Content-Security-Policy.
func (a *Auth) SecurityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "strict-origin-when-cross-origin")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Content-Security-Policy", a.cfg.ContentSecurityPolicy)
		h.Set("X-XSS-Protection", "0") // the old filter caused more leaks than it stopped
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		if a.Secure(r) {
			h.Set("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
		}
		next.ServeHTTP(w, r)
	})
}
