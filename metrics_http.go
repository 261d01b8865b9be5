package latchkey

import (
	"bufio"
	"net"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// httpBuckets are the request latency histogram's, in seconds: from a
// store round trip (well under a millisecond) to a queued argon2id hash
// (seconds).
var httpBuckets = []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}

func (m *metrics) registerHTTP(f factory) {
	m.requests = f.counterVec("latchkey_http_requests_total", "API requests by route pattern (other: no route matched) and status code.", "route", "code")
	m.duration = f.histogramVec("latchkey_http_request_duration_seconds", "API request latency by route pattern.", httpBuckets, "route")
	m.routes.Store(&map[string]*routeMetrics{})
	m.other = m.newRoute("other")
	m.writers.New = func() any { return new(statusWriter) }
}

// instrument counts and times the requests next serves, by the route
// pattern the API's mux matched (r.Pattern, which jsonMuxErrors sets), never
// the path. It is the outermost layer of Handler, so a panic's 500 and the
// CORS layer's answers count too.
func (m *metrics) instrument(next http.Handler) http.Handler {
	if m == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		// A mux in front of Handler (cmd/latchkey's) has set its own
		// pattern, "/api/"; ours replaces it only while the API runs.
		outer := r.Pattern
		r.Pattern = ""
		sw := m.writers.Get().(*statusWriter)
		sw.ResponseWriter, sw.status = w, 0
		next.ServeHTTP(sw, r)
		rm := m.route(r.Pattern)
		r.Pattern = outer
		rm.count(sentStatus(sw.status))
		rm.duration.Observe(time.Since(start).Seconds())
		sw.ResponseWriter = nil
		m.writers.Put(sw)
	})
}

// sentStatus is the status net/http sends for a handler that wrote nothing.
func sentStatus(s int) int {
	if s == 0 {
		return http.StatusOK
	}
	return s
}

// maxRoutes bounds the routes counted apart; more count as "other". The
// API's mux has a few dozen, so this is only a guard.
const maxRoutes = 200

func (m *metrics) route(pattern string) *routeMetrics {
	if pattern == "" {
		return m.other
	}
	if rm, ok := (*m.routes.Load())[pattern]; ok {
		return rm
	}
	m.routesMu.Lock()
	defer m.routesMu.Unlock()
	old := *m.routes.Load()
	if rm, ok := old[pattern]; ok {
		return rm
	}
	if len(old) >= maxRoutes {
		return m.other
	}
	// Copy on write: readers never lock, and routes are added only at each
	// one's first request.
	next := make(map[string]*routeMetrics, len(old)+1)
	for k, v := range old {
		next[k] = v
	}
	rm := m.newRoute(pattern)
	next[pattern] = rm
	m.routes.Store(&next)
	return rm
}

// routeMetrics are one route's children: its latency histogram, and its
// request counters by status, made at the status's first use.
type routeMetrics struct {
	name     string
	requests *prometheus.CounterVec
	duration prometheus.Observer
	codes    [numCodeSlots]atomic.Pointer[counterRef]
}

type counterRef struct{ prometheus.Counter }

func (m *metrics) newRoute(name string) *routeMetrics {
	return &routeMetrics{name: name, requests: m.requests, duration: m.duration.WithLabelValues(name)}
}

func (rm *routeMetrics) count(code int) {
	i := codeSlot(code)
	if i < 0 {
		rm.requests.WithLabelValues(rm.name, strconv.Itoa(code)).Inc() // rare: no slot kept
		return
	}
	c := rm.codes[i].Load()
	if c == nil {
		// Racing first requests get the same child from the vector.
		c = &counterRef{rm.requests.WithLabelValues(rm.name, strconv.Itoa(code))}
		rm.codes[i].Store(c)
	}
	c.Inc()
}

// codeSlot numbers the statuses a route keeps a counter for: 200-206,
// 300-308, 400-431 and 500-511; -1 for others.
func codeSlot(code int) int {
	switch {
	case code >= 200 && code <= 206:
		return code - 200
	case code >= 300 && code <= 308:
		return 7 + code - 300
	case code >= 400 && code <= 431:
		return 16 + code - 400
	case code >= 500 && code <= 511:
		return 48 + code - 500
	}
	return -1
}

const numCodeSlots = 60

// statusWriter remembers the status of the response it passes on.
// http.ResponseController reaches the writer underneath through Unwrap
// (flushing, deadlines); Hijack is its own method, so that an upgrade the
// gateway passes on counts as 101.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (s *statusWriter) WriteHeader(code int) {
	if s.status == 0 && code >= 200 || code == http.StatusSwitchingProtocols {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(p []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(p)
}

func (s *statusWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }

func (s *statusWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	conn, rw, err := http.NewResponseController(s.ResponseWriter).Hijack()
	if err == nil && s.status == 0 {
		s.status = http.StatusSwitchingProtocols
	}
	return conn, rw, err
}
