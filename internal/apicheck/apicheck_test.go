package apicheck_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/latchkey/latchkey/internal/apicheck"
)

const user = `{"id":1,"username":"ann","emailVerified":false,"roles":[],"createdAt":"2026-01-02T03:04:05Z"}`

// exchange is one request and the response to it, as Check sees them.
type exchange struct {
	method, path, reqBody string
	reqHeader             []string // name, value pairs
	status                int
	resBody               string
	resHeader             []string
}

func (x exchange) check(t *testing.T) error {
	t.Helper()
	c, err := apicheck.Default()
	if err != nil {
		t.Fatal(err)
	}
	req := httptest.NewRequest(x.method, x.path, nil)
	for i := 0; i+1 < len(x.reqHeader); i += 2 {
		req.Header.Add(x.reqHeader[i], x.reqHeader[i+1])
	}
	res := &http.Response{StatusCode: x.status, Header: http.Header{}, Request: req}
	if x.resBody != "" {
		res.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(x.resHeader); i += 2 {
		res.Header.Add(x.resHeader[i], x.resHeader[i+1])
	}
	return c.Check(req, []byte(x.reqBody), res, []byte(x.resBody))
}

var (
	jsonCSRF     = []string{"Content-Type", "application/json", "X-CSRFToken", "tok", "Cookie", "latchkey_csrf=b"}
	loggedIn     = []string{"Cookie", "latchkey_session=s"}
	loginOK      = `{"login":true,"user":` + user + `}`
	newCSRFToken = []string{"X-CSRFToken", "tok2"}
)

// The rule, case by case: what passes and what fails the test that made
// the request.
func TestCheck(t *testing.T) {
	for _, tc := range []struct {
		name string
		x    exchange
		want string // in the error; "" for none
	}{
		{"login", exchange{method: "POST", path: "/api/login", reqBody: `{"username":"ann","password":"pw"}`, reqHeader: jsonCSRF,
			status: 200, resBody: loginOK, resHeader: newCSRFToken}, ""},
		{"a refused request is not checked", exchange{method: "POST", path: "/api/login", reqBody: `{"username":1}`, reqHeader: jsonCSRF,
			status: 400, resBody: `{"login":false,"error":{"code":"invalid_input","message":"m","field":"username"}}`}, ""},
		{"an accepted request is checked", exchange{method: "POST", path: "/api/login", reqBody: `{"username":"ann"}`, reqHeader: jsonCSRF,
			status: 200, resBody: loginOK, resHeader: newCSRFToken}, "password"},
		{"accepted without the CSRF header", exchange{method: "POST", path: "/api/login", reqBody: `{"username":"ann","password":"pw"}`,
			reqHeader: []string{"Content-Type", "application/json", "Cookie", "latchkey_csrf=b"}, status: 200,
			resBody: loginOK, resHeader: newCSRFToken}, "X-CSRFToken"},
		{"the CSRF header's other spellings", exchange{method: "POST", path: "/api/auth/refresh",
			reqHeader: []string{"X-CSRF-TOKEN", "tok", "Cookie", "refresh_token_cookie=r"}, status: 200,
			resBody: `{"refresh":true,"user":` + user + `}`, resHeader: newCSRFToken}, ""},
		{"a required response header", exchange{method: "POST", path: "/api/login", reqBody: `{"username":"ann","password":"pw"}`, reqHeader: jsonCSRF,
			status: 200, resBody: loginOK}, "X-CSRFToken"},
		{"an undocumented status", exchange{method: "GET", path: "/api/data", reqHeader: loggedIn,
			status: 418, resBody: `{"error":{"code":"teapot","message":"m"}}`}, "418"},
		{"an undocumented error code", exchange{method: "GET", path: "/api/data",
			status: 401, resBody: `{"error":{"code":"nope","message":"m"}}`}, "code"},
		{"an undocumented field", exchange{method: "GET", path: "/api/data", reqHeader: loggedIn,
			status: 200, resBody: strings.Replace(user, `"id":1`, `"id":1,"passwordHash":"x"`, 1)}, "passwordHash"},
		{"a missing field", exchange{method: "GET", path: "/api/data", reqHeader: loggedIn,
			status: 200, resBody: `{"id":1,"username":"ann","createdAt":"2026-01-02T03:04:05Z"}`}, "emailVerified"},
		{"a malformed time", exchange{method: "GET", path: "/api/data", reqHeader: loggedIn,
			status: 200, resBody: strings.Replace(user, "2026-01-02T03:04:05Z", "yesterday", 1)}, "date-time"},
		{"the Secure form of a cookie", exchange{method: "GET", path: "/api/data", reqHeader: []string{"Cookie", "__Host-latchkey_session=s"},
			status: 200, resBody: user}, ""},
		{"an API token", exchange{method: "GET", path: "/api/data", reqHeader: []string{"Authorization", "Bearer lk_x"},
			status: 200, resBody: user}, ""},
		{"accepted without credentials", exchange{method: "GET", path: "/api/data",
			status: 200, resBody: user}, "latchkey_session"},
		{"Retry-After with a 429", exchange{method: "POST", path: "/api/login",
			status: 429, resBody: `{"login":false,"error":{"code":"too_many_attempts","message":"m"}}`}, "Retry-After"},
		{"a path the document does not have", exchange{method: "GET", path: "/api/backend/thing", status: 200, resBody: `{}`}, ""},
		{"a method the document does not have", exchange{method: "PUT", path: "/api/login",
			status: 405, resBody: `{"error":{"code":"method_not_allowed","message":"m"}}`}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.x.check(t)
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("Check: %v, want nil", err)
			case tc.want != "" && err == nil:
				t.Errorf("Check: nil, want an error about %s", tc.want)
			case tc.want != "" && !strings.Contains(err.Error(), tc.want):
				t.Errorf("Check: %v, want an error about %s", err, tc.want)
			}
		})
	}
}

// failures is a testing.TB that keeps what Errorf is given.
type failures struct {
	testing.TB
	mu   sync.Mutex
	errs []string
}

func (f *failures) Helper() {}
func (f *failures) Errorf(format string, args ...any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.errs = append(f.errs, fmt.Sprintf(format, args...))
}

// Handler fails the test with the method, path and status of an exchange
// that does not match, passes the response through unchanged, and leaves
// other paths alone.
func TestHandler(t *testing.T) {
	tb := &failures{TB: t}
	srv := httptest.NewServer(apicheck.Handler(tb, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"ping":"pong?"}`)
	})))
	defer srv.Close()
	for _, path := range []string{"/api/ping", "/elsewhere"} {
		res, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 200 || string(body) != `{"ping":"pong?"}` {
			t.Errorf("GET %s: %d %s; want the handler's answer", path, res.StatusCode, body)
		}
	}
	tb.mu.Lock()
	defer tb.mu.Unlock()
	if len(tb.errs) != 1 || !strings.Contains(tb.errs[0], "GET /api/ping: 200") || !strings.Contains(tb.errs[0], "pong!") {
		t.Errorf("failures: %q; want one, for GET /api/ping: 200, about pong!", tb.errs)
	}
}
