//go:build linux

package e2e

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sesbolt/sesbolt/internal/demoproc"
)

// TestExportImportPipeline: the documented restore and migration,
// `sesctl export | sesctl --db new.db --keys app.keys import`, with the real
// binaries and a real pipe, into a database file that does not exist yet.
// The app started on the new file with the same keys knows the browsers'
// sessions: same ids, same data, no new login.
func TestExportImportPipeline(t *testing.T) {
	t.Parallel()
	build(t)
	dir := demoproc.ShortTempDir(t)
	d := startDemo(t, dir)
	browsers, before := twoBrowsers(t, d)
	d.Stop()

	moved := demoproc.ShortTempDir(t)
	newDB := filepath.Join(moved, "demo.db")
	stdout, stderr := pipeline(t,
		[]string{"--db", d.db, "export"},
		[]string{"--db", newDB, "--keys", d.keys, "import"})
	if stdout != "imported 2 sessions of 2\n" {
		t.Errorf("stdout of the pipeline: %q", stdout)
	}
	if want := "sesctl: " + newDB + " did not exist: created a new database\n"; stderr != want {
		t.Errorf("stderr of the pipeline: %q, want %q", stderr, want)
	}
	fi, err := os.Stat(newDB)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("the new database is %v, want 0600", fi.Mode().Perm())
	}
	if c := ctlJSON[check](t, "--db", newDB, "--keys", d.keys, "-o", "json", "check"); !c.OK || !c.SealsVerified || c.Records != 2 {
		t.Errorf("check of the new database: %+v", c)
	}

	keys, err := os.ReadFile(d.keys)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(moved, "demo.keys"), keys, 0o600); err != nil {
		t.Fatal(err)
	}
	wantMoved(t, startDemo(t, moved).Base, browsers, before)
}

// twoBrowsers makes two browsers of d with stored sessions, alice logged in
// with a cart and an anonymous one with a theme, and returns them with
// their sessions as the app sees them.
func twoBrowsers(t *testing.T, d *demo) ([]*browser, []apiSession) {
	t.Helper()
	alice := newBrowser(t, d, firefox)
	alice.login("alice")
	alice.put("cart", `[1,2,3]`)
	anon := newBrowser(t, d, "curl/8.5.0")
	anon.put("theme", `"dark"`)
	return []*browser{alice, anon}, []apiSession{alice.session(), anon.session()}
}

// wantMoved points browsers at the demo at base, where their sessions were
// moved, and requires that it sees the sessions before describes: same
// ids, users and data, no new login.
func wantMoved(t *testing.T, base string, browsers []*browser, before []apiSession) {
	t.Helper()
	for i, b := range browsers {
		b.Base = base
		got := b.session()
		if got.ID != before[i].ID || got.User != before[i].User || len(got.Data) != len(before[i].Data) {
			t.Errorf("after the move, browser %d sees %+v, want %+v", i, got, before[i])
		}
		for k, v := range before[i].Data {
			if compact(got.Data[k]) != compact(v) {
				t.Errorf("after the move, browser %d: %s = %s, want %s", i, k, got.Data[k], v)
			}
		}
	}
}

// pipeline runs `sesctl first... | sesctl second...`, requires both to
// exit 0 with the first's stderr empty, and returns the second's stdout and
// stderr.
func pipeline(t *testing.T, first, second []string) (stdout, stderr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), ctlTimeout)
	defer cancel()
	src, dst := ctlCommand(ctx, t, first...), ctlCommand(ctx, t, second...)
	out, err := src.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	dst.Stdin = out
	var srcErr, dstOut, dstErr bytes.Buffer
	src.Stderr, dst.Stdout, dst.Stderr = &srcErr, &dstOut, &dstErr
	if err := src.Start(); err != nil {
		t.Fatal(err)
	}
	if err := dst.Start(); err != nil {
		src.Process.Kill()
		src.Wait()
		t.Fatal(err)
	}
	dstRun := dst.Wait()
	srcRun := src.Wait()
	name := func(args []string) string { return "sesctl " + strings.Join(args, " ") }
	if srcRun != nil || srcErr.Len() > 0 {
		t.Errorf("%s: %v\nstderr: %s", name(first), srcRun, srcErr.String())
	}
	if dstRun != nil || ctx.Err() != nil {
		t.Fatalf("%s: %v (%v)\nstdout: %s\nstderr: %s", name(second), dstRun, ctx.Err(), dstOut.String(), dstErr.String())
	}
	return dstOut.String(), dstErr.String()
}
