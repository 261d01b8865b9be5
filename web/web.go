// Package web holds the single-page app that the latchkey binary serves in
// embedded mode, built into dist/ and embedded with the binary.
//
// Until the Svelte demo lands, dist/ holds a plain start page: a login form
// driving the API, with its script in a file so a strict CSP can hold. A
// Vite build replaces it as is: dist/index.html plus hashed files under
// dist/assets/ (NAME-HASH.js), which package spa caches for a year.
package web

import (
	"embed"
	"io/fs"
)

// Dist is the built SPA, under the directory "dist". Files returns it with
// index.html at the root, which is what spa.Handler wants.
//
// The all: prefix keeps files whose names start with "_" or "." (Vite can
// emit _-prefixed chunks); spa.Handler still refuses to serve dot-files.
//
//go:embed all:dist
var Dist embed.FS

// Files returns Dist rooted at dist/, so that index.html is "index.html".
func Files() fs.FS {
	sub, err := fs.Sub(Dist, "dist")
	if err != nil {
		panic("web: " + err.Error()) // cannot happen: "dist" is a valid, embedded path
	}
	return sub
}
