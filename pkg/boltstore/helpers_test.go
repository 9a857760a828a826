package boltstore_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/sesbolt/sesbolt/pkg/boltstore"
	"github.com/sesbolt/sesbolt/pkg/session"
	"github.com/sesbolt/sesbolt/pkg/session/sessiontest"
)

// testKey is a fixed key, so child processes seal like their parent.
var testKey = bytes.Repeat([]byte("k"), session.KeySize)

func testKeys(t testing.TB) *session.Keyring {
	t.Helper()
	kr, err := session.NewKeyring(testKey)
	if err != nil {
		t.Fatal(err)
	}
	return kr
}

// quietLogger discards logs (seal failures are expected in some tests).
func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// testOptions returns options for tests: keys, no background reaper, a
// short lock timeout, quiet logs.
func testOptions(t testing.TB) *boltstore.Options {
	return &boltstore.Options{
		Keys:         testKeys(t),
		ReapInterval: -1,
		LockTimeout:  200 * time.Millisecond,
		Logger:       quietLogger(),
	}
}

// openAt opens the store at path with opts and closes it at cleanup.
func openAt(t testing.TB, path string, opts *boltstore.Options) *boltstore.Store {
	t.Helper()
	s, err := boltstore.Open(path, opts)
	if err != nil {
		t.Fatalf("Open(%s): %v", path, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// openTemp opens a new store in a temporary directory.
func openTemp(t testing.TB) (*boltstore.Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "sessions.db")
	return openAt(t, path, testOptions(t)), path
}

// insert inserts n fresh records created at now (user for each i from
// userOf, which may be nil) and returns them.
func insert(t testing.TB, s *boltstore.Store, n int, now time.Time, userOf func(i int) string) []*session.Record {
	t.Helper()
	out := make([]*session.Record, 0, n)
	for i := range n {
		user := ""
		if userOf != nil {
			user = userOf(i)
		}
		r := sessiontest.NewRecord(session.NewID(), user, now)
		got, err := s.Apply(context.Background(), sessiontest.CreateChange(r))
		if err != nil {
			t.Fatalf("insert %d: %v", i, err)
		}
		out = append(out, got)
	}
	return out
}

// mustCheck fails the test unless Check finds the store consistent.
func mustCheck(t testing.TB, s *boltstore.Store) *boltstore.Diagnosis {
	t.Helper()
	rep, err := s.Diagnose(context.Background())
	if err != nil {
		t.Fatalf("Check: %v", err)
	}
	if !rep.OK() {
		for _, p := range rep.Problems {
			t.Errorf("Check: %s", p)
		}
		t.FailNow()
	}
	return rep
}

func rawJSON(v any) json.RawMessage {
	b, _ := json.Marshal(v)
	return b
}
