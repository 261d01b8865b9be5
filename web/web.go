// Package web holds the single-page app that the latchkey binary serves in
// embedded mode, built into dist/ and embedded with the binary.
//
// The source is a Svelte 5 + TypeScript app built with Vite (see
// package.json): index.html, which carries the empty
// <meta name="csrf-token" content=""> that spa.Handler fills in, plus
// hashed files under dist/assets/ (NAME-HASH.js, NAME-HASH.css), which
// package spa caches for a year. The build is committed so that go build
// needs no Node; `npm ci && npm run build` reproduces it byte for byte, and
// CI checks that. src/lib/latchkey.ts is the API client, usable by any SPA.
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
