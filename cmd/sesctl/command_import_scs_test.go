package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"
)

// scsFile writes an scs boltstore database with the real scs (the separate
// module under testdata/scsgen) and returns its path.
func scsFile(t *testing.T, dir string, custom bool) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds the scs generator with go run")
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go tool to build the scs generator")
	}
	path := filepath.Join(dir, "scs.db")
	args := []string{"run", ".", path}
	if custom {
		path = filepath.Join(dir, "scs-custom.db")
		args = []string{"run", ".", path, "custom"}
	}
	cmd := exec.Command(goTool, args...)
	cmd.Dir = filepath.Join("testdata", "scsgen")
	cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=readonly")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("go run testdata/scsgen: %v\n%s", err, out.String())
	}
	return path
}

func TestImportSCS(t *testing.T) {
	h := importTarget(t)
	dir := t.TempDir()
	scs := scsFile(t, dir, false)
	before := hashFile(t, scs)

	if got := h.ok("import", "--from", "scs-bolt", "--user-key", "userID", "--dry-run", scs); got != "4 records valid (dry run: nothing imported)\n" {
		t.Errorf("dry run: %q", got)
	}
	got := h.ok("import", "--from", "scs-bolt", "--user-key", "userID", scs)
	if got != "imported 3 sessions of 4 (1 skipped: already stored or expired)\n" {
		t.Errorf("import: %q", got)
	}
	if hashFile(t, scs) != before {
		t.Error("the scs file changed")
	}

	var recs []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(h.ok("export")), "\n") {
		r, err := decodeRecordLine([]byte(line))
		if err != nil {
			t.Fatalf("%v: %s", err, line)
		}
		if !r.Created.Equal(testNow) || !r.LastSeen.Equal(testNow) || r.Version != 1 {
			t.Errorf("times/version: %+v", r)
		}
		data := map[string]any{}
		for k, v := range r.Data {
			var x any
			if err := json.Unmarshal(v, &x); err != nil {
				t.Fatal(err)
			}
			data[k] = x
		}
		recs = append(recs, map[string]any{
			"user": r.UserID, "deadline": r.Deadline.Format(time.RFC3339),
			"idle": r.IdleExpires.Format(time.RFC3339), "data": data,
		})
	}
	sort.Slice(recs, func(i, j int) bool { return recs[i]["deadline"].(string) < recs[j]["deadline"].(string) })
	b, _ := json.MarshalIndent(recs, "", "  ")
	h.golden("import_scs.golden", string(b)+"\n")

	// Anonymous when no --user-key; into a database that does not exist
	// yet, which import creates (migrating needs no run of the app first).
	h2 := newHarness(t)
	h2.env[envKeys] = h2.keyFile
	r := h2.run("import", "--from", "scs-bolt", scs)
	if r.code != exitOK || r.stderr != "sesctl: "+h2.db+" did not exist: created a new database\n" {
		t.Errorf("into a new file: exit %d, stderr %q", r.code, r.stderr)
	}
	if out := h2.ok("-o", "json", "list"); strings.Contains(out, `"user":"alice"`) || countLines(out) != 3 {
		t.Errorf("without --user-key:\n%s", out)
	}
}

func TestImportSCSInvalid(t *testing.T) {
	h := importTarget(t)
	scs := scsFile(t, t.TempDir(), true)
	r := h.fails(exitFailure, []string{"cannot decode the scs data", "gob.Register", "1 entry invalid; nothing imported"},
		"import", "--from", "scs-bolt", "--user-key", "userID", scs)
	if strings.Contains(r.stderr, "token") {
		t.Errorf("tokens must not be printed: %s", r.stderr)
	}
	if got := h.ok("export"); got != "" {
		t.Errorf("imported:\n%s", got)
	}
	if got := h.ok("import", "--from", "scs-bolt", "--user-key", "userID", "--skip-invalid", scs); got != "imported 3 sessions of 4 (1 skipped: already stored or expired; 1 invalid left out)\n" {
		t.Errorf("skip invalid: %q", got)
	}
	// A user id that is neither a string nor an integer.
	h2 := importTarget(t)
	h2.fails(exitFailure, []string{`value "admin": a user id must be a string or an integer, not bool`},
		"import", "--from", "scs-bolt", "--user-key", "admin", scsFile(t, t.TempDir(), false))
	// Not an scs file.
	h2.fails(exitFailure, []string{"is the database to import into"}, "import", "--from", "scs-bolt", h2.db)
	other := seeded(t)
	h2.fails(exitFailure, []string{`has no "scs:session" bucket`}, "import", "--from", "scs-bolt", other.db)
	h2.fails(exitFailure, []string{"no such file"}, "import", "--from", "scs-bolt", filepath.Join(h2.dir, "none.db"))
}
