package boltstore_test

import (
	"context"
	"encoding/json"
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sesbolt/sesbolt/pkg/boltstore"
	"github.com/sesbolt/sesbolt/pkg/session"
)

// BenchmarkWriteDuringList measures what an operator's listing (sesctl
// list, which pages through the store) costs the application's writes.
// Eight goroutines apply b.N one-key changes in all to random live
// sessions of a 100k-session file, timing each Apply, while one more
// goroutine runs in the background:
//
//	background=none  nothing: the baseline
//	background=list  pages through every record (List, Filter All, 1000
//	                 per page) again and again until the writers are done
//	background=spin  keeps one core busy without touching the store: the
//	                 control that tells CPU contention from the store's own
//	                 interference
//
// It reports the write latency's p50, p99 and max, changes per commit, and
// for list the full passes the listing made and their mean duration. Each
// variant works on a fresh copy of the file, every page read once
// beforehand. Skipped with -short.
//
//	go test -run '^$' -bench WriteDuringList -benchtime 5000x -count 5 ./pkg/boltstore
func BenchmarkWriteDuringList(b *testing.B) {
	if testing.Short() {
		b.Skip("-short: builds a 100k-session file and writes for seconds")
	}
	const writers = 8
	path, ids := benchFile(b, 100000)
	now := benchBase.Add(time.Hour) // every session live but the 10% with i%10 == 0
	for _, bg := range []string{"none", "list", "spin"} {
		b.Run("background="+bg, func(b *testing.B) {
			s := openAt(b, copyBenchFile(b, path), benchOptions(b))
			ctx := context.Background()
			// Map every page once, as a listing would, so that no variant
			// pays the first page faults in its timed writes.
			if _, err := listPass(ctx, s, now, nil); err != nil {
				b.Fatal(err)
			}

			stop, bgDone := make(chan struct{}), make(chan struct{})
			var passes int
			var passTime time.Duration
			var listErr error
			go func() {
				defer close(bgDone)
				switch bg {
				case "list":
					for {
						start := time.Now()
						done, err := listPass(ctx, s, now, stop)
						if err != nil || !done {
							listErr = err
							return
						}
						passes++
						passTime += time.Since(start)
					}
				case "spin":
					spin(stop)
				}
			}()

			lat := make([][]time.Duration, writers)
			var next atomic.Int64
			var wg sync.WaitGroup
			before := boltstore.Commits(s)
			b.ResetTimer()
			for w := range writers {
				wg.Go(func() {
					rng := rand.New(rand.NewPCG(uint64(w), 42))
					for next.Add(1) <= int64(b.N) {
						i := rng.IntN(len(ids))
						if i%10 == 0 { // expired at now
							i++
						}
						c := &session.Change{ID: ids[i], Now: now,
							Set: map[string]json.RawMessage{"counter": rawJSON(i)}}
						start := time.Now()
						_, err := s.Apply(ctx, c)
						lat[w] = append(lat[w], time.Since(start))
						if err != nil {
							b.Error(err)
							return
						}
					}
				})
			}
			wg.Wait()
			b.StopTimer()
			close(stop)
			<-bgDone
			if listErr != nil {
				b.Fatal(listErr)
			}

			all := slices.Concat(lat...)
			slices.Sort(all)
			b.ReportMetric(micros(percentile(all, 0.50)), "p50-us")
			b.ReportMetric(micros(percentile(all, 0.99)), "p99-us")
			b.ReportMetric(micros(all[len(all)-1]), "max-us")
			if txs := boltstore.Commits(s) - before; txs > 0 {
				b.ReportMetric(float64(b.N)/float64(txs), "changes/tx")
			}
			if bg == "list" {
				b.ReportMetric(float64(passes), "list-passes")
				if passes > 0 {
					b.ReportMetric(float64(passTime.Milliseconds())/float64(passes), "list-pass-ms")
				}
			}
		})
	}
}

// BenchmarkList pages through 200k records, 1000 per page as sesctl list
// does, from one file listed at two instants: when every record is live
// (filter=live, which walks the sessions bucket in id order) and when every
// record has expired (filter=expired, which walks the expiry index). A
// listing of expired records, which an operator runs on a file that was
// down for a while, must cost about what a listing of as many live ones
// does: linear in the records, each page a short read transaction. The
// file is built once (and kept in BOLTSTORE_BENCH_DIR when set); skipped
// with -short.
//
//	go test -run '^$' -bench '^BenchmarkList$' -benchtime 3x -count 5 ./pkg/boltstore
func BenchmarkList(b *testing.B) {
	if testing.Short() {
		b.Skip("-short: builds a 200k-session file")
	}
	const n = 200000
	path, _ := benchFile(b, n)
	opts := benchOptions(b)
	opts.ReadOnly = true
	s := openAt(b, path, opts)
	ctx := context.Background()
	for _, c := range []struct {
		filter session.Filter
		now    time.Time
	}{
		{session.Live, benchBase},                       // before any expiry
		{session.Expired, benchBase.Add(2 * time.Hour)}, // after every expiry
	} {
		b.Run("filter="+c.filter.String(), func(b *testing.B) {
			q := session.ListQuery{Filter: c.filter, Limit: session.MaxPageSize, Now: c.now}
			// One pass first, so that no variant pays the file's first page
			// faults.
			if got, _, err := listCount(ctx, s, q); err != nil || got != n {
				b.Fatalf("listing %s records: %d, %v; want %d", c.filter, got, err, n)
			}
			var pages int
			b.ResetTimer()
			for range b.N {
				got, p, err := listCount(ctx, s, q)
				if err != nil || got != n {
					b.Fatalf("listing %s records: %d, %v; want %d", c.filter, got, err, n)
				}
				pages = p
			}
			b.ReportMetric(float64(pages), "pages")
		})
	}
}

// listCount pages through the records of s matching q and returns how many
// records and pages it saw.
func listCount(ctx context.Context, s *boltstore.Store, q session.ListQuery) (records, pages int, err error) {
	for {
		page, err := s.List(ctx, q)
		if err != nil {
			return records, pages, err
		}
		records += len(page.Records)
		pages++
		if page.Next.IsZero() {
			return records, pages, nil
		}
		q.After = page.Next
	}
}

// listPass pages through every record of s as sesctl list --all does. It
// returns false, without error, if stop was closed before the last page.
func listPass(ctx context.Context, s *boltstore.Store, now time.Time, stop <-chan struct{}) (bool, error) {
	q := session.ListQuery{Filter: session.All, Limit: session.MaxPageSize, Now: now}
	for {
		select {
		case <-stop:
			return false, nil
		default:
		}
		page, err := s.List(ctx, q)
		if err != nil {
			return false, err
		}
		if page.Next.IsZero() {
			return true, nil
		}
		q.After = page.Next
	}
}

// percentile returns the p-quantile (nearest rank) of sorted, which must
// not be empty.
func percentile(sorted []time.Duration, p float64) time.Duration {
	i := int(math.Ceil(p*float64(len(sorted)))) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

func micros(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e3 }

// spinSink keeps spin's arithmetic from being optimised away.
var spinSink atomic.Int64

// spin keeps one goroutine busy until stop is closed.
func spin(stop <-chan struct{}) {
	x := int64(0)
	for {
		select {
		case <-stop:
			spinSink.Store(x)
			return
		default:
		}
		for i := range int64(100000) {
			x += i * i
		}
	}
}
