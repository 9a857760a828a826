package boltstore_test

import (
	"encoding/binary"
	"errors"
	"testing"

	"github.com/sesbolt/sesbolt/pkg/boltstore"
	"github.com/sesbolt/sesbolt/pkg/boltstore/internal/boltfile"
)

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
