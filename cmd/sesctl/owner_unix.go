//go:build unix

package main

import (
	"io/fs"
	"os"
	"syscall"
)

// chownLike gives f the owner and group of the file described by like,
// when they differ (root rotating the key file of the app's user); as the
// owner of like, it changes nothing.
func chownLike(f *os.File, like fs.FileInfo) error {
	want, ok := like.Sys().(*syscall.Stat_t)
	if !ok {
		return nil
	}
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	have, ok := fi.Sys().(*syscall.Stat_t)
	if !ok || (have.Uid == want.Uid && have.Gid == want.Gid) {
		return nil
	}
	return f.Chown(int(want.Uid), int(want.Gid))
}
