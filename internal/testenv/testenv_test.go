package testenv_test

import (
	"os"
	"os/exec"
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

func TestBinary(t *testing.T) {
	defer testenv.RemoveBinaries()
	bin := testenv.Binary(t, "testdata/hello")
	out, err := exec.Command(bin).Output()
	if err != nil || string(out) != "hello\n" {
		t.Fatalf("the built binary: got (%q, %v), want hello", out, err)
	}
	if again := testenv.Binary(t, "testdata/hello"); again != bin {
		t.Errorf("a second Binary built again: %s, then %s", bin, again)
	}
	testenv.RemoveBinaries()
	if _, err := os.Stat(bin); !os.IsNotExist(err) {
		t.Errorf("after RemoveBinaries, %s: %v, want it gone", bin, err)
	}
}
