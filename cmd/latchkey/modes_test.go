package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/latchkey/latchkey/internal/apitest"
)

func TestConfigCheckRefusals(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"cross-origin without origins", []string{"--mode", "cross-origin"}, "needs --allowed-origins"},
		{"wildcard origin", []string{"--mode", "cross-origin", "--allowed-origins", "https://*.example.com", "--public-url", "https://api.example.com"}, "wildcard"},
		{"origin with a path", []string{"--mode", "cross-origin", "--allowed-origins", "https://app.example.com/spa", "--public-url", "https://api.example.com"}, "path"},
		{"malformed origin", []string{"--mode", "cross-origin", "--allowed-origins", "app.example.com", "--public-url", "https://api.example.com"}, "scheme"},
		{"unknown public URL", []string{"--mode", "cross-origin", "--allowed-origins", "https://app.example.com", "--addr", "0.0.0.0:8080"}, "--public-url"},
		{"cross-site over HTTP", []string{"--mode", "cross-origin", "--allowed-origins", "https://app.other.example", "--public-url", "http://api.example.com"}, "HTTPS"},
		{"cross-site without TLS", []string{"--mode", "cross-origin", "--allowed-origins", "https://app.other.example", "--public-url", "https://api.example.com"}, "plain HTTP"},
		{"SameSite=None without Secure", []string{"--same-site", "none"}, "needs Secure"},
		{"Secure cookies on plain HTTP", []string{"--cookie-secure"}, "plain HTTP"},
		{"__Host- cookie with a Domain", []string{"--cookie-secure", "--trusted-proxies", "127.0.0.1", "--cookie-domain", "example.com"}, "Domain"},
		{"spa-dir in proxy mode", []string{"--mode", "proxy", "--spa-dir", "/tmp"}, "--spa-dir is for --mode embedded"},
		{"spa-upstream in embedded mode", []string{"--spa-upstream", "http://127.0.0.1:5173"}, "--spa-upstream is for --mode proxy"},
		{"origins in embedded mode", []string{"--allowed-origins", "https://app.example.com"}, "--allowed-origins is for --mode cross-origin"},
		{"unknown mode", []string{"--mode", "sideways"}, "want embedded, proxy or cross-origin"},
		{"cert without key", []string{"--tls-cert", "cert.pem"}, "go together"},
		{"bad upstream", []string{"--upstream", "ftp://backend"}, "--upstream"},
		{"bad trusted proxy", []string{"--trusted-proxies", "10.0.0.0/99"}, "--trusted-proxies"},
		{"no login burst", []string{"--login-burst", "0"}, "--login-burst 0: want at least 1"},
		{"negative login refill", []string{"--login-refill", "-1s"}, "--login-refill -1s: want a positive duration"},
		{"no login refill", []string{"--login-refill", "0"}, "--login-refill 0s: want a positive duration"},
		{"unknown Clear-Site-Data type", []string{"--clear-site-data", "storage,everything"}, `Clear-Site-Data type "everything"`},
		{"no sessions per user", []string{"--max-sessions-per-user", "0"}, "--max-sessions-per-user 0: want at least 1"},
		{"no login IP burst", []string{"--login-ip-burst", "0"}, "--login-ip-burst 0: want at least 1"},
		{"negative login IP burst", []string{"--login-ip-burst", "-5"}, "--login-ip-burst -5: want at least 1"},
		{"no login IP refill", []string{"--login-ip-refill", "0"}, "--login-ip-refill 0s: want a positive duration"},
		{"negative login IP refill", []string{"--login-ip-refill", "-1m"}, "--login-ip-refill -1m0s: want a positive duration"},
		{"no register burst", []string{"--register-burst", "0"}, "--register-burst 0: want at least 1"},
		{"negative register burst", []string{"--register-burst", "-1"}, "--register-burst -1: want at least 1"},
		{"no register refill", []string{"--register-refill", "0"}, "--register-refill 0s: want a positive duration"},
		{"negative register refill", []string{"--register-refill", "-12s"}, "--register-refill -12s: want a positive duration"},
		{"no mail address burst", []string{"--mail-address-burst", "0"}, "--mail-address-burst 0: want at least 1"},
		{"negative mail address burst", []string{"--mail-address-burst", "-5"}, "--mail-address-burst -5: want at least 1"},
		{"no mail address refill", []string{"--mail-address-refill", "0"}, "--mail-address-refill 0s: want a positive duration"},
		{"negative mail address refill", []string{"--mail-address-refill", "-12s"}, "--mail-address-refill -12s: want a positive duration"},
		{"no mail client burst", []string{"--mail-client-burst", "0"}, "--mail-client-burst 0: want at least 1"},
		{"negative mail client burst", []string{"--mail-client-burst", "-20"}, "--mail-client-burst -20: want at least 1"},
		{"no mail client refill", []string{"--mail-client-refill", "0"}, "--mail-client-refill 0s: want a positive duration"},
		{"negative mail client refill", []string{"--mail-client-refill", "-3s"}, "--mail-client-refill -3s: want a positive duration"},
		{"no mail cooldown", []string{"--mail-cooldown", "0"}, "--mail-cooldown 0s: want a positive duration"},
		{"negative mail cooldown", []string{"--mail-cooldown", "-2m"}, "--mail-cooldown -2m0s: want a positive duration"},
		{"no fresh login window", []string{"--fresh-login-window", "0"}, "--fresh-login-window 0s: want a positive duration"},
		{"negative fresh login window", []string{"--fresh-login-window", "-10m"}, "--fresh-login-window -10m0s: want a positive duration"},
		{"no reset link lifetime", []string{"--reset-link-ttl", "0"}, "--reset-link-ttl 0s: want a positive duration"},
		{"negative reset link lifetime", []string{"--reset-link-ttl", "-1h"}, "--reset-link-ttl -1h0m0s: want a positive duration"},
		{"no verify link lifetime", []string{"--verify-link-ttl", "0"}, "--verify-link-ttl 0s: want a positive duration"},
		{"negative verify link lifetime", []string{"--verify-link-ttl", "-24h"}, "--verify-link-ttl -24h0m0s: want a positive duration"},
		{"verified-email policy that is not a boolean", []string{"--require-verified-email=maybe"}, "require-verified-email"},
		{"require-login in embedded mode", []string{"--require-login"}, "--require-login protects the site latchkey proxies"},
		{"require-login without an upstream", []string{"--mode", "proxy", "--require-login"}, "needs --mode proxy --spa-upstream"},
		{"require-login in token mode", []string{"--mode", "proxy", "--spa-upstream", "http://127.0.0.1:9", "--require-login", "--token-mode", "jwt"}, "session mode"},
		{"public paths without require-login", []string{"--mode", "proxy", "--spa-upstream", "http://127.0.0.1:9", "--public-paths", "/static/"}, "add --require-login"},
		{"public path that is not a path", []string{"--mode", "proxy", "--spa-upstream", "http://127.0.0.1:9", "--require-login", "--public-paths", "/static/,about"}, `"about" is not a path`},
		{"unknown mail links", []string{"--mail-links", "both"}, `--mail-links "both"`},
		{"pages under the API", []string{"--pages-prefix", "/api/auth"}, "overlaps the API prefix"},
		{"pages at the root", []string{"--pages-prefix", "/"}, "pages prefix"},
		{"missing pages directory", []string{"--pages-dir", "/nonexistent/latchkey-pages"}, "--pages-dir"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := runCmd(t, "", append([]string{"config", "check", "--data", t.TempDir()}, tc.args...)...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v (output %q), want an error saying %q", err, out, tc.want)
			}
			// serve refuses the same way, before opening anything.
			if _, err := runCmd(t, "", append([]string{"serve", "--addr", "127.0.0.1:0", "--data", t.TempDir()}, tc.args...)...); err == nil {
				t.Errorf("serve accepted it")
			}
		})
	}
}

func TestConfigCheckSummary(t *testing.T) {
	out, err := runCmd(t, "", "config", "check", "--data", t.TempDir(), "--mode", "cross-origin",
		"--allowed-origins", "http://localhost:5173", "--public-url", "http://localhost:8080")
	if err != nil {
		t.Fatalf("config check: %v\n%s", err, out)
	}
	for _, want := range []string{"mode      cross-origin", "SameSite=Lax", "credentials for exactly http://localhost:5173", "configuration OK"} {
		if !strings.Contains(out, want) {
			t.Errorf("summary lacks %q:\n%s", want, out)
		}
	}
	out, err = runCmd(t, "", "config", "check", "--data", t.TempDir(), "--mode", "cross-origin",
		"--allowed-origins", "https://app.example.net", "--public-url", "https://api.example.com", "--trusted-proxies", "127.0.0.1", "--partitioned")
	if err != nil || !strings.Contains(out, "SameSite=None") || !strings.Contains(out, "Secure always, Partitioned") {
		t.Errorf("cross-site summary: %v\n%s", err, out)
	}
	const policy = "accounts  logins need a verified e-mail address"
	if strings.Contains(out, policy) {
		t.Errorf("summary shows the verified-email policy, which is off:\n%s", out)
	}
	out, err = runCmd(t, "", "config", "check", "--data", t.TempDir(), "--require-verified-email")
	if err != nil || !strings.Contains(out, policy) {
		t.Errorf("summary with --require-verified-email: %v, want %q\n%s", err, policy, out)
	}
	const signUp = "accounts  an email sign-in for an address no account has makes an account"
	if strings.Contains(out, signUp) {
		t.Errorf("summary shows email sign-up, which is off:\n%s", out)
	}
	out, err = runCmd(t, "", "config", "check", "--data", t.TempDir(), "--email-login-signup")
	if err != nil || !strings.Contains(out, signUp) {
		t.Errorf("summary with --email-login-signup: %v, want %q\n%s", err, signUp, out)
	}
}

// selfSigned writes a certificate for 127.0.0.1 and returns the file names.
func selfSigned(t *testing.T) (certFile, keyFile string) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "latchkey test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := x509.MarshalECPrivateKey(key)
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600)
	return certFile, keyFile
}

func TestServeTLSWithHTTP2(t *testing.T) {
	cert, key := selfSigned(t)
	s := startServe(t, nil, append([]string{"--demo", "--data", t.TempDir(), "--tls-cert", cert, "--tls-key", key}, fastArgon2...)...)
	if !strings.HasPrefix(s.url, "https://") {
		t.Fatalf("url %q, want https", s.url)
	}
	c := apitest.New(t, s.url)
	c.HTTP.Transport = &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, ForceAttemptHTTP2: true}
	res, err := c.HTTP.Get(s.url + "/api/getcsrf")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.ProtoMajor != 2 {
		t.Errorf("protocol %s, want HTTP/2", res.Proto)
	}
	if !strings.Contains(res.Header.Get("Strict-Transport-Security"), "max-age=31536000; includeSubDomains") {
		t.Errorf("HSTS = %q", res.Header.Get("Strict-Transport-Security"))
	}
	if !strings.Contains(strings.Join(res.Header.Values("Set-Cookie"), "\n"), "__Host-latchkey_csrf=") {
		t.Errorf("cookies over TLS are not __Host-: %v", res.Header.Values("Set-Cookie"))
	}
	c.SetToken(res.Header.Get("X-CSRFToken"))
	if r := c.Login("test", "test"); r.Status != 200 {
		t.Errorf("login over TLS: %d", r.Status)
	}
}

func TestServeModes(t *testing.T) {
	t.Run("proxy mode serves only the API", func(t *testing.T) {
		s := startServe(t, nil, append([]string{"--mode", "proxy", "--data", t.TempDir()}, fastArgon2...)...)
		c := apitest.New(t, s.url)
		if r := c.Get("/user"); r.Status != 404 || r.JSON["error"] == nil || r.Header.Get("X-Frame-Options") != "DENY" {
			t.Errorf("/user in proxy mode: %d %v", r.Status, r.JSON)
		}
		if r := c.Get("/api/ping"); r.Status != 200 {
			t.Errorf("ping: %d", r.Status)
		}
	})
	t.Run("cross-origin mode", func(t *testing.T) {
		s := startServe(t, nil, append([]string{"--mode", "cross-origin", "--demo", "--data", t.TempDir(),
			"--allowed-origins", "http://localhost:5173", "--public-url", "http://localhost:8080"}, fastArgon2...)...)
		req, _ := http.NewRequest("OPTIONS", s.url+"/api/login", nil)
		req.Header.Set("Origin", "http://localhost:5173")
		req.Header.Set("Access-Control-Request-Method", "POST")
		req.Header.Set("Access-Control-Request-Headers", "content-type,x-csrftoken")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != 204 || res.Header.Get("Access-Control-Allow-Origin") != "http://localhost:5173" || res.Header.Get("Access-Control-Allow-Credentials") != "true" {
			t.Errorf("preflight: %d %v", res.StatusCode, res.Header)
		}
		req.Header.Set("Origin", "http://localhost:5173.evil.example")
		res, _ = http.DefaultClient.Do(req)
		res.Body.Close()
		if res.Header.Get("Access-Control-Allow-Origin") != "" {
			t.Errorf("preflight from a look-alike origin allowed")
		}
	})
	t.Run("gateway", func(t *testing.T) {
		backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, "hello "+r.Header.Get("X-Latchkey-Username"))
		}))
		defer backend.Close()
		s := startServe(t, nil, append([]string{"--demo", "--data", t.TempDir(), "--upstream", backend.URL}, fastArgon2...)...)
		c := apitest.New(t, s.url)
		if r := c.Get("/api/notes"); r.Status != 401 {
			t.Errorf("anonymous through the gateway: %d", r.Status)
		}
		c.Login("test", "test")
		req, _ := http.NewRequest("GET", s.url+"/api/notes", nil)
		req.Header.Set("X-Latchkey-Username", "admin")
		res, err := c.HTTP.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if string(body) != "hello test" {
			t.Errorf("backend said %q, want hello test", body)
		}
	})
}

var metaToken = regexp.MustCompile(`<meta name="csrf-token" content="([^"]+)">`)

func TestServeEmbeddedSPA(t *testing.T) {
	t.Run("built-in", func(t *testing.T) {
		s := startServe(t, nil, append([]string{"--demo", "--data", t.TempDir()}, fastArgon2...)...)
		c := apitest.New(t, s.url)
		for _, path := range []string{"/", "/user", "/register"} {
			req, _ := http.NewRequest("GET", s.url+path, nil)
			req.Header.Set("Accept", "text/html")
			res, err := c.HTTP.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(res.Body)
			res.Body.Close()
			m := metaToken.FindSubmatch(body)
			if res.StatusCode != 200 || m == nil || !strings.Contains(res.Header.Get("Content-Security-Policy"), "default-src 'self'") ||
				res.Header.Get("X-Frame-Options") != "DENY" {
				t.Fatalf("%s: %d, token %v, CSP %q", path, res.StatusCode, m != nil, res.Header.Get("Content-Security-Policy"))
			}
			c.SetToken(string(m[1]))
		}
		// The token from the page logs in.
		if r := c.Post("/api/login", map[string]string{"username": "test", "password": "test"}); r.Status != 200 {
			t.Errorf("login with the meta-tag token: %d %v", r.Status, r.JSON)
		}
		if r := c.Get("/assets/missing-0123abcd.js"); r.Status != 404 {
			t.Errorf("missing asset: %d, want 404", r.Status)
		}
		checkReferrerPolicy(t, s.url)
	})
	t.Run("spa-dir", func(t *testing.T) {
		dir := t.TempDir()
		os.MkdirAll(filepath.Join(dir, "assets"), 0o755)
		os.WriteFile(filepath.Join(dir, "index.html"), []byte("<!doctype html><html><head><title>mine</title></head><body>my spa</body></html>"), 0o644)
		os.WriteFile(filepath.Join(dir, "assets", "app-4f3a9c1b.js"), []byte("console.log(1)"), 0o644)
		s := startServe(t, nil, "--data", t.TempDir(), "--spa-dir", dir)
		res, err := http.Get(s.url + "/some/client/route")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if !strings.Contains(string(body), "my spa") || metaToken.Find(body) == nil {
			t.Errorf("client route: %q", body)
		}
		res, _ = http.Get(s.url + "/assets/app-4f3a9c1b.js")
		res.Body.Close()
		if cc := res.Header.Get("Cache-Control"); !strings.Contains(cc, "immutable") {
			t.Errorf("hashed asset Cache-Control %q", cc)
		}
		checkReferrerPolicy(t, s.url)
	})
	t.Run("spa-dir without index.html", func(t *testing.T) {
		if _, err := runCmd(t, "", "serve", "--addr", "127.0.0.1:0", "--data", t.TempDir(), "--spa-dir", t.TempDir()); err == nil || !strings.Contains(err.Error(), "index.html") {
			t.Errorf("got %v", err)
		}
	})
}

// checkReferrerPolicy: the pages mailed links open (a token in the URL)
// send no Referer; the others keep the policy of every response.
func checkReferrerPolicy(t *testing.T, base string) {
	t.Helper()
	for _, tc := range []struct{ path, want string }{
		{"/reset-password?token=1.abc", "no-referrer"},
		{"/verify-email?token=1.abc", "no-referrer"},
		{"/confirm-email?token=1.abc", "no-referrer"},
		{"/", "strict-origin-when-cross-origin"},
		{"/user", "strict-origin-when-cross-origin"},
		{"/api/ping", "strict-origin-when-cross-origin"},
	} {
		req, _ := http.NewRequest("GET", base+tc.path, nil)
		req.Header.Set("Accept", "text/html")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if got := res.Header.Values("Referrer-Policy"); res.StatusCode != 200 || len(got) != 1 || got[0] != tc.want {
			t.Errorf("GET %s: %d, Referrer-Policy %q; want 200 with %q", tc.path, res.StatusCode, got, tc.want)
		}
	}
}

func TestServeSPAUpstream(t *testing.T) {
	vite := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Upgrade") == "websocket" {
			conn, err := websocket.Accept(w, r, nil)
			if err != nil {
				return
			}
			defer conn.CloseNow()
			typ, msg, err := conn.Read(r.Context())
			if err == nil {
				conn.Write(r.Context(), typ, append([]byte("echo "), msg...))
			}
			return
		}
		if strings.Contains(r.Header.Get("Cookie"), "latchkey_session") {
			http.Error(w, "session cookie leaked to the frontend server", 500)
			return
		}
		io.WriteString(w, "vite "+r.URL.Path)
	}))
	defer vite.Close()
	s := startServe(t, nil, append([]string{"--mode", "proxy", "--spa-upstream", vite.URL, "--demo", "--data", t.TempDir()}, fastArgon2...)...)
	c := apitest.New(t, s.url)
	c.Login("test", "test")
	res, err := c.HTTP.Get(s.url + "/src/main.ts")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if string(body) != "vite /src/main.ts" {
		t.Errorf("proxied GET: %d %q", res.StatusCode, body)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(s.url, "http")+"/", nil)
	if err != nil {
		t.Fatalf("websocket through latchkey: %v", err)
	}
	defer conn.CloseNow()
	conn.Write(ctx, websocket.MessageText, []byte("hmr"))
	_, msg, err := conn.Read(ctx)
	if err != nil || string(msg) != "echo hmr" {
		t.Errorf("websocket echo: %q %v", msg, err)
	}
	// Another site's page cannot open one with the user's cookies.
	evil := &websocket.DialOptions{HTTPHeader: http.Header{"Origin": {"https://evil.example"}}}
	if conn, res, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(s.url, "http")+"/", evil); err == nil || res == nil || res.StatusCode != http.StatusForbidden {
		if err == nil {
			conn.CloseNow()
		}
		t.Errorf("cross-origin websocket through latchkey: %v, want 403", err)
	}
	if r := c.Get("/api/data"); r.Status != 200 || r.JSON["username"] != "test" {
		t.Errorf("API alongside the proxy: %d %v", r.Status, r.JSON)
	}
}
