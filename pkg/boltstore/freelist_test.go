package boltstore_test

import (
	"context"
	"encoding/binary"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/sesbolt/sesbolt/pkg/boltstore"
	"github.com/sesbolt/sesbolt/pkg/boltstore/internal/boltfile"
	"github.com/sesbolt/sesbolt/pkg/session"
	"github.com/sesbolt/sesbolt/pkg/session/sessiontest"
)

// records returns n new records of one user.
func records(n int, now time.Time) []*session.Record {
	recs := make([]*session.Record, n)
	for i := range recs {
		recs[i] = sessiontest.NewRecord(session.NewID(), "user", now)
	}
	return recs
}

// storedFreelist reports whether the current snapshot of the file at path
// stores bbolt's freelist.
func storedFreelist(t *testing.T, path string) bool {
	t.Helper()
	st, err := boltfile.Inspect(path)
	if err != nil {
		t.Fatalf("Inspect(%s): %v", path, err)
	}
	return st.Meta.HasFreelist()
}

// TestUnsyncedFreelist: commits do not store the freelist (so a file of a
// killed process has none), and Close stores it, so the next Open reads it
// instead of rebuilding it by a walk and a scan of every page.
func TestUnsyncedFreelist(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.db")
	s, err := boltstore.Open(path, testOptions(t))
	if err != nil {
		t.Fatal(err)
	}
	now := sessiontest.Base()
	if _, err := s.Import(context.Background(), records(50, now), now); err != nil {
		t.Fatal(err)
	}
	if storedFreelist(t, path) {
		t.Error("a commit stored the freelist; want NoFreelistSync")
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if !storedFreelist(t, path) {
		t.Fatal("Close left no stored freelist; the next Open would scan the file")
	}
	s = openAt(t, path, testOptions(t))
	if n, err := s.Import(context.Background(), records(5, now), now); err != nil || n != 5 {
		t.Fatalf("Import after reopening = %d, %v; want 5", n, err)
	}
}

// TestOpenUnsyncedDamaged: a file with no stored freelist whose tree is
// damaged fails Open with ErrCorrupt. bbolt would rebuild the freelist by
// checking every page on a goroutine of its own, where following the bad
// pointer crashes the test binary; Open walks such a file first.
// (TestCorruptRandomBytes also meets damage to the key order, which bbolt
// reports there as an error, panicking at once while its goroutine reads
// on, possibly from a memory map Open has already removed.)
func TestOpenUnsyncedDamaged(t *testing.T) {
	_, unsynced, _ := sourceFiles(t)
	if storedFreelist(t, unsynced) {
		t.Fatal("the unsynced copy has a stored freelist")
	}
	path := copyFile(t, unsynced, func(b []byte) []byte {
		n := editPages(b, 0x01, func(p []byte) {
			count := int(binary.NativeEndian.Uint16(p[10:]))
			for i := range count {
				binary.NativeEndian.PutUint64(p[16+i*16+8:], 1<<30) // element pgid
			}
		})
		if n == 0 {
			t.Fatal("no branch pages found")
		}
		return b
	})
	if _, err := boltstore.Open(path, testOptions(t)); !errors.Is(err, boltstore.ErrCorrupt) {
		t.Fatalf("Open of a damaged file without a stored freelist = %v; want ErrCorrupt", err)
	}
}
