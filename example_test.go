package latchkey_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"strings"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/memstore"
)

// Example embeds latchkey in a Go backend: the auth API under /api/ and an
// application route that only logged-in users reach, with CSRF enforced on
// anything that changes state.
func Example() {
	store := memstore.New() // or sqlitestore.Open(ctx, "latchkey.db")
	auth, err := latchkey.New(latchkey.Config{
		Secrets: [][]byte{[]byte("a secret of at least 32 bytes, from a file!")},
	}, store, store)
	if err != nil {
		log.Fatal(err)
	}
	if _, err := auth.CreateUser(context.Background(), "ada", "correct horse battery", ""); err != nil {
		log.Fatal(err)
	}

	mux := http.NewServeMux()
	mux.Handle("/api/", auth.Handler())
	mux.Handle("GET /notes", auth.Require(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, _ := latchkey.UserFromContext(r.Context())
		fmt.Fprintf(w, "notes of %s", u.Username)
	})))
	srv := httptest.NewServer(mux)
	defer srv.Close()

	// A browser: get a CSRF token, log in, read the protected route.
	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar}
	res, _ := client.Get(srv.URL + "/api/getcsrf")
	res.Body.Close()
	req, _ := http.NewRequest("POST", srv.URL+"/api/login", strings.NewReader(`{"username":"ada","password":"correct horse battery"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-CSRFToken", res.Header.Get("X-CSRFToken"))
	res, _ = client.Do(req)
	res.Body.Close()
	fmt.Println("login:", res.StatusCode)

	res, _ = client.Get(srv.URL + "/notes")
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	fmt.Println(res.StatusCode, string(body))

	res, _ = http.Get(srv.URL + "/notes") // no session
	res.Body.Close()
	fmt.Println("anonymous:", res.StatusCode)
	// Output:
	// login: 200
	// 200 notes of ada
	// anonymous: 401
}
