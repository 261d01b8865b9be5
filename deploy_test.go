package latchkey_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey"
)

const spaOrigin = "http://localhost:5173"

func corsEnv(t *testing.T) *env {
	return newEnv(t, func(c *latchkey.Config) {
		c.AllowedOrigins = []string{spaOrigin}
		c.PublicURL = "http://localhost:8080"
	})
}

// TestCORSMatrix: credentials are allowed for exactly the listed origins;
// every near miss gets no CORS headers at all.
func TestCORSMatrix(t *testing.T) {
	e := newEnv(t, func(c *latchkey.Config) {
		c.AllowedOrigins = []string{spaOrigin}
		c.PublicURL = "http://localhost:8080"
	})
	for _, tc := range []struct {
		origin  string
		allowed bool
	}{
		{spaOrigin, true},
		{"https://evil.example", false},
		{"null", false},
		{"https://localhost:5173", false},             // wrong scheme
		{"http://localhost:5174", false},              // wrong port
		{"http://localhost", false},                   // no port
		{"http://localhost:5173.evil.example", false}, // A.evil
		{"http://evillocalhost:5173", false},          // evilA
		{"http://evil@localhost:5173", false},         // evil@A
		{"http://localhost:5173@evil.example", false},
		{"http://localhost:5173/", false},
		{"*", false},
	} {
		t.Run(tc.origin, func(t *testing.T) {
			b := e.browser()
			r := b.Get("/api/getsession", "Origin", tc.origin)
			acao := r.Header.Get("Access-Control-Allow-Origin")
			if tc.allowed {
				if acao != tc.origin || r.Header.Get("Access-Control-Allow-Credentials") != "true" {
					t.Errorf("ACAO %q ACAC %q, want the origin with credentials", acao, r.Header.Get("Access-Control-Allow-Credentials"))
				}
				for _, h := range []string{"X-Csrftoken", "Retry-After"} {
					if !strings.Contains(r.Header.Get("Access-Control-Expose-Headers"), h) {
						t.Errorf("%s not exposed: %q", h, r.Header.Get("Access-Control-Expose-Headers"))
					}
				}
			} else if acao != "" || r.Header.Get("Access-Control-Allow-Credentials") != "" {
				t.Errorf("unlisted origin got ACAO %q", acao)
			}
			if !strings.Contains(strings.Join(r.Header.Values("Vary"), ","), "Origin") {
				t.Errorf("no Vary: Origin")
			}
			// Preflight.
			p := b.Do("OPTIONS", "/api/login", nil, "Origin", tc.origin,
				"Access-Control-Request-Method", "POST", "Access-Control-Request-Headers", "content-type,x-csrftoken")
			pacao := p.Header.Get("Access-Control-Allow-Origin")
			if tc.allowed {
				if p.Status != 204 || pacao != tc.origin || !strings.Contains(p.Header.Get("Access-Control-Allow-Methods"), "POST") ||
					!strings.Contains(strings.ToLower(p.Header.Get("Access-Control-Allow-Headers")), "x-csrftoken") ||
					p.Header.Get("Access-Control-Max-Age") != "600" || p.Header.Get("Access-Control-Allow-Credentials") != "true" {
					t.Errorf("preflight: %d %v", p.Status, p.Header)
				}
			} else if pacao != "" {
				t.Errorf("preflight for unlisted origin got ACAO %q", pacao)
			}
		})
	}
}

// TestCrossOriginSPA: a listed origin may change state with the user's
// cookies (its token); an unlisted one may not, even with a token.
func TestCrossOriginSPA(t *testing.T) {
	e := corsEnv(t)
	e.addUser("cora", "cora's long password")
	b := e.browser()
	b.CSRF()
	r := b.Post("/api/login", map[string]any{"username": "cora", "password": "cora's long password"}, "Origin", spaOrigin, "Sec-Fetch-Site", "same-site")
	if r.Status != 200 {
		t.Fatalf("login from the SPA origin: %d %s", r.Status, r.Raw)
	}
	if c := setCookieHeader(r.Header, "latchkey_session"); c == nil || c.SameSite != http.SameSiteLaxMode {
		t.Errorf("session cookie %+v, want SameSite=Lax", c)
	}
	for _, evil := range []string{"https://evil.example", "http://localhost:5174", "null"} {
		if r := b.Post("/api/logout", nil, "Origin", evil, "Sec-Fetch-Site", "cross-site"); r.Status != 403 {
			t.Errorf("logout from %s: %d, want 403", evil, r.Status)
		}
		if r := b.Get("/api/logout", "Origin", evil, "Sec-Fetch-Site", "cross-site"); r.Status != 403 {
			t.Errorf("GET logout from %s: %d, want 403", evil, r.Status)
		}
	}
	if !b.LoggedIn() {
		t.Fatalf("hostile origins logged the user out")
	}
	if r := b.Post("/api/logout", nil, "Origin", spaOrigin, "Sec-Fetch-Site", "same-site"); r.Status != 200 {
		t.Errorf("logout from the SPA origin: %d %s", r.Status, r.Raw)
	}
}

func TestStartupRefusals(t *testing.T) {
	tls := func(c *latchkey.Config) { c.ServesTLS = true }
	for _, tc := range []struct {
		name string
		cfg  func(*latchkey.Config)
		want string
	}{
		{"SameSite=None without Secure", func(c *latchkey.Config) { c.SameSite = http.SameSiteNoneMode }, "SameSite=None needs Secure"},
		{"wildcard origin", func(c *latchkey.Config) {
			c.AllowedOrigins = []string{"https://*.example.com"}
			c.PublicURL = "https://api.example.com"
		}, "wildcard"},
		{"star origin", func(c *latchkey.Config) { c.AllowedOrigins = []string{"*"}; c.PublicURL = "https://api.example.com" }, "wildcard"},
		{"null origin", func(c *latchkey.Config) { c.AllowedOrigins = []string{"null"}; c.PublicURL = "https://api.example.com" }, "not null"},
		{"no scheme", func(c *latchkey.Config) {
			c.AllowedOrigins = []string{"app.example.com"}
			c.PublicURL = "https://api.example.com"
		}, "scheme"},
		{"origin with a path", func(c *latchkey.Config) {
			c.AllowedOrigins = []string{"https://app.example.com/app"}
			c.PublicURL = "https://api.example.com"
		}, "path"},
		{"trailing slash", func(c *latchkey.Config) {
			c.AllowedOrigins = []string{"https://app.example.com/"}
			c.PublicURL = "https://api.example.com"
		}, "path"},
		{"origins without public URL", func(c *latchkey.Config) { c.AllowedOrigins = []string{"https://app.example.com"} }, "PublicURL"},
		{"cross-site over HTTP", func(c *latchkey.Config) {
			c.AllowedOrigins = []string{"http://app.other.example"}
			c.PublicURL = "http://api.example.com"
		}, "HTTPS"},
		{"cross-site with SameSite=Strict", func(c *latchkey.Config) {
			c.AllowedOrigins = []string{"https://app.other.example"}
			c.PublicURL = "https://api.example.com"
			c.SameSite = http.SameSiteStrictMode
			c.Secure, c.ServesTLS = true, true
		}, "SameSite=None"},
		{"Secure on plain HTTP", func(c *latchkey.Config) { c.Secure = true }, "plain HTTP"},
		{"__Host- with a Domain", func(c *latchkey.Config) { c.Secure = true; tls(c); c.CookieDomain = "example.com" }, "Domain"},
		{"Partitioned without Secure", func(c *latchkey.Config) { c.Partitioned = true }, "Partitioned"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := latchkey.Config{Secrets: [][]byte{testSecret}}
			tc.cfg(&cfg)
			_, err := latchkey.New(cfg, nil, nil)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want an error saying %q", err, tc.want)
			}
		})
	}
}

func TestSameSiteChosenFromOrigins(t *testing.T) {
	for _, tc := range []struct {
		name, origin, public string
		want                 http.SameSite
		secure               bool
	}{
		{"same site subdomain", "https://app.example.com", "https://api.example.com", http.SameSiteLaxMode, false},
		{"localhost ports", "http://localhost:5173", "http://localhost:8080", http.SameSiteLaxMode, false},
		{"cross site", "https://app.example.net", "https://api.example.com", http.SameSiteNoneMode, true},
		{"public suffix is not a site", "https://a.github.io", "https://b.github.io", http.SameSiteNoneMode, true},
		{"scheme differs", "http://app.example.com", "https://api.example.com", http.SameSiteNoneMode, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, func(c *latchkey.Config) {
				c.AllowedOrigins = []string{tc.origin}
				c.PublicURL = tc.public
				c.ServesTLS = true
			})
			e.addUser("sid", "sid's long password")
			r := e.browser().Get("/api/getcsrf")
			name := "latchkey_csrf"
			if tc.secure {
				name = "__Host-latchkey_csrf"
			}
			c := setCookieHeader(r.Header, name)
			if c == nil || c.SameSite != tc.want || c.Secure != tc.secure {
				t.Errorf("cookie %+v, want %s SameSite %v Secure %v", c, name, tc.want, tc.secure)
			}
		})
	}
}

func TestTrustedProxies(t *testing.T) {
	loopback := []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
	elsewhere := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	for _, tc := range []struct {
		name    string
		proxies []netip.Prefix
		trusted bool
	}{{"trusted peer", loopback, true}, {"untrusted peer", elsewhere, false}} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, func(c *latchkey.Config) { c.TrustedProxies = tc.proxies; c.LoginBurst = 2; c.LoginRefill = time.Hour })
			e.addUser("tom", "tom's long password")
			b := e.browser()
			r := b.Get("/api/getcsrf", "X-Forwarded-Proto", "https")
			secure := setCookieHeader(r.Header, "__Host-latchkey_csrf") != nil
			hsts := r.Header.Get("Strict-Transport-Security")
			if secure != tc.trusted || (hsts != "") != tc.trusted {
				t.Errorf("X-Forwarded-Proto: https gave Secure cookie %v, HSTS %q; want both %v", secure, hsts, tc.trusted)
			}
			if tc.trusted && !strings.Contains(hsts, "max-age=31536000") || tc.trusted && !strings.Contains(hsts, "includeSubDomains") {
				t.Errorf("HSTS = %q", hsts)
			}
			// X-Forwarded-Host decides the cross-origin check only from a trusted peer.
			b2 := e.browser()
			b2.CSRF()
			r = b2.Post("/api/login", map[string]any{"username": "tom", "password": "tom's long password"},
				"Origin", "http://public.example", "X-Forwarded-Host", "public.example")
			if (r.Status == 200) != tc.trusted {
				t.Errorf("login with Origin = X-Forwarded-Host: %d, want success %v", r.Status, tc.trusted)
			}
			// X-Forwarded-For moves the throttle's client key only from a trusted peer.
			b3 := e.browser()
			for range 2 {
				b3.Login("tom", "wrong password", "X-Forwarded-For", "192.0.2.1")
			}
			r = b3.Login("tom", "tom's long password", "X-Forwarded-For", "192.0.2.2")
			if (r.Status == 200) != tc.trusted {
				t.Errorf("after 2 failures as 192.0.2.1, login as 192.0.2.2: %d; want a separate bucket only when trusted (%v)", r.Status, tc.trusted)
			}
		})
	}
}

func TestSecurityHeadersOnEveryResponse(t *testing.T) {
	e := newEnv(t)
	b := e.browser()
	for _, tc := range []struct{ method, path string }{
		{"GET", "/api/ping"}, {"GET", "/api/nope"}, {"DELETE", "/api/login"}, {"GET", "/api/data"},
		{"POST", "/api/login"}, {"GET", "/api/getcsrf"},
	} {
		r := b.Do(tc.method, tc.path, strings.NewReader("{"), "Content-Type", "application/json")
		for h, want := range map[string]string{
			"X-Content-Type-Options":     "nosniff",
			"Referrer-Policy":            "strict-origin-when-cross-origin",
			"X-Frame-Options":            "DENY",
			"X-XSS-Protection":           "0",
			"Cross-Origin-Opener-Policy": "same-origin",
		} {
			if got := r.Header.Get(h); got != want {
				t.Errorf("%s %s (%d): %s = %q, want %q", tc.method, tc.path, r.Status, h, got, want)
			}
		}
		if csp := r.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "frame-ancestors 'none'") {
			t.Errorf("%s %s: CSP %q", tc.method, tc.path, csp)
		}
		if r.Header.Get("Strict-Transport-Security") != "" {
			t.Errorf("HSTS over plain HTTP")
		}
		if s := r.Header.Get("Server"); s != "" {
			t.Errorf("Server header %q", s)
		}
	}
}

// TestGateway: latchkey in front of any backend.
func TestGateway(t *testing.T) {
	var got *http.Request
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r.Clone(r.Context())
		io.WriteString(w, "backend "+r.Method+" "+r.URL.Path)
	}))
	defer backend.Close()
	up, _ := url.Parse(backend.URL)
	e := newEnv(t, func(c *latchkey.Config) { c.Upstream = up })
	gil := e.addUser("gil", "gil's long password")
	b := e.browser()
	if r := b.Get("/api/notes"); r.Status != 401 || got != nil {
		t.Fatalf("anonymous: %d (backend reached: %v), want 401", r.Status, got != nil)
	}
	b.MustLogin("gil", "gil's long password")
	r := b.Get("/api/notes/7?x=1", "X-Latchkey-Username", "admin", "X-Latchkey-User-Id", "1", "X-Latchkey-Role", "root")
	if r.Status != 200 || r.Raw != "backend GET /api/notes/7" {
		t.Fatalf("proxied GET: %d %q", r.Status, r.Raw)
	}
	if got.Header.Get("X-Latchkey-Username") != "gil" || got.Header.Get("X-Latchkey-Role") != "" || got.Header.Get("X-Latchkey-User-Id") != fmt.Sprint(gil.ID) {
		t.Errorf("backend saw identity %v", got.Header)
	}
	if got.URL.RawQuery != "x=1" {
		t.Errorf("query %q lost", got.URL.RawQuery)
	}
	for _, c := range got.Cookies() {
		if strings.Contains(c.Name, "latchkey_") {
			t.Errorf("backend received latchkey's cookie %s", c.Name)
		}
	}
	got = nil
	if r := b.Do("POST", "/api/notes", strings.NewReader("{}"), "Content-Type", "application/json"); r.Status != 403 || got != nil {
		t.Errorf("POST without token: %d (backend reached %v), want 403", r.Status, got != nil)
	}
	if r := b.Post("/api/notes", map[string]any{"text": "hi"}); r.Status != 200 || got == nil || got.Method != "POST" {
		t.Errorf("POST with token: %d %q", r.Status, r.Raw)
	}
	// latchkey's own routes and their 405s stay latchkey's.
	if r := b.Get("/api/data"); r.JSON["username"] != "gil" {
		t.Errorf("own route: %s", r.Raw)
	}
	if r := b.Do("PUT", "/api/login", nil); r.Status != 405 {
		t.Errorf("PUT /api/login: %d, want 405", r.Status)
	}
	backend.Close()
	if r := b.Get("/api/notes"); r.Status != 502 || r.ErrCode() != "upstream_unavailable" {
		t.Errorf("backend down: %d %s", r.Status, r.Raw)
	}
}
