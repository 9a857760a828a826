package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sesbolt/sesbolt/pkg/session"
)

func TestBackup(t *testing.T) {
	h := seeded(t)
	dst := filepath.Join(h.dir, "copy.db")
	var out string
	h.unchanged(func() { out = h.ok("backup", dst) })
	if !strings.HasPrefix(out, "backed up to "+dst+" (") {
		t.Errorf("output %q", out)
	}
	fi, err := os.Stat(dst)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", fi.Mode().Perm())
	}
	// The copy is a database with the same sessions.
	want := h.ok("-o", "json", "list", "--all")
	if got := h.ok("--db", dst, "-o", "json", "list", "--all"); got != want {
		t.Errorf("the copy lists\n%s\nwant\n%s", got, want)
	}
	// No temporary file is left behind.
	if m, _ := filepath.Glob(filepath.Join(h.dir, ".*tmp")); len(m) != 0 {
		t.Errorf("left behind: %v", m)
	}

	// An existing destination is refused without --force.
	before := hashFile(t, dst)
	h.fails(exitFailure, []string{"exists; pass --force"}, "backup", dst)
	if hashFile(t, dst) != before {
		t.Error("the existing file changed")
	}
	jsonOut := h.ok("-o", "json", "backup", "--force", dst)
	if !strings.HasPrefix(jsonOut, `{"path":"`+dst+`","bytes":`) {
		t.Errorf("json output %q", jsonOut)
	}

	// Never over the database itself.
	h.unchanged(func() { h.fails(exitFailure, []string{"the database itself"}, "backup", "--force", h.db) })
	// Nor into a missing directory.
	h.fails(exitFailure, []string{"no such file or directory"}, "backup", filepath.Join(h.dir, "nope", "x.db"))
	h.fails(exitUsage, []string{"backup needs the FILE to write the copy to"}, "backup")
}

// TestBackupNeverReplacesTheDatabase: whichever way sesctl reaches the
// running app, backup --force refuses the app's database as destination,
// also through a hard link (compared by device and inode, not by path),
// and refuses any database another process has open. The database is left
// untouched, and the app's writes after the attempt survive a restart.
func TestBackupNeverReplacesTheDatabase(t *testing.T) {
	h := seeded(t)
	st, stop := serveSocket(t, h, "")
	sock := h.db + ".sock"
	link := filepath.Join(h.dir, "link.db")
	if err := os.Link(h.db, link); err != nil {
		t.Fatal(err)
	}
	before := hashFile(t, h.db)
	for _, args := range [][]string{
		{"--socket", sock, "backup", "--force", h.db},
		{"--socket", sock, "backup", "--force", link},
		{"backup", "--force", h.db}, // --db: through FILE.sock, silently
		{"backup", "--force", link},
	} {
		h.fails(exitFailure, []string{"is the database itself"}, args...)
	}
	h.fails(exitFailure, []string{link + " is the database itself (" + h.db + ", served by the app)"},
		"--socket", sock, "backup", "--force", link)
	if hashFile(t, h.db) != before {
		t.Fatal("the database file changed")
	}
	if m, _ := filepath.Glob(filepath.Join(h.dir, ".*tmp")); len(m) != 0 {
		t.Errorf("left behind: %v", m)
	}

	// Another database in use, by another store here: refused, naming
	// the holder.
	other := newHarness(t)
	other.seed(fixture()[:1]...)
	held := other.openStore()
	defer held.Close()
	h.fails(exitFailure, []string{other.db + " is a database in use by process " + fmt.Sprint(os.Getpid())},
		"--socket", sock, "backup", "--force", other.db)

	// The app goes on writing, and what it wrote survives a restart.
	id := session.NewID()
	rec := fixture()[0]
	rec.ID = id
	if _, err := st.Apply(context.Background(), &session.Change{ID: id, Now: rec.Created, Create: rec}); err != nil {
		t.Fatal(err)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	st = h.openStore()
	defer st.Close()
	if _, err := st.Load(context.Background(), id, testNow); err != nil {
		t.Fatalf("a write after the refused backup is gone after a restart: %v", err)
	}
}
