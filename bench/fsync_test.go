package bench

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// BenchmarkFsync is the disk's durable-write latency: overwrite one 4 KiB
// page of a file and fdatasync it, as a bbolt commit does (twice: data
// pages, then the meta page). Every durable write of every bbolt-backed
// contender is bounded by it.
func BenchmarkFsync(b *testing.B) {
	f, err := os.Create(filepath.Join(b.TempDir(), "probe"))
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	page := make([]byte, 4096)
	if _, err := f.Write(make([]byte, 1<<20)); err != nil {
		b.Fatal(err)
	}
	if err := f.Sync(); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		page[0] = byte(i)
		if _, err := f.WriteAt(page, int64(i%256)*4096); err != nil {
			b.Fatal(err)
		}
		if err := syscall.Fdatasync(int(f.Fd())); err != nil {
			b.Fatal(err)
		}
	}
}
