package loadbench

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestReadResponse(t *testing.T) {
	for _, tc := range []struct {
		name, in   string
		status     int
		keep, fail bool
		rest       string // what is left unread: the next response
	}{
		{"keep-alive", "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Type: x\r\n\r\nabcNEXT", 200, true, false, "NEXT"},
		{"close", "HTTP/1.1 401 Unauthorized\r\nconnection: Close\r\ncontent-length: 0\r\n\r\n", 401, false, false, ""},
		{"HTTP/1.0", "HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\nx", 200, false, false, ""},
		{"chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nx\r\n0\r\n\r\n", 0, false, true, ""},
		{"no length", "HTTP/1.1 200 OK\r\n\r\n", 0, false, true, ""},
		{"garbage", "SSH-2.0-OpenSSH\r\n", 0, false, true, ""},
		{"truncated body", "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", 0, false, true, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			br := bufio.NewReader(strings.NewReader(tc.in))
			status, keep, err := readResponse(br)
			if tc.fail {
				if err == nil {
					t.Fatalf("got status %d, want an error", status)
				}
				return
			}
			if err != nil || status != tc.status || keep != tc.keep {
				t.Fatalf("got (%d, %v, %v), want (%d, %v, nil)", status, keep, err, tc.status, tc.keep)
			}
			rest, _ := io.ReadAll(br)
			if string(rest) != tc.rest {
				t.Errorf("left unread: got %q, want %q", rest, tc.rest)
			}
		})
	}
}

// Run against a real server: every request is counted, carries one of the
// tokens, and failures are reported rather than counted as throughput.
func TestRun(t *testing.T) {
	var mu sync.Mutex
	seen := map[string]int{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := r.Cookie("tok")
		if err != nil {
			http.Error(w, "no cookie", 400)
			return
		}
		mu.Lock()
		seen[c.Value]++
		mu.Unlock()
		if r.URL.Path == "/fail" {
			http.Error(w, "no", 500)
			return
		}
		w.Write([]byte(`{"ok":true}`))
	}))
	defer srv.Close()
	addr := srv.Listener.Addr().(*net.TCPAddr).String()
	target := Target{Addr: addr, Path: "/ok", UserAgent: "test", CookieName: "tok", Tokens: [][]byte{[]byte("aaaa"), []byte("bb"), []byte("cccccc")}}

	res := Run(context.Background(), target, 4, 50*time.Millisecond, 200*time.Millisecond)
	if res.Failures != 0 || res.FirstErr != nil {
		t.Fatalf("failures: %d, first: %v", res.Failures, res.FirstErr)
	}
	if res.Requests == 0 || res.Latency.Count() != res.Requests || res.All < res.Requests {
		t.Fatalf("requests %d, latencies %d: want equal and > 0", res.Requests, res.Latency.Count())
	}
	if res.Throughput() <= 0 || res.Latency.Percentile(50) <= 0 {
		t.Errorf("throughput %v, p50 %v: want > 0", res.Throughput(), res.Latency.Percentile(50))
	}
	mu.Lock()
	if len(seen) != 3 || seen["aaaa"] == 0 || seen["bb"] == 0 || seen["cccccc"] == 0 {
		t.Errorf("tokens seen: got %v, want all of aaaa, bb, cccccc", seen)
	}
	mu.Unlock()

	target.Path = "/fail"
	res = Run(context.Background(), target, 2, 0, 50*time.Millisecond)
	if res.Requests != 0 || res.Failures == 0 || res.FirstErr == nil {
		t.Errorf("against 500s: got %d requests, %d failures (%v); want 0 and some", res.Requests, res.Failures, res.FirstErr)
	}
}

func TestSplitTokens(t *testing.T) {
	got := SplitTokens([]byte("aaabbbcccdd"), 3)
	want := []string{"aaa", "bbb", "ccc"}
	if len(got) != len(want) {
		t.Fatalf("got %q, want %q", got, want)
	}
	for i := range want {
		if string(got[i]) != want[i] {
			t.Errorf("token %d: got %q, want %q", i, got[i], want[i])
		}
	}
	// Each token is capped at its own length, so appending to one cannot
	// overwrite the next.
	_ = append(got[0], 'x')
	if string(got[1]) != "bbb" {
		t.Errorf("appending to token 0 changed token 1 to %q", got[1])
	}
}
