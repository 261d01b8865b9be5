package spa_test

import (
	"io/fs"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"testing/fstest"

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
