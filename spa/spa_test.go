package spa_test

import (
	"compress/gzip"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/latchkey/latchkey/mail"
	"github.com/latchkey/latchkey/spa"
	"github.com/latchkey/latchkey/web"
)

const indexHTML = `<!doctype html>
<html><head><meta charset="utf-8"><title>app</title>
<script type="module" src="/assets/index-4f3a9c1b.js"></script>
</head><body><div id="app"></div></body></html>
`

// bigJS is compressible and above the compression threshold.
var bigJS = "console.log('hello');\n" + strings.Repeat("export const x = 'aaaaaaaaaaaaaaaa';\n", 100)

func build() fstest.MapFS {
	return fstest.MapFS{
		"index.html":                {Data: []byte(indexHTML)},
		"assets/index-4f3a9c1b.js":  {Data: []byte(bigJS)},
		"assets/index-BZ5Zj7Vf.css": {Data: []byte("body{margin:0}")},
		"assets/logo.svg":           {Data: []byte("<svg xmlns='http://www.w3.org/2000/svg'/>")},
		"favicon.ico":               {Data: []byte{0, 0, 1, 0}},
		"robots.txt":                {Data: []byte("User-agent: *\n")},
		".env":                      {Data: []byte("SECRET=1")},
		"sub/.git/config":           {Data: []byte("[core]")},
		".well-known/security.txt":  {Data: []byte("Contact: x")},
		"docs/guide.html":           {Data: []byte("<p>guide</p>")},
	}
}

// tokens hands out "tok-1", "tok-2", … and a cookie, as Auth.CSRFToken would.
func tokens() func(http.ResponseWriter, *http.Request) (string, error) {
	n := 0
	return func(w http.ResponseWriter, r *http.Request) (string, error) {
		n++
		http.SetCookie(w, &http.Cookie{Name: "latchkey_csrf", Value: "anon", HttpOnly: true})
		return "tok-" + string(rune('0'+n)), nil
	}
}

type result struct {
	status int
	header http.Header
	body   string
}

func serve(t *testing.T, h http.Handler, method, target string, header ...string) result {
	t.Helper()
	req := httptest.NewRequest(method, target, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	res := rec.Result()
	body := rec.Body.String()
	if res.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(strings.NewReader(body))
		if err != nil {
			t.Fatalf("%s %s: bad gzip: %v", method, target, err)
		}
		b, err := io.ReadAll(zr)
		if err != nil {
			t.Fatalf("%s %s: bad gzip: %v", method, target, err)
		}
		body = string(b)
	}
	return result{status: res.StatusCode, header: res.Header, body: body}
}

const (
	browserNav = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
	scriptLoad = "*/*"
)

func TestRouting(t *testing.T) {
	h := spa.Handler(build(), spa.Options{CSRFToken: tokens()})
	tests := []struct {
		name, path, accept string
		wantStatus         int
		wantBody           string // substring
	}{
		{"root is index.html", "/", browserNav, 200, `<div id="app">`},
		{"index.html itself", "/index.html", browserNav, 200, `<div id="app">`},
		{"client route", "/user", browserNav, 200, `<div id="app">`},
		{"nested client route", "/users/42/edit", browserNav, 200, `<div id="app">`},
		{"client route fetched without Accept", "/user", "", 200, `<div id="app">`},
		{"client route with a dot, navigated", "/users/jane.doe", browserNav, 200, `<div id="app">`},
		{"client route with query", "/search?q=x", browserNav, 200, `<div id="app">`},
		{"hashed asset", "/assets/index-4f3a9c1b.js", scriptLoad, 200, "console.log('hello')"},
		{"plain file", "/robots.txt", scriptLoad, 200, "User-agent"},
		{"nested html file", "/docs/guide.html", browserNav, 200, "<p>guide</p>"},
		{"directory is a client route, not a listing", "/assets", browserNav, 200, `<div id="app">`},
		{"directory with slash", "/assets/", browserNav, 200, `<div id="app">`},
		{"missing asset", "/assets/missing-12345678.js", scriptLoad, 404, "not_found"},
		{"missing asset, navigated", "/assets/missing-12345678.js", browserNav, 404, "not_found"},
		{"missing favicon", "/favicon.png", "image/avif,image/webp,*/*", 404, "not_found"},
		{"dot-file", "/.env", browserNav, 404, "not_found"},
		{"dot-dir", "/sub/.git/config", scriptLoad, 404, "not_found"},
		{"well-known", "/.well-known/security.txt", scriptLoad, 200, "Contact"},
		{"traversal", "/../../../etc/passwd", browserNav, 200, `<div id="app">`}, // cleaned to /etc/passwd: a client route
		{"encoded traversal", "/assets/%2e%2e/%2e%2e/etc/passwd", scriptLoad, 200, `<div id="app">`},
		{"traversal to a file with extension", "/../../etc/hosts.txt", scriptLoad, 404, "not_found"},
		{"backslash", `/..\..\secret.txt`, scriptLoad, 404, "not_found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := serve(t, h, "GET", tt.path, "Accept", tt.accept)
			if r.status != tt.wantStatus || !strings.Contains(r.body, tt.wantBody) {
				t.Errorf("GET %s (Accept %q) = %d %q, want %d containing %q", tt.path, tt.accept, r.status, r.body, tt.wantStatus, tt.wantBody)
			}
			if r.status == 404 && r.header.Get("Content-Type") != "application/json" {
				t.Errorf("404 Content-Type = %q, want application/json", r.header.Get("Content-Type"))
			}
		})
	}
}

func TestCacheControl(t *testing.T) {
	h := spa.Handler(build(), spa.Options{CSRFToken: tokens()})
	tests := []struct{ path, want string }{
		{"/", "no-store"},
		{"/user", "no-store"},
		{"/assets/index-4f3a9c1b.js", "public, max-age=31536000, immutable"},
		{"/assets/index-BZ5Zj7Vf.css", "public, max-age=31536000, immutable"},
		{"/assets/logo.svg", "no-cache"},
		{"/robots.txt", "no-cache"},
		{"/assets/missing-12345678.js", "no-store"},
	}
	for _, tt := range tests {
		r := serve(t, h, "GET", tt.path, "Accept", scriptLoad)
		if got := r.header.Get("Cache-Control"); got != tt.want {
			t.Errorf("GET %s: Cache-Control = %q, want %q", tt.path, got, tt.want)
		}
	}
}

func TestHashedAsset(t *testing.T) {
	tests := []struct {
		name string
		want bool
	}{
		{"assets/index-4f3a9c1b.js", true},
		{"assets/index-BZ5Zj7Vf.css", true},
		{"assets/index-D_ryMEPs.js", true},
		{"assets/vendor-a-bc1defg.js", true}, // a hash with a '-' in it
		{"assets/main.4f3a9c1b.js", true},    // webpack style
		{"assets/fonts/inter-Xy12abcd.woff2", true},
		{"assets/my-component.js", false}, // a name, not a hash
		{"assets/logo.svg", false},
		{"assets/index-4f3a.js", false}, // too short
		{"index-4f3a9c1b.js", false},    // not under assets/
		{"static/index-4f3a9c1b.js", false},
		{"assets/index-4f3a9c1b", false}, // no extension
	}
	for _, tt := range tests {
		if got := spa.HashedAsset(tt.name); got != tt.want {
			t.Errorf("HashedAsset(%q) = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestCSRFMetaInjected(t *testing.T) {
	h := spa.Handler(build(), spa.Options{CSRFToken: tokens()})
	r1 := serve(t, h, "GET", "/", "Accept", browserNav)
	r2 := serve(t, h, "GET", "/user", "Accept", browserNav)
	for i, tc := range []struct {
		r   result
		tok string
	}{{r1, "tok-1"}, {r2, "tok-2"}} {
		want := `<meta name="csrf-token" content="` + tc.tok + `"></head>`
		if !strings.Contains(tc.r.body, want) {
			t.Errorf("response %d: body %q lacks %q", i+1, tc.r.body, want)
		}
		if strings.Count(tc.r.body, "csrf-token") != 1 {
			t.Errorf("response %d: %d csrf-token tags, want 1", i+1, strings.Count(tc.r.body, "csrf-token"))
		}
		if tc.r.header.Get("Set-Cookie") == "" {
			t.Errorf("response %d: the token's cookie was not set", i+1)
		}
		if got := tc.r.header.Get("Content-Type"); got != "text/html; charset=utf-8" {
			t.Errorf("response %d: Content-Type = %q", i+1, got)
		}
		if tc.r.header.Get("ETag") != "" || tc.r.header.Get("Last-Modified") != "" {
			t.Errorf("response %d: a per-response page has validators: %v", i+1, tc.r.header)
		}
	}
}

// TestCSRFMetaAfterRebuild: Handler cuts index.html for its token once per
// version of the file; each rebuild is cut anew.
func TestCSRFMetaAfterRebuild(t *testing.T) {
	files := build()
	h := spa.Handler(files, spa.Options{CSRFToken: tokens()})
	for i, v := range []struct{ name, page, want string }{
		{"first version", `<head><meta name="csrf-token" content=""></head>v1`, `<head><meta name="csrf-token" content="tok-1"></head>v1`},
		{"same again", `<head><meta name="csrf-token" content=""></head>v1`, `<head><meta name="csrf-token" content="tok-2"></head>v1`},
		{"tag moved and rewritten", `<head><title>t</title><meta content='' name=csrf-token /></head>v2`,
			`<head><title>t</title><meta content="tok-3" name="csrf-token" /></head>v2`},
		{"tag gone", `<head></head>v3`, `<head><meta name="csrf-token" content="tok-4"></head>v3`},
	} {
		files["index.html"] = &fstest.MapFile{Data: []byte(v.page)}
		if r := serve(t, h, "GET", "/"); r.body != v.want {
			t.Errorf("response %d (%s): got %q, want %q", i+1, v.name, r.body, v.want)
		}
	}
}

func TestInjectCSRFToken(t *testing.T) {
	const meta = `<meta name="csrf-token" content="T">`
	tests := []struct {
		name, page, tok, want string
	}{
		{"before </head>", "<html><head><title>x</title></head><body></body></html>", "T",
			`<html><head><title>x</title>` + meta + `</head><body></body></html>`},
		{"upper-case HEAD", "<HTML><HEAD></HEAD><BODY></BODY></HTML>", "T",
			`<HTML><HEAD>` + meta + `</HEAD><BODY></BODY></HTML>`},
		{"replaces the empty placeholder", `<head><meta name="csrf-token" content=""><script src=a.js></script></head>`, "T",
			`<head>` + meta + `<script src=a.js></script></head>`},
		{"the tutorial's self-closing tag", "<head>\n  <meta name=\"csrf-token\" content=\"\" />\n</head>", "T",
			"<head>\n  <meta name=\"csrf-token\" content=\"T\" />\n</head>"},
		{"the tutorial's template expression", `<head><meta name="csrf-token" content="{{ csrf_token() }}" /></head>`, "T",
			`<head><meta name="csrf-token" content="T" /></head>`},
		{"an old token", `<head><meta name="csrf-token" content="old"></head>`, "T", `<head>` + meta + `</head>`},
		{"upper-case tag and attribute names", `<HEAD><Meta NAME="csrf-token" CONTENT=""></HEAD>`, "T",
			`<HEAD>` + meta + `</HEAD>`},
		{"single quotes", `<head><meta name='csrf-token' content=''></head>`, "T", `<head>` + meta + `</head>`},
		{"unquoted", `<head><meta name=csrf-token content=x></head>`, "T", `<head>` + meta + `</head>`},
		{"content before name", `<head><meta content="" name="csrf-token"></head>`, "T",
			`<head><meta content="T" name="csrf-token"></head>`},
		{"no content attribute", `<head><meta name="csrf-token"/></head>`, "T", `<head><meta name="csrf-token" content="T" /></head>`},
		{"other attributes kept", `<head><meta id=m name="csrf-token" data-x='a"b' content=""></head>`, "T",
			`<head><meta id="m" name="csrf-token" data-x="a&#34;b" content="T"></head>`},
		{"character reference in the name", `<head><meta name="csrf&#45;token" content=""></head>`, "T", `<head>` + meta + `</head>`},
		{"several in the head: all filled", `<head><meta name="csrf-token" content=""><meta name="csrf-token" content="old"></head>`, "T",
			`<head>` + meta + meta + `</head>`},
		{"after </head>, before <body>: still the head's", "<head></head>\n<meta name=\"csrf-token\" content=\"\">\n<body></body>", "T",
			"<head></head>\n" + meta + "\n<body></body>"},
		{"no head tag: the implied head's", `<!doctype html><meta name="csrf-token" content=""><p>x`, "T",
			`<!doctype html>` + meta + `<p>x`},
		{"in the body: not the head's", `<head></head><body><meta name="csrf-token" content=""></body>`, "T",
			`<head>` + meta + `</head><body><meta name="csrf-token" content=""></body>`},
		{"after body content: not the head's", `<title>x</title><p>hi</p><meta name="csrf-token" content="">`, "T",
			`<title>x</title>` + meta + `<p>hi</p><meta name="csrf-token" content="">`},
		{"in a comment", `<head><!-- <meta name="csrf-token" content=""> --></head>`, "T",
			`<head><!-- <meta name="csrf-token" content=""> -->` + meta + `</head>`},
		{"in a script", `<head><script>s = '<meta name="csrf-token" content="">'</script></head>`, "T",
			`<head><script>s = '<meta name="csrf-token" content="">'</script>` + meta + `</head>`},
		{"in noscript", `<head><noscript><meta name="csrf-token" content=""></noscript></head>`, "T",
			`<head><noscript><meta name="csrf-token" content=""></noscript>` + meta + `</head>`},
		{"in a template", `<head><template><meta name="csrf-token" content=""></template></head>`, "T",
			`<head><template><meta name="csrf-token" content=""></template>` + meta + `</head>`},
		{"other names", `<head><meta name="csrf-token-x" content=""><meta name="CSRF-Token" content=""></head>`, "T",
			`<head><meta name="csrf-token-x" content=""><meta name="CSRF-Token" content="">` + meta + `</head>`},
		{"no head: before body", "<!doctype html><body>x</body>", "T",
			`<!doctype html>` + meta + `<body>x</body>`},
		{"no head or body: before the first body content", "<!doctype html><p>x", "T",
			`<!doctype html>` + meta + `<p>x`},
		{"no head or body: before text", "<!doctype html>\nHello", "T", "<!doctype html>" + meta + "\nHello"},
		{"only head content: at the end", "<title>x</title>", "T", "<title>x</title>" + meta},
		{"empty page", "", "T", meta},
		{"byte order mark kept", "\ufeff<head></head>", "T", "\ufeff<head>" + meta + "</head>"},
		{"unclosed script: before it", "<head><script>x", "T", "<head>" + meta + "<script>x"},
		{"unclosed comment: before it", "<head><!-- x", "T", "<head>" + meta + "<!-- x"},
		{"unclosed comment ending in --!>: before it", "<head><!--!>", "T", "<head>" + meta + "<!--!>"},
		{"empty comment", "<head><!-->", "T", "<head><!-->" + meta},
		{"tag cut off at the end: before it", `<head><meta name="csrf`, "T", `<head>` + meta + `<meta name="csrf`},
		{"every other byte kept", "<!DOCTYPE html>\r\n<HTML lang=en>\r\n<head >\r\n <meta charset='utf-8'>\r\n <meta name='csrf-token' content='' />\r\n <title>A &amp; B</title>\r\n</head>\r\n<body><p class=x>&lt;</body>", "T",
			"<!DOCTYPE html>\r\n<HTML lang=en>\r\n<head >\r\n <meta charset='utf-8'>\r\n <meta name=\"csrf-token\" content=\"T\" />\r\n <title>A &amp; B</title>\r\n</head>\r\n<body><p class=x>&lt;</body>"},
		{"HTML-escaped", "<head></head>", `"><script>alert(1)</script>&`,
			`<head><meta name="csrf-token" content="&#34;&gt;&lt;script&gt;alert(1)&lt;/script&gt;&amp;"></head>`},
		{"empty token", "<head></head>", "", `<head><meta name="csrf-token" content=""></head>`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			page := []byte(tt.page)
			got := string(spa.InjectCSRFToken(page, tt.tok))
			if got != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
			if string(page) != tt.page {
				t.Errorf("the input was modified: %s", page)
			}
		})
	}
}

func TestCSRFTokenFailureServesPageWithoutToken(t *testing.T) {
	h := spa.Handler(build(), spa.Options{
		CSRFToken: func(http.ResponseWriter, *http.Request) (string, error) { return "", errors.New("store down") },
		Logger:    slog.New(slog.DiscardHandler),
	})
	r := serve(t, h, "GET", "/", "Accept", browserNav)
	if r.status != 200 || !strings.Contains(r.body, `<meta name="csrf-token" content="">`) {
		t.Errorf("GET / with a failing token source = %d %q, want 200 with an empty token", r.status, r.body)
	}
}

func TestWithoutCSRFTokenIndexIsRevalidated(t *testing.T) {
	h := spa.Handler(build(), spa.Options{})
	r := serve(t, h, "GET", "/user", "Accept", browserNav)
	if r.status != 200 || r.body != indexHTML {
		t.Fatalf("GET /user = %d %q, want index.html unchanged", r.status, r.body)
	}
	if got := r.header.Get("Cache-Control"); got != "no-cache" {
		t.Errorf("Cache-Control = %q, want no-cache", got)
	}
	etag := r.header.Get("ETag")
	if etag == "" {
		t.Fatal("no ETag on a file from an FS without modification times")
	}
	r = serve(t, h, "GET", "/", "Accept", browserNav, "If-None-Match", etag)
	if r.status != http.StatusNotModified {
		t.Errorf("GET / with If-None-Match = %d, want 304", r.status)
	}
}

func TestCompression(t *testing.T) {
	h := spa.Handler(build(), spa.Options{CSRFToken: tokens()})
	r := serve(t, h, "GET", "/assets/index-4f3a9c1b.js", "Accept-Encoding", "gzip")
	if r.header.Get("Content-Encoding") != "gzip" || r.body != bigJS {
		t.Errorf("JS with Accept-Encoding: gzip: Content-Encoding %q, body ok %v", r.header.Get("Content-Encoding"), r.body == bigJS)
	}
	if !strings.Contains(r.header.Get("Vary"), "Accept-Encoding") {
		t.Errorf("Vary = %q, want Accept-Encoding", r.header.Values("Vary"))
	}
	if got := r.header.Get("Content-Type"); !strings.HasPrefix(got, "text/javascript") {
		t.Errorf("Content-Type = %q, want text/javascript", got)
	}
	etag := r.header.Get("ETag")
	if !strings.HasPrefix(etag, `W/"`) {
		t.Errorf("ETag %q: want a weak ETag, valid for every encoding", etag)
	}
	// The compressed copy's ETag revalidates the plain one and vice versa.
	if r := serve(t, h, "GET", "/assets/index-4f3a9c1b.js", "If-None-Match", etag); r.status != 304 {
		t.Errorf("If-None-Match with the gzip ETag = %d, want 304", r.status)
	}

	r = serve(t, h, "GET", "/assets/index-4f3a9c1b.js")
	if r.header.Get("Content-Encoding") != "" || r.body != bigJS {
		t.Errorf("JS without Accept-Encoding: Content-Encoding %q", r.header.Get("Content-Encoding"))
	}

	big := strings.Replace(indexHTML, "</body>", strings.Repeat("<p>filler</p>", 100)+"</body>", 1)
	files := build()
	files["index.html"] = &fstest.MapFile{Data: []byte(big)}
	h = spa.Handler(files, spa.Options{CSRFToken: tokens()})
	r = serve(t, h, "GET", "/", "Accept-Encoding", "gzip")
	if r.header.Get("Content-Encoding") != "gzip" || !strings.Contains(r.body, `content="tok-1"`) {
		t.Errorf("index.html: Content-Encoding %q, token present %v", r.header.Get("Content-Encoding"), strings.Contains(r.body, `content="tok-1"`))
	}
}

func TestHeaders(t *testing.T) {
	h := spa.Handler(build(), spa.Options{CSRFToken: tokens()})
	for _, p := range []string{"/", "/assets/index-4f3a9c1b.js", "/assets/nope.js"} {
		r := serve(t, h, "GET", p)
		if got := r.header.Get("Content-Security-Policy"); got != spa.DefaultCSP {
			t.Errorf("GET %s: CSP = %q, want DefaultCSP", p, got)
		}
		if got := r.header.Get("X-Content-Type-Options"); got != "nosniff" {
			t.Errorf("GET %s: X-Content-Type-Options = %q", p, got)
		}
	}
	for _, want := range []string{"default-src 'self'", "object-src 'none'", "base-uri 'none'", "frame-ancestors 'none'", "form-action 'self'"} {
		if !strings.Contains(spa.DefaultCSP, want) {
			t.Errorf("DefaultCSP lacks %q", want)
		}
	}

	h = spa.Handler(build(), spa.Options{CSP: "default-src 'none'"})
	if got := serve(t, h, "GET", "/").header.Get("Content-Security-Policy"); got != "default-src 'none'" {
		t.Errorf("custom CSP = %q", got)
	}
	h = spa.Handler(build(), spa.Options{NoCSP: true})
	if got := serve(t, h, "GET", "/").header.Values("Content-Security-Policy"); len(got) != 0 {
		t.Errorf("NoCSP: CSP = %q, want none", got)
	}
}

func TestMethods(t *testing.T) {
	h := spa.Handler(build(), spa.Options{CSRFToken: tokens()})
	r := serve(t, h, "HEAD", "/")
	if r.status != 200 || r.body != "" || r.header.Get("Content-Length") == "" {
		t.Errorf("HEAD / = %d, body %q, Content-Length %q", r.status, r.body, r.header.Get("Content-Length"))
	}
	if r := serve(t, h, "HEAD", "/robots.txt"); r.status != 200 || r.body != "" {
		t.Errorf("HEAD /robots.txt = %d %q", r.status, r.body)
	}
	for _, m := range []string{"POST", "PUT", "DELETE", "PATCH", "OPTIONS"} {
		r := serve(t, h, m, "/user")
		var body struct {
			Error struct{ Code, Message string }
		}
		if err := json.Unmarshal([]byte(r.body), &body); err != nil {
			t.Errorf("%s: body %q is not JSON: %v", m, r.body, err)
		}
		if r.status != 405 || body.Error.Code != "method_not_allowed" || body.Error.Message == "" || r.header.Get("Allow") != "GET, HEAD" {
			t.Errorf("%s /user = %d %q Allow %q, want 405 method_not_allowed, Allow: GET, HEAD", m, r.status, r.body, r.header.Get("Allow"))
		}
	}
}

func TestRangeRequest(t *testing.T) {
	h := spa.Handler(build(), spa.Options{})
	for _, enc := range []string{"", "gzip"} {
		r := serve(t, h, "GET", "/assets/index-4f3a9c1b.js", "Range", "bytes=0-6", "Accept-Encoding", enc)
		if r.status != http.StatusPartialContent || r.body != "console" || r.header.Get("Content-Encoding") != "" {
			t.Errorf("Range with Accept-Encoding %q = %d %q %q, want 206 \"console\" unencoded", enc, r.status, r.body, r.header.Get("Content-Encoding"))
		}
	}
}

func TestDirFS(t *testing.T) {
	dir := t.TempDir()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(dir, "assets"), 0o755))
	must(os.WriteFile(filepath.Join(dir, "index.html"), []byte(indexHTML), 0o644))
	must(os.WriteFile(filepath.Join(dir, "assets", "app-1a2b3c4d.js"), []byte("x"), 0o644))
	outside := filepath.Join(t.TempDir(), "secret.txt")
	must(os.WriteFile(outside, []byte("secret"), 0o644))
	must(os.Symlink(outside, filepath.Join(dir, "escape.txt")))

	root, err := os.OpenRoot(dir)
	must(err)
	t.Cleanup(func() { root.Close() })
	h := spa.Handler(root.FS(), spa.Options{CSRFToken: tokens()})
	if r := serve(t, h, "GET", "/assets/app-1a2b3c4d.js"); r.status != 200 || r.body != "x" || r.header.Get("Last-Modified") == "" {
		t.Errorf("asset from a directory = %d %q, Last-Modified %q", r.status, r.body, r.header.Get("Last-Modified"))
	}
	if r := serve(t, h, "GET", "/escape.txt"); r.status != 404 || strings.Contains(r.body, "secret") {
		t.Errorf("symlink out of the root = %d %q, want 404", r.status, r.body)
	}
	// A rebuild shows up without a restart.
	must(os.WriteFile(filepath.Join(dir, "index.html"), []byte("<head></head>v2"), 0o644))
	if r := serve(t, h, "GET", "/"); !strings.Contains(r.body, "v2") {
		t.Errorf("after a rebuild, GET / = %q", r.body)
	}
}

func TestEmbeddedSPA(t *testing.T) {
	h := spa.Handler(web.Files(), spa.Options{CSRFToken: tokens()})
	r := serve(t, h, "GET", "/login", "Accept", browserNav)
	if r.status != 200 || !strings.Contains(r.body, `<meta name="csrf-token" content="tok-1">`) {
		t.Errorf("GET /login = %d %q", r.status, r.body)
	}
	if strings.Count(r.body, "csrf-token") != 1 {
		t.Errorf("%d csrf-token tags, want 1: the placeholder was not replaced", strings.Count(r.body, "csrf-token"))
	}
	// The page's script is a hashed asset, cached for a year.
	src := regexp.MustCompile(`<script[^>]* src="/(assets/[^"]+\.js)"`).FindStringSubmatch(r.body)
	if src == nil {
		t.Fatalf("GET /login: no script under /assets in %q", r.body)
	}
	if r := serve(t, h, "GET", "/"+src[1]); r.status != 200 || !strings.HasPrefix(r.header.Get("Content-Type"), "text/javascript") ||
		r.header.Get("Cache-Control") != "public, max-age=31536000, immutable" {
		t.Errorf("GET /%s = %d %q, Cache-Control %q", src[1], r.status, r.header.Get("Content-Type"), r.header.Get("Cache-Control"))
	}
}

// A symbolic link cannot serve what its own name could not: a dot-file, a
// file in a dot-directory, or a file out of the directory. Links within
// the build to ordinary files work.
func TestSymlinks(t *testing.T) {
	dir := t.TempDir()
	outside := t.TempDir()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	write := func(name, data string) {
		p := filepath.Join(dir, filepath.FromSlash(name))
		must(os.MkdirAll(filepath.Dir(p), 0o755))
		must(os.WriteFile(p, []byte(data), 0o644))
	}
	link := func(name, target string) {
		p := filepath.Join(dir, filepath.FromSlash(name))
		must(os.MkdirAll(filepath.Dir(p), 0o755))
		must(os.Symlink(filepath.FromSlash(target), p))
	}
	write("index.html", indexHTML)
	write("assets/real-1a2b3c4d.js", "REAL")
	write(".env", "SECRET=1")
	write(".git/config", "SECRET=2")
	write("assets/.hidden/x.js", "SECRET=3")
	must(os.WriteFile(filepath.Join(outside, "x.txt"), []byte("SECRET=4"), 0o644))
	link("env.txt", ".env")
	link("assets/env.js", "../.env")
	link("git", ".git")
	link("hidden", "assets/.hidden")
	link("abs.txt", filepath.ToSlash(filepath.Join(dir, ".env")))
	link("out.txt", filepath.ToSlash(filepath.Join(outside, "x.txt")))
	link("up.txt", "../"+filepath.Base(outside)+"/x.txt")
	link("chain1.txt", "chain2.txt")
	link("chain2.txt", "assets/chain3.txt")
	link("assets/chain3.txt", "../.env")
	link("loop1.txt", "loop2.txt")
	link("loop2.txt", "loop1.txt")
	link("good.js", "assets/real-1a2b3c4d.js")
	link("built", "assets")
	link("via-dot.js", ".git/../assets/real-1a2b3c4d.js")

	root, err := os.OpenRoot(dir)
	must(err)
	t.Cleanup(func() { root.Close() })
	for _, fsys := range []struct {
		name  string
		files fs.FS
	}{
		{"os.Root", root.FS()},
		{"os.DirFS", os.DirFS(dir)},
	} {
		t.Run(fsys.name, func(t *testing.T) {
			h := spa.Handler(fsys.files, spa.Options{})
			for _, p := range []string{"/env.txt", "/assets/env.js", "/git/config", "/hidden/x.js", "/abs.txt", "/out.txt", "/up.txt", "/chain1.txt", "/loop1.txt"} {
				// Without an extension, a path is a client route: index.html.
				if r := serve(t, h, "GET", p, "Accept", scriptLoad); (r.status != 404 && path.Ext(p) != "") || strings.Contains(r.body, "SECRET") {
					t.Errorf("GET %s = %d %q, want 404", p, r.status, r.body)
				}
				if r := serve(t, h, "GET", p, "Accept", browserNav); strings.Contains(r.body, "SECRET") {
					t.Errorf("GET %s as a navigation = %d %q", p, r.status, r.body)
				}
			}
			for _, p := range []string{"/good.js", "/built/real-1a2b3c4d.js", "/assets/real-1a2b3c4d.js"} {
				if r := serve(t, h, "GET", p, "Accept", scriptLoad); r.status != 200 || r.body != "REAL" {
					t.Errorf("GET %s = %d %q, want the file", p, r.status, r.body)
				}
			}
		})
	}
}

// TestReferrerPolicyOnLinkPages: the pages that mailed links open carry a
// token in their URL, so they go out with no Referer at all; every other
// path keeps the policy a middleware in front set (latchkey's
// SecurityHeaders, here its value). Built-in app, a directory, an FS.
func TestReferrerPolicyOnLinkPages(t *testing.T) {
	const kept = "strict-origin-when-cross-origin"
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "index.html"), []byte(indexHTML), 0o644); err != nil {
		t.Fatal(err)
	}
	builds := map[string]fs.FS{"embedded demo": web.Files(), "directory": os.DirFS(dir), "map": build()}
	tests := []struct {
		method, path string
		want         string
	}{
		{"GET", "/reset-password?token=1.abc", "no-referrer"},
		{"GET", "/verify-email?token=1.abc", "no-referrer"},
		{"GET", "/confirm-email?token=1.abc", "no-referrer"},
		{"GET", "/confirm-email", "no-referrer"},
		{"GET", "/reset-password/", "no-referrer"},
		{"GET", "//verify-email?token=x", "no-referrer"},
		{"HEAD", "/reset-password?token=1.abc", "no-referrer"},
		{"POST", "/reset-password?token=1.abc", "no-referrer"},
		{"GET", "/", kept},
		{"GET", "/user", kept},
		{"GET", "/reset-password-help", kept},
		{"GET", "/reset-password/more", kept},
		{"GET", "/settings/verify-email", kept},
		{"GET", "/robots.txt", kept},
	}
	for name, files := range builds {
		spaHandler := spa.Handler(files, spa.Options{CSRFToken: tokens()})
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Referrer-Policy", kept)
			spaHandler.ServeHTTP(w, r)
		})
		for _, tt := range tests {
			r := serve(t, h, tt.method, tt.path, "Accept", browserNav)
			if got := r.header.Values("Referrer-Policy"); len(got) != 1 || got[0] != tt.want {
				t.Errorf("%s: %s %s: Referrer-Policy %q, want %q", name, tt.method, tt.path, got, tt.want)
			}
			if tt.method == "GET" && tt.want == "no-referrer" && (r.status != 200 || !strings.Contains(r.body, "<html")) {
				t.Errorf("%s: GET %s = %d %.60q, want the app", name, tt.path, r.status, r.body)
			}
		}
	}
	// Every route a mailed link opens with a token is one of them.
	h := spa.Handler(build(), spa.Options{})
	for _, k := range mail.Kinds() {
		if route := k.Route(); route != "" && route != "/" {
			if got := serve(t, h, "GET", route+"?token=1.abc").header.Get("Referrer-Policy"); got != "no-referrer" {
				t.Errorf("%s link's route %s: Referrer-Policy %q, want no-referrer", k, route, got)
			}
		}
	}
}
