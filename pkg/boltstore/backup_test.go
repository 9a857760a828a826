package boltstore_test

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/sesbolt/sesbolt/pkg/session"
	"github.com/sesbolt/sesbolt/pkg/session/sessiontest"
)

func TestBackupWhileServing(t *testing.T) {
	s, _ := openTemp(t)
	ctx := context.Background()
	now := sessiontest.Base()
	before := insert(t, s, 200, now, func(i int) string { return []string{"", "alice", "bob"}[i%3] })

	// Writers keep going while the backup runs.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				r := sessiontest.NewRecord(session.NewID(), "carol", now)
				if _, err := s.Apply(ctx, sessiontest.CreateChange(r)); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	dst := filepath.Join(t.TempDir(), "backup.db")
	f, err := os.Create(dst)
	if err != nil {
		t.Fatal(err)
	}
	n, err := s.Backup(ctx, f)
	close(stop)
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(dst); fi.Size() != n {
		t.Fatalf("Backup reported %d bytes, file has %d", n, fi.Size())
	}

	opts := testOptions(t)
	opts.Verify = true
	b := openAt(t, dst, opts)
	mustCheck(t, b)
	for _, r := range before {
		got, err := b.Load(ctx, r.ID, now)
		if err != nil || !got.Equal(r) {
			t.Fatalf("backup lacks %s: %v", r.ID, err)
		}
	}
}

func TestBackupCancelled(t *testing.T) {
	s, _ := openTemp(t)
	insert(t, s, 10, sessiontest.Base(), nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.Backup(ctx, &discard{}); err == nil {
		t.Fatal("Backup with a cancelled context succeeded")
	}
}

type discard struct{}

func (*discard) Write(p []byte) (int, error) { return len(p), nil }
