// Package apicheck holds HTTP exchanges with latchkey's JSON API to its
// OpenAPI document (package openapi), so that the document cannot drift
// from the server: tests wrap the servers they build in Handler, and every
// request and response they make through it is checked with
// libopenapi-validator.
//
// The rule: a response must have a status the document lists for its
// operation, and match that response's schema and required headers; a
// request is checked only when the server accepted it (2xx), since tests
// deliberately send malformed requests to see them refused. Exchanges that
// no documented operation matches (the mux's 404 and 405, the gateway's
// paths, HEAD, CORS preflights, the application's own routes) are not the
// document's business and pass unchecked.
package apicheck

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"
	"github.com/pb33f/libopenapi-validator/config"
	verrors "github.com/pb33f/libopenapi-validator/errors"
	"github.com/pb33f/libopenapi-validator/router"
	v3 "github.com/pb33f/libopenapi/datamodel/high/v3"

	"github.com/latchkey/latchkey/openapi"
)

// Checker checks exchanges against one OpenAPI document. It is safe for
// concurrent use.
type Checker struct {
	model     *v3.Document
	router    router.Router
	validator validator.Validator
	aliases   map[string][]string // security scheme → other names the server accepts
	fields    map[string]bool     // security schemes whose value is a form field
}

// New parses an OpenAPI 3.1 document. Security schemes may list, under
// "x-latchkey-aliases", other names the server accepts for their cookie or
// header (the __Host- form of a cookie, another spelling of the CSRF
// header); a request carrying any of them satisfies the scheme.
// A scheme marked "x-latchkey-form-field": true is satisfied by an
// application/x-www-form-urlencoded body with a non-empty field of its
// name (OpenAPI has no place for a body field; the scheme says "in: query").
func New(doc []byte) (*Checker, error) {
	d, err := libopenapi.NewDocument(doc)
	if err != nil {
		return nil, fmt.Errorf("apicheck: parse the document: %w", err)
	}
	m, err := d.BuildV3Model()
	if err != nil {
		return nil, fmt.Errorf("apicheck: build the model: %w", err)
	}
	var ext struct {
		Components struct {
			SecuritySchemes map[string]struct {
				Aliases   []string `json:"x-latchkey-aliases"`
				FormField bool     `json:"x-latchkey-form-field"`
			} `json:"securitySchemes"`
		} `json:"components"`
	}
	if err := json.Unmarshal(doc, &ext); err != nil {
		return nil, fmt.Errorf("apicheck: read the security schemes: %w", err)
	}
	c := &Checker{model: &m.Model, aliases: map[string][]string{}, fields: map[string]bool{}}
	for name, s := range ext.Components.SecuritySchemes {
		c.aliases[name] = s.Aliases
		c.fields[name] = s.FormField
	}
	c.router = router.NewRouter(c.model, router.WithPathOnlyMatching())
	c.validator = validator.NewValidatorFromV3Model(c.model,
		config.WithFormatAssertions(),
		config.WithAuthenticationFunc(c.authenticate))
	return c, nil
}

// Default returns the Checker of the committed document, openapi.JSON,
// parsed once for the whole test binary.
var Default = sync.OnceValues(func() (*Checker, error) { return New(openapi.JSON()) })

// Operations returns the document's operations as "METHOD /path"
// patterns, such as "POST /api/login", sorted.
func (c *Checker) Operations() []string {
	var ops []string
	for path, item := range c.model.Paths.PathItems.FromOldest() {
		for method := range item.GetOperations().FromOldest() {
			ops = append(ops, strings.ToUpper(method)+" "+path)
		}
	}
	sort.Strings(ops)
	return ops
}

// Operation returns the pattern of the documented operation that req is
// for, such as "DELETE /api/sessions/{id}", or false if none is.
func (c *Checker) Operation(req *http.Request) (string, bool) {
	route, err := c.router.FindRoute(req)
	if err != nil || route == nil || route.Operation == nil {
		return "", false
	}
	return req.Method + " " + route.Path, true
}

// Check checks one exchange: the response always, the request (with
// reqBody, which req.Body is ignored for) only if the response is 2xx. It
// returns nil for a request that no documented operation matches.
func (c *Checker) Check(req *http.Request, reqBody []byte, res *http.Response, resBody []byte) error {
	if _, ok := c.Operation(req); !ok {
		return nil
	}
	res.Body = io.NopCloser(bytes.NewReader(resBody))
	var problems []*verrors.ValidationError
	if ok, errs := c.validator.ValidateHttpResponse(withBody(req, nil), res); !ok {
		problems = append(problems, errs...)
	}
	if res.StatusCode >= 200 && res.StatusCode < 300 {
		if ok, errs := c.validator.ValidateHttpRequestSync(withBody(req, reqBody)); !ok {
			problems = append(problems, errs...)
		}
	}
	if len(problems) == 0 {
		return nil
	}
	var b strings.Builder
	for _, p := range problems {
		b.WriteString("\n\t")
		b.WriteString(describe(p))
	}
	return errors.New(b.String())
}

// bodyKey keeps a request's body in its context, for authenticate.
type bodyKey struct{}

func withBody(req *http.Request, body []byte) *http.Request {
	r := req.Clone(context.WithValue(context.Background(), bodyKey{}, body))
	r.Body = io.NopCloser(bytes.NewReader(body))
	r.ContentLength = int64(len(body))
	return r
}

// describe renders a validation error with the schema failures under it.
func describe(e *verrors.ValidationError) string {
	s := e.Message
	if e.Reason != "" && e.Reason != e.Message {
		s += ": " + e.Reason
	}
	for _, f := range e.SchemaValidationErrors {
		loc := f.FieldPath
		if loc == "" {
			loc = f.KeywordLocation
		}
		s += fmt.Sprintf("\n\t\t%s: %s", loc, f.Reason)
	}
	return s
}

// authenticate decides whether a request satisfies one security scheme:
// whether it carries the scheme's cookie, header or Authorization scheme,
// under its name or an alias. Whether the credentials are good is the
// server's business; the server said so by accepting the request.
func (c *Checker) authenticate(_ context.Context, in *config.AuthenticationInput) error {
	s, r := in.SecurityScheme, in.Request
	names := append([]string{s.Name}, c.aliases[in.SecuritySchemeName]...)
	switch {
	case c.fields[in.SecuritySchemeName]:
		mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
		body, _ := r.Context().Value(bodyKey{}).([]byte)
		if form, err := url.ParseQuery(string(body)); mt == "application/x-www-form-urlencoded" && err == nil && form.Get(s.Name) != "" {
			return nil
		}
		return fmt.Errorf("no %s field in an urlencoded body", s.Name)
	case strings.EqualFold(s.Type, "http"):
		for _, v := range r.Header.Values("Authorization") {
			if scheme, _, _ := strings.Cut(v, " "); strings.EqualFold(scheme, s.Scheme) {
				return nil
			}
		}
		return fmt.Errorf("no Authorization: %s header", s.Scheme)
	case strings.EqualFold(s.Type, "apiKey") && s.In == "cookie":
		for _, ck := range r.Cookies() {
			if slices.Contains(names, ck.Name) {
				return nil
			}
		}
		return fmt.Errorf("no cookie named %s", strings.Join(names, " or "))
	case strings.EqualFold(s.Type, "apiKey") && s.In == "header":
		for _, n := range names {
			if r.Header.Get(n) != "" {
				return nil
			}
		}
		return fmt.Errorf("no header %s", strings.Join(names, " or "))
	}
	return fmt.Errorf("security scheme %s: type %q in %q is not checked", in.SecuritySchemeName, s.Type, s.In)
}

// Handler returns next checking every exchange of a documented operation
// with Default, and failing tb (Errorf) with the method, path, status and
// what is wrong. Other requests pass through untouched. For a benchmark it
// returns next itself: benchmarks measure the server, not the checks.
func Handler(tb testing.TB, next http.Handler) http.Handler {
	if _, ok := tb.(*testing.B); ok {
		return next
	}
	c, err := Default()
	if err != nil {
		tb.Fatalf("apicheck: %v", err)
	}
	return c.Handler(tb, next)
}

// Handler is the package's Handler with c.
func (c *Checker) Handler(tb testing.TB, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, ok := c.Operation(r); !ok {
			next.ServeHTTP(w, r)
			return
		}
		req := r.Clone(context.Background()) // before the handler can change it
		var reqBody bytes.Buffer
		if r.Body != nil {
			r.Body = struct {
				io.Reader
				io.Closer
			}{io.TeeReader(r.Body, &reqBody), r.Body}
		}
		rec := &recorder{ResponseWriter: w}
		next.ServeHTTP(rec, r)
		if rec.hijacked {
			return
		}
		rec.WriteHeader(http.StatusOK) // a handler that wrote nothing sent a 200
		res := &http.Response{StatusCode: rec.status, Header: rec.header, Request: req}
		resBody := rec.body.Bytes()
		if r.Method == http.MethodHead {
			resBody = nil // written by the handler, dropped by net/http
		}
		if err := c.Check(req, reqBody.Bytes(), res, resBody); err != nil {
			tb.Errorf("apicheck: %s %s: %d: the exchange does not match the OpenAPI document (openapi/openapi.json):%s",
				r.Method, r.URL.RequestURI(), rec.status, err)
		}
	})
}

// recorder passes a response through and keeps a copy of its status,
// header and body.
type recorder struct {
	http.ResponseWriter
	status   int
	header   http.Header
	body     bytes.Buffer
	hijacked bool
}

func (r *recorder) WriteHeader(code int) {
	if r.status != 0 {
		return
	}
	r.status, r.header = code, r.ResponseWriter.Header().Clone()
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	r.WriteHeader(http.StatusOK)
	r.body.Write(b)
	return r.ResponseWriter.Write(b)
}

// Flush, Hijack and Unwrap let the handler do what it could without the
// recorder, directly or through http.ResponseController.
func (r *recorder) Flush() {
	r.WriteHeader(http.StatusOK)
	http.NewResponseController(r.ResponseWriter).Flush()
}

// Hijack hands the connection over; what goes over it then is not an HTTP
// response to check.
func (r *recorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	r.hijacked = true
	return http.NewResponseController(r.ResponseWriter).Hijack()
}

func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }
