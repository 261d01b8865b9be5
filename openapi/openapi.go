// Package openapi holds the OpenAPI 3.1 document of latchkey's JSON API,
// openapi.json, committed beside this file and embedded: every route of
// Auth.Handler with its request bodies, responses, error codes, cookies and
// CSRF header. Its paths carry the default API prefix, /api.
//
// The document is the contract the API tests hold the server to: they
// check every request and response they make against it
// (internal/apicheck), so it cannot drift from the code. Change it together
// with the handlers.
package openapi

import (
	_ "embed"
	"net/http"
	"strconv"
)

//go:embed openapi.json
var document []byte

// JSON returns the document, as committed. The slice is the caller's.
func JSON() []byte { return append([]byte(nil), document...) }

// Handler serves the document as JSON, for GET /api/openapi.json. It is
// safe for concurrent use.
func Handler() http.Handler {
	n := strconv.Itoa(len(document))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Type", "application/json")
		h.Set("Content-Length", n)
		w.Write(document)
	})
}
