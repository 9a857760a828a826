package boltstore_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sesbolt/sesbolt/pkg/boltstore"
	"github.com/sesbolt/sesbolt/pkg/session"
	"github.com/sesbolt/sesbolt/pkg/session/sessiontest"
)

func TestGroupCommit(t *testing.T) {
	s, _ := openTemp(t)
	ctx := context.Background()
	now := sessiontest.Base()
	const writers, perWriter = 64, 20
	recs := insert(t, s, writers, now, nil)

	before := boltstore.Commits(s)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for w := range writers {
		wg.Go(func() {
			<-start
			for i := range perWriter {
				c := &session.Change{ID: recs[w].ID, Now: now,
					Set: map[string]json.RawMessage{fmt.Sprint("k", i): rawJSON(i)}}
				if _, err := s.Apply(ctx, c); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	close(start)
	wg.Wait()
	changes := int64(writers * perWriter)
	txs := boltstore.Commits(s) - before
	t.Logf("%d changes from %d writers in %d transactions (%.1f per transaction)",
		changes, writers, txs, float64(changes)/float64(txs))
	if txs > changes/4 {
		t.Fatalf("%d changes took %d transactions; want group commit (at most %d)", changes, txs, changes/4)
	}
	for _, r := range recs {
		got, err := s.Load(ctx, r.ID, now)
		if err != nil || len(got.Data) != perWriter+1 || got.Version != perWriter+1 {
			t.Fatalf("record %s after the writes: %+v, %v", r.ID, got, err)
		}
	}
	mustCheck(t, s)
}

func TestLoneWriterCommitsAtOnce(t *testing.T) {
	// On tmpfs an fsync costs microseconds, so the time a change waits is
	// the committer's own: it must not wait for company.
	dir := t.TempDir()
	if fi, err := os.Stat("/dev/shm"); err == nil && fi.IsDir() {
		if d, err := os.MkdirTemp("/dev/shm", "boltstore-test"); err == nil {
			dir = d
			t.Cleanup(func() { os.RemoveAll(d) })
		}
	}
	s := openAt(t, filepath.Join(dir, "sessions.db"), testOptions(t))
	ctx := context.Background()
	now := sessiontest.Base()
	r := insert(t, s, 1, now, nil)[0]

	const n = 50
	before := boltstore.Commits(s)
	start := time.Now()
	for i := range n {
		_, err := s.Apply(ctx, &session.Change{ID: r.ID, Now: now, Set: map[string]json.RawMessage{"i": rawJSON(i)}})
		if err != nil {
			t.Fatal(err)
		}
		if got := boltstore.Commits(s) - before; got != int64(i+1) {
			t.Fatalf("after %d sequential changes: %d transactions; want one each", i+1, got)
		}
	}
	elapsed := time.Since(start)
	t.Logf("%d sequential changes in %v (%v each)", n, elapsed, elapsed/n)
	// A batching delay like bbolt's DB.Batch (10 ms) would take 500 ms.
	if strings.HasPrefix(dir, "/dev/shm") && elapsed > n*5*time.Millisecond {
		t.Errorf("%d sequential changes took %v: a lone writer waits", n, elapsed)
	}
}

func TestGroupCommitIsolatesFailures(t *testing.T) {
	s, _ := openTemp(t)
	ctx := context.Background()
	now := sessiontest.Base()
	recs := insert(t, s, 32, now, nil)
	big := rawJSON(strings.Repeat("x", boltstore.DefaultMaxRecordSize))

	var wg sync.WaitGroup
	errs := make([]error, 3*len(recs))
	start := make(chan struct{})
	for i, r := range recs {
		// A valid change, an update of a missing session, a too-large change.
		changes := []*session.Change{
			{ID: r.ID, Now: now, Set: map[string]json.RawMessage{"ok": rawJSON(i)}},
			{ID: session.NewID(), Now: now, Set: map[string]json.RawMessage{"x": rawJSON(1)}},
			{ID: r.ID, Now: now, Set: map[string]json.RawMessage{"big": big}},
		}
		for j, c := range changes {
			wg.Go(func() {
				<-start
				_, errs[3*i+j] = s.Apply(ctx, c)
			})
		}
	}
	before := boltstore.Commits(s)
	close(start)
	wg.Wait()
	t.Logf("%d changes in %d transactions", len(errs), boltstore.Commits(s)-before)
	for i, r := range recs {
		if err := errs[3*i]; err != nil {
			t.Errorf("valid change: %v", err)
		}
		if err := errs[3*i+1]; !errors.Is(err, session.ErrNotFound) {
			t.Errorf("update of a missing session: %v; want ErrNotFound", err)
		}
		if err := errs[3*i+2]; !errors.Is(err, session.ErrTooLarge) {
			t.Errorf("too large change: %v; want ErrTooLarge", err)
		}
		got, err := s.Load(ctx, r.ID, now)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := got.Data["big"]; ok || string(got.Data["ok"]) != fmt.Sprint(i) || got.Version != 2 {
			t.Fatalf("record %s: %+v", r.ID, got)
		}
	}
	mustCheck(t, s)
}

func TestTooLarge(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.db")
	opts := testOptions(t)
	opts.MaxRecordSize = 1024
	s := openAt(t, path, opts)
	ctx := context.Background()
	now := sessiontest.Base()
	r := insert(t, s, 1, now, func(int) string { return "alice" })[0]

	for name, c := range map[string]*session.Change{
		"data": {ID: r.ID, Now: now, Set: map[string]json.RawMessage{"big": rawJSON(strings.Repeat("x", 1024))}},
		"user": {ID: r.ID, Now: now, User: new(strings.Repeat("u", boltstore.MaxUserIDSize+1))},
	} {
		if _, err := s.Apply(ctx, c); !errors.Is(err, session.ErrTooLarge) {
			t.Errorf("%s: Apply = %v; want ErrTooLarge", name, err)
		}
	}
	big := sessiontest.NewRecord(session.NewID(), "", now)
	big.Data["big"] = rawJSON(strings.Repeat("x", 1024))
	if _, err := s.Apply(ctx, sessiontest.CreateChange(big)); !errors.Is(err, session.ErrTooLarge) {
		t.Errorf("insert: %v; want ErrTooLarge", err)
	}
	if _, err := s.Load(ctx, big.ID, now); !errors.Is(err, session.ErrNotFound) {
		t.Errorf("a too-large insert was stored: %v", err)
	}
	if got, err := s.Load(ctx, r.ID, now); err != nil || !got.Equal(r) {
		t.Fatalf("record changed by failed changes: %+v, %v", got, err)
	}
	mustCheck(t, s)
}

func TestCancelledContext(t *testing.T) {
	s, _ := openTemp(t)
	now := sessiontest.Base()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	r := sessiontest.NewRecord(session.NewID(), "", now)
	if _, err := s.Apply(ctx, sessiontest.CreateChange(r)); !errors.Is(err, context.Canceled) {
		t.Fatalf("Apply with a cancelled context = %v", err)
	}
	if _, err := s.Load(context.Background(), r.ID, now); !errors.Is(err, session.ErrNotFound) {
		t.Fatalf("a cancelled Apply was applied: %v", err)
	}
	if _, err := s.Load(ctx, r.ID, now); !errors.Is(err, context.Canceled) {
		t.Fatalf("Load with a cancelled context = %v", err)
	}
}

func TestCloseWithWritersInFlight(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.db")
	s, err := boltstore.Open(path, testOptions(t))
	if err != nil {
		t.Fatal(err)
	}
	now := sessiontest.Base()
	var mu sync.Mutex
	var acked []session.ID
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			for {
				r := sessiontest.NewRecord(session.NewID(), "", now)
				_, err := s.Apply(context.Background(), sessiontest.CreateChange(r))
				if errors.Is(err, session.ErrClosed) {
					return
				}
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				acked = append(acked, r.ID)
				mu.Unlock()
			}
		})
	}
	time.Sleep(50 * time.Millisecond)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := s.Load(context.Background(), session.NewID(), now); !errors.Is(err, session.ErrClosed) {
		t.Fatalf("Load after Close = %v; want ErrClosed", err)
	}
	s = openAt(t, path, testOptions(t))
	for _, id := range acked {
		if _, err := s.Load(context.Background(), id, now); err != nil {
			t.Fatalf("acknowledged session %s lost at Close: %v", id, err)
		}
	}
	t.Logf("%d sessions acknowledged before Close", len(acked))
	mustCheck(t, s)
}
