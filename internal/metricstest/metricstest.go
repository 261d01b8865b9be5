// Package metricstest reads a Prometheus text scrape, for tests that check
// what latchkey's /metrics says.
package metricstest

import (
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// Scrape is one scrape's metric families by name.
type Scrape map[string]*dto.MetricFamily

// Parse reads a scrape in the text exposition format.
func Parse(tb testing.TB, r io.Reader) Scrape {
	tb.Helper()
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(r)
	if err != nil {
		tb.Fatalf("parse the scrape: %v", err)
	}
	return fams
}

// Serve scrapes h in process with a GET /metrics.
func Serve(tb testing.TB, h http.Handler) Scrape {
	tb.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != http.StatusOK {
		tb.Fatalf("GET /metrics: %d %s", rec.Code, rec.Body)
	}
	return Parse(tb, rec.Body)
}

// Get scrapes url over HTTP.
func Get(tb testing.TB, url string) Scrape {
	tb.Helper()
	resp, err := http.Get(url)
	if err != nil {
		tb.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		tb.Fatalf("GET %s: %d %s", url, resp.StatusCode, b)
	}
	return Parse(tb, resp.Body)
}

// Value returns the value of the series of the family name whose labels
// include labels (name, value pairs): a counter's or gauge's value, a
// histogram's count. With several such series it returns their sum; ok is
// false when there is none.
func (s Scrape) Value(name string, labels ...string) (v float64, ok bool) {
	f := s[name]
	if f == nil {
		return 0, false
	}
	for _, m := range f.GetMetric() {
		if !has(m, labels) {
			continue
		}
		ok = true
		switch {
		case m.Counter != nil:
			v += m.GetCounter().GetValue()
		case m.Gauge != nil:
			v += m.GetGauge().GetValue()
		case m.Histogram != nil:
			v += float64(m.GetHistogram().GetSampleCount())
		case m.Untyped != nil:
			v += m.GetUntyped().GetValue()
		}
	}
	return v, ok
}

// LabelValues returns every value the label name has in the scrape.
func (s Scrape) LabelValues(name string) []string {
	var vs []string
	for _, f := range s {
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == name && !slices.Contains(vs, l.GetValue()) {
					vs = append(vs, l.GetValue())
				}
			}
		}
	}
	slices.Sort(vs)
	return vs
}

// AllLabelValues returns every label value in the scrape, of any label.
func (s Scrape) AllLabelValues() []string {
	var vs []string
	for _, f := range s {
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				vs = append(vs, l.GetValue())
			}
		}
	}
	return vs
}

func has(m *dto.Metric, labels []string) bool {
	for i := 0; i+1 < len(labels); i += 2 {
		found := false
		for _, l := range m.GetLabel() {
			if l.GetName() == labels[i] && l.GetValue() == labels[i+1] {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}
