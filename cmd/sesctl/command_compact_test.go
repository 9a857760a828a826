package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sesbolt/sesbolt/pkg/session"
)

func TestCompact(t *testing.T) {
	h := newHarness(t)
	// Fill the file, then remove most of it: the free pages stay.
	st := h.openStore()
	ctx := context.Background()
	var ids []session.ID
	for i := 0; i < 400; i++ {
		r := fixture()[0]
		r.ID = session.NewID()
		r.Data["blob"] = []byte(`"` + strings.Repeat("x", 2000) + `"`)
		if _, err := st.Apply(ctx, &session.Change{ID: r.ID, Now: r.Created, Create: r}); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, r.ID)
	}
	if _, err := st.Delete(ctx, ids[:390]...); err != nil {
		t.Fatal(err)
	}
	st.Close()

	dst := filepath.Join(h.dir, "compact.db")
	var out string
	h.unchanged(func() { out = h.ok("compact", dst) })
	before, after := fileSize(t, h.db), fileSize(t, dst)
	if after >= before {
		t.Errorf("compacted %d -> %d bytes", before, after)
	}
	want := "compacted " + h.db + " into " + dst + ": " + humanBytes(before) + " -> " + humanBytes(after)
	if !strings.HasPrefix(out, want) {
		t.Errorf("output %q, want prefix %q", out, want)
	}
	// Same sessions.
	if a, b := h.ok("-o", "json", "list", "--all"), h.ok("--db", dst, "-o", "json", "list", "--all"); a != b || countLines(a) != 10 {
		t.Errorf("the copy lists\n%s\nthe original\n%s", b, a)
	}
	if fi, _ := os.Stat(dst); fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v", fi.Mode().Perm())
	}

	h.fails(exitFailure, []string{"exists; pass --force"}, "compact", dst)
	jsonOut := h.ok("-o", "json", "compact", "--force", dst)
	if !strings.HasPrefix(jsonOut, `{"source":"`+h.db+`","path":"`+dst+`","size_before":`) {
		t.Errorf("json %q", jsonOut)
	}
	h.unchanged(func() { h.fails(exitFailure, []string{"the database itself"}, "compact", "--force", h.db) })
	h.fails(exitUsage, []string{"admin socket"}, "--socket", filepath.Join(h.dir, "x.sock"), "compact", dst)
	h.fails(exitUsage, []string{"--tx-max-size"}, "compact", "--tx-max-size", "0", dst)
}

func TestCompactNotBolt(t *testing.T) {
	h := newHarness(t)
	if err := os.WriteFile(h.db, []byte(strings.Repeat("not a database\n", 1000)), 0o600); err != nil {
		t.Fatal(err)
	}
	h.fails(exitFailure, []string{"not a valid bbolt database"}, "compact", filepath.Join(h.dir, "out.db"))
	if m, _ := filepath.Glob(filepath.Join(h.dir, "*out.db*")); len(m) != 0 {
		t.Errorf("left behind: %v", m)
	}
}

func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}
