package main

import (
	"strings"
	"testing"
)

func TestPurge(t *testing.T) {
	h := seeded(t)
	h.env[envKeys] = h.keyFile
	h.unchanged(func() {
		if got := h.ok("purge", "--dry-run"); got != "would purge 2 expired sessions (dry run: nothing removed)\n" {
			t.Errorf("dry run: %q", got)
		}
		if got := h.ok("-o", "json", "purge", "--dry-run"); got != `{"removed":2,"dry_run":true}`+"\n" {
			t.Errorf("dry run json: %q", got)
		}
	})
	if got := h.ok("purge"); got != "purged 2 expired sessions\n" {
		t.Errorf("purge: %q", got)
	}
	if n := countLines(h.ok("-o", "json", "list", "--all")); n != 4 {
		t.Errorf("%d sessions remain, want the 4 live ones", n)
	}
	if got := h.ok("-o", "json", "purge"); got != `{"removed":0,"dry_run":false}`+"\n" {
		t.Errorf("second purge: %q", got)
	}
}

func TestPurgeDryRunNeedsNoKeys(t *testing.T) {
	h := seeded(t)
	h.unchanged(func() { h.ok("purge", "--dry-run") })
	h.fails(exitFailure, []string{"needs the keys"}, "purge")
	h.fails(exitUsage, []string{"unknown flag"}, "purge", "--force")
}

func TestProgressOnlyOnATerminal(t *testing.T) {
	for _, term := range []bool{false, true} {
		h := seeded(t)
		h.env[envKeys] = h.keyFile
		h.terminal = func(stream any) bool { return term && stream != nil }
		r := h.run("purge")
		if r.code != exitOK || r.stdout != "purged 2 expired sessions\n" {
			t.Errorf("terminal=%v: exit %d, stdout %q", term, r.code, r.stdout)
		}
		if !term && r.stderr != "" {
			t.Errorf("a pipe got %q on stderr", r.stderr)
		}
		r = h.run("backup", h.db+".bak")
		if r.code != exitOK || !strings.HasPrefix(r.stdout, "backed up") {
			t.Errorf("terminal=%v: backup exit %d, stdout %q", term, r.code, r.stdout)
		}
		if !term && r.stderr != "" {
			t.Errorf("a pipe got %q on stderr", r.stderr)
		}
	}
}
