package latchkey

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// Micro-benchmarks of the authenticated path's pieces, each with allocs/op.
// The whole path is BenchmarkSessionCheck (bench_test.go); the store
// lookups are BenchmarkFindSession in memstore and sqlitestore.

// hotRequest is a logged-in browser's GET as an SPA sends it: the session
// cookie among the CSRF ones, a User-Agent and the usual headers.
func hotRequest(b *testing.B) (*http.Request, [tokenBytes]byte) {
	b.Helper()
	tok := newToken()
	anon := newToken()
	r := httptest.NewRequest("GET", "/api/getsession", nil)
	r.Header.Set("User-Agent", "Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0")
	r.Header.Set("Accept", "application/json")
	r.Header.Set("Cookie", "XSRF-TOKEN=abcdefabcdefabcdefabcdefabcdefabcdefabcdefabcdefabcdefabcdefabcdefabcdefabcdefabcdef; "+
		sessionCookie+"="+encodeToken(tok)+"; "+anonCookie+"="+encodeToken(anon))
	return r, tok
}

func BenchmarkCookieParse(b *testing.B) {
	r, want := hotRequest(b)
	b.ReportAllocs()
	for b.Loop() {
		c := tokenCookies(r, sessionCookie)
		if c.n != 1 || c.tok[0] != want {
			b.Fatal("session cookie not found")
		}
	}
}

func BenchmarkTokenHash(b *testing.B) {
	tok := newToken()
	b.ReportAllocs()
	for b.Loop() {
		if h := hashToken(tok); len(h) != 32 {
			b.Fatal("short hash")
		}
	}
}

// nopStores satisfies New for benchmarks that never reach a store.
type nopStores struct {
	UserStore
	SessionStore
}

func BenchmarkCSRFCheck(b *testing.B) {
	a, err := New(Config{Secrets: [][]byte{[]byte("benchmark-secret-benchmark-secret-0123")}}, nopStores{}, nopStores{})
	if err != nil {
		b.Fatal(err)
	}
	tok := newToken()
	cur := &current{session: &Session{TokenHash: hashToken(tok)}}
	r, _ := hotRequest(b)
	r.Method = "POST"
	r.Header.Set("Sec-Fetch-Site", "same-origin")
	r.Header.Set("X-CSRFToken", a.keys.issue(bindSession, cur.session.TokenHash, nil))
	b.ReportAllocs()
	for b.Loop() {
		if err := a.checkCSRF(r, cur); err != nil {
			b.Fatal(err)
		}
	}
}

// discardWriter is a ResponseWriter that keeps nothing, so the benchmark
// counts what writeJSON allocates and not what a recorder does.
type discardWriter struct{ h http.Header }

func (d *discardWriter) Header() http.Header         { return d.h }
func (d *discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (d *discardWriter) WriteHeader(int)             {}

func BenchmarkJSONWriteSession(b *testing.B) {
	now := time.Now()
	v := sessionJSON{
		Login:     true,
		User:      userJSON{ID: 4242, Username: "user0004242", Email: "user@example.com", CreatedAt: now.UTC()},
		ExpiresAt: now.Add(24 * time.Hour).UTC(), IdleExpiresAt: now.Add(2 * time.Hour).UTC(), Fresh: true,
	}
	w := &discardWriter{h: http.Header{}}
	b.ReportAllocs()
	for b.Loop() {
		clear(w.h)
		writeJSON(w, http.StatusOK, v)
	}
}

func BenchmarkJSONWriteUser(b *testing.B) {
	v := userJSON{ID: 4242, Username: "user0004242", Email: "user@example.com", CreatedAt: time.Now().UTC()}
	w := &discardWriter{h: http.Header{}}
	b.ReportAllocs()
	for b.Loop() {
		clear(w.h)
		writeJSON(w, http.StatusOK, v)
	}
}
