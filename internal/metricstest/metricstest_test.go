package metricstest_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/latchkey/latchkey/internal/metricstest"
)

const scrape = `# HELP req_total Requests.
# TYPE req_total counter
req_total{route="a",code="200"} 3
req_total{route="a",code="404"} 1
req_total{route="b",code="200"} 2
# HELP up Up.
# TYPE up gauge
up 1
# HELP lat Latency.
# TYPE lat histogram
lat_bucket{route="a",le="0.1"} 4
lat_bucket{route="a",le="+Inf"} 5
lat_sum{route="a"} 0.3
lat_count{route="a"} 5
`

func TestValue(t *testing.T) {
	s := metricstest.Parse(t, strings.NewReader(scrape))
	for _, tc := range []struct {
		name   string
		labels []string
		want   float64
		ok     bool
	}{
		{"req_total", []string{"route", "a", "code", "200"}, 3, true},
		{"req_total", []string{"route", "a"}, 4, true},
		{"req_total", nil, 6, true},
		{"req_total", []string{"route", "c"}, 0, false},
		{"up", nil, 1, true},
		{"lat", []string{"route", "a"}, 5, true},
		{"nope", nil, 0, false},
	} {
		if got, ok := s.Value(tc.name, tc.labels...); got != tc.want || ok != tc.ok {
			t.Errorf("Value(%s, %v) = %v, %v; want %v, %v", tc.name, tc.labels, got, ok, tc.want, tc.ok)
		}
	}
	if got := s.LabelValues("route"); !slices.Equal(got, []string{"a", "b"}) {
		t.Errorf("LabelValues(route) = %v, want [a b]", got)
	}
	if got := s.AllLabelValues(); !slices.Contains(got, "404") || slices.Contains(got, "0.1") {
		t.Errorf("AllLabelValues() = %v: want 404 among them, and no bucket bounds", got)
	}
}
