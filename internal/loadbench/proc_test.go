package loadbench

import (
	"os"
	"strings"
	"testing"
)

func TestParseStatus(t *testing.T) {
	const status = "Name:\tlatchkey\nVmPeak:\t 1261460 kB\nVmHWM:\t   24680 kB\nVmRSS:\t   20480 kB\nThreads:\t7\n"
	rss, peak, err := ParseStatus(strings.NewReader(status))
	if err != nil || rss != 20480<<10 || peak != 24680<<10 {
		t.Errorf("got (%d, %d, %v), want (%d, %d, nil)", rss, peak, err, 20480<<10, 24680<<10)
	}
	for _, bad := range []string{"Name:\tx\n", "VmRSS:\t12 MB\nVmHWM:\t1 kB\n", "VmRSS:\tx kB\nVmHWM:\t1 kB\n"} {
		if _, _, err := ParseStatus(strings.NewReader(bad)); err == nil {
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
	rss, peak, err := ParseStatus(f)
	if err != nil || rss <= 0 || peak < rss {
		t.Errorf("got (%d, %d, %v), want 0 < rss <= peak", rss, peak, err)
	}
}
