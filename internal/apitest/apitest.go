// Package apitest is the HTTP client that tests drive latchkey's JSON API
// with, the way the SPA does: a cookie jar, the CSRF token the server last
// handed out, and JSON bodies. It fails the test it belongs to on transport
// errors, on a JSON body that does not parse and on an unexpected 5xx, so
// that tests only state what they expect.
package apitest

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"sync"
	"testing"
)

// Client is one browser: a cookie jar and the last CSRF token it was given,
// picked up from the X-CSRFToken response header. Its methods may be called
// from several goroutines at once; its fields are set before that.
type Client struct {
	// Base is put before every path, such as an httptest.Server's URL.
	// Empty, paths are whole URLs.
	Base string
	// HTTP sends the requests; it holds the cookie jar. Tests may set its
	// Transport or Timeout.
	HTTP *http.Client
	// UserAgent is sent with every request; empty leaves Go's default.
	// Sessions remember the User-Agent they were made with.
	UserAgent string
	// Header is added to every request, as a script's Authorization.
	Header http.Header

	tb     testing.TB
	mu     sync.Mutex
	token  string
	parent *Client // NoRedirects' client, whose token this one keeps
}

// New returns a Client with an empty cookie jar that fails tb.
func New(tb testing.TB, base string) *Client {
	jar, _ := cookiejar.New(nil)
	return &Client{Base: base, HTTP: &http.Client{Jar: jar}, tb: tb}
}

// Token returns the last CSRF token the server sent.
func (c *Client) Token() string {
	if c.parent != nil {
		return c.parent.Token()
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.token
}

// SetToken replaces the CSRF token that Post sends, as a page that read it
// elsewhere, or an attacker, would.
func (c *Client) SetToken(tok string) {
	if c.parent != nil {
		c.parent.SetToken(tok)
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.token = tok
}

// Resp is a response, read in full.
type Resp struct {
	Status int
	Header http.Header
	Raw    string         // the body
	JSON   map[string]any // the body parsed, if it is JSON; else nil
}

// ErrCode returns the error.code of a JSON error body, or "".
func (r Resp) ErrCode() string { return r.errString("code") }

// ErrField returns the error.field of a JSON error body, or "".
func (r Resp) ErrField() string { return r.errString("field") }

func (r Resp) errString(key string) string {
	e, _ := r.JSON["error"].(map[string]any)
	s, _ := e[key].(string)
	return s
}

// Do sends a request with the jar's cookies; header holds name, value pairs.
// It sends no CSRF token of its own: Post does.
func (c *Client) Do(method, path string, body io.Reader, header ...string) Resp {
	c.tb.Helper()
	req, err := http.NewRequest(method, c.Base+path, body)
	if err != nil {
		c.tb.Fatal(err)
	}
	if c.UserAgent != "" {
		req.Header.Set("User-Agent", c.UserAgent)
	}
	for name, values := range c.Header {
		req.Header[name] = values
	}
	addPairs(req.Header, header)
	r := read(c.tb, c.HTTP, req)
	if tok := r.Header.Get("X-CSRFToken"); tok != "" {
		c.SetToken(tok)
	}
	return r
}

// Get sends a GET.
func (c *Client) Get(path string, header ...string) Resp {
	c.tb.Helper()
	return c.Do("GET", path, nil, header...)
}

// Post sends v as JSON with the client's CSRF token. A string v is sent as
// it is, and nil as an empty body.
func (c *Client) Post(path string, v any, header ...string) Resp {
	c.tb.Helper()
	return c.Send("POST", path, v, header...)
}

// Send is Post with another method, such as DELETE or PUT.
func (c *Client) Send(method, path string, v any, header ...string) Resp {
	c.tb.Helper()
	var body []byte
	switch v := v.(type) {
	case string:
		body = []byte(v)
	case nil:
	default:
		var err error
		if body, err = json.Marshal(v); err != nil {
			c.tb.Fatalf("%s %s: %v", method, path, err)
		}
	}
	h := append([]string{"Content-Type", "application/json", "X-CSRFToken", c.Token()}, header...)
	return c.Do(method, path, bytes.NewReader(body), h...)
}

// NavigationAccept is the Accept header Chromium sends when a tab loads a
// page, a form post's included.
const NavigationAccept = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8"

// PostForm posts fields as an HTML form in a browser tab does:
// application/x-www-form-urlencoded, with Accept and Sec-Fetch-Mode as
// Chromium sends them for a navigation, and no CSRF header (a form carries
// its token in a field; put it in fields). It does not follow a redirect:
// the test reads Location. header replaces those headers; an empty value
// removes one.
func (c *Client) PostForm(path string, fields url.Values, header ...string) Resp {
	c.tb.Helper()
	hdr := http.Header{"Content-Type": {"application/x-www-form-urlencoded"}, "Accept": {NavigationAccept},
		"Sec-Fetch-Mode": {"navigate"}, "Sec-Fetch-Dest": {"document"}}
	for i := 0; i+1 < len(header); i += 2 {
		hdr.Del(header[i])
	}
	addPairs(hdr, header)
	var h []string
	for name, vs := range hdr {
		for _, v := range vs {
			if v != "" {
				h = append(h, name, v)
			}
		}
	}
	return c.NoRedirects().Do("POST", path, strings.NewReader(fields.Encode()), h...)
}

// NoRedirects returns a client that shares c's cookies, token and headers
// but does not follow redirects, so that a test sees them.
func (c *Client) NoRedirects() *Client {
	hc := *c.HTTP
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &Client{Base: c.Base, HTTP: &hc, UserAgent: c.UserAgent, Header: c.Header, tb: c.tb, parent: c}
}

// CSRF fetches a CSRF token from /api/getcsrf and returns it.
func (c *Client) CSRF() string {
	c.tb.Helper()
	r := c.Get("/api/getcsrf")
	tok := c.Token()
	if r.Status != 200 || tok == "" {
		c.tb.Fatalf("GET /api/getcsrf: %d %s, token %q", r.Status, r.Raw, tok)
	}
	return tok
}

// Login posts the credentials to /api/login, first fetching a CSRF token
// if the client has none.
func (c *Client) Login(name, pw string, header ...string) Resp {
	c.tb.Helper()
	if c.Token() == "" {
		c.CSRF()
	}
	return c.Post("/api/login", map[string]any{"username": name, "password": pw}, header...)
}

// MustLogin logs in and fails the test if that does not work.
func (c *Client) MustLogin(name, pw string) {
	c.tb.Helper()
	if r := c.Login(name, pw); r.Status != 200 || r.JSON["login"] != true {
		c.tb.Fatalf("login %s: %d %s", name, r.Status, r.Raw)
	}
}

// LoggedIn asks /api/getsession whether the client is logged in.
func (c *Client) LoggedIn() bool {
	c.tb.Helper()
	r := c.Get("/api/getsession")
	if r.Status != 200 {
		c.tb.Fatalf("getsession: %d %s", r.Status, r.Raw)
	}
	return r.JSON["login"] == true
}

// Refresh rotates token mode's tokens: it posts to /api/auth/refresh with
// the csrf_refresh_token cookie's value, as the SPA does.
func (c *Client) Refresh() Resp {
	c.tb.Helper()
	ck := c.Cookie("csrf_refresh_token")
	if ck == nil {
		c.tb.Fatal("no csrf_refresh_token cookie")
	}
	return c.Do("POST", "/api/auth/refresh", nil, "X-CSRF-TOKEN", ck.Value)
}

// Cookies returns the cookies the jar would send with a request for path.
func (c *Client) Cookies(path string) []*http.Cookie {
	c.tb.Helper()
	req, err := http.NewRequest("GET", c.Base+path, nil)
	if err != nil {
		c.tb.Fatal(err)
	}
	return c.HTTP.Jar.Cookies(req.URL)
}

// Cookie returns the jar's cookie named name for the path /, or nil.
func (c *Client) Cookie(name string) *http.Cookie {
	c.tb.Helper()
	for _, ck := range c.Cookies("/") {
		if ck.Name == name {
			return ck
		}
	}
	return nil
}

// SetCookie overwrites a cookie with the path / in the jar, as an attacker
// or a stale tab would.
func (c *Client) SetCookie(name, value string) {
	c.tb.Helper()
	req, err := http.NewRequest("GET", c.Base+"/", nil)
	if err != nil {
		c.tb.Fatal(err)
	}
	c.HTTP.Jar.SetCookies(req.URL, []*http.Cookie{{Name: name, Value: value, Path: "/"}})
}

// Raw sends a request with exactly these cookies and headers, as an
// attacker replaying stolen or stale values would: no jar, no token, Go's
// User-Agent, and an empty JSON object as the body, so that only the
// cookies and headers decide the answer.
func Raw(tb testing.TB, method, url string, cookies map[string]string, header ...string) Resp {
	tb.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader("{}"))
	if err != nil {
		tb.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for name, v := range cookies {
		req.AddCookie(&http.Cookie{Name: name, Value: v})
	}
	addPairs(req.Header, header)
	return read(tb, http.DefaultClient, req)
}

func addPairs(h http.Header, pairs []string) {
	for i := 0; i+1 < len(pairs); i += 2 {
		h.Add(pairs[i], pairs[i+1])
	}
}

// read sends req and reads the response, failing tb on a transport error,
// on a JSON body that does not parse, and on a 5xx but the designed ones:
// 502 and 503 answer for a server behind or a store that is down, and
// tests check those statuses themselves.
func read(tb testing.TB, hc *http.Client, req *http.Request) Resp {
	tb.Helper()
	res, err := hc.Do(req)
	if err != nil {
		tb.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		tb.Fatalf("%s %s: reading the body: %v", req.Method, req.URL, err)
	}
	r := Resp{Status: res.StatusCode, Header: res.Header, Raw: string(raw)}
	if req.Method != "HEAD" && strings.HasPrefix(res.Header.Get("Content-Type"), "application/json") {
		if err := json.Unmarshal(raw, &r.JSON); err != nil {
			tb.Fatalf("%s %s: bad JSON %q: %v", req.Method, req.URL, raw, err)
		}
	}
	if r.Status >= 500 && r.Status != 502 && r.Status != 503 {
		tb.Errorf("%s %s: status %d: %s", req.Method, req.URL, r.Status, raw)
	}
	return r
}
