package spa_test

import (
	"io/fs"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"testing/fstest"
	"unicode/utf8"

	"golang.org/x/net/html"

	"github.com/latchkey/latchkey/spa"
)

// FuzzHandlerPath feeds request paths, which are untrusted, to the file
// lookup: whatever the path, no dot-file is served, not even through a
// symbolic link, nothing panics, and the answer is a file, index.html or a
// 404.
func FuzzHandlerPath(f *testing.F) {
	for _, s := range []string{"/", "/user", "/assets/index-4f3a9c1b.js", "/.env", "/a/../.env", "/.well-known/x",
		"/..%2f.env", `/..\.env`, "/assets/./../.git/config", "//.env", "/\x00", "/a.b/c",
		"/env.txt", "/git/config", "/assets/up.js", "/chain.txt", "/good.js"} {
		f.Add(s, "text/html")
		f.Add(s, "*/*")
	}
	files := fstest.MapFS{
		"index.html":               {Data: []byte("<head></head>INDEX")},
		"assets/index-4f3a9c1b.js": {Data: []byte("ASSET")},
		".env":                     {Data: []byte("SECRET")},
		".git/config":              {Data: []byte("SECRET")},
		"assets/.hidden":           {Data: []byte("SECRET")},
		".well-known/x":            {Data: []byte("WELLKNOWN")},
		// Links may not lead where a URL may not.
		"env.txt":      {Mode: fs.ModeSymlink, Data: []byte(".env")},
		"git":          {Mode: fs.ModeSymlink, Data: []byte(".git")},
		"assets/up.js": {Mode: fs.ModeSymlink, Data: []byte("../.env")},
		"chain.txt":    {Mode: fs.ModeSymlink, Data: []byte("assets/up.js")},
		"good.js":      {Mode: fs.ModeSymlink, Data: []byte("assets/index-4f3a9c1b.js")},
	}
	h := spa.Handler(files, spa.Options{CSRFToken: func(http.ResponseWriter, *http.Request) (string, error) { return "T", nil }})
	f.Fuzz(func(t *testing.T, p, accept string) {
		req := &http.Request{Method: "GET", URL: &url.URL{Path: p}, Header: http.Header{"Accept": {accept}}, Host: "x"}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		body := rec.Body.String()
		if strings.Contains(body, "SECRET") {
			t.Fatalf("GET %q served a dot-file: %d %q", p, rec.Code, body)
		}
		switch {
		case rec.Code == 200 && (strings.Contains(body, "INDEX") || body == "ASSET" || body == "WELLKNOWN"):
		case rec.Code == 404 && strings.Contains(body, `"not_found"`):
		default:
			t.Fatalf("GET %q (Accept %q) = %d %q", p, accept, rec.Code, body)
		}
	})
}

// FuzzInjectCSRFToken feeds pages to the token injector: index.html is the
// operator's, and a --spa-dir build can hold anything. Whatever the page,
// nothing panics, every byte outside csrf-token meta tags is kept, and the
// first such tag a browser's parser finds (what the SPA's querySelector
// reads) holds the token.
func FuzzInjectCSRFToken(f *testing.F) {
	for _, s := range []string{
		"", "<head></head>", "<html><head><title>x</title></head><body></body></html>",
		`<head><meta name="csrf-token" content=""></head>`, `<head><meta name="csrf-token" content="" /></head>`,
		`<HEAD><Meta NAME='csrf-token' CONTENT=x></HEAD>`, `<meta content="{{ csrf_token() }}" name=csrf-token>`,
		`<head></head><body><meta name="csrf-token" content=""></body>`, `<head></head><meta name="csrf-token"><body>`,
		`<head><template><meta name="csrf-token" content=""></template></head>`, "<head><template><p>",
		`<head><noscript><meta name="csrf-token"></noscript><script>x</script><!-- c --></head>`,
		"<head><script>x", "<head><!-- x", `<head><meta name="csrf`, "\ufeff<title>x</title><p>y",
		"<!doctype html>hi", "<frameset></frameset>", "<svg><meta name=csrf-token></svg>", "</br><meta name=csrf-token>",
	} {
		f.Add(s, "tok")
	}
	f.Fuzz(func(t *testing.T, page, tok string) {
		if !utf8.ValidString(tok) || strings.ContainsAny(tok, "\x00\r") {
			return // a parser changes these in attribute values; tokens are base64url
		}
		out := string(spa.InjectCSRFToken([]byte(page), tok))
		if got, want := withoutCSRFMetas(out), withoutCSRFMetas(page); got != want {
			t.Fatalf("page %q\nout  %q\nchanged more than csrf-token tags: %q, want %q", page, out, got, want)
		}
		doc, err := html.Parse(strings.NewReader(out))
		if err != nil {
			t.Fatal(err)
		}
		m := firstCSRFMeta(doc)
		if m == nil {
			t.Fatalf("page %q\nout  %q\nhas no csrf-token meta tag", page, out)
		}
		for _, a := range m.Attr {
			if a.Key == "content" && a.Val == tok {
				return
			}
		}
		t.Fatalf("page %q\nout  %q\nthe first csrf-token meta tag is %v, want content %q", page, out, m.Attr, tok)
	})
}

// withoutCSRFMetas returns page without its meta tags named csrf-token,
// wherever they are.
func withoutCSRFMetas(page string) string {
	var b strings.Builder
	z := html.NewTokenizer(strings.NewReader(page))
	off := 0
	for {
		tt := z.Next()
		if tt == html.ErrorToken {
			return b.String() + page[off:]
		}
		raw := string(z.Raw())
		off += len(raw)
		if tt == html.StartTagToken || tt == html.SelfClosingTagToken {
			if name, more := z.TagName(); string(name) == "meta" {
				csrf := false
				for more {
					var k, v []byte
					k, v, more = z.TagAttr()
					if string(k) == "name" && !csrf {
						csrf = string(v) == "csrf-token"
						break
					}
				}
				if csrf {
					continue
				}
			}
		}
		b.WriteString(raw)
	}
}

// firstCSRFMeta returns the first HTML meta element named csrf-token in
// document order, outside <template> content (as querySelector finds it).
func firstCSRFMeta(n *html.Node) *html.Node {
	if n.Type == html.ElementNode && n.Namespace == "" {
		if n.Data == "template" {
			return nil
		}
		if n.Data == "meta" {
			for _, a := range n.Attr {
				if a.Key == "name" {
					if a.Val == "csrf-token" {
						return n
					}
					break
				}
			}
		}
	}
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		if m := firstCSRFMeta(c); m != nil {
			return m
		}
	}
	return nil
}
