// Package pages serves latchkey's hosted pages: log in, create an account,
// forgot and reset the password, verify or confirm an address, log out. They
// are rendered on the server (html/template) and need no JavaScript: their
// forms post to the JSON API's routes (/api/login and the others) as
// application/x-www-form-urlencoded, which latchkey answers with redirects
// (see latchkey.PageLogin). They look like the demo SPA, load one
// stylesheet file and nothing else, so latchkey's strict
// Content-Security-Policy holds, and their templates can be replaced.
//
// A site that is not an SPA (Flask, Django, Rails, PHP) puts them in front
// of its pages with latchkey.RequireLogin or nginx auth_request; an SPA can
// use them too. The package uses only latchkey's public API (CSRFToken,
// TakeFlash, ReturnTo), as a page of your own would.
package pages

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/latchkey/latchkey"
)

//go:embed templates
var builtin embed.FS

// Options configures Handler. The zero value serves the built-in pages.
type Options struct {
	// Dir holds files that replace the built-in ones of the same name
	// (see Files): any page's template, the layout all pages share, or the
	// stylesheet. "" (the default) replaces nothing.
	Dir string
	// Logger receives rendering failures. Default: slog.Default().
	Logger *slog.Logger
}

// Files are the names of the files Options.Dir may hold: layout.html
// defines "layout", the page around the others; each page's file defines
// "title" and "content"; style.css is served at PREFIX/style.css.
func Files() []string {
	return []string{"layout.html", "login.html", "register.html", "forgot.html", "reset.html", "verify.html", "confirm.html", "logout.html", "style.css"}
}

// pageFiles maps each page, by its path, to its template file.
var pageFiles = map[string]string{
	latchkey.PageLogin:    "login.html",
	latchkey.PageRegister: "register.html",
	latchkey.PageForgot:   "forgot.html",
	latchkey.PageReset:    "reset.html",
	latchkey.PageVerify:   "verify.html",
	latchkey.PageConfirm:  "confirm.html",
	latchkey.PageLogout:   "logout.html",
}

// linkPages are the pages that a mailed link opens, with its token.
var linkPages = []string{latchkey.PageReset, latchkey.PageVerify, latchkey.PageConfirm}

// Data is what the templates see.
type Data struct {
	Page      string // the page's path under Prefix, such as "/login"
	Product   string // Config.ProductName
	Prefix    string // where the pages are: Config.PagesPrefix, such as "/auth"
	API       string // where the forms post: Config.APIPrefix, such as "/api"
	CSRFToken string // for the csrf_token field
	// Next is where to go after the login or registration, from the page's
	// next query parameter after latchkey.Auth.ReturnTo; "" for the default.
	Next string
	// Token is the mailed link's token, on the pages links open.
	Token string
	// Error is the error of the form post that led here, if any; Notice
	// what the flow that led here has to say.
	Error  *Error
	Notice string
	// Username and Email are what was typed into the form before an error.
	Username, Email string
	// EmailRequired: registration needs an address (RequireVerifiedEmail).
	EmailRequired bool
}

// Error is an error as the JSON API describes it.
type Error struct {
	Code, Message, Field string
}

// NextQuery is "?next=…" when Next is set, for links between the pages.
func (d Data) NextQuery() string {
	if d.Next == "" {
		return ""
	}
	return "?" + url.Values{"next": {d.Next}}.Encode()
}

// Invalid reports whether the error is about one of fields (a field name,
// or an error code that concerns the field, such as invalid_credentials).
func (d Data) Invalid(fields ...string) bool {
	return d.Error != nil && (slices.Contains(fields, d.Error.Field) || slices.Contains(fields, d.Error.Code))
}

// noLink is the error a link's page shows when it was opened without the
// link's token.
var noLink = &Error{Code: "invalid_token", Field: "token",
	Message: "This page needs the link from your email, with its token. Open the link again, or ask for a new one."}

type handler struct {
	auth    *latchkey.Auth
	cfg     latchkey.Config
	pages   map[string]*template.Template
	css     []byte
	cssETag string
	csp     string
	log     *slog.Logger
	started time.Time
}

// Handler returns the hosted pages of auth, served at its
// Config.PagesPrefix: mount it as mux.Handle(prefix+"/", h). It answers GET
// and HEAD with PREFIX/login, /register, /forgot, /reset, /verify,
// /confirm, /logout and /style.css, and 404 otherwise. Pages are never
// cached and send no Referer (reset and verify links carry a token in the
// URL); the Content-Security-Policy is Config.ContentSecurityPolicy, with
// the origins ReturnTo accepts added to its form-action 'self', so that a
// login can go on to the app's origin. Templates that do not parse or
// render stop it here, with an error. It is safe for concurrent use.
func Handler(auth *latchkey.Auth, opts Options) (http.Handler, error) {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	files, err := fileSystem(opts.Dir)
	if err != nil {
		return nil, err
	}
	cfg := auth.Config()
	h := &handler{auth: auth, cfg: cfg, pages: map[string]*template.Template{}, log: opts.Logger, started: time.Now()}
	layout, err := template.ParseFS(files, "layout.html")
	if err != nil {
		return nil, fmt.Errorf("pages: %w", err)
	}
	for page, file := range pageFiles {
		t, err := template.Must(layout.Clone()).ParseFS(files, file)
		if err != nil {
			return nil, fmt.Errorf("pages: %w", err)
		}
		for _, name := range []string{"layout", "title", "content"} {
			if t.Lookup(name) == nil {
				return nil, fmt.Errorf("pages: %s: no template %q defined", file, name)
			}
		}
		h.pages[page] = t
		if _, err := h.render(page, h.sample(page)); err != nil {
			return nil, fmt.Errorf("pages: %s: %w", file, err)
		}
	}
	if h.css, err = fs.ReadFile(files, "style.css"); err != nil {
		return nil, fmt.Errorf("pages: %w", err)
	}
	sum := sha256.Sum256(h.css)
	h.cssETag = `"` + hex.EncodeToString(sum[:8]) + `"`
	h.csp = formActionCSP(cfg.ContentSecurityPolicy, auth)
	return h, nil
}

// fileSystem is the built-in files with those in dir in their place.
func fileSystem(dir string) (fs.FS, error) {
	base, _ := fs.Sub(builtin, "templates")
	if dir == "" {
		return base, nil
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("pages: %w", err)
	}
	entries, err := fs.ReadDir(root.FS(), ".")
	if err != nil {
		return nil, fmt.Errorf("pages: %s: %w", dir, err)
	}
	own := map[string]bool{}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") {
			continue
		}
		if !slices.Contains(Files(), e.Name()) || e.IsDir() {
			return nil, fmt.Errorf("%w %s in %s; the pages' files are %s", ErrUnknownFile, e.Name(), dir, strings.Join(Files(), ", "))
		}
		own[e.Name()] = true
	}
	return overlay{own: own, dir: root.FS(), base: base}, nil
}

// overlay serves the names in own from dir, the others from base.
type overlay struct {
	own       map[string]bool
	dir, base fs.FS
}

func (o overlay) Open(name string) (fs.File, error) {
	if o.own[name] {
		return o.dir.Open(name)
	}
	return o.base.Open(name)
}

// formActionCSP adds the origins a login may go on to to the form-action
// directive of csp: CSP applies form-action to a form's redirects too.
func formActionCSP(csp string, auth *latchkey.Auth) string {
	var extra []string
	cfg := auth.Config()
	for _, o := range append(append([]string(nil), cfg.AllowedOrigins...), cfg.AppURL) {
		if u, err := url.Parse(o); err == nil && u.Host != "" {
			if o := u.Scheme + "://" + u.Host; auth.ReturnTo(o+"/") != "/" && !slices.Contains(extra, o) {
				extra = append(extra, o)
			}
		}
	}
	if len(extra) == 0 {
		return csp
	}
	return strings.Replace(csp, "form-action 'self'", "form-action 'self' "+strings.Join(extra, " "), 1)
}

// sample is data to try a template with at start.
func (h *handler) sample(page string) Data {
	return Data{Page: page, Product: h.cfg.ProductName, Prefix: h.cfg.PagesPrefix, API: h.cfg.APIPrefix, CSRFToken: "token",
		Next: "/next", Token: "1.token", Error: &Error{Code: "invalid_input", Field: "username", Message: "Sample."}, Notice: "Sample.",
		Username: "sample", Email: "sample@example.com"}
}

func (h *handler) render(page string, d Data) ([]byte, error) {
	var b bytes.Buffer
	if err := h.pages[page].ExecuteTemplate(&b, "layout", d); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	page, ok := strings.CutPrefix(r.URL.Path, h.cfg.PagesPrefix)
	if !ok {
		http.NotFound(w, r)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "Method not allowed.", http.StatusMethodNotAllowed)
		return
	}
	if page == "" || page == "/" {
		target := h.cfg.PagesPrefix + latchkey.PageLogin
		if r.URL.RawQuery != "" {
			target += "?" + r.URL.RawQuery
		}
		http.Redirect(w, r, target, http.StatusSeeOther)
		return
	}
	if page == "/style.css" {
		w.Header().Set("Content-Type", "text/css; charset=utf-8")
		w.Header().Set("Cache-Control", "no-cache")
		w.Header().Set("ETag", h.cssETag)
		http.ServeContent(w, r, "style.css", h.started, bytes.NewReader(h.css))
		return
	}
	if _, ok := h.pages[page]; !ok {
		http.NotFound(w, r)
		return
	}
	hdr := w.Header()
	hdr.Set("Cache-Control", "no-store")      // a CSRF token and perhaps a link's token
	hdr.Set("Referrer-Policy", "no-referrer") // the URL may hold a link's token
	hdr.Set("Content-Security-Policy", h.csp)
	tok, err := h.auth.CSRFToken(w, r)
	if err != nil {
		h.log.ErrorContext(r.Context(), "pages: no CSRF token", "err", err)
		http.Error(w, "The server cannot reach its storage. Try again shortly.", http.StatusServiceUnavailable)
		return
	}
	q := r.URL.Query()
	d := Data{Page: page, Product: h.cfg.ProductName, Prefix: h.cfg.PagesPrefix, API: h.cfg.APIPrefix, CSRFToken: tok,
		EmailRequired: h.cfg.RequireVerifiedEmail}
	if next := h.auth.ReturnTo(q.Get("next")); next != "/" {
		d.Next = next
	}
	if slices.Contains(linkPages, page) {
		d.Token = q.Get("token")
	}
	if f, ok := h.auth.TakeFlash(w, r); ok {
		if f.Code != "" {
			d.Error = &Error{Code: f.Code, Message: f.Message, Field: f.Field}
		}
		d.Notice, d.Username, d.Email = f.Notice, f.Username, f.Email
	}
	if slices.Contains(linkPages, page) && d.Token == "" && d.Error == nil {
		d.Error = noLink
	}
	body, err := h.render(page, d)
	if err != nil {
		h.log.ErrorContext(r.Context(), "pages: rendering failed", "page", page, "err", err)
		http.Error(w, "Something went wrong on the server.", http.StatusInternalServerError)
		return
	}
	hdr.Set("Content-Type", "text/html; charset=utf-8")
	if r.Method == http.MethodHead {
		return
	}
	w.Write(body)
}

// ErrUnknownFile is wrapped by Handler's error for a file in Options.Dir
// that is not one of Files.
var ErrUnknownFile = errors.New("pages: unknown file")
