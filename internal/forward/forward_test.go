package forward_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"path"
	"strings"
	"testing"

	"github.com/latchkey/latchkey/internal/forward"
)

func TestOwned(t *testing.T) {
	for _, tc := range []struct {
		name string
		want bool
	}{
		{"X-Latchkey-User-Id", true},
		{"X_Latchkey_User_Id", true},
		{"x_LATCHKEY-username", true},
		{"X-Latchkey-Anything", true},
		{"X-Latchkey-", true},
		{"X_Forwarded_For", true},
		{"x-forwarded-host", true},
		{"X-FORWARDED_PROTO", true},
		{"Forwarded", true},
		{"X-Real-IP", true},
		{"x_real_ip", true},
		{"X-Latchkey", false}, // not the prefix: latchkey sets no such header
		{"X-Latchkeys-User", false},
		{"X-Forwarded-Port", false},
		{"Authorization", false},
		{"Cookie", false},
	} {
		if got := forward.Owned(tc.name); got != tc.want {
			t.Errorf("Owned(%q) = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestStripOwnedNonCanonicalKeys(t *testing.T) {
	h := http.Header{"x_latchkey_user_id": {"1"}, "X-LATCHKEY-USERNAME": {"root"}, "x-forwarded-for": {"6.6.6.6"}, "Accept": {"*/*"}}
	forward.StripOwned(h)
	if len(h) != 1 || h.Get("Accept") != "*/*" {
		t.Errorf("after StripOwned: %v, want only Accept", h)
	}
}

func TestCheckOrigin(t *testing.T) {
	allowed := []string{"https://app.example.com"}
	for _, tc := range []struct {
		name   string
		header []string
		host   string
		secure bool
		ok     bool
	}{
		{"no Origin", nil, "api.example.com", false, true},
		{"same origin", []string{"Origin", "http://api.example.com"}, "api.example.com", false, true},
		{"same origin, host case", []string{"Origin", "http://api.example.com"}, "API.example.com", false, true},
		{"same origin with port", []string{"Origin", "http://127.0.0.1:8080"}, "127.0.0.1:8080", false, true},
		{"https page, http known to latchkey", []string{"Origin", "https://api.example.com"}, "api.example.com", false, true},
		{"http page, https known to latchkey", []string{"Origin", "http://api.example.com"}, "api.example.com", true, false},
		{"allowed", []string{"Origin", "https://app.example.com", "Sec-Fetch-Site", "same-site"}, "api.example.com", true, true},
		{"other port", []string{"Origin", "http://api.example.com:8081"}, "api.example.com", false, false},
		{"other host", []string{"Origin", "https://evil.example"}, "api.example.com", true, false},
		{"other host, cross-site", []string{"Origin", "https://evil.example", "Sec-Fetch-Site", "cross-site"}, "api.example.com", true, false},
		{"same host, cross-site", []string{"Origin", "https://api.example.com", "Sec-Fetch-Site", "cross-site"}, "api.example.com", true, false},
		{"same-site by Fetch Metadata", []string{"Origin", "https://api.example.com", "Sec-Fetch-Site", "same-site"}, "api.example.com", true, false},
		{"cross-site, no Origin", []string{"Sec-Fetch-Site", "cross-site"}, "api.example.com", true, false},
		{"null", []string{"Origin", "null"}, "api.example.com", false, false},
		{"two Origins", []string{"Origin", "http://api.example.com", "Origin", "https://evil.example"}, "api.example.com", false, false},
		{"a path", []string{"Origin", "http://api.example.com/x"}, "api.example.com", false, false},
		{"another scheme", []string{"Origin", "chrome-extension://api.example.com"}, "api.example.com", false, false},
		{"user info", []string{"Origin", "http://evil@api.example.com"}, "api.example.com", false, false},
		{"allowed near miss", []string{"Origin", "https://app.example.com.evil.example"}, "api.example.com", true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/ws", nil)
			for i := 0; i+1 < len(tc.header); i += 2 {
				r.Header.Add(tc.header[i], tc.header[i+1])
			}
			err := forward.CheckOrigin(r, tc.host, tc.secure, allowed)
			if (err == nil) != tc.ok {
				t.Errorf("CheckOrigin = %v, want ok %v", err, tc.ok)
			}
		})
	}
}

func TestIsUpgrade(t *testing.T) {
	for _, tc := range []struct {
		name, method string
		header       []string
		want         bool
	}{
		{"plain GET", "GET", nil, false},
		{"websocket", "GET", []string{"Connection", "keep-alive, Upgrade", "Upgrade", "websocket"}, true},
		{"Upgrade alone", "GET", []string{"Upgrade", "websocket"}, true},
		{"Connection alone", "GET", []string{"Connection", "upgrade"}, true},
		{"CONNECT", "CONNECT", nil, true},
	} {
		r := httptest.NewRequest(tc.method, "/x", nil)
		for i := 0; i+1 < len(tc.header); i += 2 {
			r.Header.Add(tc.header[i], tc.header[i+1])
		}
		if got := forward.IsUpgrade(r); got != tc.want {
			t.Errorf("%s: IsUpgrade = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestCheckPath(t *testing.T) {
	for _, tc := range []struct {
		path string
		ok   bool
	}{
		{"/api/orders/7", true},
		{"/api/", true},
		{"/api/a..b/...", true},
		{"/api/.well-known/x", true},
		{"/api/100%25", true},
		{"/api/%7Euser", true},
		{"/api/items;v=1", true},
		{"/api/v1/prefix-only", true},
		{"/api", false},
		{"/apix/y", false},
		{"/admin", false},
		{"/api/..", false},
		{"/api/.", false},
		{"/api/%2e%2e/admin", false},
		{"/api/.%2E/admin", false},
		{"/api/x/%2e", false},
		{"/api/..%2fadmin", false},
		{"/api/a%2Fb", false},
		{"/api/..%5cadmin", false},
		{`/api/..\admin`, false},
		{"/api/%252e%252e/admin", false},
		{"/api/%25252e%25252e/admin", false},
		{"/api/%2525252e", false},
		{"/api/..;/admin", false},
		{"/api/.;a=b/admin", false},
		{"/api/..%3b/admin", false},
		{"/api/%2e%2e%3bx/admin", false},
		{"/api/x%00", false},
		{"/api/x\x00", false},
		{"/api/%c0%ae%c0%ae/admin", false},       // overlong UTF-8 for ".."
		{"/api/%c0%af", false},                   // overlong '/'
		{"/api/%EF%BC%8E%EF%BC%8E/admin", false}, // fullwidth "．．"
		{"/api/a%EF%BC%8Fb", false},              // fullwidth solidus
		{"/api/..%20/admin", false},              // Windows drops trailing spaces
		{"/api/.%20%20/admin", false},
		{"/api/caf%C3%A9", true}, // UTF-8 stays fine
		{"/api/%E2%80%A6", true}, // "…" is not dots
	} {
		if err := forward.CheckPath("/api", tc.path); (err == nil) != tc.ok {
			t.Errorf("CheckPath(%q) = %v, want ok %v", tc.path, err, tc.ok)
		}
	}
}

// FuzzCheckPath: any path CheckPath lets through stays under the prefix
// however many times a backend decodes it, with or without Tomcat's ';'
// parameters, and holds no backslash or NUL.
func FuzzCheckPath(f *testing.F) {
	for _, s := range []string{"/api/x", "/api/%2e%2e/a", "/api/..%2f", "/api/%252e", "/api/..;/", "/api/a%5cb", "/api/%25", "/api/a/b/../c"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		if forward.CheckPath("/api", p) != nil {
			return
		}
		s := p
		for range 8 {
			for _, v := range []string{s, stripParams(s)} {
				if c := path.Clean(v); c != "/api" && !strings.HasPrefix(c, "/api/") {
					t.Fatalf("CheckPath passed %q, which decodes to %q, outside /api", p, v)
				}
				if strings.ContainsAny(v, "\\\x00") {
					t.Fatalf("CheckPath passed %q, which decodes to %q", p, v)
				}
			}
			dec, err := url.PathUnescape(s)
			if err != nil {
				return
			}
			s = dec
		}
	})
}

// stripParams drops each segment's ";..." as Tomcat does.
func stripParams(p string) string {
	segs := strings.Split(p, "/")
	for i, s := range segs {
		segs[i], _, _ = strings.Cut(s, ";")
	}
	return strings.Join(segs, "/")
}

// Owned runs on every header of every request verify answers.
func TestOwnedDoesNotAllocate(t *testing.T) {
	if n := testing.AllocsPerRun(100, func() { forward.Owned("X_Latchkey_User_Id"); forward.Owned("Accept-Encoding") }); n != 0 {
		t.Errorf("Owned allocates %v times", n)
	}
}
