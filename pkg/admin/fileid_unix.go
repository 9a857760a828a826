//go:build unix

package admin

import (
	"io/fs"
	"syscall"
)

// fileIDOf reads the device and inode numbers from fi's stat data.
func fileIDOf(fi fs.FileInfo) (FileID, bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok || st == nil {
		return FileID{}, false
	}
	// The field types differ between systems (uint64 on Linux, int32 and
	// uint64 on macOS); both sides of a comparison convert alike.
	return FileID{Dev: uint64(st.Dev), Ino: uint64(st.Ino)}, true
}
