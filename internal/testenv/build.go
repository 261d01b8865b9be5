package testenv

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// buildTimeout bounds one go build: a cold cache, with -race, on a slow
// shared machine.
const buildTimeout = 5 * time.Minute

var builds struct {
	mu   sync.Mutex
	dir  string            // the temporary directory of every binary built
	bins map[string]string // package directory → binary
}

// Binary builds the main package in dir (relative to the test's working
// directory) once per test process and returns the binary's path. When
// the tests run with -race the binary is built with -race too, so that a
// data race in it shows in its output (see Race). The binaries live in a
// temporary directory: call RemoveBinaries from TestMain once m.Run returns.
func Binary(tb testing.TB, dir string) string {
	tb.Helper()
	abs, err := filepath.Abs(dir)
	if err != nil {
		tb.Fatal(err)
	}
	builds.mu.Lock()
	defer builds.mu.Unlock()
	if bin, ok := builds.bins[abs]; ok {
		return bin
	}
	if builds.dir == "" {
		if builds.dir, err = os.MkdirTemp("", "latchkey-test-bin-"); err != nil {
			tb.Fatal(err)
		}
		builds.bins = map[string]string{}
	}
	bin := filepath.Join(builds.dir, fmt.Sprintf("%s-%d", filepath.Base(abs), len(builds.bins)))
	args := []string{"build", "-o", bin}
	if Race {
		args = append(args, "-race")
	}
	ctx, cancel := context.WithTimeout(context.Background(), buildTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", append(args, ".")...) // go test puts its own go first in PATH
	cmd.Dir = abs
	if out, err := cmd.CombinedOutput(); err != nil {
		tb.Fatalf("go %s in %s: %v\n%s", strings.Join(args, " "), abs, err, out)
	}
	builds.bins[abs] = bin
	return bin
}

// RemoveBinaries deletes what Binary built.
func RemoveBinaries() {
	builds.mu.Lock()
	defer builds.mu.Unlock()
	if builds.dir != "" {
		os.RemoveAll(builds.dir)
	}
	builds.dir, builds.bins = "", nil
}
