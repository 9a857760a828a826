//go:build unix

package admin

import (
	"errors"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// TestListenPrivate runs the macOS and BSD way of making the socket on
// this system: under umask 0 the socket appears at its path with mode 0600,
// answers there, fails like bind when the path exists, and leaves no
// private directory behind.
func TestListenPrivate(t *testing.T) {
	dir, err := os.MkdirTemp("", "sb")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	path := filepath.Join(dir, "app.db.sock")

	old := syscall.Umask(0)
	l, err := listenPrivate(path)
	syscall.Umask(old)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	fi, err := os.Lstat(path)
	if err != nil || fi.Mode().Type() != fs.ModeSocket || fi.Mode().Perm() != SocketMode {
		t.Fatalf("%s: %v, %v; want a socket with mode 0600", path, fi.Mode(), err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("left in the directory: %v, want only the socket", entries)
	}

	accepted := make(chan error, 1)
	go func() {
		c, err := l.Accept()
		if err == nil {
			c.Close()
		}
		accepted <- err
	}()
	c, err := net.Dial("unix", path)
	if err != nil {
		t.Fatalf("dialing the linked socket: %v", err)
	}
	c.Close()
	if err := <-accepted; err != nil {
		t.Fatalf("Accept: %v", err)
	}

	if l2, err := listenPrivate(path); !errors.Is(err, fs.ErrExist) {
		if l2 != nil {
			l2.Close()
		}
		t.Fatalf("listenPrivate over an existing path: %v, want fs.ErrExist", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("a failed listenPrivate left %v", entries)
	}
}
