//go:build unix

package main

import (
	"os"
	"syscall"
	"testing"
)

// TestKeygenRotate: under umask 022, where the shell recipe
// { sesctl keygen; cat app.keys; } > app.keys.new && mv ... makes the key
// file 0644, --rotate leaves it 0600 (also one that was 0644 before), and
// the old key still verifies. Not parallel: the umask is the process's.
func TestKeygenRotate(t *testing.T) {
	old := syscall.Umask(0o022)
	t.Cleanup(func() { syscall.Umask(old) })

	h := newHarness(t)
	for _, before := range []os.FileMode{0o600, 0o644} {
		if err := os.Chmod(h.keyFile, before); err != nil {
			t.Fatal(err)
		}
		h.ok("keygen", "--rotate", h.keyFile)
		fi, err := os.Stat(h.keyFile)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("was %v: mode %v after --rotate, want 0600", before, fi.Mode().Perm())
		}
	}
	kr := loadKeys(t, h.keyFile)
	if kr.Len() != 3 || !verifies(kr, sealOf(h.keys)) {
		t.Errorf("%d keys; the old key verifies: %v", kr.Len(), verifies(kr, sealOf(h.keys)))
	}
	if verifies(h.keys, sealOf(kr)) {
		t.Error("the old key still signs")
	}
}
