// Package commitstats summarises a store's write commits for
// session.Stats.Commits: how many, how many operations and failures, and
// percentiles of their durations from a histogram with fixed buckets. It
// needs no metrics library (stores do not import one) and costs a few
// atomic additions per commit.
package commitstats

import (
	"math"
	"sync/atomic"
	"time"

	"github.com/sesbolt/sesbolt/pkg/session"
)

// Bucket layout: bucket i holds durations in (bound(i-1), bound(i)], with
// bound(i) = minBound * growth^i; the first bucket also holds everything
// shorter and the last everything longer. 1 µs to about 3 minutes in
// steps of 25%.
const (
	minBound = time.Microsecond
	growth   = 1.25
	buckets  = 86 // bound(85) = 1 µs * 1.25^85 ≈ 178 s
)

// Recorder accumulates commits. The zero Recorder is ready; it is safe for
// concurrent use.
type Recorder struct {
	counts  [buckets]atomic.Int64
	changes atomic.Int64
	failed  atomic.Int64
	max     atomic.Int64 // nanoseconds
}

// Add records one commit.
func (r *Recorder) Add(c session.Commit) {
	r.counts[bucketOf(c.Duration)].Add(1)
	r.changes.Add(int64(c.Size))
	if c.Err != nil {
		r.failed.Add(1)
	}
	for d := int64(c.Duration); ; {
		m := r.max.Load()
		if d <= m || r.max.CompareAndSwap(m, d) {
			break
		}
	}
}

// Stats returns the summary so far; zero when no commit was recorded.
// Percentiles are the upper bound of the bucket they fall in, never more
// than Max.
func (r *Recorder) Stats() session.CommitStats {
	var snap [buckets]int64
	var total int64
	for i := range snap {
		snap[i] = r.counts[i].Load()
		total += snap[i]
	}
	if total == 0 {
		return session.CommitStats{}
	}
	maxD := time.Duration(r.max.Load())
	quantile := func(q float64) time.Duration {
		rank := int64(math.Ceil(q * float64(total)))
		var cum int64
		for i, n := range snap {
			if cum += n; cum >= rank {
				return min(bound(i), maxD)
			}
		}
		return maxD
	}
	return session.CommitStats{
		Count:   total,
		Changes: r.changes.Load(),
		Failed:  r.failed.Load(),
		P50:     quantile(0.50),
		P90:     quantile(0.90),
		P99:     quantile(0.99),
		Max:     maxD,
	}
}

// bound returns the upper bound of bucket i.
func bound(i int) time.Duration {
	return time.Duration(float64(minBound) * math.Pow(growth, float64(i)))
}

// bucketOf returns the bucket of d.
func bucketOf(d time.Duration) int {
	if d <= minBound {
		return 0
	}
	i := int(math.Ceil(math.Log(float64(d)/float64(minBound)) / math.Log(growth)))
	// Floating point may land one off at a bound: settle it exactly.
	for i > 0 && d <= bound(i-1) {
		i--
	}
	for i < buckets-1 && d > bound(i) {
		i++
	}
	return min(i, buckets-1)
}
