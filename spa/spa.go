// Package spa serves a single-page app: a built frontend from an fs.FS
// (Handler), or a frontend dev server behind a reverse proxy (Proxy).
//
// Handler is what latchkey's embedded mode mounts on every non-API path: the
// built-in SPA (package web) or the user's own build (--spa-dir). Proxy is
// proxy mode with --spa-upstream: a Vite dev server with hot reload, or any
// static server.
package spa

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"io/fs"
	"log/slog"
	"mime"
	"net/http"
	"path"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/klauspost/compress/gzhttp"
)

// DefaultCSP is the Content-Security-Policy that Handler sends unless
// Options.CSP says otherwise. Scripts, styles, fonts and connections come
// from the SPA's own origin only; images and fonts may also be data: URLs,
// which Vite inlines for assets under 4 KiB (build.assetsInlineLimit).
// Nothing may frame the app, plugins are off, and <base> cannot redirect
// relative URLs.
const DefaultCSP = "default-src 'self'; img-src 'self' data:; font-src 'self' data:; " +
	"object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"

// Cache-Control values.
const (
	cacheImmutable  = "public, max-age=31536000, immutable" // hashed assets: the name changes with the content
	cacheRevalidate = "no-cache"                            // other files: revalidate with the ETag every time
	cacheNever      = "no-store"                            // index.html with a token in it: never reuse
)

// Options configures Handler. The zero value serves the SPA without token
// injection and with DefaultCSP.
type Options struct {
	// CSRFToken, if set, is called for every response of index.html and
	// its token is put in <meta name="csrf-token" content="TOKEN">, so the
	// SPA reads it from the page as it would from a server-rendered form.
	// latchkey.Auth.CSRFToken fits; it also sets the cookies the token is
	// bound to. Every csrf-token meta tag in the head of index.html gets the
	// token, however it is written; with none, one is added (see
	// InjectCSRFToken).
	// If CSRFToken fails, the page is served with an empty token (the SPA
	// then falls back to GET /api/getcsrf) and the error is logged.
	CSRFToken func(http.ResponseWriter, *http.Request) (string, error)

	// CSP is the Content-Security-Policy header of every response; empty
	// means DefaultCSP. Set NoCSP to send none (say, because a middleware
	// in front already sets one).
	CSP   string
	NoCSP bool

	// Immutable reports whether the file at name (a slash-separated path
	// relative to the root, such as "assets/index-4f3a9c1b.js") has a
	// content hash in its name, so it can be cached for a year. Default:
	// HashedAsset.
	Immutable func(name string) bool

	// Logger receives CSRFToken failures. Default: slog.Default().
	Logger *slog.Logger
}

// hashedName matches a file name with a content hash before its extension:
// Vite/Rollup's NAME-HASH.ext (base64url, 8 characters by default) and
// webpack's NAME.HASH.ext (hex).
var hashedName = regexp.MustCompile(`^[^/]+[-.]([A-Za-z0-9_-]{8,})\.[A-Za-z0-9]+$`)

// HashedAsset is the default Options.Immutable: name is in the top-level
// assets/ directory (Vite's build.assetsDir) and its base name ends with a
// hash segment of at least 8 characters that has a digit or an upper-case
// letter, as in assets/index-4f3a9c1b.js or assets/index-BZ5Zj7Vf.css.
//
// The digit-or-capital rule keeps assets/my-component.js (a name, not a
// hash) from being cached forever; a hash that happens to be all
// lower-case letters merely gets revalidated, which is safe.
func HashedAsset(name string) bool {
	rest, ok := strings.CutPrefix(name, "assets/")
	if !ok {
		return false
	}
	base := path.Base(rest)
	m := hashedName.FindStringSubmatch(base)
	if m == nil {
		return false
	}
	return strings.ContainsAny(m[1], "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ")
}

// Handler returns a handler serving the SPA build in files, which has
// index.html at its root. It is safe for concurrent use.
//
//   - A path naming a file serves that file. Dot-files (any path segment
//     starting with ".", except .well-known) are never served, nor are
//     directories listed. The same holds for where symbolic links lead,
//     when files can read them (fs.ReadLinkFS, as os.DirFS and os.Root's
//     FS can): a link to a dot-file, into a dot-directory or out of files
//     is not followed.
//   - Any other path that has no file extension, or that a browser
//     navigates to (Accept: text/html) outside assets/, gets index.html
//     with status 200, so client-side routes such as /user survive a
//     reload. A missing file with an extension (/assets/x.js, /favicon.ico)
//     is a 404: a script tag must not receive HTML.
//   - Hashed assets (Options.Immutable) are cached for a year; index.html,
//     whose body carries a per-response CSRF token, is never stored; other
//     files are revalidated with an ETag or Last-Modified.
//   - Compressible responses are gzip- or zstd-encoded when the client
//     accepts it.
//   - Only GET and HEAD are allowed; other methods get a 405 JSON error.
//   - The pages that links in latchkey's e-mail open (/reset-password,
//     /verify-email, /confirm-email, /login/email) are sent with Referrer-Policy:
//     no-referrer, whatever a middleware set before: their URL holds a
//     one-time token, which a Referer would carry to every request the
//     page makes and to any site it links to. Other paths keep the policy
//     they have.
//
// Paths cannot escape files: fs.FS names cannot hold "..". With
// --spa-dir DIR, pass os.DirFS(DIR), or better (*os.Root).FS() from
// os.OpenRoot(DIR), which also refuses symbolic links leading out of DIR.
func Handler(files fs.FS, opts Options) http.Handler {
	if opts.Immutable == nil {
		opts.Immutable = HashedAsset
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	csp := opts.CSP
	if csp == "" {
		csp = DefaultCSP
	}
	if opts.NoCSP {
		csp = ""
	}
	h := &handler{files: files, opts: opts, csp: csp}

	// Compression and BREACH. BREACH recovers a secret from a compressed
	// response by making the victim's browser fetch it many times with
	// guesses of the secret reflected next to it, and watching the sizes.
	// index.html carries a secret, the CSRF token, but (1) the token is
	// masked with a fresh random pad on every response (see csrf.go in
	// package latchkey), so there is no fixed string to converge on, and
	// (2) this handler reflects nothing from the request into the page, so
	// there is nothing to guess with. Either alone defeats the attack; so
	// index.html may be compressed like any other file.
	gz, err := gzhttp.NewWrapper(gzhttp.MinSize(512))
	if err != nil {
		panic("spa: " + err.Error()) // cannot happen: the options are constant and valid
	}
	return gz(h)
}

// linkRoutes are the SPA routes of the links latchkey mails (mail.Kind's
// Route), whose query holds a one-time token.
var linkRoutes = map[string]bool{"/reset-password": true, "/verify-email": true, "/confirm-email": true, "/login/email": true}

type handler struct {
	files fs.FS
	opts  Options
	csp   string
	etags sync.Map                 // etagKey → string, for files without a modification time (embed.FS)
	index atomic.Pointer[cutIndex] // the last index.html cut for its token
}

// cutIndex is a version of index.html and where its token goes.
type cutIndex struct {
	page []byte
	cut  *tokenPage
}

type etagKey struct {
	name string
	size int64
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hdr := w.Header()
	if linkRoutes[path.Clean("/"+r.URL.Path)] {
		hdr.Set("Referrer-Policy", "no-referrer")
	}
	if h.csp != "" {
		hdr.Set("Content-Security-Policy", h.csp)
	}
	hdr.Set("X-Content-Type-Options", "nosniff")
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		hdr.Set("Allow", "GET, HEAD")
		writeError(w, http.StatusMethodNotAllowed, "method_not_allowed", "Only GET and HEAD are allowed here.")
		return
	}
	name, ok := fileName(r.URL.Path)
	if !ok {
		writeError(w, http.StatusNotFound, "not_found", "There is nothing here.")
		return
	}
	if name == "index.html" {
		h.serveIndex(w, r)
		return
	}
	if h.serveFile(w, r, name) {
		return
	}
	// Not a file. Whether it is a client route or a missing asset can
	// depend on Accept; tell caches so.
	hdr.Add("Vary", "Accept")
	if isClientRoute(name, r.Header.Get("Accept")) {
		h.serveIndex(w, r)
		return
	}
	writeError(w, http.StatusNotFound, "not_found", "There is no such file.")
}

// fileName maps a URL path to a name in the FS ("index.html" for the root),
// or reports false for a path that must never be served, such as a dot-file.
func fileName(urlPath string) (string, bool) {
	name := strings.TrimPrefix(path.Clean("/"+urlPath), "/")
	if name == "" {
		return "index.html", true
	}
	return name, servable(name)
}

// servable reports whether a clean name in the FS may be served: no
// segment is a dot-file or dot-directory (except .well-known).
func servable(name string) bool {
	for seg := range strings.SplitSeq(name, "/") {
		if strings.HasPrefix(seg, ".") && seg != ".well-known" {
			return false
		}
	}
	// Backslashes and colons mean something to os.DirFS on Windows; no SPA
	// build has them in its file names.
	return fs.ValidPath(name) && !strings.ContainsAny(name, `\:`)
}

// maxLinks bounds the symbolic links followed for one name, as the
// kernel's MAXSYMLINKS does, so a loop ends.
const maxLinks = 40

// resolve follows the symbolic links along name, which servable accepted,
// and returns the link-free name of what they lead to. It reports false
// when a link leads to a name servable refuses, so a link cannot expose a
// dot-file that the URL could not name; or out of the FS (an absolute
// target, or one climbing above the root), which os.DirFS would follow; or
// round in a loop. An FS without links (no fs.ReadLinkFS, as embed.FS)
// returns name as it is.
func resolve(files fs.FS, name string) (string, bool) {
	links, ok := files.(fs.ReadLinkFS)
	if !ok {
		return name, true
	}
	done, todo := "", strings.Split(name, "/")
	for n := 0; len(todo) > 0; {
		cur := path.Join(done, todo[0])
		todo = todo[1:]
		fi, err := links.Lstat(cur)
		if err != nil || fi.Mode()&fs.ModeSymlink == 0 {
			done = cur // not a link; if missing, Open will say so
			continue
		}
		if n++; n > maxLinks {
			return "", false
		}
		target, err := links.ReadLink(cur)
		if err != nil || path.IsAbs(target) {
			return "", false
		}
		next := path.Join(path.Dir(cur), target)
		if next == ".." || strings.HasPrefix(next, "../") || !servable(next) {
			return "", false
		}
		done, todo = "", append(strings.Split(next, "/"), todo...)
	}
	return done, true
}

// open opens name after resolving its symbolic links (see resolve).
func (h *handler) open(name string) (fs.File, error) {
	resolved, ok := resolve(h.files, name)
	if !ok {
		return nil, fs.ErrNotExist
	}
	return h.files.Open(resolved)
}

// isClientRoute reports whether a path with no file behind it is a route
// of the SPA's client-side router rather than a missing file.
func isClientRoute(name, accept string) bool {
	if path.Ext(name) == "" {
		return true
	}
	// /user/jane.doe typed into the address bar: a navigation, not a script
	// or image load. Missing hashed assets stay 404 even then.
	return acceptsHTML(accept) && !strings.HasPrefix(name, "assets/")
}

func acceptsHTML(accept string) bool {
	for part := range strings.SplitSeq(accept, ",") {
		mt, _, _ := strings.Cut(part, ";")
		if strings.EqualFold(strings.TrimSpace(mt), "text/html") {
			return true
		}
	}
	return false
}

// serveFile serves the regular file name and reports true, or reports false
// without writing anything if there is no such regular file.
func (h *handler) serveFile(w http.ResponseWriter, r *http.Request, name string) bool {
	f, err := h.open(name)
	if err != nil {
		return false
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil || !st.Mode().IsRegular() {
		return false // directories fall back like any other client route
	}
	content, ok := f.(io.ReadSeeker)
	if !ok {
		b, err := io.ReadAll(f)
		if err != nil {
			return false
		}
		content = bytes.NewReader(b)
	}
	hdr := w.Header()
	if ct := mime.TypeByExtension(path.Ext(name)); ct != "" {
		hdr.Set("Content-Type", ct)
	}
	if h.opts.Immutable(name) {
		hdr.Set("Cache-Control", cacheImmutable)
	} else {
		hdr.Set("Cache-Control", cacheRevalidate)
	}
	modTime := st.ModTime()
	if modTime.IsZero() {
		// embed.FS has no times; an ETag lets browsers revalidate instead.
		// It is weak because compression changes the bytes, not the meaning,
		// so If-None-Match matches whichever encoding the browser holds.
		if tag, err := h.etag(name, st.Size(), content); err == nil {
			hdr.Set("ETag", tag)
		}
	}
	http.ServeContent(w, r, name, modTime, content)
	return true
}

// etag returns a weak ETag for content, computed once per name and size.
func (h *handler) etag(name string, size int64, content io.ReadSeeker) (string, error) {
	key := etagKey{name, size}
	if tag, ok := h.etags.Load(key); ok {
		return tag.(string), nil
	}
	sum := sha256.New()
	if _, err := io.Copy(sum, content); err != nil {
		return "", err
	}
	if _, err := content.Seek(0, io.SeekStart); err != nil {
		return "", err
	}
	tag := `W/"` + base64.RawURLEncoding.EncodeToString(sum.Sum(nil)[:16]) + `"`
	h.etags.Store(key, tag)
	return tag, nil
}

// serveIndex serves index.html, with a fresh CSRF token in it if
// Options.CSRFToken is set.
func (h *handler) serveIndex(w http.ResponseWriter, r *http.Request) {
	if h.opts.CSRFToken == nil {
		if !h.serveFile(w, r, "index.html") {
			writeError(w, http.StatusNotFound, "not_found", "This app has no index.html.")
		}
		return
	}
	// Read per response, not once: with --spa-dir the build may change.
	page, err := h.readIndex()
	if err != nil {
		writeError(w, http.StatusNotFound, "not_found", "This app has no index.html.")
		return
	}
	tok, err := h.opts.CSRFToken(w, r)
	if err != nil {
		h.opts.Logger.ErrorContext(r.Context(), "spa: CSRF token for index.html", "err", err)
		tok = ""
	}
	page = h.cut(page).fill(tok)
	hdr := w.Header()
	hdr.Set("Cache-Control", cacheNever)
	hdr.Set("Content-Type", "text/html; charset=utf-8")
	hdr.Set("Content-Length", strconv.Itoa(len(page)))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		w.Write(page)
	}
}

// cut returns page cut for its token, tokenizing it only when it
// differs from the last version: comparing a few kilobytes costs far less
// than tokenizing them on every page load.
func (h *handler) cut(page []byte) *tokenPage {
	if c := h.index.Load(); c != nil && bytes.Equal(c.page, page) {
		return c.cut
	}
	c := &cutIndex{page: page, cut: cutPage(page)}
	h.index.Store(c)
	return c.cut
}

// readIndex reads index.html, through open like any file.
func (h *handler) readIndex() ([]byte, error) {
	f, err := h.open("index.html")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(f)
}

// writeError writes latchkey's JSON error shape.
func writeError(w http.ResponseWriter, status int, code, msg string) {
	hdr := w.Header()
	hdr.Del("ETag")
	hdr.Del("Last-Modified")
	hdr.Set("Cache-Control", cacheNever)
	hdr.Set("Content-Type", "application/json")
	body, _ := json.Marshal(map[string]any{"error": map[string]string{"code": code, "message": msg}})
	body = append(body, '\n')
	hdr.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	w.Write(body)
}
