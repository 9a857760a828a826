package boltstore_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sesbolt/sesbolt/pkg/boltstore"
	"github.com/sesbolt/sesbolt/pkg/session"
	"github.com/sesbolt/sesbolt/pkg/session/sessiontest"
)

// Benchmarks. The large files (100k and 1M sessions) are built once per
// process (or kept in BOLTSTORE_BENCH_DIR across processes) and copied for
// benchmarks that change them; -short skips the 1M ones, and the 1M reap
// benchmark also needs BOLTSTORE_BENCH_1M=1.
//
//	go test -run '^$' -bench . -benchtime 2000x -short ./pkg/boltstore
//	go test -run '^$' -bench 'Reap$' -benchtime 3x -short ./pkg/boltstore

// benchRecord is a typical session: a user, client info, a CSRF token, a
// flash message and a small cart (about 600 bytes of JSON).
func benchRecord(id session.ID, user string, now time.Time) *session.Record {
	r := sessiontest.NewRecord(id, user, now)
	r.Client.UserAgent = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
	r.Data["csrf"] = rawJSON("b3f1c2d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718")
	r.Data["flash"] = rawJSON("Your changes were saved.")
	r.Data["cart"] = rawJSON([]map[string]any{{"sku": "A-1001", "qty": 2}, {"sku": "B-2002", "qty": 1}})
	return r
}

var benchBase = sessiontest.Base()

// benchFile returns the path of a closed store file with n sessions, built
// once per process (or reused from BOLTSTORE_BENCH_DIR, when set, across
// processes): 10% expire at benchBase+30m, the rest at benchBase+1h30m.
// ids are the sessions' ids.
func benchFile(b *testing.B, n int) (path string, ids []session.ID) {
	b.Helper()
	benchFilesMu.Lock()
	defer benchFilesMu.Unlock()
	if f, ok := benchFiles[n]; ok {
		return f.path, f.ids
	}
	dir := os.Getenv("BOLTSTORE_BENCH_DIR")
	if dir == "" {
		if benchDir == "" {
			d, err := os.MkdirTemp("", "boltstore-bench")
			if err != nil {
				b.Fatal(err)
			}
			benchDir = d
		}
		dir = benchDir
	}
	path = filepath.Join(dir, fmt.Sprintf("sessions-%d.db", n))
	idsPath := path + ".ids"
	if raw, err := os.ReadFile(idsPath); err == nil && len(raw) == n*16 {
		ids = make([]session.ID, n)
		for i := range ids {
			copy(ids[i][:], raw[i*16:])
		}
		benchFiles[n] = benchFileInfo{path, ids}
		return path, ids
	}
	start := time.Now()
	os.Remove(path)
	s, err := boltstore.Open(path, benchOptions(b))
	if err != nil {
		b.Fatal(err)
	}
	ids = make([]session.ID, n)
	const chunk = 10000
	for lo := 0; lo < n; lo += chunk {
		recs := make([]*session.Record, 0, chunk)
		for i := lo; i < min(n, lo+chunk); i++ {
			ids[i] = session.NewID()
			created := benchBase.Add(time.Hour)
			if i%10 == 0 {
				// Expired, created over ten minutes: the expiry
				// index does not follow the id order.
				created = benchBase.Add(time.Duration(i/10%600) * time.Second)
			}
			recs = append(recs, benchRecord(ids[i], fmt.Sprintf("user%d", i%(n/3+1)), created))
		}
		if err := boltstore.BulkInsert(s, recs, 2000); err != nil {
			b.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		b.Fatal(err)
	}
	raw := make([]byte, 0, n*16)
	for _, id := range ids {
		raw = append(raw, id[:]...)
	}
	if err := os.WriteFile(idsPath, raw, 0o600); err != nil {
		b.Fatal(err)
	}
	fi, _ := os.Stat(path)
	b.Logf("built %d sessions in %v (%d MB)", n, time.Since(start).Round(time.Millisecond), fi.Size()>>20)
	benchFiles[n] = benchFileInfo{path, ids}
	return path, ids
}

type benchFileInfo struct {
	path string
	ids  []session.ID
}

var (
	benchFilesMu sync.Mutex
	benchFiles   = map[int]benchFileInfo{}
)

func benchOptions(b *testing.B) *boltstore.Options {
	o := testOptions(b)
	o.LockTimeout = 5 * time.Second
	return o
}

// copyBenchFile copies src into a temporary directory.
func copyBenchFile(b *testing.B, src string) string {
	b.Helper()
	in, err := os.Open(src)
	if err != nil {
		b.Fatal(err)
	}
	defer in.Close()
	dst := filepath.Join(b.TempDir(), "copy.db")
	out, err := os.Create(dst)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		b.Fatal(err)
	}
	// On disk before the benchmark starts: otherwise the store's first
	// fsync would write the whole copy and be counted.
	if err := out.Sync(); err != nil {
		b.Fatal(err)
	}
	if err := out.Close(); err != nil {
		b.Fatal(err)
	}
	return dst
}

// runGoroutines runs b.N calls of fn spread over g goroutines; worker is
// the goroutine's number in [0, g).
func runGoroutines(b *testing.B, g int, fn func(worker, i int)) {
	if g == 1 {
		for i := range b.N {
			fn(0, i)
		}
		return
	}
	procs := runtime.GOMAXPROCS(0)
	b.SetParallelism((g + procs - 1) / procs)
	var next atomic.Int64
	b.RunParallel(func(pb *testing.PB) {
		worker := int(next.Add(1) - 1)
		for i := 0; pb.Next(); i++ {
			fn(worker, i)
		}
	})
}

var goroutineCounts = []int{1, 64}

func BenchmarkLoad(b *testing.B) {
	path, ids := benchFile(b, 10000)
	opts := benchOptions(b)
	opts.ReadOnly = true
	s := openAt(b, path, opts)
	ctx := context.Background()
	for _, g := range goroutineCounts {
		b.Run(fmt.Sprintf("goroutines=%d", g), func(b *testing.B) {
			runGoroutines(b, g, func(w, i int) {
				if _, err := s.Load(ctx, ids[(w*7919+i)%len(ids)], benchBase); err != nil {
					b.Fatal(err)
				}
			})
		})
	}
}

// BenchmarkLoadSize compares read latency with 1k, 100k and 1M sessions.
func BenchmarkLoadSize(b *testing.B) {
	for _, n := range []int{1000, 100000, 1000000} {
		b.Run(fmt.Sprintf("sessions=%d", n), func(b *testing.B) {
			if n > 100000 && testing.Short() {
				b.Skip("-short: skipping the 1M-session file")
			}
			path, ids := benchFile(b, n)
			opts := benchOptions(b)
			opts.ReadOnly = true
			s := openAt(b, path, opts)
			ctx := context.Background()
			// Touch every session once, so the timed loads measure the tree,
			// not the first page faults of a freshly mapped file.
			for _, id := range ids {
				if _, err := s.Load(ctx, id, benchBase); err != nil {
					b.Fatal(err)
				}
			}
			b.ResetTimer()
			for i := range b.N {
				if _, err := s.Load(ctx, ids[(i*7919)%len(ids)], benchBase); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// benchWrites runs the write-one-key workload: each goroutine sets one key
// of its own session, through apply.
func benchWrites(b *testing.B, apply func(s *boltstore.Store, c *session.Change) error) {
	for _, g := range goroutineCounts {
		b.Run(fmt.Sprintf("goroutines=%d", g), func(b *testing.B) {
			path, ids := benchFile(b, 10000)
			s := openAt(b, copyBenchFile(b, path), benchOptions(b))
			before := boltstore.Commits(s)
			b.ResetTimer()
			runGoroutines(b, g, func(w, i int) {
				c := &session.Change{ID: ids[w*10+1], Now: benchBase.Add(time.Hour),
					Set: map[string]json.RawMessage{"counter": rawJSON(i)}}
				if err := apply(s, c); err != nil {
					b.Fatal(err)
				}
			})
			b.StopTimer()
			if txs := boltstore.Commits(s) - before; txs > 0 {
				b.ReportMetric(float64(b.N)/float64(txs), "changes/tx")
			}
		})
	}
}

func BenchmarkWriteKey(b *testing.B) {
	benchWrites(b, func(s *boltstore.Store, c *session.Change) error {
		_, err := s.Apply(context.Background(), c)
		return err
	})
}

// BenchmarkWriteKeyBaseline is BenchmarkWriteKey with one bbolt
// transaction per change (no group commit), for the ratio.
func BenchmarkWriteKeyBaseline(b *testing.B) {
	benchWrites(b, boltstore.ApplyDirect)
}

// BenchmarkWriteKeyDBBatch is BenchmarkWriteKey through bbolt's DB.Batch
// (default MaxBatchDelay, 10 ms) instead of the store's committer: why the
// store does not use DB.Batch (see commit.go). Its changes/tx is not
// reported: DB.Batch's transactions are not the committer's.
func BenchmarkWriteKeyDBBatch(b *testing.B) {
	benchWrites(b, boltstore.ApplyBatch)
}

func BenchmarkNewSession(b *testing.B) {
	for _, g := range goroutineCounts {
		b.Run(fmt.Sprintf("goroutines=%d", g), func(b *testing.B) {
			path, _ := benchFile(b, 10000)
			s := openAt(b, copyBenchFile(b, path), benchOptions(b))
			ctx := context.Background()
			before := boltstore.Commits(s)
			b.ResetTimer()
			runGoroutines(b, g, func(w, i int) {
				r := benchRecord(session.NewID(), "", benchBase.Add(time.Hour))
				if _, err := s.Apply(ctx, sessiontest.CreateChange(r)); err != nil {
					b.Fatal(err)
				}
			})
			b.StopTimer()
			if txs := boltstore.Commits(s) - before; txs > 0 {
				b.ReportMetric(float64(b.N)/float64(txs), "changes/tx")
			}
		})
	}
}

// BenchmarkReap measures one expiry pass removing 10% of a file's sessions.
// Each iteration works on a fresh copy (copying is not timed).
func BenchmarkReap(b *testing.B) {
	for _, n := range []int{100000, 1000000} {
		b.Run(fmt.Sprintf("10pct-of-%d", n), func(b *testing.B) {
			if n > 100000 && (testing.Short() || os.Getenv("BOLTSTORE_BENCH_1M") == "") {
				b.Skip("set BOLTSTORE_BENCH_1M=1 (and no -short) to reap a 1M-session file")
			}
			path, _ := benchFile(b, n)
			var longest time.Duration
			b.ResetTimer()
			for range b.N {
				b.StopTimer()
				s, err := boltstore.Open(copyBenchFile(b, path), benchOptions(b))
				if err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				removed, err := s.Purge(context.Background(), benchBase.Add(45*time.Minute))
				b.StopTimer()
				if err != nil || removed != n/10 {
					b.Fatalf("Purge = %d, %v; want %d", removed, err, n/10)
				}
				st, err := s.Stats(context.Background(), benchBase)
				if err != nil {
					b.Fatal(err)
				}
				longest = max(longest, st.LastReap.LongestStep)
				s.Close()
				b.StartTimer()
			}
			b.ReportMetric(float64(longest.Microseconds())/1000, "max-tx-ms")
		})
	}
}

// BenchmarkReapNothingExpired is a reaper pass that finds nothing to do on
// a 100k-session file: its cost must not depend on the file's size.
func BenchmarkReapNothingExpired(b *testing.B) {
	path, _ := benchFile(b, 100000)
	s := openAt(b, copyBenchFile(b, path), benchOptions(b))
	b.ResetTimer()
	for range b.N {
		if n, err := s.Purge(context.Background(), benchBase); err != nil || n != 0 {
			b.Fatalf("Purge = %d, %v", n, err)
		}
	}
}
