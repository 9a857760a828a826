package demoproc

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// BuildTimeout bounds the go build of a Binaries.
const BuildTimeout = 5 * time.Minute

// Binaries are Go commands that tests run as processes, built once per test
// binary into a temporary directory. Call Remove from TestMain after
// m.Run.
type Binaries struct {
	Pkgs []string // import paths of the commands
	Race bool     // build them with -race (when the tests run with it)

	once sync.Once
	dir  string
	err  error
}

// Build builds every command on its first call; later calls return at
// once. With -short it skips the test; a failed build fails it.
func (b *Binaries) Build(t testing.TB) {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs the commands; skipped with -short")
	}
	b.once.Do(func() {
		if b.dir, b.err = os.MkdirTemp("", "demoproc-bin"); b.err != nil {
			return
		}
		args := []string{"build", "-o", b.dir + string(filepath.Separator)}
		if b.Race {
			args = append(args, "-race")
		}
		args = append(args, b.Pkgs...)
		ctx, cancel := context.WithTimeout(context.Background(), BuildTimeout)
		defer cancel()
		if out, err := exec.CommandContext(ctx, "go", args...).CombinedOutput(); err != nil {
			b.err = fmt.Errorf("go %s: %w\n%s", strings.Join(args, " "), err, out)
		}
	})
	if b.err != nil {
		t.Fatal(b.err)
	}
}

// Path builds the commands (see Build) and returns the path of the one
// named name, the last element of its import path.
func (b *Binaries) Path(t testing.TB, name string) string {
	t.Helper()
	b.Build(t)
	return filepath.Join(b.dir, name)
}

// Remove deletes the built commands.
func (b *Binaries) Remove() {
	if b.dir != "" {
		os.RemoveAll(b.dir)
	}
}
