package spa

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/latchkey/latchkey/internal/forward"
)

// ProxyOptions configures Proxy. The zero value is ready to use.
type ProxyOptions struct {
	// TrustForwarded reports whether the request came through a trusted
	// proxy whose X-Forwarded-For, -Host and -Proto headers are to be kept
	// (the client address is then appended to X-Forwarded-For) and whose
	// X-Forwarded-Host and -Proto the WebSocket Origin check uses. Default:
	// trust nobody, so the upstream sees only what this hop observed.
	TrustForwarded func(*http.Request) bool

	// AllowedOrigins are origins, besides the proxy's own, whose pages may
	// open WebSockets through it, exactly as browsers send them
	// (scheme://host[:port], lower case, no default port; see
	// latchkey.ParseOrigin). Default none.
	AllowedOrigins []string

	// StripCookies names cookies that are removed from requests before they
	// reach the upstream, such as latchkey's session cookie: a frontend
	// server has no use for it and should not see or log it.
	StripCookies []string

	// Headers, if set, returns headers to add to each request sent
	// upstream, once the client's copies of every header latchkey owns
	// (X-Latchkey-* and the forwarding headers, in any spelling) are gone:
	// latchkey.IdentityHeaders, when the upstream is an application that
	// latchkey.RequireLogin fronts and that reads who is calling from
	// them. Default none: a frontend server learns no identity.
	Headers func(*http.Request) http.Header

	// Transport carries requests to the upstream. Default: a clone of
	// http.DefaultTransport.
	Transport http.RoundTripper

	// Logger receives upstream failures. Default: slog.Default().
	Logger *slog.Logger
}

// Proxy returns a reverse proxy to upstream, for the SPA paths of proxy mode
// (--spa-upstream): a Vite dev server, whose hot reload runs over a
// websocket that the proxy carries, or any static server. upstream needs an
// http or https scheme and a host; its path, if any, is prefixed to request
// paths.
//
// The upstream receives the request with Host set to its own host (a dev
// server checks it), X-Forwarded-For/-Host/-Proto describing the client
// (see ProxyOptions.TrustForwarded), and none of the headers latchkey sets
// for backends (X-Latchkey-*, in any case and with '_' for '-'), since the
// frontend is not a backend latchkey vouches for, except those that
// ProxyOptions.Headers adds. A WebSocket handshake
// (any Upgrade) from a page of another origin than the proxy's own or
// ProxyOptions.AllowedOrigins gets a 403: it would carry the user's
// cookies. If the upstream cannot be reached, the client gets a 502: a
// short HTML page for a browser navigation, JSON otherwise; the cause goes
// to the log only. The handler is safe for concurrent use.
func Proxy(upstream *url.URL, opts ProxyOptions) (http.Handler, error) {
	if upstream == nil || (upstream.Scheme != "http" && upstream.Scheme != "https") || upstream.Host == "" {
		return nil, fmt.Errorf("spa: upstream %q: want an http:// or https:// URL with a host", upstream.Redacted())
	}
	if upstream.RawQuery != "" || upstream.Fragment != "" || upstream.User != nil {
		return nil, fmt.Errorf("spa: upstream %q: want no query, fragment or user info", upstream.Redacted())
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Transport == nil {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.DialContext = (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext
		opts.Transport = t
	}
	strip := make(map[string]bool, len(opts.StripCookies))
	for _, name := range opts.StripCookies {
		strip[name] = true
	}
	target := *upstream
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(&target)
			forward.Prepare(pr, opts.TrustForwarded != nil && opts.TrustForwarded(pr.In))
			if opts.Headers != nil {
				for name, vs := range opts.Headers(pr.In) {
					pr.Out.Header[name] = vs
				}
			}
			if len(strip) > 0 {
				stripCookies(pr.Out, strip)
			}
		},
		Transport:    opts.Transport,
		ErrorLog:     slog.NewLogLogger(opts.Logger.Handler(), slog.LevelWarn),
		ErrorHandler: proxyError(opts.Logger, upstream.Redacted()),
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodConnect {
			// A dev server has no business tunnelling anywhere for a browser.
			w.Header().Set("Allow", "GET, HEAD, OPTIONS")
			writeError(w, http.StatusMethodNotAllowed, "method_not_allowed", "CONNECT is not forwarded.")
			return
		}
		if linkRoutes[path.Clean("/"+r.URL.Path)] {
			w.Header().Set("Referrer-Policy", "no-referrer") // as the file server does
		}
		if forward.IsUpgrade(r) {
			host, secure := r.Host, r.TLS != nil
			if opts.TrustForwarded != nil && opts.TrustForwarded(r) {
				if h := firstValue(r.Header.Get("X-Forwarded-Host")); h != "" {
					host = h
				}
				if p := firstValue(r.Header.Get("X-Forwarded-Proto")); p != "" {
					secure = strings.EqualFold(p, "https")
				}
			}
			if err := forward.CheckOrigin(r, host, secure, opts.AllowedOrigins); err != nil {
				writeError(w, http.StatusForbidden, "csrf_failed", "CSRF check failed: "+err.Error()+".")
				return
			}
		}
		rp.ServeHTTP(w, r)
	}), nil
}

// firstValue is the first of a header's comma-separated values.
func firstValue(v string) string {
	v, _, _ = strings.Cut(v, ",")
	return strings.TrimSpace(v)
}

// stripCookies removes the named cookies from r's Cookie header.
func stripCookies(r *http.Request, names map[string]bool) {
	cookies := r.Cookies()
	r.Header.Del("Cookie")
	kept := make([]string, 0, len(cookies))
	for _, c := range cookies {
		if !names[c.Name] {
			kept = append(kept, c.Name+"="+c.Value)
		}
	}
	if len(kept) > 0 {
		r.Header.Set("Cookie", strings.Join(kept, "; "))
	}
}

const badGatewayHTML = `<!doctype html>
<meta charset="utf-8">
<title>Frontend unavailable</title>
<h1>The frontend server is not reachable</h1>
<p>latchkey proxies this page to a frontend server that did not answer. If you are developing, start it (for example <code>npm run dev</code>) and reload.</p>
`

// proxyError answers for an upstream that cannot be reached.
func proxyError(log *slog.Logger, upstream string) func(http.ResponseWriter, *http.Request, error) {
	return func(w http.ResponseWriter, r *http.Request, err error) {
		if errors.Is(err, context.Canceled) && r.Context().Err() != nil {
			// The client went away; nobody reads the answer.
			w.WriteHeader(http.StatusBadGateway)
			return
		}
		log.WarnContext(r.Context(), "spa: upstream unreachable", "upstream", upstream, "method", r.Method, "path", r.URL.Path, "err", err)
		hdr := w.Header()
		hdr.Set("Cache-Control", "no-store")
		hdr.Set("X-Content-Type-Options", "nosniff")
		if acceptsHTML(r.Header.Get("Accept")) {
			hdr.Set("Content-Type", "text/html; charset=utf-8")
			hdr.Set("Content-Length", strconv.Itoa(len(badGatewayHTML)))
			w.WriteHeader(http.StatusBadGateway)
			if r.Method != http.MethodHead {
				w.Write([]byte(badGatewayHTML))
			}
			return
		}
		writeError(w, http.StatusBadGateway, "bad_gateway", "The frontend server is not reachable.")
	}
}
