// Package testenv lets tests that need a service, a program or a browser
// skip on a developer laptop that lacks it, and fail instead in CI, where
// LATCHKEY_TEST_REQUIRE_ALL=1 says everything must be there.
package testenv

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"testing"
)

// RequireAll reports whether LATCHKEY_TEST_REQUIRE_ALL=1 is set.
func RequireAll() bool { return os.Getenv("LATCHKEY_TEST_REQUIRE_ALL") == "1" }

// Unavailable skips tb with a message saying what is missing and how to get
// it, or fails tb when RequireAll.
func Unavailable(tb testing.TB, format string, args ...any) {
	tb.Helper()
	msg := fmt.Sprintf(format, args...)
	if RequireAll() {
		tb.Fatalf("LATCHKEY_TEST_REQUIRE_ALL=1 but %s", msg)
	}
	tb.Skip(msg)
}

// LookPath returns the path of program, or calls Unavailable with hint
// (say, "apt-get install nginx").
func LookPath(tb testing.TB, program, hint string) string {
	tb.Helper()
	p, err := exec.LookPath(program)
	if err != nil {
		Unavailable(tb, "%s is not installed (%s)", program, hint)
	}
	return p
}

// Env returns the value of the environment variable name, or calls
// Unavailable with hint when it is unset.
func Env(tb testing.TB, name, hint string) string {
	tb.Helper()
	v := os.Getenv(name)
	if v == "" {
		Unavailable(tb, "%s is not set (%s)", name, hint)
	}
	return v
}

// Buffer is a bytes.Buffer that a child process's output and the test may
// use at once.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *Buffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *Buffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
