// Package exampleapp runs deploy/example-app/app.py, the server-rendered
// application that the deployment tests put behind latchkey, with
// Debian's python3. Without python3 the test is skipped, or fails under
// LATCHKEY_TEST_REQUIRE_ALL=1 (see internal/testenv).
package exampleapp

import (
	"bufio"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/testenv"
)

// Script is the path of deploy/example-app/app.py.
func Script() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "deploy", "example-app", "app.py")
}

// App is the example application running.
type App struct {
	URL  string // http://127.0.0.1:PORT
	Addr string // 127.0.0.1:PORT
	log  *testenv.Buffer
}

// Log returns what the app wrote to stderr: a line per request.
func (a *App) Log() string { return a.log.String() }

// Start runs the app on a free loopback port until the test ends.
func Start(tb testing.TB) *App {
	tb.Helper()
	python := testenv.LookPath(tb, "python3", "apt-get install python3")
	a := &App{log: &testenv.Buffer{}}
	cmd := exec.Command(python, Script(), "0")
	cmd.Stderr = a.log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	out, err := cmd.StdoutPipe()
	if err != nil {
		tb.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		tb.Fatalf("exampleapp: %v", err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	tb.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-done
		}
		if tb.Failed() {
			tb.Logf("example app log:\n%s", a.log)
		}
	})
	line := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if u, ok := strings.CutPrefix(sc.Text(), "example-app listening on "); ok {
				line <- u
			}
		}
	}()
	select {
	case a.URL = <-line:
	case <-done:
		tb.Fatalf("exampleapp: %s exited at start:\n%s", Script(), a.log)
	case <-time.After(15 * time.Second):
		tb.Fatalf("exampleapp: %s did not say where it listens:\n%s", Script(), a.log)
	}
	a.Addr = strings.TrimPrefix(a.URL, "http://")
	return a
}
