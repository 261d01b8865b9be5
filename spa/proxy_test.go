package spa_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/latchkey/latchkey/spa"
)

// seen is what the upstream saw of one request.
type seen struct {
	Path, Query, Host, Cookie, XFF, XFHost, XFProto, UserID, Username string
}

// devServer stands in for Vite: GET /@vite/client and friends answer with
// what they saw, /ws echoes websocket messages (hot reload).
func devServer(t *testing.T) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("/ws", func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, &websocket.AcceptOptions{Subprotocols: []string{"vite-hmr"}, InsecureSkipVerify: true})
		if err != nil {
			return
		}
		defer c.CloseNow()
		c.SetReadLimit(1 << 20)
		c.Write(r.Context(), websocket.MessageText, []byte(`{"type":"connected"}`))
		for {
			typ, msg, err := c.Read(r.Context())
			if err != nil {
				return
			}
			if err := c.Write(r.Context(), typ, append([]byte("echo:"), msg...)); err != nil {
				return
			}
		}
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(seen{
			Path: r.URL.Path, Query: r.URL.RawQuery, Host: r.Host, Cookie: r.Header.Get("Cookie"),
			XFF: strings.Join(r.Header.Values("X-Forwarded-For"), ","), XFHost: r.Header.Get("X-Forwarded-Host"),
			XFProto: r.Header.Get("X-Forwarded-Proto"),
			UserID:  r.Header.Get("X-Latchkey-User-Id"), Username: r.Header.Get("X-Latchkey-Username"),
		})
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func proxyTo(t *testing.T, upstream string, opts spa.ProxyOptions) *httptest.Server {
	t.Helper()
	u, err := url.Parse(upstream)
	if err != nil {
		t.Fatal(err)
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	h, err := spa.Proxy(u, opts)
	if err != nil {
		t.Fatalf("Proxy(%s): %v", upstream, err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

func getSeen(t *testing.T, target string, header ...string) seen {
	t.Helper()
	req, _ := http.NewRequest("GET", target, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Add(header[i], header[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("GET %s = %d", target, res.StatusCode)
	}
	var s seen
	if err := json.NewDecoder(res.Body).Decode(&s); err != nil {
		t.Fatal(err)
	}
	return s
}

func TestProxyForwards(t *testing.T) {
	up := devServer(t)
	px := proxyTo(t, up.URL, spa.ProxyOptions{StripCookies: []string{"latchkey_session", "__Host-latchkey_session"}})
	s := getSeen(t, px.URL+"/src/App.svelte?t=123",
		"X-Forwarded-For", "6.6.6.6", "X-Forwarded-Host", "evil.example", "X-Forwarded-Proto", "https",
		"X-Latchkey-User-Id", "1", "X-Latchkey-Username", "admin",
		"Cookie", "latchkey_session=SECRET; theme=dark; __Host-latchkey_session=SECRET2")
	upHost := strings.TrimPrefix(up.URL, "http://")
	pxHost := strings.TrimPrefix(px.URL, "http://")
	want := seen{Path: "/src/App.svelte", Query: "t=123", Host: upHost, Cookie: "theme=dark",
		XFF: "127.0.0.1", XFHost: pxHost, XFProto: "http"}
	if s != want {
		t.Errorf("upstream saw\n %+v\nwant\n %+v", s, want)
	}
}

func TestProxyTrustedForwarded(t *testing.T) {
	up := devServer(t)
	px := proxyTo(t, up.URL, spa.ProxyOptions{TrustForwarded: func(r *http.Request) bool { return true }})
	s := getSeen(t, px.URL+"/", "X-Forwarded-For", "203.0.113.9", "X-Forwarded-Host", "app.example.com", "X-Forwarded-Proto", "https")
	if s.XFF != "203.0.113.9, 127.0.0.1" || s.XFHost != "app.example.com" || s.XFProto != "https" {
		t.Errorf("through a trusted proxy the upstream saw XFF %q, host %q, proto %q", s.XFF, s.XFHost, s.XFProto)
	}
}

func TestProxyUpstreamPath(t *testing.T) {
	up := devServer(t)
	px := proxyTo(t, up.URL+"/app/", spa.ProxyOptions{})
	if s := getSeen(t, px.URL+"/user"); s.Path != "/app/user" {
		t.Errorf("upstream path = %q, want /app/user", s.Path)
	}
}

func TestProxyWebsocket(t *testing.T) {
	up := devServer(t)
	px := proxyTo(t, up.URL, spa.ProxyOptions{})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, res, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(px.URL, "http")+"/ws?token=abc", &websocket.DialOptions{Subprotocols: []string{"vite-hmr"}})
	if err != nil {
		t.Fatalf("websocket through the proxy: %v", err)
	}
	defer c.CloseNow()
	c.SetReadLimit(1 << 20)
	if res.StatusCode != http.StatusSwitchingProtocols || c.Subprotocol() != "vite-hmr" {
		t.Errorf("handshake: status %d, subprotocol %q", res.StatusCode, c.Subprotocol())
	}
	if _, msg, err := c.Read(ctx); err != nil || string(msg) != `{"type":"connected"}` {
		t.Fatalf("first message = %q, %v", msg, err)
	}
	for _, m := range []string{"ping", "update /src/App.svelte", strings.Repeat("x", 100000)} {
		if err := c.Write(ctx, websocket.MessageText, []byte(m)); err != nil {
			t.Fatal(err)
		}
		_, msg, err := c.Read(ctx)
		if err != nil || string(msg) != "echo:"+m {
			t.Fatalf("echo of %.20q = %.30q, %v", m, msg, err)
		}
	}
	if err := c.Close(websocket.StatusNormalClosure, ""); err != nil {
		t.Errorf("close: %v", err)
	}
}

func TestProxyUpstreamDown(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + l.Addr().String()
	l.Close() // nothing listens there now
	px := proxyTo(t, dead, spa.ProxyOptions{})

	for _, tc := range []struct {
		name, accept, wantType, wantBody string
	}{
		{"fetch", "*/*", "application/json", `"code":"bad_gateway"`},
		{"navigation", "text/html,*/*;q=0.8", "text/html; charset=utf-8", "not reachable"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest("GET", px.URL+"/user", nil)
			req.Header.Set("Accept", tc.accept)
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			body, _ := io.ReadAll(res.Body)
			if res.StatusCode != http.StatusBadGateway || res.Header.Get("Content-Type") != tc.wantType || !strings.Contains(string(body), tc.wantBody) {
				t.Errorf("= %d %q %q, want 502 %s containing %q", res.StatusCode, res.Header.Get("Content-Type"), body, tc.wantType, tc.wantBody)
			}
			if strings.Contains(string(body), strings.TrimPrefix(dead, "http://")) {
				t.Errorf("the body reveals the upstream address: %q", body)
			}
		})
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, res, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(px.URL, "http")+"/ws", nil)
	if err == nil || res == nil || res.StatusCode != http.StatusBadGateway {
		t.Errorf("websocket to a dead upstream: err %v, response %v; want a 502", err, res)
	}
}

func TestProxyRejectsBadUpstream(t *testing.T) {
	for _, raw := range []string{"", "localhost:5173", "ftp://host/", "http://", "http://host/?q=1", "http://u:p@host/"} {
		u, _ := url.Parse(raw)
		if _, err := spa.Proxy(u, spa.ProxyOptions{}); err == nil {
			t.Errorf("Proxy(%q) succeeded, want an error", raw)
		}
	}
	if _, err := spa.Proxy(nil, spa.ProxyOptions{}); err == nil {
		t.Error("Proxy(nil) succeeded")
	}
}

// Identity and forwarding headers are latchkey's to set, in any spelling a
// frontend server may read them as; the client's never pass.
func TestProxyOwnHeaders(t *testing.T) {
	var got http.Header
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got = r.Header.Clone() }))
	t.Cleanup(up.Close)
	px := proxyTo(t, up.URL, spa.ProxyOptions{})
	for _, tc := range []struct {
		name   string
		header []string
	}{
		{"canonical", []string{"X-Latchkey-User-Id", "1", "X-Latchkey-Username", "admin"}},
		{"underscores", []string{"X_Latchkey_User_Id", "1", "X_LATCHKEY_USERNAME", "admin"}},
		{"repeated, mixed", []string{"x-latchkey-user-id", "1", "X_latchkey-User_ID", "2", "X-Latchkey-Role", "root"}},
		{"forwarding, underscores", []string{"X_Forwarded_For", "6.6.6.6", "X_FORWARDED_HOST", "evil.example", "x_forwarded_proto", "https"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest("GET", px.URL+"/", nil)
			for i := 0; i+1 < len(tc.header); i += 2 {
				req.Header.Add(tc.header[i], tc.header[i+1])
			}
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			for name, v := range got {
				cgi := strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
				switch {
				case strings.HasPrefix(cgi, "X_LATCHKEY_"):
					t.Errorf("upstream saw %s: %q", name, v)
				case strings.HasPrefix(cgi, "X_FORWARDED_") && (len(v) != 1 || strings.Contains(v[0], "6.6.6.6") || v[0] == "evil.example" || v[0] == "https"):
					t.Errorf("upstream saw %s: %q", name, v)
				}
			}
		})
	}
}

// ProxyOptions.Headers adds the identity after every client spelling of
// latchkey's headers is gone: the upstream sees exactly one of each.
func TestProxyHeaders(t *testing.T) {
	var got http.Header
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got = r.Header.Clone() }))
	t.Cleanup(up.Close)
	px := proxyTo(t, up.URL, spa.ProxyOptions{Headers: func(r *http.Request) http.Header {
		if r.URL.Path == "/anonymous" {
			return nil
		}
		return http.Header{"X-Latchkey-User-Id": {"7"}, "X-Latchkey-Username": {"vic"}}
	}})
	for _, path := range []string{"/notes", "/anonymous"} {
		req, _ := http.NewRequest("GET", px.URL+path, nil)
		for _, name := range []string{"X-Latchkey-User-Id", "x-latchkey-user-id", "X_Latchkey_User_Id", "X-Latchkey_Username", "X-Latchkey-Roles"} {
			req.Header[name] = []string{"999"}
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		want := map[string][]string{"X_LATCHKEY_USER_ID": {"7"}, "X_LATCHKEY_USERNAME": {"vic"}}
		if path == "/anonymous" {
			want = map[string][]string{}
		}
		saw := map[string][]string{}
		for name, v := range got {
			if cgi := strings.ToUpper(strings.ReplaceAll(name, "-", "_")); strings.HasPrefix(cgi, "X_LATCHKEY_") {
				saw[cgi] = append(saw[cgi], v...)
			}
		}
		if fmt.Sprint(saw) != fmt.Sprint(want) {
			t.Errorf("GET %s: upstream saw %v, want %v", path, saw, want)
		}
	}
}

// A page of another origin cannot open a WebSocket through the proxy: the
// handshake carries the user's cookies.
func TestProxyWebsocketOrigin(t *testing.T) {
	up := devServer(t)
	plain := proxyTo(t, up.URL, spa.ProxyOptions{})
	allowed := proxyTo(t, up.URL, spa.ProxyOptions{AllowedOrigins: []string{"http://localhost:5173"}})
	trusted := proxyTo(t, up.URL, spa.ProxyOptions{TrustForwarded: func(*http.Request) bool { return true }})
	for _, tc := range []struct {
		name   string
		px     *httptest.Server
		header []string
		ok     bool
	}{
		{"same origin", plain, []string{"Origin", plain.URL}, true},
		{"no Origin", plain, nil, true},
		{"cross-site", plain, []string{"Origin", "https://evil.example", "Sec-Fetch-Site", "cross-site"}, false},
		{"cross-site, no Fetch Metadata", plain, []string{"Origin", "https://evil.example"}, false},
		{"null", plain, []string{"Origin", "null"}, false},
		{"allowed origin", allowed, []string{"Origin", "http://localhost:5173"}, true},
		{"not allowed", allowed, []string{"Origin", "http://localhost:5174"}, false},
		{"forwarded host, trusted", trusted, []string{"Origin", "https://app.example.com", "X-Forwarded-Host", "app.example.com", "X-Forwarded-Proto", "https"}, true},
		{"forwarded host, Origin of the hop", trusted, []string{"Origin", trusted.URL, "X-Forwarded-Host", "app.example.com"}, false},
		{"forwarded host, untrusted", plain, []string{"Origin", "https://app.example.com", "X-Forwarded-Host", "app.example.com"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := http.Header{}
			for i := 0; i+1 < len(tc.header); i += 2 {
				h.Add(tc.header[i], tc.header[i+1])
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			c, res, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(tc.px.URL, "http")+"/ws", &websocket.DialOptions{HTTPHeader: h})
			if err == nil {
				defer c.CloseNow()
			}
			if tc.ok {
				if err != nil {
					t.Fatalf("handshake: %v", err)
				}
				if _, msg, err := c.Read(ctx); err != nil || string(msg) != `{"type":"connected"}` {
					t.Errorf("first message = %q, %v", msg, err)
				}
				return
			}
			var body []byte
			if res != nil && res.Body != nil {
				body, _ = io.ReadAll(res.Body)
			}
			if err == nil || res == nil || res.StatusCode != http.StatusForbidden || !strings.Contains(string(body), `"csrf_failed"`) {
				t.Errorf("handshake: %v %s, want 403 csrf_failed", err, body)
			}
		})
	}
}

// TestProxyConnectAndLinkPages: CONNECT is not tunnelled to the dev server,
// and the pages a mailed link opens go out with no Referer to leak their
// token, as from the file server.
func TestProxyConnectAndLinkPages(t *testing.T) {
	up := devServer(t)
	px := proxyTo(t, up.URL, spa.ProxyOptions{})
	req, _ := http.NewRequest("CONNECT", px.URL, nil)
	req.URL.Opaque, req.Host = "example.com:443", "example.com:443"
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("CONNECT through the SPA proxy: %d, want 405", res.StatusCode)
	}
	for page, want := range map[string]string{
		"/reset-password?token=1.x": "no-referrer", "/verify-email": "no-referrer", "/confirm-email/": "no-referrer", "/user": "",
	} {
		res, err := http.Get(px.URL + page)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if got := res.Header.Get("Referrer-Policy"); got != want {
			t.Errorf("%s: Referrer-Policy %q, want %q", page, got, want)
		}
	}
}
