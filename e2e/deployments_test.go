package e2e_test

import (
	"errors"
	"html"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/latchkey/latchkey/internal/nginxtest"
	"github.com/latchkey/latchkey/spa"
)

// deployment is latchkey and the SPA deployed one way, as the browser sees
// them. Both URLs use the host name localhost; foreign pages come from
// 127.0.0.1, which is another site.
type deployment struct {
	App      string   // the SPA's origin: http://localhost:PORT
	API      string   // the API's base URL: http://localhost:PORT/api
	Latchkey *process // whose log says what the browser asked of it
	// Gateway is true when a reverse proxy (nginx) passes the API to
	// latchkey: with latchkey down, the browser then gets the proxy's 502
	// page rather than a refused connection.
	Gateway bool
}

// deployments are the three ways latchkey and the SPA are deployed; every
// scenario runs in each. start deploys the SPA build in spaDir, "" for the
// built-in one, and passes extra to latchkey serve, such as the flags of
// token mode.
var deployments = []struct {
	name  string
	start func(t *testing.T, spaDir string, extra ...string) *deployment
}{
	{"embedded", startEmbedded},
	{"nginx-same-origin", startNginxSameOrigin},
	{"cross-origin", startCrossOrigin},
}

// localhost returns url (http://127.0.0.1:PORT...) with the host localhost.
func localhost(url string) string {
	return strings.Replace(url, "://127.0.0.1:", "://localhost:", 1)
}

// spaBuild returns spaDir, or for "" web/dist, the SPA build that the
// binary embeds, after checking that it has an index.html.
func spaBuild(t *testing.T, spaDir string) string {
	t.Helper()
	if spaDir == "" {
		spaDir = filepath.Join(repoRoot(t), "web", "dist")
	}
	if _, err := os.Stat(filepath.Join(spaDir, "index.html")); err != nil {
		t.Fatalf("no SPA build: %v", err)
	}
	return spaDir
}

// startEmbedded: latchkey serves the SPA and the API on one origin: the
// built-in SPA, or with --spa-dir the one in spaDir.
func startEmbedded(t *testing.T, spaDir string, extra ...string) *deployment {
	t.Helper()
	args := []string{"--mode", "embedded"}
	if spaDir != "" {
		args = append(args, "--spa-dir", spaBuild(t, spaDir))
	}
	lk, err := startLatchkey(t, "127.0.0.1:0", append(args, extra...)...)
	if err != nil {
		t.Fatal(err)
	}
	app := localhost(lk.URL)
	return &deployment{App: app, API: app + "/api", Latchkey: lk}
}

// startNginxSameOrigin: nginx runs deploy/nginx/same-origin.conf, serving
// the SPA build (spaBuild) as static files and passing /api to latchkey in
// proxy mode. The index.html nginx serves has an empty csrf-token meta tag,
// so the SPA gets its token from GET /api/getcsrf.
func startNginxSameOrigin(t *testing.T, spaDir string, extra ...string) *deployment {
	t.Helper()
	lk, err := startLatchkey(t, "127.0.0.1:0", append([]string{"--mode", "proxy", "--trusted-proxies", "127.0.0.1/32"}, extra...)...)
	if err != nil {
		t.Fatal(err)
	}
	ngx := nginxtest.Start(t, filepath.Join(repoRoot(t), "deploy", "nginx", "same-origin.conf"), map[string]string{
		"LATCHKEY_ADDR": lk.Addr,
		"SPA_ROOT":      spaBuild(t, spaDir),
		"SERVER_NAME":   "localhost",
	})
	app := localhost(ngx.URL)
	return &deployment{App: app, API: app + "/api", Latchkey: lk, Gateway: true}
}

// startCrossOrigin: the SPA build (spaBuild) is served from its own origin
// by a static file server, with its latchkey-api meta tag pointing at
// latchkey on another port; latchkey runs in cross-origin mode and allows
// exactly that origin. localhost:A and localhost:B are the same site, so
// SameSite=Lax cookies work over plain HTTP.
func startCrossOrigin(t *testing.T, spaDir string, extra ...string) *deployment {
	t.Helper()
	var api string // set before the browser asks for anything
	spaSrv := httptest.NewServer(spaServer(t, spaBuild(t, spaDir), func() string { return api }))
	t.Cleanup(spaSrv.Close)
	app := localhost(spaSrv.URL)
	var lk *process
	for range 5 {
		port := freePort(t)
		var err error
		lk, err = startLatchkey(t, "127.0.0.1:"+port, append([]string{"--mode", "cross-origin",
			"--allowed-origins", app, "--public-url", "http://localhost:" + port}, extra...)...)
		if errors.Is(err, errAddrInUse) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		break
	}
	if lk == nil {
		t.Fatal("no free port for latchkey after 5 tries")
	}
	api = "http://localhost:" + lk.Port() + "/api"
	return &deployment{App: app, API: api, Latchkey: lk}
}

// apiMeta is the tag through which the SPA learns where the API is.
var apiMeta = regexp.MustCompile(`<meta\s+name="latchkey-api"\s+content="[^"]*"\s*/?>`)

// spaServer serves the SPA build in dir as a static host would for a
// cross-origin deployment: files as they are, index.html for every other
// path (client-side routes), with the latchkey-api meta tag rewritten to
// api() and a strict CSP that lets the SPA reach only its own origin and the
// API's.
func spaServer(t *testing.T, dir string, api func() string) http.Handler {
	t.Helper()
	index, err := os.ReadFile(filepath.Join(dir, "index.html"))
	if err != nil {
		t.Fatal(err)
	}
	if !apiMeta.Match(index) {
		t.Fatalf(`%s/index.html has no <meta name="latchkey-api" content="/api">, which a cross-origin deployment rewrites: is the SPA built?`, dir)
	}
	fsys := os.DirFS(dir)
	files := http.FileServerFS(fsys)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := strings.TrimPrefix(path.Clean(r.URL.Path), "/")
		if name != "" && name != "index.html" && !strings.HasPrefix(path.Base(name), ".") {
			if st, err := fs.Stat(fsys, name); err == nil && !st.IsDir() {
				files.ServeHTTP(w, r)
				return
			}
		}
		base := api()
		origin := strings.TrimSuffix(base, "/api")
		page := apiMeta.ReplaceAll(index, []byte(`<meta name="latchkey-api" content="`+html.EscapeString(base)+`">`))
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-cache")
		w.Header().Set("Content-Security-Policy", spa.DefaultCSP+"; connect-src 'self' "+origin)
		w.Write(page)
	})
}

// foreignSite is a page on another site (http://127.0.0.1:PORT, while the
// app is on localhost) that tries to use the user's session:
//
//	/form?action=URL  a form that POSTs itself to URL as soon as it loads
//	/blank            an empty page, to run fetch() from
//	/post?action=URL&NAME=VALUE…  a form with those fields and a button,
//	                  #go, to post it to URL (no JavaScript needed)
//	/probe            a page whose script, if scripts run, sets its title
func foreignSite(t *testing.T) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		switch r.URL.Path {
		case "/form":
			action := html.EscapeString(r.URL.Query().Get("action"))
			w.Write([]byte(`<!doctype html><title>Win a prize</title>
<form method="post" action="` + action + `"><input type="hidden" name="x" value="1"></form>
<script>document.forms[0].submit()</script>`))
		case "/blank":
			w.Write([]byte(`<!doctype html><title>Nothing to see</title><p>Nothing to see.</p>`))
		case "/post":
			q := r.URL.Query()
			var b strings.Builder
			b.WriteString(`<!doctype html><title>Claim your prize</title><form method="post" action="` + html.EscapeString(q.Get("action")) + `">`)
			for name, vs := range q {
				if name != "action" {
					b.WriteString(`<input type="hidden" name="` + html.EscapeString(name) + `" value="` + html.EscapeString(vs[0]) + `">`)
				}
			}
			b.WriteString(`<button id="go" type="submit">Claim</button></form>`)
			w.Write([]byte(b.String()))
		case "/probe":
			w.Write([]byte(`<!doctype html><title>no scripts</title><p>Probe.</p><script>document.title = "scripts run"</script>`))
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}
