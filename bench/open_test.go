package bench

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/sesbolt/sesbolt/pkg/boltstore"
	"github.com/sesbolt/sesbolt/pkg/session"
)

// What boltstore's NoFreelistSync costs: commits do not write bbolt's
// freelist, Close writes it once, and a file that was not closed (the
// process killed) has none, so the next Open walks the file (boltfile.Walk:
// damage then fails Open instead of crashing bbolt's scan) and bbolt
// rebuilds the freelist by checking every page. BenchmarkOpen times Open on
// a copy of the large file after 10% of it was purged (so the freelist is
// large): once after the process that purged it and kept writing was
// killed with SIGKILL, once after a clean Close. The file is in the page
// cache both times (it was just written).

// Environment of the child process of BenchmarkOpen.
const (
	openChildPath = "SESBOLT_OPEN_CHILD_DB"
	openChildAt   = "SESBOLT_OPEN_CHILD_AT" // unix nanoseconds to purge at
)

// TestOpenChild is BenchmarkOpen's child: with openChildPath set it opens
// the file, purges it at openChildAt, prints "ready" and writes new
// sessions, one commit each, until it is killed. Without it, it skips.
func TestOpenChild(t *testing.T) {
	path := os.Getenv(openChildPath)
	if path == "" {
		t.Skip("the child process of BenchmarkOpen")
	}
	nanos, err := strconv.ParseInt(os.Getenv(openChildAt), 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Unix(0, nanos)
	store, err := boltstore.Open(path, &boltstore.Options{Keys: benchKeys(t), ReapInterval: -1, Now: frozen(at)})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := store.Purge(ctx, at); err != nil {
		t.Fatal(err)
	}
	fmt.Println("ready")
	for i := 0; ; i++ {
		rec := sesboltRecord(i, session.NewID(), at, at.Add(time.Hour))
		if _, err := store.Import(ctx, []*session.Record{rec}, at); err != nil {
			t.Fatal(err)
		}
	}
}

// BenchmarkOpen reports open-killed-ms (Open after SIGKILL: file walked,
// freelist rebuilt) and open-clean-ms (Open after Close: freelist read).
func BenchmarkOpen(b *testing.B) {
	closeReaders()
	n := bigN()
	b.Run("n="+sizeName(n), func(b *testing.B) {
		set := sesboltFile(b, n)
		at := set.base.Add(expiresA)
		var killed, clean time.Duration
		for range b.N {
			b.StopTimer()
			dir := b.TempDir()
			path := copyFile(b, set.path, dir)
			killChild(b, path, at)
			killed += timeOpen(b, path, at)
			clean += timeOpen(b, path, at)
			os.RemoveAll(dir)
		}
		b.ReportMetric(0, "ns/op")
		b.ReportMetric(ms(killed)/float64(b.N), "open-killed-ms")
		b.ReportMetric(ms(clean)/float64(b.N), "open-clean-ms")
	})
}

// killChild runs TestOpenChild on path and kills it with SIGKILL while it
// writes.
func killChild(tb testing.TB, path string, at time.Time) {
	cmd := exec.Command(os.Args[0], "-test.run=^TestOpenChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), openChildPath+"="+path, openChildAt+"="+strconv.FormatInt(at.UnixNano(), 10))
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		tb.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	defer cmd.Wait() //nolint:errcheck // killed: the error is the signal
	line, err := bufio.NewReader(out).ReadString('\n')
	if line != "ready\n" {
		cmd.Process.Kill()
		tb.Fatalf("child: %q, %v", line, err)
	}
	time.Sleep(100 * time.Millisecond) // let it commit some writes first
	if err := cmd.Process.Kill(); err != nil {
		tb.Fatal(err)
	}
}

// timeOpen opens path, checks that the store answers, closes it and
// returns how long Open took.
func timeOpen(tb testing.TB, path string, at time.Time) time.Duration {
	start := time.Now()
	store, err := boltstore.Open(path, &boltstore.Options{Keys: benchKeys(tb), ReapInterval: -1, Now: frozen(at)})
	took := time.Since(start)
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := store.Stats(context.Background(), at); err != nil {
		tb.Fatal(err)
	}
	if err := store.Close(); err != nil {
		tb.Fatal(err)
	}
	return took
}
