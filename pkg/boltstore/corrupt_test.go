package boltstore_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/sesbolt/sesbolt/pkg/boltstore"
	"github.com/sesbolt/sesbolt/pkg/session"
	"github.com/sesbolt/sesbolt/pkg/session/sessiontest"
)

// sourceFile builds a closed store file with some history (updates and
// deletes, so there are free pages) and returns its path and live ids.
func sourceFile(t *testing.T) (string, []session.ID) {
	t.Helper()
	path, _, ids := sourceFiles(t)
	return path, ids
}

// sourceFiles is sourceFile, also returning a copy of the file with no
// stored freelist (see unsyncedCopy).
func sourceFiles(t *testing.T) (closed, unsynced string, ids []session.ID) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "source.db")
	s := openAt(t, path, testOptions(t))
	now := sessiontest.Base()
	recs := make([]*session.Record, 400)
	for i := range recs {
		recs[i] = sessiontest.NewRecord(session.NewID(), fmt.Sprintf("user%d", i%7), now)
		recs[i].Data["blob"] = rawJSON(fmt.Sprintf("%0300d", i))
	}
	insertConcurrently(t, s, recs)
	for i, r := range recs {
		if i%5 == 0 {
			if _, err := s.Delete(context.Background(), r.ID); err != nil {
				t.Fatal(err)
			}
			continue
		}
		ids = append(ids, r.ID)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	return path, unsyncedCopy(t, path), ids
}

// unsyncedCopy copies src and commits once to the copy with bbolt's
// NoFreelistSync, so that the copy stores no freelist, as a file written
// so (etcd does) and not closed cleanly.
func unsyncedCopy(t *testing.T, src string) string {
	t.Helper()
	path := copyFile(t, src, func(b []byte) []byte { return b })
	db, err := bolt.Open(path, 0o600, &bolt.Options{NoFreelistSync: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(func(*bolt.Tx) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// copyFile copies src to a new file in a temporary directory, lets edit
// change its bytes, and returns the new path.
func copyFile(t *testing.T, src string, edit func(b []byte) []byte) string {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(t.TempDir(), "copy.db")
	if err := os.WriteFile(dst, edit(b), 0o600); err != nil {
		t.Fatal(err)
	}
	return dst
}

// exercise opens path and runs every read and some writes against it. A
// panic fails the whole test binary, which is the point. It reports whether
// any call noticed the damage.
func exercise(t *testing.T, path string, verify bool, ids []session.ID) (detected bool) {
	t.Helper()
	opts := testOptions(t)
	opts.Verify = verify
	s, err := boltstore.Open(path, opts)
	if err != nil {
		if !errors.Is(err, boltstore.ErrCorrupt) && !errors.Is(err, boltstore.ErrNotBolt) && !errors.Is(err, boltstore.ErrSchema) {
			t.Errorf("Open of a damaged file: unexpected error %v", err)
		}
		return true
	}
	defer s.Close()
	ctx := context.Background()
	now := sessiontest.Base()
	noted := func(err error) {
		if err != nil {
			detected = true
		}
	}
	for _, id := range ids {
		_, err := s.Load(ctx, id, now)
		noted(err)
	}
	q := session.ListQuery{Now: now, Filter: session.All, Limit: 50}
	for range 100 {
		p, err := s.List(ctx, q)
		noted(err)
		if err != nil || p.Next.IsZero() {
			break
		}
		q.After = p.Next
	}
	for u := range 7 {
		_, err := s.UserSessions(ctx, fmt.Sprintf("user%d", u), now)
		noted(err)
	}
	_, err = s.Stats(ctx, now)
	noted(err)
	rep, err := s.Diagnose(ctx)
	if err != nil || !rep.OK() {
		detected = true
	}
	_, err = s.Backup(ctx, io.Discard)
	noted(err)
	_, err = s.Apply(ctx, &session.Change{ID: ids[0], Now: now, Set: map[string]json.RawMessage{"k": rawJSON(1)}})
	noted(err)
	_, err = s.Apply(ctx, sessiontest.CreateChange(sessiontest.NewRecord(session.NewID(), "user1", now)))
	noted(err)
	_, err = s.DeleteUser(ctx, "user3")
	noted(err)
	_, err = s.Purge(ctx, now.Add(24*time.Hour))
	noted(err)
	return detected
}

func TestOpenNotBolt(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	random := make([]byte, 64<<10)
	for i := range random {
		random[i] = byte(rng.Uint32())
	}
	for name, content := range map[string][]byte{
		"random": random,
		"text":   bytes.Repeat([]byte("this is not a database\n"), 1000),
		"tiny":   []byte("hello"),
		"zeros":  make([]byte, 32<<10),
	} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "x.db")
			if err := os.WriteFile(path, content, 0o600); err != nil {
				t.Fatal(err)
			}
			for _, ro := range []bool{false, true} {
				opts := testOptions(t)
				opts.ReadOnly = ro
				if s, err := boltstore.Open(path, opts); !errors.Is(err, boltstore.ErrNotBolt) {
					if s != nil {
						s.Close()
					}
					t.Fatalf("Open(readOnly=%v) = %v; want ErrNotBolt", ro, err)
				}
			}
			if b, _ := os.ReadFile(path); !bytes.Equal(b, content) {
				t.Fatal("Open changed a file that is not a database")
			}
		})
	}
}

func TestOpenTruncated(t *testing.T) {
	src, ids := sourceFile(t)
	fi, err := os.Stat(src)
	if err != nil {
		t.Fatal(err)
	}
	size := int(fi.Size())
	for _, n := range []int{100, 4096, 3 * 4096, size / 4, size / 2} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			path := copyFile(t, src, func(b []byte) []byte { return b[:n] })
			_, err := boltstore.Open(path, testOptions(t))
			if !errors.Is(err, boltstore.ErrCorrupt) && !errors.Is(err, boltstore.ErrNotBolt) {
				t.Fatalf("Open of a file truncated to %d of %d bytes = %v; want ErrCorrupt or ErrNotBolt", n, size, err)
			}
		})
	}
	// Cutting off the preallocated tail beyond the data is harmless; cutting
	// into it is caught; either way nothing panics.
	for _, n := range []int{size - 4096, size - 64<<10} {
		exercise(t, copyFile(t, src, func(b []byte) []byte { return b[:n] }), false, ids)
	}
}

// TestCorruptRandomBytes damages a file with a stored freelist and one
// without: bbolt rebuilds the latter's freelist at Open by checking every
// page on a goroutine of its own, out of reach of the store's recover.
func TestCorruptRandomBytes(t *testing.T) {
	closed, unsynced, ids := sourceFiles(t)
	for name, src := range map[string]string{"closed": closed, "unsynced": unsynced} {
		t.Run(name, func(t *testing.T) { corruptRandomBytes(t, src, ids) })
	}
}

func corruptRandomBytes(t *testing.T, src string, ids []session.ID) {
	detected := 0
	const seeds = 16
	for seed := range uint64(seeds) {
		rng := rand.New(rand.NewPCG(seed, 7))
		path := copyFile(t, src, func(b []byte) []byte {
			for range 8 { // 8 runs of 1-16 random bytes anywhere in the file
				off := rng.IntN(len(b))
				for i := off; i < min(len(b), off+1+rng.IntN(16)); i++ {
					b[i] = byte(rng.Uint32())
				}
			}
			return b
		})
		if exercise(t, path, false, ids) {
			detected++
		}
		exercise(t, copyFile(t, path, func(b []byte) []byte { return b }), true, ids)
	}
	t.Logf("%d of %d damaged copies noticed (damage to free pages goes unnoticed)", detected, seeds)
}

// pageSize of the test files (bbolt uses the OS page size).
var pageSize = os.Getpagesize()

// editPages calls fn for every page of b whose header flags equal flags and
// whose header id is its index.
func editPages(b []byte, flags uint16, fn func(page []byte)) int {
	n := 0
	for i := 2; (i+1)*pageSize <= len(b); i++ {
		p := b[i*pageSize : (i+1)*pageSize]
		if binary.NativeEndian.Uint64(p) == uint64(i) && binary.NativeEndian.Uint16(p[8:]) == flags {
			fn(p)
			n++
		}
	}
	return n
}

func TestCorruptPageHeader(t *testing.T) {
	src, ids := sourceFile(t)
	// Every leaf page that holds the first session's record now names
	// another page: bbolt panics on it (recovered into ErrCorrupt).
	marker := []byte(ids[0].String())
	path := copyFile(t, src, func(b []byte) []byte {
		n := editPages(b, 0x02, func(p []byte) {
			if bytes.Contains(p, marker) {
				binary.NativeEndian.PutUint64(p, 1<<20)
			}
		})
		if n == 0 {
			t.Fatal("no leaf pages found")
		}
		return b
	})
	s := openAt(t, path, testOptions(t))
	if _, err := s.Load(context.Background(), ids[0], sessiontest.Base()); !errors.Is(err, boltstore.ErrCorrupt) {
		t.Fatalf("Load from a damaged page = %v; want ErrCorrupt", err)
	}
	rep, err := s.Diagnose(context.Background())
	if err != nil || rep.OK() {
		t.Fatalf("Check of a damaged file = %+v, %v; want structure problems", rep, err)
	}
	s.Close()
	opts := testOptions(t)
	opts.Verify = true
	if _, err := boltstore.Open(path, opts); !errors.Is(err, boltstore.ErrCorrupt) {
		t.Fatalf("Open with Verify of a damaged file = %v; want ErrCorrupt", err)
	}
	exercise(t, path, false, ids)
}

func TestCorruptBranchPointer(t *testing.T) {
	src, ids := sourceFile(t)
	// Every branch element points far beyond the file: following one faults
	// (or reads garbage), which the store turns into ErrCorrupt.
	path := copyFile(t, src, func(b []byte) []byte {
		n := editPages(b, 0x01, func(p []byte) {
			count := int(binary.NativeEndian.Uint16(p[10:]))
			for i := range count {
				binary.NativeEndian.PutUint64(p[16+i*16+8:], 1<<30)
			}
		})
		if n == 0 {
			t.Fatal("no branch pages found")
		}
		return b
	})
	s := openAt(t, path, testOptions(t))
	var corrupt int
	for _, id := range ids {
		if _, err := s.Load(context.Background(), id, sessiontest.Base()); errors.Is(err, boltstore.ErrCorrupt) {
			corrupt++
		}
	}
	if corrupt == 0 {
		t.Fatal("no Load noticed the damaged branch pages")
	}
	rep, err := s.Diagnose(context.Background())
	if err != nil || rep.OK() {
		t.Fatalf("Check of a damaged file = %+v, %v; want structure problems", rep, err)
	}
	s.Close()
	exercise(t, path, false, ids)
	exercise(t, path, true, ids)
}
