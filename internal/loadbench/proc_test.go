package loadbench

import (
	"os"
	"strings"
	"testing"
	"time"
)

func TestParseStatus(t *testing.T) {
	const status = "Name:\tlatchkey\nVmPeak:\t 1261460 kB\nVmHWM:\t   24680 kB\nVmRSS:\t   20480 kB\nRssAnon:\t   12000 kB\nRssFile:\t    8000 kB\nThreads:\t7\n"
	m, err := ParseStatus(strings.NewReader(status))
	if want := (Memory{RSS: 20480 << 10, Peak: 24680 << 10, File: 8000 << 10}); err != nil || m != want {
		t.Errorf("got (%+v, %v), want (%+v, nil)", m, err, want)
	}
	for _, bad := range []string{"Name:\tx\n", "VmRSS:\t12 MB\nVmHWM:\t1 kB\nRssFile:\t1 kB\n", "VmRSS:\tx kB\nVmHWM:\t1 kB\nRssFile:\t1 kB\n", "VmRSS:\t1 kB\nVmHWM:\t1 kB\n"} {
		if _, err := ParseStatus(strings.NewReader(bad)); err == nil {
			t.Errorf("ParseStatus(%q): got nil error, want one", bad)
		}
	}
}

// The format ParseStatus expects is the running kernel's.
func TestParseOwnStatus(t *testing.T) {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		t.Skipf("no /proc: %v", err)
	}
	defer f.Close()
	m, err := ParseStatus(f)
	if err != nil || m.RSS <= 0 || m.Peak < m.RSS || m.File > m.RSS {
		t.Errorf("got (%+v, %v), want 0 < RSS <= Peak, File <= RSS", m, err)
	}
}

func TestParseStatCPU(t *testing.T) {
	const stat = "4242 (latch key) S 1 4242 4242 0 -1 4194560 1000 0 0 0 250 31 0 0 20 0 7 0 100 1000000 5000 18446744073709551615"
	got, err := ParseStatCPU(stat)
	if want := 2810 * time.Millisecond; err != nil || got != want {
		t.Errorf("got (%v, %v), want (%v, nil)", got, err, want)
	}
	if _, err := ParseStatCPU("4242 (x) S 1"); err == nil {
		t.Error("short stat: got nil error")
	}
	b, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		t.Skipf("no /proc: %v", err)
	}
	if _, err := ParseStatCPU(string(b)); err != nil {
		t.Errorf("own stat: %v", err)
	}
}
