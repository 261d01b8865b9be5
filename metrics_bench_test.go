package latchkey_test

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey"
)

// sessionCheck returns one request of BenchmarkSessionCheck, served by a
// new env configured by opts: an authenticated GET /api/getsession.
func sessionCheck(b *testing.B, opts ...func(*latchkey.Config)) func() {
	e := newEnv(b, opts...)
	e.addUser("bench", "the bench password")
	br := e.browser()
	br.MustLogin("bench", "the bench password")
	h := e.auth.Handler()
	req := httptest.NewRequest("GET", "/api/getsession", nil)
	req.AddCookie(br.Cookie("latchkey_session"))
	req.Header.Set("User-Agent", br.UserAgent)
	return func() {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `"login":true`) {
			b.Fatalf("got %d %s", rec.Code, rec.Body)
		}
	}
}

func metricsOff(c *latchkey.Config) { c.DisableMetrics = true }

// BenchmarkSessionCheckMetrics is BenchmarkSessionCheck with the metrics
// on and off (compare with benchstat -col /metrics).
func BenchmarkSessionCheckMetrics(b *testing.B) {
	for _, on := range []bool{true, false} {
		b.Run(map[bool]string{true: "metrics=on", false: "metrics=off"}[on], func(b *testing.B) {
			var opts []func(*latchkey.Config)
			if !on {
				opts = append(opts, metricsOff)
			}
			check := sessionCheck(b, opts...)
			b.ReportAllocs()
			for b.Loop() {
				check()
			}
		})
	}
}

// BenchmarkSessionCheckMetricsCost measures what the metrics cost the
// session check from one interleaved run: each iteration serves the same
// request (the same session, in the same store) by an Auth with metrics
// and by one without, in alternating order, so load on the machine hits
// both alike. It reports each one's time per request and the cost as a
// percentage of the check without metrics (target: under 5):
//
//	go test -run '^$' -bench SessionCheckMetricsCost -benchtime 20000x -count 5 .
func BenchmarkSessionCheckMetricsCost(b *testing.B) {
	e := newEnv(b)
	e.addUser("bench", "the bench password")
	br := e.browser()
	br.MustLogin("bench", "the bench password")
	cfg := testConfig(e)
	cfg.DisableMetrics = true
	without, err := latchkey.New(cfg, e.sessions, e.sessions)
	if err != nil {
		b.Fatal(err)
	}
	req := httptest.NewRequest("GET", "/api/getsession", nil)
	req.AddCookie(br.Cookie("latchkey_session"))
	req.Header.Set("User-Agent", br.UserAgent)
	serve := func(h http.Handler) func() {
		return func() {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `"login":true`) {
				b.Fatalf("got %d %s", rec.Code, rec.Body)
			}
		}
	}
	on, off := serve(e.auth.Handler()), serve(without.Handler())
	for range 1000 { // warm both: caches, the routes' children
		on()
		off()
	}
	// Medians, not means: one preemption by another process on a shared
	// machine outweighs thousands of requests' difference.
	var onT, offT, diff []float64
	for b.Loop() {
		first, second := on, off
		if len(onT)%2 == 1 {
			first, second = off, on
		}
		start := time.Now()
		first()
		mid := time.Now()
		second()
		d1, d2 := float64(mid.Sub(start)), float64(time.Since(mid))
		if len(onT)%2 == 1 {
			d1, d2 = d2, d1
		}
		onT, offT, diff = append(onT, d1), append(offT, d2), append(diff, d1-d2)
	}
	med := func(v []float64) float64 { slices.Sort(v); return v[len(v)/2] }
	base := med(offT)
	b.ReportMetric(med(onT), "ns-on/op")
	b.ReportMetric(base, "ns-off/op")
	b.ReportMetric(100*med(diff)/base, "%cost")
}
