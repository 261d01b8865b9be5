package returnto_test

import (
	"net/url"
	"strings"
	"testing"

	"github.com/latchkey/latchkey/internal/returnto"
)

var origins = []string{"https://app.example.com", "http://localhost:5173"}

func TestCheck(t *testing.T) {
	for _, tc := range []struct {
		name, next string
		ok         bool
	}{
		{"root", "/", true},
		{"path", "/notes", true},
		{"path and query", "/notes?page=2&sort=new", true},
		{"fragment", "/notes#top", true},
		{"encoded query", "/search?q=a%20b%26c", true},
		{"encoded percent", "/search?q=100%25", true},
		{"encoded slash inside", "/files/a%2Fb", true},
		{"allowed origin", "https://app.example.com/welcome", true},
		{"allowed origin, no path", "https://app.example.com", true},
		{"allowed origin, default port", "https://app.example.com:443/x", true},
		{"allowed origin, upper case", "HTTPS://APP.EXAMPLE.COM/x", true},
		{"allowed origin with port", "http://localhost:5173/user", true},

		{"empty", "", false},
		{"relative", "notes", false},
		{"dot relative", "./notes", false},
		{"query only", "?next=/x", false},
		{"fragment only", "#x", false},
		{"protocol-relative", "//evil.example", false},
		{"protocol-relative, three slashes", "///evil.example", false},
		{"backslash", `/\evil.example`, false},
		{"backslashes", `\\evil.example`, false},
		{"backslash later", `/ok\..\x`, false},
		{"scheme without slashes", "https:evil.example", false},
		{"scheme with one slash", "https:/evil.example", false},
		{"other origin", "https://evil.example/", false},
		{"other port", "https://app.example.com:8443/", false},
		{"other scheme", "http://app.example.com/", false},
		{"suffix of an allowed host", "https://app.example.com.evil.example/", false},
		{"userinfo", "https://app.example.com@evil.example/", false},
		{"userinfo with port", "https://app.example.com:443@evil.example/", false},
		{"encoded userinfo", "https://evil.example%2f@app.example.com/", false},
		{"encoded at", "https://app.example.com%40evil.example/", false},
		{"fragment before at", "https://evil.example#@app.example.com", false},
		{"query before at", "https://evil.example?@app.example.com", false},
		{"javascript", "javascript:alert(1)", false},
		{"javascript, upper", "JavaScript:alert(1)", false},
		{"data", "data:text/html,<script>alert(1)</script>", false},
		{"encoded slashes", "/%2f%2fevil.example", false},
		{"encoded slashes, upper", "/%2F%2Fevil.example", false},
		{"encoded slash after slash", "/%2fevil.example", false},
		{"encoded backslash", "/%5cevil.example", false},
		{"encoded backslash, upper", "/%5Cevil.example", false},
		{"double-encoded slashes", "/%252f%252fevil.example", false},
		{"triple-encoded slashes", "/%25252f%25252fevil.example", false},
		{"too deep", "/%2525252fx", false},
		{"encoded path", "%2f%2fevil.example", false},
		{"dot segments", "/../evil", false},
		{"dot segment", "/./evil", false},
		{"encoded dot segments", "/%2e%2e//evil.example", false},
		{"dots then slashes", "/.//evil.example", false},
		{"tab", "/\t/evil.example", false},
		{"leading tab", "\t//evil.example", false},
		{"newline", "/\n/evil.example", false},
		{"carriage return", "/ok\r\nSet-Cookie: x=1", false},
		{"encoded newline", "/ok%0d%0aSet-Cookie:x=1", false},
		{"encoded tab", "/%09/evil.example", false},
		{"NUL", "/ok\x00", false},
		{"encoded NUL", "/ok%00", false},
		{"space", "/ /evil.example", false},
		{"leading space", " //evil.example", false},
		{"DEL", "/ok\x7f", false},
		{"non-ASCII", "/ｅvil", false},
		{"fullwidth solidus", "/／evil.example", false},
		{"bad escape", "/100%", false},
		{"bad escape in URL", "https://app.example.com/%zz", false},
		{"allowed origin, path hides slashes", "https://app.example.com/%2f%2fevil.example", false},
		{"allowed origin, path starts with two slashes", "https://app.example.com//evil.example", false},
		{"too long", "/" + strings.Repeat("a", returnto.MaxLen), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := returnto.Check(tc.next, origins)
			if ok != tc.ok || ok && got != tc.next {
				t.Errorf("Check(%q) = %q, %v; want %v", tc.next, got, ok, tc.ok)
			}
		})
	}
}

func TestCheckNoOrigins(t *testing.T) {
	if _, ok := returnto.Check("https://app.example.com/", nil); ok {
		t.Error("an absolute URL passed with no origin allowed")
	}
	if got, ok := returnto.Check("/x", nil); !ok || got != "/x" {
		t.Errorf("Check(/x) = %q, %v", got, ok)
	}
}

// FuzzCheck: whatever Check accepts, a browser on https://self.example
// resolving it as a Location stays on that origin or goes to an allowed
// one, and neither it nor any decoding of it holds a byte a browser would
// drop or reinterpret.
func FuzzCheck(f *testing.F) {
	for _, s := range []string{"/", "/notes?page=2", "//evil", `/\evil`, "https:evil", "/%2f%2fevil", "/%5cevil",
		"https://app.example.com@evil", "https://app.example.com/x", "/\t/evil", "/%252f%252f", "http://localhost:5173"} {
		f.Add(s)
	}
	base, _ := url.Parse("https://self.example/some/page")
	f.Fuzz(func(t *testing.T, next string) {
		got, ok := returnto.Check(next, origins)
		if !ok {
			return
		}
		if got != next {
			t.Fatalf("Check(%q) returned %q", next, got)
		}
		for i := 0; i < len(next); i++ {
			if c := next[i]; c <= ' ' || c >= 0x7f || c == '\\' {
				t.Fatalf("Check(%q): accepted byte %#x", next, c)
			}
		}
		ref, err := url.Parse(next)
		if err != nil {
			t.Fatalf("Check(%q): accepted, but it does not parse: %v", next, err)
		}
		u := base.ResolveReference(ref)
		o := u.Scheme + "://" + u.Host
		if u.User != nil || o != "https://self.example" && !allowedOrigin(u) {
			t.Fatalf("Check(%q): leads to %s", next, u)
		}
		for p, i := next, 0; i < 3; i++ {
			d, err := url.PathUnescape(p)
			if err != nil {
				break
			}
			if strings.Contains(d, `\`) || strings.HasPrefix(d, "//") {
				t.Fatalf("Check(%q): decodes to %q", next, d)
			}
			p = d
		}
	})
}

func allowedOrigin(u *url.URL) bool {
	host := strings.ToLower(u.Hostname())
	switch strings.ToLower(u.Scheme) {
	case "https":
		return host == "app.example.com" && (u.Port() == "" || u.Port() == "443")
	case "http":
		return host == "localhost" && u.Port() == "5173"
	}
	return false
}
