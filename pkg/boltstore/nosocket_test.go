package boltstore_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sesbolt/sesbolt/pkg/session"
	"github.com/sesbolt/sesbolt/pkg/session/sessiontest"
)

// TestOpenServesNoSocket: a store opens its file and starts no listener.
// Nothing but the database appears in its directory, and nothing about a
// socket path can make Open fail: a path too long for any Unix socket
// opens, and a file where <db>.sock used to be made is left alone.
func TestOpenServesNoSocket(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "s.db")
	s := openAt(t, path, testOptions(t))
	sessiontest.Insert(t, s, sessiontest.NewRecord(session.NewID(), "alice", sessiontest.Base()))
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || entries[0].Name() != "s.db" {
		names := make([]string, len(entries))
		for i, e := range entries {
			names[i] = e.Name() + " (" + e.Type().String() + ")"
		}
		t.Errorf("an open store's directory holds %v, want only s.db", names)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	long := filepath.Join(dir, strings.Repeat("x", 120)+".db") // > 107 bytes
	openAt(t, long, testOptions(t)).Close()

	if err := os.WriteFile(path+".sock", []byte("precious"), 0o600); err != nil {
		t.Fatal(err)
	}
	openAt(t, path, testOptions(t)).Close()
	if b, err := os.ReadFile(path + ".sock"); err != nil || string(b) != "precious" {
		t.Errorf("the file at %s.sock: %q, %v; want it untouched", path, b, err)
	}
}
