package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"go.yaml.in/yaml/v3"

	"github.com/latchkey/latchkey/internal/apitest"
	"github.com/latchkey/latchkey/internal/testenv"
)

// sharedSecret is what every instance of a test deployment signs with.
var sharedSecret = strings.Repeat("k", 32) + "-shared-by-every-instance"

// sharedStores returns the store flags of a deployment on the test
// PostgreSQL (a fresh schema) and Redis (a fresh key prefix), both cleaned
// up when the test ends.
func sharedStores(t *testing.T) []string {
	t.Helper()
	dsn, addr, prefix := sharedStoreParts(t)
	return []string{"--user-store", dsn, "--session-store", "redis://" + addr + "?prefix=" + prefix}
}

// sharedStoreParts returns what sharedStores makes its flags of: a DSN on a
// fresh schema, the Redis address and a fresh key prefix.
func sharedStoreParts(t *testing.T) (dsn, redisAddr, prefix string) {
	t.Helper()
	dsn = testenv.PostgresDSN(t)
	addr := testenv.Env(t, "LATCHKEY_TEST_REDIS_ADDR", testenv.RedisHint)
	prefix = fmt.Sprintf("latchkey-test:%d:%d:", os.Getpid(), time.Now().UnixNano())
	t.Cleanup(func() {
		c := redis.NewClient(&redis.Options{Addr: addr})
		defer c.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		iter := c.Scan(ctx, 0, prefix+"*", 500).Iterator()
		for iter.Next(ctx) {
			c.Del(ctx, iter.Val())
		}
	})
	return dsn, addr, prefix
}

// instance is a latchkey serve process.
type instance struct {
	url  string
	addr string
	logs *testenv.Buffer
}

// startInstance runs bin serve on a free port with the shared secret until
// the test ends, and waits until it listens.
func startInstance(t *testing.T, bin string, args ...string) *instance {
	t.Helper()
	args = append(append([]string{"serve", "--addr", "127.0.0.1:0", "--data", t.TempDir(), "--log-level", "warn"}, fastArgon2...), args...)
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "LATCHKEY_SECRET="+sharedSecret)
	logs := &testenv.Buffer{}
	cmd.Stderr = logs
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting latchkey: %v", err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
		}
		// A -race binary (see testenv.Binary) reports races on stderr.
		if strings.Contains(logs.String(), "WARNING: DATA RACE") {
			t.Errorf("latchkey %v reported a data race", args)
		}
		if t.Failed() {
			t.Logf("latchkey %v log:\n%s", args, logs.String())
		}
	})
	lines := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(stdout).ReadString('\n')
		lines <- line
		io.Copy(io.Discard, stdout)
	}()
	select {
	case line := <-lines:
		url := strings.TrimSpace(strings.TrimPrefix(line, "latchkey listening on "))
		if !strings.HasPrefix(url, "http://") {
			t.Fatalf("latchkey did not start: %q\n%s", line, logs.String())
		}
		return &instance{url: url, addr: strings.TrimPrefix(url, "http://"), logs: logs}
	case <-time.After(30 * time.Second):
		t.Fatalf("latchkey did not start in time:\n%s", logs.String())
		return nil
	}
}

// startPair runs two instances of the binary as one deployment: one
// secret, a fresh PostgreSQL schema for users and a fresh Redis prefix for
// sessions, and the extra serve flags (such as the token mode) on both. It
// returns the instances and the store flags, for the CLI.
func startPair(t *testing.T, extra ...string) (a, b *instance, stores []string) {
	t.Helper()
	stores = sharedStores(t)
	bin := testenv.Binary(t, ".")
	args := append(slices.Clone(stores), extra...)
	return startInstance(t, bin, args...), startInstance(t, bin, args...), stores
}

// browser is a client that behaves like a browser page: one cookie jar for
// the host whatever the port (as browsers do), the CSRF token from the
// last response sent with every request, and same-origin Fetch Metadata
// for whichever instance it talks to.
type browser struct {
	*apitest.Client
	t *testing.T
}

func newBrowser(t *testing.T) *browser {
	c := apitest.New(t, "") // paths are whole URLs: an instance's, then the path
	c.HTTP.Timeout = 10 * time.Second
	c.UserAgent = "Mozilla/5.0 (latchkey test browser)"
	return &browser{Client: c, t: t}
}

// do sends a request to the instance at base, with body as JSON unless it
// is nil.
func (b *browser) do(method, base, path string, body any) apitest.Resp {
	b.t.Helper()
	h := []string{"Origin", base, "Sec-Fetch-Site", "same-origin"}
	if tok := b.Token(); tok != "" {
		h = append(h, "X-CSRFToken", tok)
	}
	var rd io.Reader
	if body != nil {
		j, _ := json.Marshal(body)
		rd = bytes.NewReader(j)
		h = append(h, "Content-Type", "application/json")
	}
	return b.Do(method, base+path, rd, h...)
}

func (b *browser) loggedIn(base string) bool {
	b.t.Helper()
	r := b.do("GET", base, "/api/getsession", nil)
	if r.Status != 200 {
		b.t.Fatalf("getsession on %s: %d %v", base, r.Status, r.JSON)
	}
	return r.JSON["login"] == true
}

func creds(name, pw string) map[string]any {
	return map[string]any{"username": name, "password": pw}
}

const alicePassword = "correct horse battery staple"

// TestTwoInstances runs two latchkey processes on one PostgreSQL and one
// Redis: whatever one does, the other sees at once.
func TestTwoInstances(t *testing.T) {
	a, b, stores := startPair(t)

	br := newBrowser(t)
	br.do("GET", a.url, "/api/getcsrf", nil)
	if r := br.do("POST", a.url, "/api/register", creds("alice", alicePassword)); r.Status != 201 {
		t.Fatalf("register through A: %d %v", r.Status, r.JSON)
	}
	if !br.loggedIn(b.url) {
		t.Fatal("the session made on A is not logged in on B")
	}
	if r := br.do("GET", b.url, "/api/data", nil); r.Status != 200 || r.JSON["username"] != "alice" {
		t.Errorf("data through B: %d %v", r.Status, r.JSON)
	}

	// A CSRF token issued by A works on B (and a wrong one does not).
	br.do("GET", a.url, "/api/getcsrf", nil)
	good := br.Token()
	br.SetToken(good[:len(good)-2] + "xx")
	if r := br.do("POST", b.url, "/api/login", creds("alice", alicePassword)); r.Status != 403 {
		t.Errorf("login on B with a corrupted token: %d %v, want 403", r.Status, r.JSON)
	}
	br.SetToken(good)
	if r := br.do("POST", b.url, "/api/login", creds("alice", alicePassword)); r.Status != 200 {
		t.Fatalf("login on B with A's token: %d %v", r.Status, r.JSON)
	}

	// Log out on B with a token from A: the session is dead on A at once.
	br.do("GET", a.url, "/api/getcsrf", nil)
	if r := br.do("POST", b.url, "/api/logout", map[string]any{}); r.Status != 200 {
		t.Fatalf("logout on B: %d %v", r.Status, r.JSON)
	}
	// The jar dropped the cookie; replaying it is what an attacker would do.
	replay := newBrowser(t)
	br2 := newBrowser(t)
	br2.do("GET", a.url, "/api/getcsrf", nil)
	if r := br2.do("POST", a.url, "/api/login", creds("alice", alicePassword)); r.Status != 200 {
		t.Fatalf("login on A: %d %v", r.Status, r.JSON)
	}
	u, _ := http.NewRequest("GET", a.url, nil)
	replay.HTTP.Jar.SetCookies(u.URL, br2.HTTP.Jar.Cookies(u.URL))
	if !replay.loggedIn(a.url) {
		t.Fatal("a copy of the session cookie is not logged in")
	}
	br2.do("GET", b.url, "/api/getcsrf", nil)
	if r := br2.do("POST", b.url, "/api/logout", map[string]any{}); r.Status != 200 {
		t.Fatalf("logout on B: %d %v", r.Status, r.JSON)
	}
	if replay.loggedIn(a.url) {
		t.Error("after logout on B, the old session cookie is still logged in on A")
	}
	if r := replay.do("GET", a.url, "/api/data", nil); r.Status != 401 {
		t.Errorf("data on A after logout on B: %d, want 401", r.Status)
	}

	// The same username registered through both at once: one user.
	const n = 8
	var wg sync.WaitGroup
	results := make([]apitest.Resp, n)
	start := make(chan struct{})
	for i := range n {
		inst := []*instance{a, b}[i%2]
		c := newBrowser(t)
		c.do("GET", inst.url, "/api/getcsrf", nil)
		wg.Go(func() {
			<-start
			results[i] = c.do("POST", inst.url, "/api/register", creds("Bob", "bob's own long password"))
		})
	}
	close(start)
	wg.Wait()
	created, taken := 0, 0
	for _, r := range results {
		switch {
		case r.Status == 201:
			created++
		case r.Status == 409 && r.ErrCode() == "username_taken":
			taken++
		default:
			t.Errorf("concurrent register: %d %v", r.Status, r.JSON)
		}
	}
	if created != 1 || taken != n-1 {
		t.Errorf("concurrent registrations through both instances: %d created, %d taken; want 1 and %d", created, taken, n-1)
	}
	out, err := runCmd(t, "", append([]string{"user", "list", "--data", t.TempDir()}, stores...)...)
	if err != nil || strings.Count(strings.ToLower(out), "bob") != 1 {
		t.Errorf("user list: %v\n%s", err, out)
	}
}

// TestTwoInstancesAccountRules: a password change from the CLI ends the
// user's sessions on both instances, and a look-alike name is refused
// through either.
func TestTwoInstancesAccountRules(t *testing.T) {
	a, b, stores := startPair(t)
	onA, onB := newBrowser(t), newBrowser(t)
	onA.do("GET", a.url, "/api/getcsrf", nil)
	if r := onA.do("POST", a.url, "/api/register", creds("carol", "carol's long password")); r.Status != 201 {
		t.Fatalf("register through A: %d %v", r.Status, r.JSON)
	}
	onB.do("GET", b.url, "/api/getcsrf", nil)
	if r := onB.do("POST", b.url, "/api/login", creds("carol", "carol's long password")); r.Status != 200 {
		t.Fatalf("login through B: %d %v", r.Status, r.JSON)
	}
	args := append(append([]string{"user", "passwd", "--password-stdin", "--data", t.TempDir()}, stores...), "carol")
	if out, err := runCmd(t, "carol's brand-new password\n", args...); err != nil {
		t.Fatalf("user passwd: %v\n%s", err, out)
	}
	for _, br := range []*browser{onA, onB} {
		for _, inst := range []*instance{a, b} {
			if br.loggedIn(inst.url) {
				t.Errorf("a session made before the password change is logged in on %s", inst.url)
			}
		}
	}
	look := newBrowser(t)
	look.do("GET", b.url, "/api/getcsrf", nil)
	if r := look.do("POST", b.url, "/api/register", creds("c\u0430rol", "another long password")); r.Status != 409 || r.ErrCode() != "username_taken" {
		t.Errorf("look-alike of carol through B: %d %v, want 409 username_taken", r.Status, r.JSON)
	}
}

// TestTwoInstancesShareLoginThrottle: failed logins count in the shared
// store, so spreading them over the instances buys an attacker nothing.
func TestTwoInstancesShareLoginThrottle(t *testing.T) {
	a, b, _ := startPair(t, "--login-burst", "3", "--login-refill", "1h")
	br := newBrowser(t)
	br.do("GET", a.url, "/api/getcsrf", nil)
	if r := br.do("POST", a.url, "/api/register", creds("alice", alicePassword)); r.Status != 201 {
		t.Fatalf("register through A: %d %v", r.Status, r.JSON)
	}
	insts := []*instance{a, b}
	for i := range 3 {
		if r := br.do("POST", insts[i%2].url, "/api/login", creds("alice", "not alice's password")); r.Status != 401 {
			t.Fatalf("failure %d (on %s): %d %v, want 401", i+1, []string{"A", "B"}[i%2], r.Status, r.JSON)
		}
	}
	for i, inst := range insts {
		name := []string{"A", "B"}[i]
		r := br.do("POST", inst.url, "/api/login", creds("alice", "not alice's password"))
		if r.Status != 429 || r.ErrCode() != "too_many_attempts" || !retryAfterAbout(r, 3600) {
			t.Errorf("4th failure in all, on %s: got %d %v (Retry-After %q), want 429 too_many_attempts after about 3600 s",
				name, r.Status, r.JSON, r.Header.Get("Retry-After"))
		}
		if r := br.do("POST", inst.url, "/api/login", creds("alice", alicePassword)); r.Status != 429 {
			t.Errorf("the right password on %s with the bucket empty: got %d %v, want 429", name, r.Status, r.JSON)
		}
	}
	// The same client with another username is not held up.
	if r := br.do("POST", b.url, "/api/login", creds("bob", "not bob's password")); r.Status != 401 {
		t.Errorf("another username from the same client: got %d %v, want 401", r.Status, r.JSON)
	}
}

// sessionBackends are the shared stores that count attempts for a pair of
// instances: sessions (and attempts) in Redis, or everything in PostgreSQL.
var sessionBackends = []struct {
	name   string
	stores func(t *testing.T) []string
}{
	{"redis", sharedStores},
	{"postgres", func(t *testing.T) []string { return []string{"--user-store", testenv.PostgresDSN(t)} }},
}

// startPairOn starts two instances on stores with the extra flags.
func startPairOn(t *testing.T, stores []string, extra ...string) (a, b *instance) {
	t.Helper()
	bin := testenv.Binary(t, ".")
	args := append(slices.Clone(stores), extra...)
	return startInstance(t, bin, args...), startInstance(t, bin, args...)
}

// TestTwoInstancesShareClientBudgets: failed logins across usernames and
// registrations count per client in the shared store, so spreading them
// over the instances buys a sprayer or a sign-up flood nothing.
func TestTwoInstancesShareClientBudgets(t *testing.T) {
	for _, be := range sessionBackends {
		t.Run(be.name, func(t *testing.T) {
			a, b := startPairOn(t, be.stores(t), "--login-ip-burst", "3", "--login-ip-refill", "1h", "--register-burst", "2", "--register-refill", "1h")
			insts, names := []*instance{a, b}, []string{"A", "B"}
			br := newBrowser(t)
			br.do("GET", a.url, "/api/getcsrf", nil)
			for i, name := range []string{"alice", "bob"} {
				if r := br.do("POST", insts[i].url, "/api/register", creds(name, alicePassword)); r.Status != 201 {
					t.Fatalf("register %s through %s: %d %v", name, names[i], r.Status, r.JSON)
				}
			}
			for i, inst := range insts {
				r := br.do("POST", inst.url, "/api/register", creds("carol", alicePassword))
				if r.Status != 429 || r.ErrCode() != "too_many_attempts" || !retryAfterAbout(r, 3600) {
					t.Errorf("3rd registration in all, on %s: got %d %v (Retry-After %q), want 429 too_many_attempts after about 3600 s",
						names[i], r.Status, r.JSON, r.Header.Get("Retry-After"))
				}
			}
			for i := range 3 {
				if r := br.do("POST", insts[i%2].url, "/api/login", creds(fmt.Sprintf("user%d", i), "Summer2026!")); r.Status != 401 {
					t.Fatalf("failure %d (on %s): %d %v, want 401", i+1, names[i%2], r.Status, r.JSON)
				}
			}
			for i, inst := range insts {
				r := br.do("POST", inst.url, "/api/login", creds("user3", "Summer2026!"))
				if r.Status != 429 || r.ErrCode() != "too_many_attempts" || !retryAfterAbout(r, 3600) {
					t.Errorf("4th username in all, on %s: got %d %v (Retry-After %q), want 429 too_many_attempts after about 3600 s",
						names[i], r.Status, r.JSON, r.Header.Get("Retry-After"))
				}
				if r := br.do("POST", inst.url, "/api/login", creds("alice", alicePassword)); r.Status != 429 {
					t.Errorf("alice's right password on %s with the client's budget spent: got %d %v, want 429", names[i], r.Status, r.JSON)
				}
			}
		})
	}
}

// TestTwoInstancesConcurrentGuesses: guesses sent at once through both
// instances get no more password checks than --login-burst, because each
// takes its token from the shared bucket before hashing.
func TestTwoInstancesConcurrentGuesses(t *testing.T) {
	const n, burst = 24, 3
	for _, be := range sessionBackends {
		t.Run(be.name, func(t *testing.T) {
			a, b := startPairOn(t, be.stores(t), "--login-burst", fmt.Sprint(burst), "--login-refill", "1h")
			insts := []*instance{a, b}
			br := newBrowser(t)
			br.do("GET", a.url, "/api/getcsrf", nil)
			if r := br.do("POST", a.url, "/api/register", creds("alice", alicePassword)); r.Status != 201 {
				t.Fatalf("register: %d %v", r.Status, r.JSON)
			}
			results := make([]apitest.Resp, n)
			var wg sync.WaitGroup
			start := make(chan struct{})
			for i := range n {
				inst := insts[i%2]
				c := newBrowser(t)
				c.do("GET", inst.url, "/api/getcsrf", nil)
				wg.Go(func() {
					<-start
					results[i] = c.do("POST", inst.url, "/api/login", creds("alice", fmt.Sprintf("guess %d", i)))
				})
			}
			close(start)
			wg.Wait()
			statuses := map[int]int{}
			for _, r := range results {
				statuses[r.Status]++
			}
			if statuses[401] > burst || statuses[401]+statuses[429] != n {
				t.Errorf("%d concurrent wrong guesses through both instances, --login-burst %d: statuses %v; want at most %d 401s, the rest 429",
					n, burst, statuses, burst)
			}
			if r := br.do("POST", b.url, "/api/login", creds("alice", alicePassword)); r.Status != 429 {
				t.Errorf("the right password after the guesses: got %d %v, want 429", r.Status, r.JSON)
			}
		})
	}
}

// freePort returns a loopback port nothing listens on (just now).
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// startNginx runs nginx with deploy/nginx/load-balancer.conf in front of
// the instances and returns its URL and access log path. The log records
// which instance served each request.
func startNginx(t *testing.T, a, b *instance) (url, accessLog string) {
	t.Helper()
	bin := testenv.LookPath(t, "nginx", "apt-get install nginx")
	raw, err := os.ReadFile("../../deploy/nginx/load-balancer.conf")
	if err != nil {
		t.Fatal(err)
	}
	// Other test processes on the machine may take the port between
	// freePort and nginx's bind; then nginx exits and we try another.
	for attempt := 1; ; attempt++ {
		url, accessLog, err := runNginx(t, bin, string(raw), a, b)
		if err == nil {
			return url, accessLog
		}
		if attempt == 3 || !errors.Is(err, errNginxExited) {
			t.Fatal(err)
		}
	}
}

var errNginxExited = errors.New("nginx exited")

func runNginx(t *testing.T, bin, lbConf string, a, b *instance) (url, accessLog string, err error) {
	t.Helper()
	dir := t.TempDir()
	port := freePort(t)
	conf := strings.NewReplacer("${LATCHKEY_A}", a.addr, "${LATCHKEY_B}", b.addr,
		"${LB_LISTEN}", fmt.Sprintf("127.0.0.1:%d", port)).Replace(lbConf)
	if strings.Contains(conf, "${") {
		t.Fatalf("load-balancer.conf has a placeholder the test does not fill:\n%s", conf)
	}
	if err := os.WriteFile(filepath.Join(dir, "load-balancer.conf"), []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	user := ""
	if os.Geteuid() == 0 {
		user = "user root;" // workers must write the temp directories under t.TempDir
	}
	accessLog = filepath.Join(dir, "access.log")
	main := fmt.Sprintf(`%s
worker_processes 1;
pid %[2]s/nginx.pid;
error_log %[2]s/error.log warn;
events { worker_connections 64; }
http {
    log_format upstream '$upstream_addr $status $request_method $uri';
    access_log %[2]s/access.log upstream;
    client_body_temp_path %[2]s/client_body;
    proxy_temp_path %[2]s/proxy;
    fastcgi_temp_path %[2]s/fastcgi;
    uwsgi_temp_path %[2]s/uwsgi;
    scgi_temp_path %[2]s/scgi;
    include %[2]s/load-balancer.conf;
}
`, user, dir)
	if err := os.WriteFile(filepath.Join(dir, "nginx.conf"), []byte(main), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-p", dir, "-e", filepath.Join(dir, "error.log"), "-c", filepath.Join(dir, "nginx.conf"), "-g", "daemon off;")
	out := &testenv.Buffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting nginx: %v", err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGQUIT)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			errLog, _ := os.ReadFile(filepath.Join(dir, "error.log"))
			t.Logf("nginx output:\n%s\nerror.log:\n%s", out.String(), errLog)
		}
	})
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			// Listening, but is it our nginx? If it exited, the port is
			// someone else's.
			select {
			case <-exited:
				return "", "", errNginxExited
			case <-time.After(100 * time.Millisecond):
			}
			return "http://" + addr, accessLog, nil
		}
		select {
		case <-exited:
			errLog, _ := os.ReadFile(filepath.Join(dir, "error.log"))
			return "", "", fmt.Errorf("%w: %s\n%s", errNginxExited, out.String(), errLog)
		default:
		}
		if time.Now().After(deadline) {
			errLog, _ := os.ReadFile(filepath.Join(dir, "error.log"))
			return "", "", fmt.Errorf("nginx does not listen on %s: %v\n%s\n%s", addr, err, out.String(), errLog)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestBehindLoadBalancer puts the two instances behind nginx with the
// deploy/ configuration: a browser logs in and stays logged in across
// requests that alternate between the instances, in each token mode (in
// jwt mode it also refreshes its tokens now and then, wherever that lands).
func TestBehindLoadBalancer(t *testing.T) {
	testenv.LookPath(t, "nginx", "apt-get install nginx")
	for _, mode := range []struct {
		name string
		args []string
	}{
		{"session", nil},
		{"jwt", jwtArgs},
	} {
		t.Run(mode.name, func(t *testing.T) {
			a, b, _ := startPair(t, mode.args...)
			lb, accessLog := startNginx(t, a, b)
			browseThrough(t, lb, mode.name == "jwt")
			checkRoundRobin(t, accessLog, a, b)
			if r := newBrowser(t).do("GET", lb, "/metrics", nil); r.Status != 404 {
				t.Errorf("GET /metrics through the load balancer: %d, want 404 (the instances serve it, nginx does not pass it on)", r.Status)
			}
		})
	}
}

// requestsPerVisit is how many requests browseThrough sends, at least.
const requestsPerVisit = 25

// browseThrough registers, logs out and in, and browses through the load
// balancer at lb; with refresh, it rotates its tokens every few requests.
func browseThrough(t *testing.T, lb string, refresh bool) {
	t.Helper()
	br := newBrowser(t)
	br.do("GET", lb, "/api/getcsrf", nil)
	if r := br.do("POST", lb, "/api/register", creds("alice", alicePassword)); r.Status != 201 {
		t.Fatalf("register: %d %v", r.Status, r.JSON)
	}
	br.do("GET", lb, "/api/getcsrf", nil)
	if r := br.do("POST", lb, "/api/logout", map[string]any{}); r.Status != 200 {
		t.Fatalf("logout: %d %v", r.Status, r.JSON)
	}
	if r := br.do("POST", lb, "/api/login", creds("alice", alicePassword)); r.Status != 200 {
		t.Fatalf("login: %d %v", r.Status, r.JSON)
	}
	for i := range requestsPerVisit - 5 {
		if r := br.do("GET", lb, "/api/getsession", nil); r.Status != 200 || r.JSON["login"] != true {
			t.Fatalf("getsession %d: %d %v", i, r.Status, r.JSON)
		}
		if i%5 == 4 { // a CSRF token from whichever instance answers
			br.do("GET", lb, "/api/getcsrf", nil)
			if refresh {
				if r := br.do("POST", lb, "/api/auth/refresh", nil); r.Status != 200 {
					t.Fatalf("refresh %d: %d %v", i, r.Status, r.JSON)
				}
			}
		}
	}
	if r := br.do("POST", lb, "/api/logout", map[string]any{}); r.Status != 200 {
		t.Fatalf("logout: %d %v", r.Status, r.JSON)
	}
	if br.loggedIn(lb) {
		t.Error("logged in after logout")
	}
}

// checkRoundRobin checks in nginx's access log that both instances served
// a fair share of a visit's requests.
func checkRoundRobin(t *testing.T, accessLog string, a, b *instance) {
	t.Helper()
	// nginx writes the access log line after the response; give it a moment.
	var served map[string]int
	for range 50 {
		raw, _ := os.ReadFile(accessLog)
		served = map[string]int{}
		for _, line := range strings.Split(strings.TrimSpace(string(raw)), "\n") {
			if up, _, ok := strings.Cut(line, " "); ok {
				served[up]++
			}
		}
		if served[a.addr]+served[b.addr] >= requestsPerVisit {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("requests served per instance: %v", served)
	if n := requestsPerVisit - 5; served[a.addr] < n/3 || served[b.addr] < n/3 {
		t.Errorf("requests served: %v; want both %s and %s to serve many (round robin)", served, a.addr, b.addr)
	}
}

// TestComposeFile checks deploy/compose.yaml, which CI cannot run (no
// Docker): two latchkey replicas on shared PostgreSQL and Redis with one
// secret, and nginx rendering the load-balancer.conf the test above runs.
func TestComposeFile(t *testing.T) {
	raw, err := os.ReadFile("../../deploy/compose.yaml")
	if err != nil {
		t.Fatal(err)
	}
	type service struct {
		Image       string            `yaml:"image"`
		Command     []string          `yaml:"command"`
		Environment map[string]string `yaml:"environment"`
		Volumes     []string          `yaml:"volumes"`
		Ports       []string          `yaml:"ports"`
		DependsOn   any               `yaml:"depends_on"`
	}
	var c struct {
		Services map[string]service `yaml:"services"`
	}
	if err := yaml.Unmarshal(raw, &c); err != nil {
		t.Fatalf("compose.yaml: %v", err)
	}
	for _, name := range []string{"latchkey-a", "latchkey-b", "lb", "postgres", "redis"} {
		if _, ok := c.Services[name]; !ok {
			t.Errorf("service %s missing", name)
		}
	}
	var secrets []string
	for _, name := range []string{"latchkey-a", "latchkey-b"} {
		s := c.Services[name]
		env := s.Environment
		if !strings.HasPrefix(env["LATCHKEY_USER_STORE"], "postgres://") || !strings.Contains(env["LATCHKEY_USER_STORE"], "@postgres:5432/") {
			t.Errorf("%s: LATCHKEY_USER_STORE %q, want the postgres service", name, env["LATCHKEY_USER_STORE"])
		}
		if !strings.HasPrefix(env["LATCHKEY_SESSION_STORE"], "redis://redis:6379") {
			t.Errorf("%s: LATCHKEY_SESSION_STORE %q, want the redis service", name, env["LATCHKEY_SESSION_STORE"])
		}
		if env["LATCHKEY_ADDR"] != "0.0.0.0:8080" {
			t.Errorf("%s: LATCHKEY_ADDR %q, want 0.0.0.0:8080", name, env["LATCHKEY_ADDR"])
		}
		if len(s.Command) == 0 || s.Command[0] != "serve" {
			t.Errorf("%s: command %v, want serve", name, s.Command)
		}
		deps := fmt.Sprint(s.DependsOn)
		if !strings.Contains(deps, "postgres") || !strings.Contains(deps, "redis") {
			t.Errorf("%s: depends_on %s, want postgres and redis", name, deps)
		}
		secrets = append(secrets, env["LATCHKEY_SECRET"])
		// Each flag named in the environment must exist, or serve refuses to start.
		for k := range env {
			flagName := strings.ReplaceAll(strings.ToLower(strings.TrimPrefix(k, "LATCHKEY_")), "_", "-")
			if k == "LATCHKEY_SECRET" {
				continue
			}
			if _, err := runCmd(t, "", "serve", "--"+flagName+"=x", "--help"); err != nil && strings.Contains(err.Error(), "flag provided but not defined") {
				t.Errorf("%s: %s names no serve flag", name, k)
			}
		}
	}
	if secrets[0] == "" || secrets[0] != secrets[1] || !strings.HasPrefix(secrets[0], "${LATCHKEY_SECRET") {
		t.Errorf("LATCHKEY_SECRET: %q, want the same required ${LATCHKEY_SECRET…} in both replicas", secrets)
	}
	lb := c.Services["lb"]
	mounted := false
	for _, v := range lb.Volumes {
		if strings.HasPrefix(v, "./nginx/load-balancer.conf:/etc/nginx/templates/") {
			mounted = true
		}
	}
	if !mounted {
		t.Errorf("lb: volumes %v, want ./nginx/load-balancer.conf mounted as a template", lb.Volumes)
	}
	if lb.Environment["LATCHKEY_A"] != "latchkey-a:8080" || lb.Environment["LATCHKEY_B"] != "latchkey-b:8080" || lb.Environment["LB_LISTEN"] == "" {
		t.Errorf("lb: environment %v, want LATCHKEY_A/B naming the replicas and LB_LISTEN", lb.Environment)
	}
	// Every ${VAR} in the nginx config is set by the lb service; nginx's own
	// $variables have no braces there.
	conf, err := os.ReadFile("../../deploy/nginx/load-balancer.conf")
	if err != nil {
		t.Fatal(err)
	}
	for _, part := range strings.Split(string(conf), "${")[1:] {
		name, _, _ := strings.Cut(part, "}")
		if _, ok := lb.Environment[name]; !ok {
			t.Errorf("load-balancer.conf uses ${%s}, which the lb service does not set", name)
		}
	}
}

// retryAfterAbout reports whether r's Retry-After is want seconds, less
// the few seconds a loaded machine may take between the attempts the test
// makes (the bucket refills in real time while they run).
func retryAfterAbout(r apitest.Resp, want int) bool {
	got, err := strconv.Atoi(r.Header.Get("Retry-After"))
	return err == nil && got <= want && got >= want-10
}
