package loadbench

import (
	"math/rand/v2"
	"testing"
	"time"
)

func TestBucketsCoverEveryValue(t *testing.T) {
	prevHi := uint64(0)
	for i := 0; i < numBuckets; i++ {
		lo, hi := bucketRange(i)
		if i > 0 && lo != prevHi+1 {
			t.Fatalf("bucket %d starts at %d, want %d (right after bucket %d)", i, lo, prevHi+1, i-1)
		}
		if bucketOf(lo) != i || bucketOf(hi) != i {
			t.Fatalf("bucket %d = [%d, %d]: bucketOf gives %d and %d", i, lo, hi, bucketOf(lo), bucketOf(hi))
		}
		if lo >= exact && float64(hi-lo+1)/float64(lo) > 1.0/subBuckets+1e-12 {
			t.Fatalf("bucket %d = [%d, %d] is wider than 1/%d of its values", i, lo, hi, subBuckets)
		}
		prevHi = hi
	}
	if bucketOf(1<<63) >= numBuckets || bucketOf(^uint64(0)) != numBuckets-1 {
		t.Fatalf("largest values fall outside the buckets")
	}
}

func TestPercentiles(t *testing.T) {
	var h Histogram
	// 1µs..10,000µs once each, shuffled: the p-th percentile is p×100µs.
	vals := make([]time.Duration, 10000)
	for i := range vals {
		vals[i] = time.Duration(i+1) * time.Microsecond
	}
	rand.Shuffle(len(vals), func(i, j int) { vals[i], vals[j] = vals[j], vals[i] })
	for _, v := range vals {
		h.Record(v)
	}
	for _, tc := range []struct {
		p    float64
		want time.Duration
	}{
		{50, 5000 * time.Microsecond},
		{90, 9000 * time.Microsecond},
		{99, 9900 * time.Microsecond},
		{99.9, 9990 * time.Microsecond},
		{100, 10000 * time.Microsecond},
		{0, time.Microsecond},
	} {
		got := h.Percentile(tc.p)
		if diff := float64(got-tc.want) / float64(tc.want); diff < -1.0/subBuckets || diff > 1.0/subBuckets {
			t.Errorf("p%v: got %v, want %v within 1/%d", tc.p, got, tc.want, subBuckets)
		}
	}
	if got, want := h.Count(), uint64(10000); got != want {
		t.Errorf("Count: got %d, want %d", got, want)
	}
	if got, want := h.Mean(), 5000500*time.Nanosecond; got != want {
		t.Errorf("Mean: got %v, want %v", got, want)
	}
}

func TestPercentileEdgeCases(t *testing.T) {
	var empty Histogram
	if got := empty.Percentile(99); got != 0 {
		t.Errorf("empty: got %v, want 0", got)
	}
	var one Histogram
	one.Record(1234567 * time.Nanosecond)
	for _, p := range []float64{0, 50, 99, 100} {
		if got := one.Percentile(p); got != 1234567*time.Nanosecond {
			t.Errorf("one record, p%v: got %v, want exactly it", p, got)
		}
	}
	var skew Histogram // 99 fast, 1 slow: p99 is fast, p99.5 slow
	for range 99 {
		skew.Record(time.Millisecond)
	}
	skew.Record(time.Second)
	if got := skew.Percentile(99); got > 1020*time.Microsecond {
		t.Errorf("p99 of 99×1ms + 1×1s: got %v, want about 1ms", got)
	}
	if got := skew.Percentile(99.5); got != time.Second {
		t.Errorf("p99.5 of 99×1ms + 1×1s: got %v, want 1s", got)
	}
}

func TestMerge(t *testing.T) {
	var a, b, both Histogram
	for i := range 1000 {
		d := time.Duration(i*i) * time.Nanosecond
		both.Record(d)
		if i%3 == 0 {
			a.Record(d)
		} else {
			b.Record(d)
		}
	}
	a.Merge(&b)
	a.Merge(&Histogram{})
	if a != both {
		t.Errorf("merged histogram differs from one fed every record: count %d vs %d, max %v vs %v",
			a.Count(), both.Count(), a.Max(), both.Max())
	}
}
