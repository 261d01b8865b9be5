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
	"strconv"
	"strings"
	"time"
)

// ProxyOptions configures Proxy. The zero value is ready to use.
type ProxyOptions struct {
	// TrustForwarded reports whether the request came through a trusted
	// proxy whose X-Forwarded-For, -Host and -Proto headers are to be kept
	// (the client address is then appended to X-Forwarded-For). Default:
	// trust nobody, so the upstream sees only what this hop observed.
	TrustForwarded func(*http.Request) bool

	// StripCookies names cookies that are removed from requests before they
	// reach the upstream, such as latchkey's session cookie: a frontend
	// server has no use for it and should not see or log it.
	StripCookies []string

	// Transport carries requests to the upstream. Default: a clone of
	// http.DefaultTransport.
	Transport http.RoundTripper

	// Logger receives upstream failures. Default: slog.Default().
	Logger *slog.Logger
}

// Identity headers that latchkey sends to backends it vouches for; the
// frontend is not one, so a client cannot smuggle them through it either.
var identityHeaders = []string{"X-Latchkey-User-Id", "X-Latchkey-Username"}

// Proxy returns a reverse proxy to upstream, for the SPA paths of proxy mode
// (--spa-upstream): a Vite dev server, whose hot reload runs over a
// websocket that the proxy carries, or any static server. upstream needs an
// http or https scheme and a host; its path, if any, is prefixed to request
// paths.
//
// The upstream receives the request with Host set to its own host (a dev
// server checks it), X-Forwarded-For/-Host/-Proto describing the client
// (see ProxyOptions.TrustForwarded), and no X-Latchkey-* identity headers.
// If it cannot be reached, the client gets a 502: a short HTML page for a
// browser navigation, JSON otherwise; the cause goes to the log only. The
// handler is safe for concurrent use.
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
			if opts.TrustForwarded != nil && opts.TrustForwarded(pr.In) {
				// ReverseProxy removed them from Out; put back what a
				// trusted proxy said, for SetXForwarded to extend.
				for _, h := range []string{"X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto"} {
					if v := pr.In.Header.Values(h); len(v) > 0 {
						pr.Out.Header[h] = v
					}
				}
				host, proto := pr.Out.Header.Get("X-Forwarded-Host"), pr.Out.Header.Get("X-Forwarded-Proto")
				pr.SetXForwarded()
				if host != "" {
					pr.Out.Header.Set("X-Forwarded-Host", host)
				}
				if proto != "" {
					pr.Out.Header.Set("X-Forwarded-Proto", proto)
				}
			} else {
				pr.SetXForwarded()
			}
			for _, h := range identityHeaders {
				pr.Out.Header.Del(h)
			}
			if len(strip) > 0 {
				stripCookies(pr.Out, strip)
			}
		},
		Transport:    opts.Transport,
		ErrorLog:     slog.NewLogLogger(opts.Logger.Handler(), slog.LevelWarn),
		ErrorHandler: proxyError(opts.Logger, upstream.Redacted()),
	}
	return rp, nil
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
