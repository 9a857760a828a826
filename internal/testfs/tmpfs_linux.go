//go:build linux

// Package testfs gives tests a size-limited file system, for disk-full
// tests of the store and of the demo app.
package testfs

import (
	"os"
	"syscall"
	"testing"
)

// MountTmpfs mounts a tmpfs of size (mount's notation, e.g. "3m") with mode
// 0700 on a new directory with a short path (a Unix socket may live there)
// and unmounts and removes it at cleanup. It skips the test when mounting
// is not possible: not root, or no mount permission in a container.
func MountTmpfs(t testing.TB, size string) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("mounting a size-limited tmpfs needs root")
	}
	dir, err := os.MkdirTemp("", "sbfull-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size="+size+",mode=0700"); err != nil {
		t.Skipf("cannot mount a tmpfs: %v", err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(dir, syscall.MNT_DETACH); err != nil {
			t.Errorf("unmount %s: %v", dir, err)
		}
	})
	return dir
}
