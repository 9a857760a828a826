package boltfile

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// newFile writes a closed bbolt file with a multi-level tree, a nested
// bucket and an inline bucket, and returns its path and bytes.
func newFile(t *testing.T) (string, []byte) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "b.db")
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		big, err := tx.CreateBucket([]byte("big"))
		if err != nil {
			return err
		}
		for i := range 2000 {
			if err := big.Put(fmt.Appendf(nil, "key%06d", i), []byte(strings.Repeat("v", 100))); err != nil {
				return err
			}
		}
		nested, err := big.CreateBucket([]byte("nested"))
		if err != nil {
			return err
		}
		if err := nested.Put([]byte("k"), []byte("v")); err != nil {
			return err
		}
		small, err := tx.CreateBucket([]byte("small")) // stays inline
		if err != nil {
			return err
		}
		return small.Put([]byte("k"), []byte("v"))
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return path, b
}

// rewrite writes b to a new file and returns its path.
func rewrite(t *testing.T, b []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "damaged.db")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestInspectAndWalkSoundFile(t *testing.T) {
	path, b := newFile(t)
	f, err := Inspect(path)
	if err != nil {
		t.Fatalf("Inspect: %v", err)
	}
	if !f.Exists || f.Size != int64(len(b)) || len(f.Metas) != 2 || int(f.Meta.PageSize) != os.Getpagesize() {
		t.Fatalf("Inspect = %+v", f)
	}
	if problems, pages := walk(t, path, f.Meta); len(problems) > 0 || pages < 3 {
		t.Fatalf("Walk of a sound file = %v, %d pages", problems, pages)
	}
}

// walk runs Walk over the file at path, failing the test on an I/O error.
func walk(t *testing.T, path string, m Meta) (problems []string, pages int) {
	t.Helper()
	r, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	problems, pages, err = Walk(r, m, 5)
	if err != nil {
		t.Fatal(err)
	}
	return problems, pages
}

func TestInspectNoFile(t *testing.T) {
	dir := t.TempDir()
	if f, err := Inspect(filepath.Join(dir, "missing.db")); err != nil || f.Exists {
		t.Fatalf("Inspect of a missing file = %+v, %v; want not existing, nil", f, err)
	}
	empty := filepath.Join(dir, "empty.db")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if f, err := Inspect(empty); err != nil || !f.Exists || f.Size != 0 {
		t.Fatalf("Inspect of an empty file = %+v, %v; want existing, size 0, nil", f, err)
	}
	if _, err := Inspect(dir); !errors.Is(err, ErrNotBolt) {
		t.Fatalf("Inspect of a directory = %v; want ErrNotBolt", err)
	}
}

func TestInspectRefuses(t *testing.T) {
	_, sound := newFile(t)
	ps := os.Getpagesize()
	cases := []struct {
		name   string
		edit   func(b []byte) []byte
		kind   error
		reason string
	}{
		{"not bolt", func(b []byte) []byte { return []byte(strings.Repeat("not a database ", 1000)) }, ErrNotBolt, "no bbolt meta page"},
		{"meta pages zeroed", func(b []byte) []byte { clear(b[:2*ps]); return b }, ErrNotBolt, "no bbolt meta page"},
		{"other version", func(b []byte) []byte {
			ne.PutUint32(b[pageHeaderSize+4:], 3)
			ne.PutUint32(b[ps+pageHeaderSize+4:], 3)
			return b
		}, ErrNotBolt, "version"},
		{"both checksums fail", func(b []byte) []byte {
			b[pageHeaderSize+20]++
			b[ps+pageHeaderSize+20]++
			return b
		}, ErrDamaged, "checksum"},
		{"truncated", func(b []byte) []byte { return b[:3*ps] }, ErrDamaged, "truncated?"},
		{"freelist page overwritten", func(b []byte) []byte {
			m, _ := parseMeta(b)
			if m.Freelist == noFreelist {
				t.Skip("the file has no persisted freelist")
			}
			clear(b[int(m.Freelist)*ps : int(m.Freelist+1)*ps])
			return b
		}, ErrDamaged, "not a freelist page"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Inspect(rewrite(t, c.edit(append([]byte(nil), sound...))))
			fe, ok := errors.AsType[*Error](err)
			if !ok || !errors.Is(err, c.kind) || !strings.Contains(fe.Reason, c.reason) {
				t.Fatalf("Inspect = %v; want %v mentioning %q", err, c.kind, c.reason)
			}
		})
	}
}

// TestWalkFindsDamage damages the page tree in ways that make bbolt fault
// or loop, and checks that Walk names each.
func TestWalkFindsDamage(t *testing.T) {
	path, sound := newFile(t)
	f, err := Inspect(path)
	if err != nil {
		t.Fatal(err)
	}
	ps, root := int(f.Meta.PageSize), int(f.Meta.Root) // the root bucket's page: a leaf of bucket entries
	// firstPage returns the index of the first page with these flags. One
	// transaction wrote the tree, so no branch page is a freed one.
	firstPage := func(b []byte, flags uint16) int {
		for i := 2; (i+1)*ps <= len(b); i++ {
			if ne.Uint64(b[i*ps:]) == uint64(i) && ne.Uint16(b[i*ps+8:]) == flags {
				return i
			}
		}
		t.Fatalf("no page with flags %#x", flags)
		return 0
	}
	cases := []struct {
		name    string
		edit    func(b []byte)
		problem string
	}{
		{"a branch element pointing at its own page", func(b []byte) {
			p := firstPage(b, branchFlag)
			ne.PutUint64(b[p*ps+pageHeaderSize+8:], uint64(p))
		}, "referenced more than once"},
		{"a branch element pointing past the end", func(b []byte) {
			p := firstPage(b, branchFlag)
			ne.PutUint64(b[p*ps+pageHeaderSize+8:], 1<<30)
		}, "out of bounds"},
		{"a leaf page naming another page", func(b []byte) {
			ne.PutUint64(b[root*ps:], uint64(root+1))
		}, "header names page"},
		{"leaf keys out of order", func(b []byte) {
			off := root*ps + pageHeaderSize // the first element's key: make it the largest
			b[off+int(ne.Uint32(b[off+4:]))] = 0xff
		}, "does not follow the key before it"},
		{"a branch key below the keys of the child before it", func(b []byte) {
			p := firstPage(b, branchFlag)
			off := p*ps + pageHeaderSize + elementSize // the second element
			key := b[off+int(ne.Uint32(b[off:])):][:ne.Uint32(b[off+4:])]
			clear(key)
		}, "is not below the next key of its parent"},
		{"a leaf element outside its page", func(b []byte) {
			ne.PutUint32(b[root*ps+pageHeaderSize+4:], uint32(ps))
		}, "lies outside the page"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := append([]byte(nil), sound...)
			c.edit(b)
			path := rewrite(t, b)
			f, err := Inspect(path)
			if err != nil {
				t.Fatalf("Inspect: %v (the damage is in the tree, which Inspect does not read)", err)
			}
			problems, _ := walk(t, path, f.Meta)
			if len(problems) == 0 || !strings.Contains(strings.Join(problems, "\n"), c.problem) {
				t.Fatalf("Walk = %q; want a problem mentioning %q", problems, c.problem)
			}
		})
	}
}
