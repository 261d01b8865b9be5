package e2e_test

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/testenv"
)

// Timeouts. Every step of a test has one, so a broken page or a stuck
// process fails the test instead of hanging it.
const (
	stepTimeout    = 15 * time.Second // one browser action or wait
	startTimeout   = 30 * time.Second // a process or a browser starting
	stopTimeout    = 10 * time.Second // a process draining at SIGTERM
	deployDeadline = 4 * time.Minute  // everything one deployment does in the browser
)

// cheapArgon2 keeps logins fast; the real parameters are tested in package
// password.
var cheapArgon2 = []string{"--argon2-memory", "64", "--argon2-time", "1"}

// repoRoot is the module root: the tests run in e2e/.
func repoRoot(tb testing.TB) string {
	tb.Helper()
	root, err := filepath.Abs("..")
	if err != nil {
		tb.Fatal(err)
	}
	return root
}

func TestMain(m *testing.M) {
	code := m.Run()
	testenv.RemoveBinaries()
	os.Exit(code)
}

// latchkeyBinary builds cmd/latchkey once per test run and returns its path.
// Under -race the binary is built with -race as well.
func latchkeyBinary(tb testing.TB) string {
	tb.Helper()
	return testenv.Binary(tb, filepath.Join(repoRoot(tb), "cmd", "latchkey"))
}

// process is the latchkey binary running `serve` until the test ends.
type process struct {
	URL  string // http://127.0.0.1:PORT, as printed by latchkey
	Addr string // 127.0.0.1:PORT

	args []string        // the command line, for a restart
	log  *testenv.Buffer // stderr: the settings summary and the request log, of every run
	cmd  *exec.Cmd       // the current run
	done chan struct{}   // closed when the current run has exited
	err  error           // its exit status, once done is closed
}

// Port returns the port latchkey listens on.
func (p *process) Port() string {
	_, port, _ := net.SplitHostPort(p.Addr)
	return port
}

// errAddrInUse is returned by startLatchkey when the chosen --addr was taken.
var errAddrInUse = errors.New("address already in use")

// startLatchkey runs `latchkey serve --demo` on addr (127.0.0.1:0 for any
// free port) with a fresh data directory, cheap argon2 and the extra args,
// and stops it with SIGTERM when the test ends. It returns errAddrInUse if
// addr was taken, so a caller that had to choose the port can try another.
func startLatchkey(tb testing.TB, addr string, args ...string) (*process, error) {
	tb.Helper()
	all := append([]string{"serve", "--addr", addr, "--demo", "--data", filepath.Join(tb.TempDir(), "data")}, cheapArgon2...)
	p := &process{args: append(all, args...), log: &testenv.Buffer{}}
	if err := p.start(tb); err != nil {
		return nil, err
	}
	tb.Cleanup(func() {
		p.stop()
		p.checkExit(tb)
		if tb.Failed() {
			tb.Logf("latchkey %s log:\n%s", strings.Join(p.args, " "), p.log)
		}
	})
	return p, nil
}

// start runs p.args and waits until latchkey says where it listens.
func (p *process) start(tb testing.TB) error {
	tb.Helper()
	p.done = make(chan struct{})
	p.cmd = exec.Command(latchkeyBinary(tb), p.args...)
	// No LATCHKEY_* from the developer's environment: the flags say it all.
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "LATCHKEY_") {
			p.cmd.Env = append(p.cmd.Env, kv)
		}
	}
	p.cmd.Stderr = p.log
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stdout, err := p.cmd.StdoutPipe()
	if err != nil {
		tb.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		tb.Fatalf("starting latchkey: %v", err)
	}
	listening := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if u, ok := strings.CutPrefix(sc.Text(), "latchkey listening on "); ok {
				select {
				case listening <- strings.TrimSpace(u):
				default:
				}
			}
		}
		// Wait only once stdout is drained, as os/exec asks.
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	select {
	case p.URL = <-listening:
	case <-p.done:
		if strings.Contains(p.log.String(), "address already in use") {
			return errAddrInUse
		}
		tb.Fatalf("latchkey %s exited at start (%v):\n%s", strings.Join(p.args, " "), p.err, p.log)
	case <-time.After(startTimeout):
		p.stop()
		tb.Fatalf("latchkey %s did not say it was listening within %v:\n%s", strings.Join(p.args, " "), startTimeout, p.log)
	}
	p.Addr = strings.TrimPrefix(p.URL, "http://")
	return nil
}

// restart starts latchkey again after stop, with the same flags and data
// directory (so the same secret key, users and sessions) on the same
// address: to the browser, the server was down for a while.
func (p *process) restart(tb testing.TB) {
	tb.Helper()
	select {
	case <-p.done:
	default:
		tb.Fatal("restart: latchkey is still running")
	}
	p.checkExit(tb)
	for i, a := range p.args {
		if a == "--addr" {
			p.args[i+1] = p.Addr // not port 0 again
		}
	}
	fmt.Fprintf(p.log, "--- restarted on %s ---\n", p.Addr)
	if err := p.start(tb); err != nil {
		tb.Fatalf("restarting latchkey on %s: %v", p.Addr, err)
	}
}

// checkExit fails the test if latchkey, once stopped, reported a data race
// or did not exit cleanly.
func (p *process) checkExit(tb testing.TB) {
	tb.Helper()
	// A -race binary reports races on stderr and exits with status 66.
	if strings.Contains(p.log.String(), "WARNING: DATA RACE") {
		tb.Errorf("latchkey reported a data race")
	} else if p.err != nil && !isSIGTERM(p.err) {
		tb.Errorf("latchkey exited with %v after SIGTERM, want success", p.err)
	}
}

// isSIGTERM reports whether err says the process died of SIGTERM (before it
// had installed its handler, which a very short test can hit).
func isSIGTERM(err error) bool {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() && ws.Signal() == syscall.SIGTERM {
			return true
		}
	}
	return false
}

// stop sends SIGTERM, waits for the drain, and SIGKILLs the process group
// if that takes too long.
func (p *process) stop() {
	select {
	case <-p.done:
		return
	default:
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(stopTimeout):
		syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		<-p.done
	}
}

// operate runs an operator's command of the latchkey binary, such as
// `latchkey user add`, on p's data directory while p serves it, with
// stdin as its standard input, and returns what it printed. cmd is the
// command's words; args follow the flags (--data and the cheap argon2),
// which must precede them. It fails the test if the command fails.
func (p *process) operate(tb testing.TB, stdin string, cmd []string, args ...string) string {
	tb.Helper()
	var data string
	for i, a := range p.args {
		if a == "--data" && i+1 < len(p.args) {
			data = p.args[i+1]
		}
	}
	if data == "" {
		tb.Fatalf("latchkey %s has no --data", strings.Join(p.args, " "))
	}
	all := append(append(append(slices.Clone(cmd), "--data", data), cheapArgon2...), args...)
	c := exec.Command(latchkeyBinary(tb), all...)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "LATCHKEY_") {
			c.Env = append(c.Env, kv)
		}
	}
	c.Stdin = strings.NewReader(stdin)
	out, err := c.CombinedOutput()
	if err != nil {
		tb.Fatalf("latchkey %s: %v\n%s", strings.Join(all, " "), err, out)
	}
	return string(out)
}

// addUser creates a user through the operator's command, as
// `latchkey user add` does, with the roles given (`latchkey user role add`).
func (p *process) addUser(tb testing.TB, name, pw, email string, roles ...string) {
	tb.Helper()
	args := []string{"--password-stdin", name}
	if email != "" {
		args = append([]string{"--email", email}, args...)
	}
	p.operate(tb, pw+"\n", []string{"user", "add"}, args...)
	for _, r := range roles {
		p.operate(tb, "", []string{"user", "role"}, "add", name, r)
	}
}

// freePort returns a loopback port nobody listens on now. Another process
// can take it before it is used: callers retry on errAddrInUse.
func freePort(tb testing.TB) string {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer l.Close()
	_, port, _ := net.SplitHostPort(l.Addr().String())
	return port
}

// portOf returns the port of a host:port or a URL with one.
func portOf(tb testing.TB, s string) string {
	tb.Helper()
	s = strings.TrimPrefix(strings.TrimPrefix(s, "http://"), "https://")
	s, _, _ = strings.Cut(s, "/")
	_, port, err := net.SplitHostPort(s)
	if err != nil {
		tb.Fatalf("no port in %q: %v", s, err)
	}
	return port
}
