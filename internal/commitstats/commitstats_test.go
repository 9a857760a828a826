package commitstats

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/sesbolt/sesbolt/pkg/session"
)

func TestBucketOf(t *testing.T) {
	for i := 1; i < buckets; i++ {
		b := bound(i)
		if got := bucketOf(b); got != i {
			t.Errorf("bucketOf(bound(%d) = %v) = %d", i, b, got)
		}
		if got := bucketOf(b + 1); got != min(i+1, buckets-1) {
			t.Errorf("bucketOf(bound(%d)+1ns) = %d, want %d", i, got, min(i+1, buckets-1))
		}
	}
	for _, d := range []time.Duration{-time.Second, 0, time.Nanosecond, minBound} {
		if got := bucketOf(d); got != 0 {
			t.Errorf("bucketOf(%v) = %d, want 0", d, got)
		}
	}
	if got := bucketOf(time.Hour); got != buckets-1 {
		t.Errorf("bucketOf(1h) = %d, want the last bucket", got)
	}
}

func TestStats(t *testing.T) {
	var r Recorder
	if st := r.Stats(); st != (session.CommitStats{}) {
		t.Fatalf("no commit: %+v, want zero", st)
	}
	// 100 commits: 1 ms .. 100 ms, 3 operations each, 2 failed.
	for i := 1; i <= 100; i++ {
		c := session.Commit{Duration: time.Duration(i) * time.Millisecond, Size: 3}
		if i%50 == 0 {
			c.Err = errors.New("disk full")
		}
		r.Add(c)
	}
	st := r.Stats()
	if st.Count != 100 || st.Changes != 300 || st.Failed != 2 || st.Max != 100*time.Millisecond {
		t.Fatalf("counts %+v", st)
	}
	// A percentile is the upper bound of its bucket: at most 25% above the
	// true value, never below it, never above the maximum.
	for _, c := range []struct {
		name      string
		got, true time.Duration
	}{{"p50", st.P50, 50 * time.Millisecond}, {"p90", st.P90, 90 * time.Millisecond}, {"p99", st.P99, 99 * time.Millisecond}} {
		if c.got < c.true || float64(c.got) > float64(c.true)*growth || c.got > st.Max {
			t.Errorf("%s = %v, want within [%v, %v] and ≤ max", c.name, c.got, c.true, time.Duration(float64(c.true)*growth))
		}
	}

	// One commit: every percentile is it.
	var one Recorder
	one.Add(session.Commit{Duration: 3 * time.Millisecond, Size: 1})
	if st := one.Stats(); st.P50 != 3*time.Millisecond || st.P99 != 3*time.Millisecond || st.Max != 3*time.Millisecond {
		t.Errorf("one commit of 3ms: %+v", st)
	}
}

func TestConcurrentAdd(t *testing.T) {
	var r Recorder
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 1000 {
				r.Add(session.Commit{Duration: time.Duration(g*1000+i) * time.Microsecond, Size: 1})
			}
		})
	}
	wg.Wait()
	if st := r.Stats(); st.Count != 8000 || st.Changes != 8000 || st.Max != 7999*time.Microsecond {
		t.Errorf("after 8000 concurrent commits: %+v", st)
	}
}
