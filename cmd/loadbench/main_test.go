package main

import (
	"io"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/loadbench"
)

func TestMedian(t *testing.T) {
	for _, tc := range []struct {
		in   []float64
		want float64
	}{
		{nil, 0},
		{[]float64{3}, 3},
		{[]float64{5, 1, 3}, 3},
		{[]float64{4, 1, 3, 2}, 2.5},
	} {
		in := slices.Clone(tc.in)
		if got := median(tc.in); got != tc.want {
			t.Errorf("median(%v): got %v, want %v", tc.in, got, tc.want)
		}
		if !slices.Equal(in, tc.in) {
			t.Errorf("median(%v) reordered its argument", in)
		}
	}
	if got := median([]time.Duration{3, 1, 2}); got != 2 {
		t.Errorf("median of durations: got %v, want 2ns", got)
	}
}

func TestShortKeepsExplicitFlags(t *testing.T) {
	o, err := parseOptions([]string{"-short", "-rounds", "2"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if o.rounds != 2 || o.duration != time.Second || !slices.Equal(o.sessions, []int{1000, 10000}) || o.flood != 20 {
		t.Errorf("-short -rounds 2: got rounds %d, duration %v, sessions %v, flood %d; want 2, 1s, [1000 10000], 20",
			o.rounds, o.duration, o.sessions, o.flood)
	}
	o, err = parseOptions(nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if o.rounds != 3 || !slices.Equal(o.sessions, []int{1000, 1000000}) || o.flood != 500 || o.conns != 64 || len(o.parts) != 3 || !slices.Equal(o.modes, []string{"session"}) {
		t.Errorf("defaults: got %+v", o)
	}
}

func TestTokenModes(t *testing.T) {
	for _, tc := range []struct {
		arg  string
		want []string
	}{
		{"session", []string{"session"}},
		{"jwt", []string{"jwt"}},
		{"session,jwt", []string{"session", "jwt"}},
		{"jwt, session,jwt", []string{"jwt", "session"}},
	} {
		o, err := parseOptions([]string{"-short", "-token-mode", tc.arg}, io.Discard)
		if err != nil {
			t.Fatalf("-token-mode %q: %v", tc.arg, err)
		}
		if !slices.Equal(o.modes, tc.want) {
			t.Errorf("-token-mode %q: got %q, want %q", tc.arg, o.modes, tc.want)
		}
	}
}

func TestBadOptions(t *testing.T) {
	for _, args := range [][]string{
		{"-store", "oracle"},
		{"-sessions", "1000,x"},
		{"-sessions", "0"},
		{"-rounds", "0"},
		{"extra"},
		{"-parts", "check,bench"},
		{"-token-mode", "cookie"},
		{"-token-mode", ""},
	} {
		if _, err := parseOptions(args, io.Discard); err == nil {
			t.Errorf("parseOptions(%q): got nil error, want one", args)
		}
	}
}

// metricsCost takes each round's ratio, then the median, so one round
// disturbed by other load does not move it.
func TestMetricsCost(t *testing.T) {
	res := func(reqs uint64) *loadbench.Result { return &loadbench.Result{Requests: reqs, Elapsed: time.Second} }
	on := &server{
		cpu:     map[string][]time.Duration{"/p": {102, 300, 104}},
		results: map[string][]*loadbench.Result{"/p": {res(98), res(50), res(96)}},
	}
	off := &server{
		cpu:     map[string][]time.Duration{"/p": {100, 100, 100}},
		results: map[string][]*loadbench.Result{"/p": {res(100), res(100), res(100)}},
	}
	cost, tput := metricsCost(on, off, "/p")
	if math.Abs(cost-4) > 1e-9 || math.Abs(tput-0.96) > 1e-9 {
		t.Errorf("metricsCost: %v%% CPU, %v x throughput; want 4%%, 0.96 x (the median rounds)", cost, tput)
	}
	o, err := parseOptions([]string{"-metrics-off"}, io.Discard)
	if err != nil || !o.metricsOff {
		t.Errorf("-metrics-off: %+v, %v", o, err)
	}
}
