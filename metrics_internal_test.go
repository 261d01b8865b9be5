package latchkey

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/latchkey/latchkey/internal/metricstest"
)

// nopAccountStores satisfies New for tests that never reach a store.
type nopAccountStores struct {
	UserStore
	SessionStore
	AccountTokenStore
	EventStore
	MFAStore
	PendingLoginStore
}

// A request waiting for a hashing slot shows as queued, and the one
// holding it as in flight, until each is done.
func TestMetricsHashQueue(t *testing.T) {
	a, err := New(Config{Secrets: [][]byte{[]byte("test-secret-test-secret-test-secret-0123")}, MaxConcurrentHashes: 1, HashQueueTimeout: time.Minute}, nopAccountStores{}, nopAccountStores{})
	if err != nil {
		t.Fatal(err)
	}
	hashes := func() (inFlight, queued float64) {
		s := metricstest.Serve(t, a.MetricsHandler())
		inFlight, _ = s.Value("latchkey_password_hashes_in_flight")
		queued, _ = s.Value("latchkey_password_hashes_queued")
		return inFlight, queued
	}
	release, err := a.acquireHashSlot(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if f, q := hashes(); f != 1 || q != 0 {
		t.Errorf("one hash: %v in flight, %v queued; want 1, 0", f, q)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		r, err := a.acquireHashSlot(t.Context())
		if err != nil {
			t.Error(err)
			return
		}
		r()
	}()
	deadline := time.Now().Add(10 * time.Second)
	for testutil.ToFloat64(a.met.hashQueued) != 1 {
		if time.Now().After(deadline) {
			t.Fatal("the second hash never queued")
		}
		time.Sleep(time.Millisecond)
	}
	if f, q := hashes(); f != 1 || q != 1 {
		t.Errorf("one hash and one waiting: %v in flight, %v queued; want 1, 1", f, q)
	}
	release()
	<-done
	if f, q := hashes(); f != 0 || q != 0 {
		t.Errorf("both done: %v in flight, %v queued; want 0, 0", f, q)
	}
}

// The status codes a route keeps a counter for each have a slot of their
// own.
func TestCodeSlots(t *testing.T) {
	seen := map[int]int{}
	for code := 100; code < 1000; code++ {
		i := codeSlot(code)
		if i < 0 {
			continue
		}
		if i >= numCodeSlots {
			t.Fatalf("codeSlot(%d) = %d, past %d", code, i, numCodeSlots)
		}
		if c, dup := seen[i]; dup {
			t.Fatalf("codeSlot(%d) = codeSlot(%d) = %d", code, c, i)
		}
		seen[i] = code
	}
	for _, code := range []int{200, 201, 202, 204, 301, 307, 308, 400, 401, 403, 404, 405, 409, 413, 415, 429, 431, 500, 502, 503} {
		if codeSlot(code) < 0 {
			t.Errorf("codeSlot(%d): no slot for a status the API sends", code)
		}
	}
	if len(seen) != numCodeSlots {
		t.Errorf("%d slots used of %d", len(seen), numCodeSlots)
	}
}
