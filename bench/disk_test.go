package bench

import (
	"io/fs"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// diskBytes returns the disk space a file takes (its allocated blocks).
func diskBytes(fi fs.FileInfo) int64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return st.Blocks * 512
	}
	return fi.Size()
}

// writtenBytes returns the bytes this process has passed to write system
// calls so far (wchar in /proc/self/io), or -1 where that is unknown.
func writtenBytes() int64 {
	raw, err := os.ReadFile("/proc/self/io")
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if v, ok := strings.CutPrefix(line, "wchar: "); ok {
			n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			if err != nil {
				return -1
			}
			return n
		}
	}
	return -1
}
