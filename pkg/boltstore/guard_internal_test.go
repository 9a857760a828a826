package boltstore

import (
	"context"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/sesbolt/sesbolt/pkg/session"
	"github.com/sesbolt/sesbolt/pkg/session/sessiontest"
)

// TestUpdatePanicOnDamagedFile: a write transaction that panics on a file
// with no stored freelist and a damaged tree fails with ErrCorrupt. bbolt's
// DB.Update would roll it back by rebuilding the freelist from a check of
// every page on a goroutine of its own, where the damaged branch page
// crashes the test binary; update rolls back with Tx.Rollback.
func TestUpdatePanicOnDamagedFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.db")
	s := openInternal(t, path, false)
	ctx, now := context.Background(), sessiontest.Base()
	recs := make([]*session.Record, 400)
	for i := range recs {
		recs[i] = sessiontest.NewRecord(session.NewID(), "user", now)
	}
	if _, err := s.Import(ctx, recs, now); err != nil {
		t.Fatal(err)
	}
	// Damage every branch page through the file (bbolt's map is shared).
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	ps := os.Getpagesize()
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	damaged := 0
	for i := 2; (i+1)*ps <= len(b); i++ {
		p := b[i*ps : (i+1)*ps]
		if binary.NativeEndian.Uint64(p) != uint64(i) || binary.NativeEndian.Uint16(p[8:]) != 0x01 {
			continue
		}
		for e := range int(binary.NativeEndian.Uint16(p[10:])) {
			binary.NativeEndian.PutUint64(p[16+e*16+8:], 1<<30)
		}
		if _, err := f.WriteAt(p, int64(i*ps)); err != nil {
			t.Fatal(err)
		}
		damaged++
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if damaged == 0 {
		t.Fatal("no branch pages found")
	}
	err = s.update("test", func(tx *bolt.Tx) error {
		if err := tx.Bucket(bucketMeta).Put([]byte("test"), []byte{1}); err != nil {
			return err
		}
		panic("test: a damaged page")
	})
	if !errors.Is(err, ErrCorrupt) {
		t.Fatalf("update that panicked = %v; want ErrCorrupt", err)
	}
	if !s.freelistSync.Load() {
		t.Error("after a damaged page, commits still skip the freelist")
	}
}
