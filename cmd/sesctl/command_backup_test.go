package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
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
	h.fails(exitUsage, []string{"accepts 1 arg"}, "backup")
}
