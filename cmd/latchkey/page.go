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
		w.Header().Set("Cache-Control", "no-cache")
		switch r.URL.Path {
		case "/", "/start.js":
		default:
			http.NotFound(w, r)
			return
		}
		r2 := r.Clone(r.Context())
		r2.URL.Path = "/page" + r.URL.Path
		files.ServeHTTP(w, r2)
	})
}
