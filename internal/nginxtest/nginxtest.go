// Package nginxtest runs a real nginx with one of the configurations in
// deploy/nginx, so tests exercise the very files that are shipped.
//
// Start renders the file's {{PLACEHOLDERS}}, includes it in a minimal main
// configuration whose paths all lie in a temporary directory, and runs nginx
// in the foreground as a child process on a free loopback port until the
// test ends. Without nginx installed the test is skipped, or fails under
// LATCHKEY_TEST_REQUIRE_ALL=1 (see internal/testenv).
package nginxtest

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/testenv"
)

// Server is a running nginx.
type Server struct {
	URL  string // http://127.0.0.1:PORT
	Addr string // 127.0.0.1:PORT, the value of {{LISTEN}}
	Dir  string // nginx's prefix directory: nginx.conf, site.conf, temp files

	cmd    *exec.Cmd
	stderr *testenv.Buffer
	done   chan struct{} // closed when nginx has exited
}

// Stderr returns what nginx has written to its error log so far.
func (s *Server) Stderr() string { return s.stderr.String() }

var placeholder = regexp.MustCompile(`\{\{([A-Z0-9_]+)\}\}`)

// Render replaces each {{NAME}} in src with vars[NAME]. Every placeholder
// must have a value and every value must be used, so a renamed placeholder
// cannot go unnoticed.
func Render(src []byte, vars map[string]string) ([]byte, error) {
	var missing []string
	used := map[string]bool{}
	out := placeholder.ReplaceAllFunc(src, func(m []byte) []byte {
		name := string(m[2 : len(m)-2])
		v, ok := vars[name]
		if !ok {
			if !slices.Contains(missing, name) {
				missing = append(missing, name)
			}
			return m
		}
		used[name] = true
		return []byte(v)
	})
	var errs []error
	if len(missing) > 0 {
		errs = append(errs, fmt.Errorf("no value for %s", strings.Join(missing, ", ")))
	}
	for name := range vars {
		if !used[name] {
			errs = append(errs, fmt.Errorf("{{%s}} does not occur", name))
		}
	}
	return out, errors.Join(errs...)
}

// Start runs nginx with the site configuration file conf (a path, such as
// ../../deploy/nginx/same-origin.conf) rendered with vars plus LISTEN, the
// address nginx listens on, which Start chooses. nginx is stopped when the
// test ends; if the test failed, its error log goes to the test log.
func Start(tb testing.TB, conf string, vars map[string]string) *Server {
	tb.Helper()
	bin := testenv.LookPath(tb, "nginx", "apt-get install nginx")
	src, err := os.ReadFile(conf)
	if err != nil {
		tb.Fatalf("nginxtest: %v", err)
	}
	// A free port can be taken between our probe and nginx's bind; then try
	// another.
	var lastErr error
	for range 5 {
		s, err := start(tb, bin, src, vars)
		if err == nil {
			return s
		}
		lastErr = err
		if !strings.Contains(err.Error(), "Address already in use") {
			break
		}
	}
	tb.Fatalf("nginxtest: %s: %v", conf, lastErr)
	return nil
}

func start(tb testing.TB, bin string, src []byte, vars map[string]string) (*Server, error) {
	tb.Helper()
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	all := map[string]string{"LISTEN": addr}
	for k, v := range vars {
		all[k] = v
	}
	site, err := Render(src, all)
	if err != nil {
		return nil, err
	}
	dir := tb.TempDir()
	for _, d := range []string{"tmp/body", "tmp/proxy", "tmp/fastcgi", "tmp/uwsgi", "tmp/scgi"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o700); err != nil {
			return nil, err
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "site.conf"), site, 0o600); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, "nginx.conf"), mainConf(dir), 0o600); err != nil {
		return nil, err
	}

	s := &Server{URL: "http://" + addr, Addr: addr, Dir: dir, stderr: &testenv.Buffer{}, done: make(chan struct{})}
	s.cmd = exec.Command(bin, "-p", dir+"/", "-c", filepath.Join(dir, "nginx.conf"), "-e", "stderr",
		"-g", "daemon off; pid "+filepath.Join(dir, "nginx.pid")+"; error_log stderr;")
	s.cmd.Stdout = s.stderr
	s.cmd.Stderr = s.stderr
	// Its own process group, so that stopping it also stops its workers.
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := s.cmd.Start(); err != nil {
		return nil, err
	}
	go func() { s.cmd.Wait(); close(s.done) }()

	if err := s.waitReady(10 * time.Second); err != nil {
		s.stop()
		return nil, fmt.Errorf("%w\nnginx said:\n%s", err, s.Stderr())
	}
	tb.Cleanup(func() {
		s.stop()
		if tb.Failed() {
			tb.Logf("nginx error log (%s):\n%s", dir, s.Stderr())
		}
	})
	return s, nil
}

// mainConf is the smallest main configuration around site.conf; every path
// nginx writes to is under dir.
func mainConf(dir string) []byte {
	var b strings.Builder
	if os.Geteuid() == 0 {
		// As root, nginx's workers would switch to nobody, who cannot read
		// the test's 0700 temporary directories.
		b.WriteString("user root;\n")
	}
	fmt.Fprintf(&b, `worker_processes 1;
events { worker_connections 256; }
http {
    types {
        text/html html htm;
        text/css css;
        text/plain txt;
        application/javascript js mjs;
        application/json json map;
        image/svg+xml svg;
        image/x-icon ico;
        image/png png;
        font/woff2 woff2;
    }
    default_type application/octet-stream;
    access_log off;
    client_body_temp_path %[1]s/tmp/body;
    proxy_temp_path %[1]s/tmp/proxy;
    fastcgi_temp_path %[1]s/tmp/fastcgi;
    uwsgi_temp_path %[1]s/tmp/uwsgi;
    scgi_temp_path %[1]s/tmp/scgi;
    include %[1]s/site.conf;
}
`, dir)
	return []byte(b.String())
}

// freeAddr returns a loopback address with a port nobody listens on now.
func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// waitReady waits until nginx accepts connections, or exits, or timeout.
func (s *Server) waitReady(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		select {
		case <-s.done:
			return errors.New("nginx exited at start")
		default:
		}
		c, err := net.DialTimeout("tcp", s.Addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("nginx did not accept connections on %s within %v", s.Addr, timeout)
}

// stop ends nginx: SIGTERM to the master, which stops its workers and then
// itself; if that takes more than 5 s, SIGKILL to its process group (the
// master is not reaped yet, so the group id is still ours).
func (s *Server) stop() {
	select {
	case <-s.done:
		return
	default:
	}
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(5 * time.Second):
		syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
		<-s.done
	}
}
