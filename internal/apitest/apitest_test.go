package apitest_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"runtime"
	"strconv"
	"testing"

	"github.com/latchkey/latchkey/internal/apitest"
)

// seen is what the echo handler answers: what the request carried.
type seen struct {
	Method, Body                       string
	CSRF, CSRFRefresh, ContentType, UA string
	Authorization, Origin              string
	Cookies                            map[string]string
}

// server is a small stand-in for latchkey's API: a CSRF token, a login that
// needs it, a session cookie, and handlers that echo, fail or lie about JSON.
func server(t *testing.T) *httptest.Server {
	t.Helper()
	writeJSON := func(w http.ResponseWriter, status int, v any) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		json.NewEncoder(w).Encode(v)
	}
	echo := func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		s := seen{
			Method: r.Method, Body: string(body), CSRF: r.Header.Get("X-CSRFToken"), CSRFRefresh: r.Header.Get("X-CSRF-TOKEN"),
			ContentType: r.Header.Get("Content-Type"), UA: r.UserAgent(), Authorization: r.Header.Get("Authorization"),
			Origin: r.Header.Get("Origin"), Cookies: map[string]string{},
		}
		for _, c := range r.Cookies() {
			s.Cookies[c.Name] = c.Value
		}
		writeJSON(w, 200, s)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/echo", echo)
	mux.HandleFunc("POST /api/auth/refresh", echo)
	mux.HandleFunc("GET /api/getcsrf", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-CSRFToken", "tok1")
		writeJSON(w, 200, map[string]any{"csrfToken": "tok1"})
	})
	mux.HandleFunc("POST /api/login", func(w http.ResponseWriter, r *http.Request) {
		var creds struct{ Username, Password string }
		json.NewDecoder(r.Body).Decode(&creds)
		switch {
		case r.Header.Get("X-CSRFToken") != "tok1" || r.Header.Get("Content-Type") != "application/json":
			writeJSON(w, 403, map[string]any{"error": map[string]any{"code": "csrf_failed"}})
		case creds.Password != "pw":
			writeJSON(w, 401, map[string]any{"login": false, "error": map[string]any{"code": "invalid_credentials", "field": "password"}})
		default:
			http.SetCookie(w, &http.Cookie{Name: "session", Value: creds.Username, Path: "/"})
			http.SetCookie(w, &http.Cookie{Name: "csrf_refresh_token", Value: "rtok", Path: "/"})
			http.SetCookie(w, &http.Cookie{Name: "refresh", Value: "r1", Path: "/api/auth/refresh"})
			w.Header().Set("X-CSRFToken", "tok2")
			writeJSON(w, 200, map[string]any{"login": true})
		}
	})
	mux.HandleFunc("GET /api/getsession", func(w http.ResponseWriter, r *http.Request) {
		_, err := r.Cookie("session")
		writeJSON(w, 200, map[string]any{"login": err == nil})
	})
	mux.HandleFunc("/status/{code}", func(w http.ResponseWriter, r *http.Request) {
		code, _ := strconv.Atoi(r.PathValue("code"))
		w.WriteHeader(code)
		io.WriteString(w, "status "+r.PathValue("code"))
	})
	mux.HandleFunc("/badjson", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, "{")
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func echoed(t *testing.T, r apitest.Resp) seen {
	t.Helper()
	var s seen
	if err := json.Unmarshal([]byte(r.Raw), &s); err != nil {
		t.Fatalf("echo answer %q: %v", r.Raw, err)
	}
	return s
}

func TestLoginFlow(t *testing.T) {
	srv := server(t)
	c := apitest.New(t, srv.URL)
	if c.LoggedIn() {
		t.Fatal("a new client is logged in")
	}
	if r := c.Login("alice", "wrong"); r.Status != 401 || r.ErrCode() != "invalid_credentials" || r.ErrField() != "password" || r.JSON["login"] != false {
		t.Errorf("wrong password: %d %s", r.Status, r.Raw)
	}
	if got := c.Token(); got != "tok1" {
		t.Errorf("token after Login fetched one: %q, want tok1", got)
	}
	c.SetToken("stale")
	if r := c.Login("alice", "pw"); r.Status != 403 || r.ErrCode() != "csrf_failed" {
		t.Errorf("login with a stale token: %d %s, want 403 csrf_failed", r.Status, r.Raw)
	}
	if got := c.CSRF(); got != "tok1" {
		t.Errorf("CSRF() = %q, want tok1", got)
	}
	c.MustLogin("alice", "pw")
	if got := c.Token(); got != "tok2" {
		t.Errorf("token after login: %q, want tok2 from the X-CSRFToken header", got)
	}
	if !c.LoggedIn() {
		t.Error("not logged in after MustLogin")
	}
	if ck := c.Cookie("session"); ck == nil || ck.Value != "alice" {
		t.Errorf("Cookie(session) = %v, want alice", ck)
	}
	if ck := c.Cookie("refresh"); ck != nil {
		t.Errorf("Cookie(refresh) = %v, want nil: its path is /api/auth/refresh", ck)
	}
	if cks := c.Cookies("/api/auth/refresh"); len(cks) != 3 {
		t.Errorf("Cookies(/api/auth/refresh) = %v, want session, csrf_refresh_token and refresh", cks)
	}
	if s := echoed(t, c.Refresh()); s.Method != "POST" || s.CSRFRefresh != "rtok" || s.Cookies["refresh"] != "r1" {
		t.Errorf("Refresh sent %+v, want POST with X-CSRF-TOKEN rtok and the refresh cookie", s)
	}
	c.SetCookie("session", "mallory")
	if s := echoed(t, c.Get("/echo")); s.Cookies["session"] != "mallory" {
		t.Errorf("after SetCookie the server saw %v", s.Cookies)
	}
}

func TestRequests(t *testing.T) {
	srv := server(t)
	c := apitest.New(t, srv.URL)
	c.UserAgent = "ua/1"
	c.Header = http.Header{"Authorization": {"Bearer x"}}
	c.SetToken("tok")
	tests := []struct {
		name string
		r    func() apitest.Resp
		want seen
	}{
		{"Get", func() apitest.Resp { return c.Get("/echo", "Origin", "http://o") },
			seen{Method: "GET", UA: "ua/1", Authorization: "Bearer x", Origin: "http://o"}},
		{"Do sends no token", func() apitest.Resp { return c.Do("DELETE", "/echo", nil) },
			seen{Method: "DELETE", UA: "ua/1", Authorization: "Bearer x"}},
		{"Post JSON", func() apitest.Resp { return c.Post("/echo", map[string]int{"a": 1}) },
			seen{Method: "POST", Body: `{"a":1}`, CSRF: "tok", ContentType: "application/json", UA: "ua/1", Authorization: "Bearer x"}},
		{"Post string", func() apitest.Resp { return c.Post("/echo", `{"raw"`) },
			seen{Method: "POST", Body: `{"raw"`, CSRF: "tok", ContentType: "application/json", UA: "ua/1", Authorization: "Bearer x"}},
		{"Post nil", func() apitest.Resp { return c.Post("/echo", nil) },
			seen{Method: "POST", CSRF: "tok", ContentType: "application/json", UA: "ua/1", Authorization: "Bearer x"}},
		{"Raw", func() apitest.Resp {
			return apitest.Raw(t, "POST", srv.URL+"/echo", map[string]string{"a": "1"}, "X-CSRFToken", "t2")
		}, seen{Method: "POST", Body: "{}", CSRF: "t2", ContentType: "application/json", UA: "Go-http-client/1.1", Cookies: map[string]string{"a": "1"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := echoed(t, tc.r())
			if len(got.Cookies) == 0 {
				got.Cookies = nil
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("server saw %+v, want %+v", got, tc.want)
			}
		})
	}
}

// recorder is a testing.TB that records failures instead of failing.
type recorder struct {
	testing.TB
	errors []string
	fatal  bool
}

func (r *recorder) Helper() {}
func (r *recorder) Errorf(format string, args ...any) {
	r.errors = append(r.errors, fmt.Sprintf(format, args...))
}
func (r *recorder) Fatal(args ...any) { r.Fatalf("%s", fmt.Sprint(args...)) }
func (r *recorder) Fatalf(format string, args ...any) {
	r.Errorf(format, args...)
	r.fatal = true
	runtime.Goexit()
}

func TestFailures(t *testing.T) {
	srv := server(t)
	tests := []struct {
		path       string
		wantStatus int
		wantErrors int
		wantFatal  bool
	}{
		{"/status/200", 200, 0, false},
		{"/status/500", 500, 1, false},
		{"/status/501", 501, 1, false},
		{"/status/502", 502, 0, false}, // a designed answer: a server behind is down
		{"/status/503", 503, 0, false}, // a designed answer: a store is down
		{"/status/504", 504, 1, false},
		{"/badjson", 0, 1, true},
	}
	for _, tc := range tests {
		t.Run(tc.path, func(t *testing.T) {
			rec := &recorder{TB: t}
			var r apitest.Resp
			done := make(chan struct{})
			go func() {
				defer close(done)
				r = apitest.New(rec, srv.URL).Get(tc.path)
			}()
			<-done
			if len(rec.errors) != tc.wantErrors || rec.fatal != tc.wantFatal {
				t.Errorf("failures %q, fatal %v; want %d, fatal %v", rec.errors, rec.fatal, tc.wantErrors, tc.wantFatal)
			}
			if r.Status != tc.wantStatus {
				t.Errorf("status %d, want %d", r.Status, tc.wantStatus)
			}
		})
	}
}
