package latchkey_test

import (
	"bytes"
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/latchkey/latchkey/internal/apicheck"
	"github.com/latchkey/latchkey/openapi"
)

// TestOpenAPIMatchesRoutes: every route of the route table (routes, read
// from the source, token mode's included) is an operation of the OpenAPI
// document, and every operation of the document is a route.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	c, err := apicheck.Default()
	if err != nil {
		t.Fatal(err)
	}
	routes := routeTable(t)
	var documented []string
	for _, op := range c.Operations() {
		documented = append(documented, anyWildcard(op))
	}
	for _, r := range routes {
		if !slices.Contains(documented, r) {
			t.Errorf("route %q is not in openapi/openapi.json: document it (its requests, responses and error codes)", r)
		}
	}
	for _, op := range documented {
		if !slices.Contains(routes, op) {
			t.Errorf("openapi/openapi.json documents %q, which no route serves", op)
		}
	}
}

// routeTable reads the route table, Auth.routes, from the package's
// source: the patterns it registers, with the API prefix p as its default,
// /api, and wildcards as {}.
func routeTable(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	var routes []string
	found := false
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range f.Decls {
			fn, ok := d.(*ast.FuncDecl)
			if !ok || fn.Name.Name != "routes" || fn.Recv == nil {
				continue
			}
			found = true
			ast.Inspect(fn.Body, func(n ast.Node) bool {
				call, ok := n.(*ast.CallExpr)
				if !ok {
					return true
				}
				sel, ok := call.Fun.(*ast.SelectorExpr)
				if !ok || (sel.Sel.Name != "Handle" && sel.Sel.Name != "HandleFunc") || len(call.Args) != 2 {
					return true
				}
				pattern, ok := constantPattern(call.Args[0])
				method, path, hasMethod := strings.Cut(pattern, " ")
				if !ok || !hasMethod || !strings.HasPrefix(path, "/") {
					t.Errorf("%s: a route pattern this test cannot read (want \"METHOD \"+p+\"/path\"): %s",
						fset.Position(call.Pos()), pattern)
					return true
				}
				routes = append(routes, anyWildcard(method+" "+path))
				return true
			})
		}
	}
	if !found || len(routes) == 0 {
		t.Fatal("found no routes in func (a *Auth) routes()")
	}
	return routes
}

// constantPattern evaluates a route pattern made of string literals and
// the prefix p.
func constantPattern(e ast.Expr) (string, bool) {
	switch e := e.(type) {
	case *ast.BasicLit:
		s, err := strconv.Unquote(e.Value)
		return s, err == nil && e.Kind == token.STRING
	case *ast.Ident:
		return "/api", e.Name == "p"
	case *ast.BinaryExpr:
		l, lok := constantPattern(e.X)
		r, rok := constantPattern(e.Y)
		return l + r, lok && rok && e.Op == token.ADD
	case *ast.ParenExpr:
		return constantPattern(e.X)
	}
	return "", false
}

var wildcard = regexp.MustCompile(`\{[^}]*\}`)

// anyWildcard writes every wildcard as {}, since the mux and the document
// may name them differently.
func anyWildcard(pattern string) string { return wildcard.ReplaceAllString(pattern, "{}") }

// The document is served at /api/openapi.json, as committed.
func TestOpenAPIServed(t *testing.T) {
	e := newEnv(t)
	r := e.browser().Get("/api/openapi.json")
	if r.Status != 200 || !bytes.Equal([]byte(r.Raw), openapi.JSON()) {
		t.Errorf("GET /api/openapi.json: %d, %d bytes; want 200 and the document", r.Status, len(r.Raw))
	}
	if r.JSON["openapi"] != "3.1.0" {
		t.Errorf("openapi: %v, want 3.1.0", r.JSON["openapi"])
	}
}
