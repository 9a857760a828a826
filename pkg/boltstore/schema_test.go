package boltstore_test

import (
	"context"
	"encoding/binary"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/sesbolt/sesbolt/pkg/boltstore"
	"github.com/sesbolt/sesbolt/pkg/session"
	"github.com/sesbolt/sesbolt/pkg/session/sessiontest"
)

// editBolt opens path with bbolt directly and runs fn in a write transaction.
func editBolt(t *testing.T, path string, fn func(tx *bolt.Tx) error) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(fn); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestSchemaNewer(t *testing.T) {
	s, path := openTemp(t)
	s.Close()
	editBolt(t, path, func(tx *bolt.Tx) error {
		v := make([]byte, 8)
		binary.BigEndian.PutUint64(v, boltstore.SchemaVersion+1)
		return tx.Bucket([]byte("meta")).Put([]byte("schema"), v)
	})
	for _, ro := range []bool{false, true} {
		opts := testOptions(t)
		opts.ReadOnly = ro
		if _, err := boltstore.Open(path, opts); !errors.Is(err, boltstore.ErrSchema) {
			t.Fatalf("Open(readOnly=%v) of a newer schema = %v; want ErrSchema", ro, err)
		}
	}
}

func TestSchemaForeignBolt(t *testing.T) {
	path := filepath.Join(t.TempDir(), "other.db")
	editBolt(t, path, func(tx *bolt.Tx) error {
		_, err := tx.CreateBucket([]byte("widgets"))
		return err
	})
	if _, err := boltstore.Open(path, testOptions(t)); !errors.Is(err, boltstore.ErrSchema) {
		t.Fatalf("Open of another application's bbolt file = %v; want ErrSchema", err)
	}
}

func TestOpenOptions(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "sessions.db")
	if _, err := boltstore.Open(path, nil); !errors.Is(err, session.ErrNoKeys) {
		t.Fatalf("Open(nil options) = %v; want ErrNoKeys (a writable store needs keys)", err)
	}
	if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("a failed Open created the file: %v", err)
	}
	if _, err := boltstore.Open(path, &boltstore.Options{ReadOnly: true}); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("read-only Open of a missing file = %v; want fs.ErrNotExist", err)
	}

	s := openAt(t, path, testOptions(t))
	if s.Path() != path || s.ReadOnly() {
		t.Fatalf("Path() = %q, ReadOnly() = %v", s.Path(), s.ReadOnly())
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != boltstore.DefaultFileMode {
		t.Fatalf("file mode %v, %v; want %v", fi.Mode(), err, boltstore.DefaultFileMode)
	}
	if boltstore.NoSync(s) {
		t.Fatal("bbolt NoSync is set: commits would not be durable")
	}
	rec := insert(t, s, 1, sessiontest.Base(), nil)[0]
	s.Close()

	ro := openAt(t, path, &boltstore.Options{ReadOnly: true, Logger: quietLogger()})
	ctx := context.Background()
	if _, err := ro.Load(ctx, rec.ID, sessiontest.Base()); err != nil {
		t.Fatalf("read-only Load: %v", err)
	}
	if _, err := ro.Apply(ctx, sessiontest.CreateChange(sessiontest.NewRecord(session.NewID(), "", sessiontest.Base()))); !errors.Is(err, boltstore.ErrReadOnly) {
		t.Fatalf("read-only Apply = %v; want ErrReadOnly", err)
	}
	for name, err := range map[string]error{
		"Delete":     first(ro.Delete(ctx, rec.ID)),
		"DeleteUser": first(ro.DeleteUser(ctx, "x")),
		"Purge":      first(ro.Purge(ctx, sessiontest.Base())),
	} {
		if !errors.Is(err, boltstore.ErrReadOnly) {
			t.Errorf("read-only %s = %v; want ErrReadOnly", name, err)
		}
	}
	if _, err := ro.Stats(ctx, sessiontest.Base()); err != nil {
		t.Fatalf("read-only Stats: %v", err)
	}
	// Several read-only stores share the file.
	openAt(t, path, &boltstore.Options{ReadOnly: true, Logger: quietLogger()})
}

func first[T any](_ T, err error) error { return err }
