package testenv_test

import (
	"testing"

	"github.com/latchkey/latchkey/internal/testenv"
)

func TestLookPathFindsSh(t *testing.T) {
	if p := testenv.LookPath(t, "sh", "it is POSIX"); p == "" {
		t.Errorf("LookPath(sh) = %q", p)
	}
}

func TestEnvPresent(t *testing.T) {
	t.Setenv("LATCHKEY_TESTENV_PROBE", "x")
	if got := testenv.Env(t, "LATCHKEY_TESTENV_PROBE", "set it"); got != "x" {
		t.Errorf("Env = %q, want x", got)
	}
}
