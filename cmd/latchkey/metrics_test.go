package main

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/latchkey/latchkey/internal/apitest"
	"github.com/latchkey/latchkey/internal/metricstest"
)

// startServeMetrics is startServe that also returns where serve said the
// metrics are ("" if it said nothing before it began serving).
func startServeMetrics(t *testing.T, env map[string]string, args ...string) (base, metricsURL string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		err := run(ctx, append([]string{"serve", "--addr", "127.0.0.1:0"}, args...), func(k string) string { return env[k] }, strings.NewReader(""), pw, io.Discard)
		pw.CloseWithError(err)
		done <- err
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	lines := bufio.NewReader(pr)
	line, err := lines.ReadString('\n')
	if err != nil {
		t.Fatalf("serve did not start: %v", err)
	}
	base = strings.TrimSpace(strings.TrimPrefix(line, "latchkey listening on "))
	if !slices.Contains(args, "off") {
		line, err := lines.ReadString('\n')
		if err != nil {
			t.Fatalf("serve said nothing of metrics: %v", err)
		}
		var ok bool
		if metricsURL, ok = strings.CutPrefix(strings.TrimSpace(line), "latchkey metrics on "); !ok {
			t.Fatalf("second line %q: want latchkey metrics on URL", line)
		}
	}
	go io.Copy(io.Discard, lines)
	return base, metricsURL
}

// notMetrics fails t if GET url answers with a Prometheus scrape.
func notMetrics(t *testing.T, url string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if strings.Contains(string(b), "latchkey_http_requests_total") {
		t.Errorf("GET %s: %d, serves the metrics", url, resp.StatusCode)
	}
}

// By default the main listener serves /metrics; --metrics-addr moves them
// to an address of their own, and off turns them off.
func TestMetricsAddr(t *testing.T) {
	for _, tc := range []struct {
		name     string
		flag     []string
		onMain   bool
		separate bool
	}{
		{"default: the main listener", nil, true, false},
		{"an address of their own", []string{"--metrics-addr", "127.0.0.1:0"}, false, true},
		{"off", []string{"--metrics-addr", "off"}, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			base, metricsURL := startServeMetrics(t, nil, append(append([]string{"--demo", "--data", t.TempDir()}, fastArgon2...), tc.flag...)...)
			c := apitest.New(t, base)
			c.MustLogin("test", "test")
			if r := c.Get("/api/data"); r.Status != 200 {
				t.Fatalf("data: %d", r.Status)
			}
			switch {
			case tc.onMain:
				if metricsURL != base+"/metrics" {
					t.Errorf("serve said the metrics are at %q, want %s/metrics", metricsURL, base)
				}
			case tc.separate:
				if strings.HasPrefix(metricsURL, base) || !strings.HasSuffix(metricsURL, "/metrics") {
					t.Errorf("serve said the metrics are at %q, want another address than %s", metricsURL, base)
				}
				notMetrics(t, base+"/metrics")
			default:
				if metricsURL != "" {
					t.Errorf("metrics off, but serve said they are at %q", metricsURL)
				}
				notMetrics(t, base+"/metrics")
				return
			}
			s := metricstest.Get(t, metricsURL)
			wantValue(t, s, 1, "latchkey_logins_total", "outcome", "success")
			wantValue(t, s, 1, "latchkey_http_requests_total", "route", "GET /api/data", "code", "200")
			wantValue(t, s, 0, "latchkey_mails_total", "result", "dropped") // serve's mail.Queue counts
			if _, ok := s.Value("latchkey_store_operation_duration_seconds", "store", "sqlite", "op", "find_session_user"); !ok {
				t.Errorf("no find_session_user series for the SQLite store")
			}
			if _, ok := s.Value("process_resident_memory_bytes"); !ok {
				t.Errorf("no process_resident_memory_bytes")
			}
		})
	}
}

func TestMetricsAddrRefused(t *testing.T) {
	for _, addr := range []string{"9090", "localhost", "on"} {
		err := run(context.Background(), []string{"config", "check", "--metrics-addr", addr}, func(string) string { return "" }, strings.NewReader(""), io.Discard, io.Discard)
		if err == nil || !strings.Contains(err.Error(), "--metrics-addr") {
			t.Errorf("--metrics-addr %s: %v, want an error naming the flag", addr, err)
		}
	}
}

// On PostgreSQL and Redis, store calls count under each store's kind.
func TestMetricsStoreKinds(t *testing.T) {
	base, metricsURL := startServeMetrics(t, map[string]string{"LATCHKEY_SECRET": sharedSecret}, append(append([]string{"--demo", "--data", t.TempDir()}, fastArgon2...), sharedStores(t)...)...)
	c := apitest.New(t, base)
	c.MustLogin("test", "test")
	if !c.LoggedIn() {
		t.Fatal("not logged in")
	}
	s := metricstest.Get(t, metricsURL)
	for _, want := range [][2]string{
		{"postgres", "user_by_username"},
		{"postgres", "user_by_id"},
		{"redis", "find_session"},
		{"redis", "create_session"},
		{"redis", "attempt_take"},
	} {
		if n, _ := s.Value("latchkey_store_operation_duration_seconds", "store", want[0], "op", want[1]); n < 1 {
			t.Errorf("%s %s observed %v times, want at least once", want[0], want[1], n)
		}
		wantValue(t, s, 0, "latchkey_store_errors_total", "store", want[0], "op", want[1])
	}
}

func wantValue(t *testing.T, s metricstest.Scrape, want float64, name string, labels ...string) {
	t.Helper()
	if got, ok := s.Value(name, labels...); !ok || got != want {
		t.Errorf("%s%v = %v (present %v), want %v", name, labels, got, ok, want)
	}
}
