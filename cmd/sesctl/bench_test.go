package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/sesbolt/sesbolt/pkg/boltstore"
	"github.com/sesbolt/sesbolt/pkg/session"
)

// The benchmarks run sesctl on a database of benchSessions sessions, built
// once per test binary (it takes a while) in a temporary directory, or kept
// at $SESCTL_BENCH_DB to be reused across runs. They are skipped with
// -short.
//
//	go test -run '^$' -bench . -benchtime 3x ./cmd/sesctl
const (
	benchSessions = 1_000_000
	benchExpired  = 10_000 // of which expired but not yet purged
	benchUsers    = 100_000
)

var benchDB struct {
	once sync.Once
	dir  string // temporary directory to remove, if any
	path string
	err  error
}

// benchFile returns the path of the benchmark database, building it first.
func benchFile(b *testing.B) string {
	if testing.Short() {
		b.Skip("builds a database of a million sessions")
	}
	benchDB.once.Do(func() {
		benchDB.path = os.Getenv("SESCTL_BENCH_DB")
		if benchDB.path == "" {
			benchDB.dir, benchDB.err = os.MkdirTemp("", "sesctl-bench-")
			if benchDB.err != nil {
				return
			}
			benchDB.path = filepath.Join(benchDB.dir, "sessions.db")
		}
		if _, err := os.Stat(benchDB.path); err == nil {
			return // reuse
		}
		start := time.Now()
		benchDB.err = buildBenchFile(benchDB.path)
		fmt.Fprintf(os.Stderr, "built %s with %d sessions in %v\n", benchDB.path, benchSessions, time.Since(start).Round(time.Millisecond))
	})
	if benchDB.err != nil {
		b.Fatal(benchDB.err)
	}
	return benchDB.path
}

// removeBenchFile removes a database benchFile built in a temporary
// directory.
func removeBenchFile() {
	if benchDB.dir != "" {
		os.RemoveAll(benchDB.dir)
	}
}

// benchRecord returns the i-th session of the benchmark database: about a
// third anonymous, the rest spread over benchUsers users, the first
// benchExpired expired at testNow.
func benchRecord(i int) *session.Record {
	created := testNow.Add(-time.Duration(i%36000) * time.Second)
	r := &session.Record{
		ID:          session.NewID(),
		Created:     created,
		LastSeen:    created.Add(time.Minute),
		IdleExpires: testNow.Add(30 * time.Minute),
		Deadline:    created.Add(12 * time.Hour),
		Client:      session.ClientInfo{IP: "203.0.113." + strconv.Itoa(i%250), UserAgent: "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"},
		Data: map[string]json.RawMessage{
			"cart":  json.RawMessage(`[` + strconv.Itoa(i%97) + `,2,3]`),
			"theme": json.RawMessage(`"dark"`),
			"csrf":  json.RawMessage(`"5b1a4c3e9d7f2a6b8c0e1f340f8e4d2c"`),
		},
	}
	if i%3 != 0 {
		r.UserID = "user" + strconv.Itoa(i%benchUsers)
	}
	if i < benchExpired {
		r.IdleExpires = testNow.Add(-time.Minute)
	}
	return r
}

// buildBenchFile writes the benchmark database: in atomic batches when
// the store can import, else with concurrent inserts (group commit).
func buildBenchFile(path string) error {
	keys, err := session.NewKeyring(testKey)
	if err != nil {
		return err
	}
	st, err := boltstore.Open(path, &boltstore.Options{
		Keys: keys, ReapInterval: -1, Logger: slog.New(slog.DiscardHandler),
		Now: func() time.Time { return testNow },
	})
	if err != nil {
		return err
	}
	ctx := context.Background()
	if im, ok := any(st).(session.Importer); ok {
		for start := 0; start < benchSessions; start += session.MaxPageSize {
			batch := make([]*session.Record, 0, session.MaxPageSize)
			for i := start; i < min(start+session.MaxPageSize, benchSessions); i++ {
				batch = append(batch, benchRecord(i))
			}
			// Import skips records expired at now: import at a time when
			// every one is live.
			if _, err := im.Import(ctx, batch, testNow.Add(-time.Hour)); err != nil {
				st.Close()
				return err
			}
		}
		return st.Close()
	}
	const workers = 256
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < benchSessions; i += workers {
				r := benchRecord(i)
				if _, err := st.Apply(ctx, &session.Change{ID: r.ID, Now: r.Created, Create: r}); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		st.Close()
		return err
	}
	return st.Close()
}

// benchRun runs sesctl on the benchmark database with stdout discarded.
func benchRun(b *testing.B, path string, args ...string) {
	var stderr countingWriter
	e := env{
		now:      func() time.Time { return testNow },
		stdin:    eofReader{},
		stdout:   io.Discard,
		stderr:   &stderr,
		getenv:   func(k string) string { return map[string]string{envDB: path}[k] },
		terminal: func(any) bool { return false },
		dial:     dialSocket,
	}
	if code := run(context.Background(), args, e); code != exitOK {
		b.Fatalf("sesctl %v: exit %d", args, code)
	}
}

type countingWriter struct{ n int }

func (c *countingWriter) Write(p []byte) (int, error) { c.n += len(p); return len(p), nil }

type eofReader struct{}

func (eofReader) Read([]byte) (int, error) { return 0, io.EOF }

// BenchmarkListJSON1M: "sesctl -o json list" over a million sessions
// (target: at most 5 s).
func BenchmarkListJSON1M(b *testing.B) {
	path := benchFile(b)
	b.ResetTimer()
	for b.Loop() {
		benchRun(b, path, "-o", "json", "list")
	}
	b.ReportMetric(float64(benchSessions-benchExpired)*float64(b.N)/b.Elapsed().Seconds(), "sessions/s")
}

// BenchmarkStats1M: "sesctl stats" on a million sessions (target: at most
// 100 ms).
func BenchmarkStats1M(b *testing.B) {
	path := benchFile(b)
	b.ResetTimer()
	for b.Loop() {
		benchRun(b, path, "stats")
	}
}
