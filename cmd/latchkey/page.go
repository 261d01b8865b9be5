package main

import (
	"embed"
	"net/http"
)

// The start page stands in until the demo SPA lands: a plain login form
// driving the API, with its script in a file so a strict CSP can hold.
//
//go:embed page
var pageFS embed.FS

func startPage() http.Handler {
	files := http.FileServerFS(pageFS)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "strict-origin-when-cross-origin")
		h.Set("Cache-Control", "no-cache")
		r2 := r.Clone(r.Context())
		r2.URL.Path = "/page" + r.URL.Path
		if r.URL.Path == "/" {
			r2.URL.Path = "/page/"
		}
		files.ServeHTTP(w, r2)
	})
}
