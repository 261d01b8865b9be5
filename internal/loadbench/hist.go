// Package loadbench holds the pieces of the load benchmark (cmd/loadbench):
// a latency histogram, a keep-alive HTTP/1.1 load generator, child process
// control with RSS readings from /proc, and seeding of a SQLite store.
package loadbench

import (
	"math/bits"
	"time"
)

// subBuckets is the number of buckets per power of two of nanoseconds above
// the exact range, so a percentile is off by at most 1/subBuckets (1.6%).
const (
	subBits    = 6
	subBuckets = 1 << subBits
	exact      = 2 * subBuckets // values below this get one bucket each
	numBuckets = exact + (64-subBits-1)*subBuckets
)

// Histogram records latencies in log-linear buckets (HDR-style). The zero
// value is empty and ready. It is not safe for concurrent use: give each
// goroutine its own and Merge them.
type Histogram struct {
	counts   [numBuckets]uint64
	n        uint64
	sum      time.Duration
	min, max time.Duration
}

func bucketOf(v uint64) int {
	if v < exact {
		return int(v)
	}
	shift := bits.Len64(v) - subBits - 1 // v>>shift is in [subBuckets, 2*subBuckets)
	return exact + (shift-1)*subBuckets + int(v>>shift) - subBuckets
}

// bucketRange returns the smallest and largest values of bucket i.
func bucketRange(i int) (lo, hi uint64) {
	if i < exact {
		return uint64(i), uint64(i)
	}
	shift := (i-exact)/subBuckets + 1
	m := uint64((i-exact)%subBuckets + subBuckets)
	return m << shift, (m+1)<<shift - 1
}

// Record adds one latency; negative ones count as zero.
func (h *Histogram) Record(d time.Duration) {
	if d < 0 {
		d = 0
	}
	h.counts[bucketOf(uint64(d))]++
	if h.n == 0 || d < h.min {
		h.min = d
	}
	if d > h.max {
		h.max = d
	}
	h.n++
	h.sum += d
}

// Merge adds o's records to h.
func (h *Histogram) Merge(o *Histogram) {
	if o.n == 0 {
		return
	}
	for i, c := range o.counts {
		h.counts[i] += c
	}
	if h.n == 0 || o.min < h.min {
		h.min = o.min
	}
	h.max = max(h.max, o.max)
	h.n += o.n
	h.sum += o.sum
}

// Count returns the number of records.
func (h *Histogram) Count() uint64 { return h.n }

// Max returns the largest record, 0 if none.
func (h *Histogram) Max() time.Duration { return h.max }

// Mean returns the mean record, 0 if none.
func (h *Histogram) Mean() time.Duration {
	if h.n == 0 {
		return 0
	}
	return h.sum / time.Duration(h.n)
}

// Percentile returns the record at or below which p percent of the records
// lie (the nearest-rank definition), 0 for an empty histogram. It is the
// middle of that record's bucket, kept within the smallest and largest
// records.
func (h *Histogram) Percentile(p float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	rank := uint64(p / 100 * float64(h.n))
	if float64(rank) < p/100*float64(h.n) {
		rank++ // ceil
	}
	rank = min(max(rank, 1), h.n)
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			lo, hi := bucketRange(i)
			v := time.Duration(lo + (hi-lo)/2)
			return min(max(v, h.min), h.max)
		}
	}
	return h.max
}
