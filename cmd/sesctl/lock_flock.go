//go:build unix && !solaris && !aix

package main

import (
	"errors"
	"os"
	"syscall"
)

// heldByOther reports whether another open file description holds an
// exclusive flock on path, as a writable bbolt database does on these
// systems (the running
// app, or a sesctl changing the file). It opens the file read-only and
// takes and drops a shared lock without waiting, so it never changes the
// file and never blocks.
func heldByOther(path string) (bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return false, err
	}
	defer f.Close()
	err = syscall.Flock(int(f.Fd()), syscall.LOCK_SH|syscall.LOCK_NB)
	if errors.Is(err, syscall.EWOULDBLOCK) {
		return true, nil
	}
	if err != nil {
		return false, err
	}
	return false, syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
}
