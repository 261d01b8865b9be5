package e2e_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSPAServer checks the static server of the cross-origin deployment
// without a browser: what the SPA gets decides what the browser tests prove.
func TestSPAServer(t *testing.T) {
	dir := t.TempDir()
	for name, body := range map[string]string{
		"index.html":         `<head><meta name="latchkey-api" content="/api"></head>`,
		"assets/app-1a2b.js": "console.log(1)",
		".env":               "SECRET=1",
	} {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	srv := httptest.NewServer(spaServer(t, dir, func() string { return "http://localhost:4321/api" }))
	defer srv.Close()
	get := func(path string) (*http.Response, string) {
		t.Helper()
		res, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res, string(b)
	}
	for _, path := range []string{"/", "/user", "/register", "/index.html", "/.env"} {
		res, body := get(path)
		if !strings.Contains(body, `<meta name="latchkey-api" content="http://localhost:4321/api">`) {
			t.Errorf("GET %s = %q, want index.html with the API's URL in its meta tag", path, body)
		}
		if csp := res.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "connect-src 'self' http://localhost:4321") || !strings.Contains(csp, "default-src 'self'") {
			t.Errorf("GET %s: CSP %q, want the strict one with connect-src for the API", path, csp)
		}
	}
	if _, body := get("/assets/app-1a2b.js"); body != "console.log(1)" {
		t.Errorf("GET /assets/app-1a2b.js = %q", body)
	}
}
