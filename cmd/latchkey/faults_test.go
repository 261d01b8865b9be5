package main

import (
	"net"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/apitest"
)

// proxy is a TCP proxy a test can cut (connections refused and reset) or
// blackhole (connections accepted, bytes held back: a hung or very slow
// server), and restore.
type proxy struct {
	ln     net.Listener
	target string

	mu    sync.Mutex
	mode  string // "forward", "cut" or "blackhole"
	open  chan struct{}
	conns map[net.Conn]struct{}
}

func startProxy(t *testing.T, target string) *proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{ln: ln, target: target, mode: "forward", open: make(chan struct{}), conns: map[net.Conn]struct{}{}}
	close(p.open)
	go p.serve()
	t.Cleanup(func() {
		ln.Close()
		p.set("forward")
		p.closeAll()
	})
	return p
}

func (p *proxy) addr() string { return p.ln.Addr().String() }

// set switches the mode. Cutting resets every connection; blackholing
// stalls them; restoring lets held bytes through.
func (p *proxy) set(mode string) {
	p.mu.Lock()
	prev := p.mode
	p.mode = mode
	switch {
	case mode == "blackhole" && prev != "blackhole":
		p.open = make(chan struct{})
	case mode != "blackhole" && prev == "blackhole":
		close(p.open)
	}
	p.mu.Unlock()
	if mode == "cut" {
		p.closeAll()
	}
}

func (p *proxy) closeAll() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.conns {
		c.Close()
	}
	clear(p.conns)
}

func (p *proxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.mode == "cut" {
		c.Close()
		return false
	}
	p.conns[c] = struct{}{}
	return true
}

func (p *proxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		if !p.track(c) {
			continue
		}
		go func() {
			up, err := net.DialTimeout("tcp", p.target, 2*time.Second)
			if err != nil || !p.track(up) {
				c.Close()
				return
			}
			go p.pipe(up, c)
			p.pipe(c, up)
		}()
	}
}

// pipe copies src to dst, holding each chunk while the proxy blackholes.
func (p *proxy) pipe(dst, src net.Conn) {
	defer dst.Close()
	defer src.Close()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			p.mu.Lock()
			open := p.open
			p.mu.Unlock()
			<-open
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return // EOF or a reset: the deferred closes pass it on
		}
	}
}

// TestStoreFaults runs serve on PostgreSQL and Redis through proxies and
// breaks each in turn: requests that need the broken store answer 503
// store_unavailable quickly, never a logged-in answer and never a fresh
// anonymous one that hides the fault; /readyz says so; and when the store
// comes back, so does the service, without a restart.
func TestStoreFaults(t *testing.T) {
	dsn, redisAddr, prefix := sharedStoreParts(t)
	pgURL, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	pg := startProxy(t, pgURL.Host)
	pgURL.Host = pg.addr()
	rd := startProxy(t, redisAddr)
	const timeout = 300 * time.Millisecond
	s := startServe(t, map[string]string{"LATCHKEY_SECRET": sharedSecret}, append([]string{"--data", t.TempDir(),
		"--user-store", pgURL.String(), "--session-store", "redis://" + rd.addr() + "?prefix=" + prefix,
		"--store-timeout", timeout.String()}, fastArgon2...)...)

	br := newBrowser(t)
	br.do("GET", s.url, "/api/getcsrf", nil)
	if r := br.do("POST", s.url, "/api/register", creds("alice", alicePassword)); r.Status != 201 {
		t.Fatalf("register: %d %v", r.Status, r.JSON)
	}
	healthy := func(what string) {
		t.Helper()
		// The first request after a restore may still meet a connection
		// broken during the fault; a pool drops it and the next one works.
		var r apitest.Resp
		for range 20 {
			if r = br.do("GET", s.url, "/api/getsession", nil); r.Status == 200 {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		if r.Status != 200 || r.JSON["login"] != true {
			t.Fatalf("%s: getsession %d %v, want logged in", what, r.Status, r.JSON)
		}
		if r := br.do("GET", s.url, "/readyz", nil); r.Status != 200 {
			t.Errorf("%s: /readyz %d, want 200", what, r.Status)
		}
	}
	// unavailable checks that every request needing the store fails fast
	// with 503 store_unavailable, also when many arrive at once.
	unavailable := func(what string) {
		t.Helper()
		const n = 12
		var wg sync.WaitGroup
		replies := make([]apitest.Resp, n)
		took := make([]time.Duration, n)
		paths := []string{"/api/getsession", "/api/data", "/api/getcsrf"}
		for i := range n {
			wg.Go(func() {
				start := time.Now()
				replies[i] = br.do("GET", s.url, paths[i%len(paths)], nil)
				took[i] = time.Since(start)
			})
		}
		wg.Wait()
		for i, r := range replies {
			if r.Status != 503 || r.ErrCode() != "store_unavailable" {
				t.Errorf("%s: GET %s: %d %v, want 503 store_unavailable", what, paths[i%len(paths)], r.Status, r.JSON)
			}
			if strings.Contains(strings.Join(r.Header.Values("Set-Cookie"), ";"), "latchkey_session=;") {
				t.Errorf("%s: GET %s cleared the session cookie", what, paths[i%len(paths)])
			}
			// The timeout, plus a wait for a pooled connection, plus slack
			// for a shared CI machine: far below a pile-up.
			if took[i] > 8*timeout+time.Second {
				t.Errorf("%s: GET %s took %v, want about %v", what, paths[i%len(paths)], took[i], timeout)
			}
		}
		if r := br.do("GET", s.url, "/readyz", nil); r.Status != 503 {
			t.Errorf("%s: /readyz %d, want 503", what, r.Status)
		}
		// A new login cannot start a session it could not store.
		fresh := newBrowser(t)
		fresh.do("GET", s.url, "/api/getcsrf", nil)
		r := fresh.do("POST", s.url, "/api/login", creds("alice", alicePassword))
		if r.Status != 503 || r.ErrCode() != "store_unavailable" {
			t.Errorf("%s: login: %d %v, want 503 store_unavailable", what, r.Status, r.JSON)
		}
		for _, c := range r.Header.Values("Set-Cookie") {
			if strings.HasPrefix(c, "latchkey_session=") && !strings.HasPrefix(c, "latchkey_session=;") {
				t.Errorf("%s: login set a session cookie: %s", what, c)
			}
		}
	}

	healthy("before any fault")
	for _, fault := range []struct {
		name  string
		proxy *proxy
		mode  string
	}{
		{"Redis cut", rd, "cut"},
		{"Redis blackholed", rd, "blackhole"},
		{"PostgreSQL cut", pg, "cut"},
		{"PostgreSQL blackholed", pg, "blackhole"},
	} {
		fault.proxy.set(fault.mode)
		unavailable(fault.name)
		fault.proxy.set("forward")
		healthy("after " + fault.name)
	}
}
