package spa_test

import (
	"log"
	"net/http"
	"net/url"
	"os"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/memstore"
	"github.com/latchkey/latchkey/spa"
	"github.com/latchkey/latchkey/web"
)

// Embedded mode: the API under /api, the SPA everywhere else, with the CSRF
// token in index.html.
func ExampleHandler() {
	st := memstore.New()
	auth, err := latchkey.New(latchkey.Config{Secrets: [][]byte{[]byte(os.Getenv("LATCHKEY_SECRET"))}}, st, st)
	if err != nil {
		log.Fatal(err)
	}
	files := web.Files() // or, for --spa-dir DIR: root, _ := os.OpenRoot(DIR); root.FS()
	mux := http.NewServeMux()
	mux.Handle("/api/", auth.Handler())
	mux.Handle("/", spa.Handler(files, spa.Options{CSRFToken: auth.CSRFToken}))
	log.Fatal(http.ListenAndServe("127.0.0.1:8080", mux))
}

// Proxy mode with --spa-upstream: a Vite dev server behind latchkey, hot
// reload included.
func ExampleProxy() {
	upstream, _ := url.Parse("http://127.0.0.1:5173")
	front, err := spa.Proxy(upstream, spa.ProxyOptions{
		// latchkey's HttpOnly cookies are none of the dev server's business.
		StripCookies: latchkey.OwnCookieNames(),
	})
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/", front)
	log.Fatal(http.ListenAndServe("127.0.0.1:8080", mux))
}
