package main

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// importTarget returns a harness with an empty database to import into,
// and the keys to write it.
func importTarget(t *testing.T) *harness {
	h := newHarness(t)
	h.seed()
	h.env[envKeys] = h.keyFile
	return h
}

func TestImportRoundTrip(t *testing.T) {
	src := seeded(t)
	exported := src.ok("export")

	h := importTarget(t)
	h.stdin = exported
	if got := h.ok("import"); got != "imported 4 sessions of 6 (2 skipped: already stored or expired)\n" {
		t.Errorf("import: %q", got)
	}
	if got, want := h.ok("export"), src.ok("export", "--live"); got != want {
		t.Errorf("after import:\n%s\nwant the live sessions:\n%s", got, want)
	}
	// Again, from a file: everything is already there.
	in := filepath.Join(h.dir, "in.jsonl")
	if err := os.WriteFile(in, []byte(exported), 0o600); err != nil {
		t.Fatal(err)
	}
	if got := h.ok("-o", "json", "import", in); got != `{"read":6,"imported":0,"skipped":6,"invalid":0,"dry_run":false}`+"\n" {
		t.Errorf("re-import: %q", got)
	}
	// "-" is stdin, small batches work the same.
	h2 := importTarget(t)
	h2.stdin = "\n" + exported + "\n\n"
	if got := h2.ok("import", "--batch", "1", "-"); !strings.HasPrefix(got, "imported 4 sessions of 6") {
		t.Errorf("batch 1: %q", got)
	}
}

func TestImportInvalid(t *testing.T) {
	lines := strings.Split(strings.TrimSpace(seeded(t).ok("export", "--live")), "\n")
	good := func(i int) string { return lines[i] }
	input := strings.Join([]string{
		good(0),
		`{"id":"not-a-uuid","user":"x"}`,
		good(1),
		strings.Replace(good(2), `"user":"bob"`, `"user":"bob","admin":true`, 1),
		`{"id":"11111111-2222-4333-8444-555555555555","created":"2025-03-14T15:00:00Z","data":{}}`,
		`[1,2]`,
		good(3) + ` {}`,
		`{"id":"11111111-2222-4333-8444-555555555556","created":"2025-03-14T15:00:00Z","idle_expires":"2025-03-14T16:00:00Z","deadline":"2025-03-14T16:00:00Z","data":{"k":nope}}`,
		`{"id":"11111111-2222-4333-8444-555555555557","created":"yesterday","data":{}}`,
		`{"id":`,
	}, "\n")

	h := importTarget(t)
	h.stdin = input
	r := h.fails(exitFailure, []string{
		"sesctl: stdin: line 2: ",
		"sesctl: stdin: line 4: unknown field \"admin\"",
		"sesctl: stdin: line 5: invalid input: record: 11111111-2222-4333-8444-555555555555: no expiry",
		"sesctl: stdin: line 6: a JSON array, not a record object",
		"sesctl: stdin: line 7: more than one JSON value on the line",
		"sesctl: stdin: line 8: ",
		"sesctl: stdin: line 9: ",
		"sesctl: stdin: line 10: ",
		"sesctl: stdin: 8 lines invalid; nothing imported",
	}, "import")
	for _, n := range []string{"line 1:", "line 3:"} {
		if strings.Contains(r.stderr, n) {
			t.Errorf("a valid %s was reported:\n%s", n, r.stderr)
		}
	}
	if got := h.ok("export"); got != "" {
		t.Errorf("something was imported:\n%s", got)
	}
	h.golden("import_invalid.golden", r.stderr)

	// Dry run: validation only.
	h.stdin = input
	h.fails(exitFailure, []string{"8 lines invalid"}, "import", "--dry-run")
	h.stdin = strings.Join(lines, "\n")
	if got := h.ok("import", "--dry-run"); got != "4 records valid (dry run: nothing imported)\n" {
		t.Errorf("dry run: %q", got)
	}
	if got := h.ok("export"); got != "" {
		t.Errorf("a dry run imported:\n%s", got)
	}

	// --skip-invalid imports the rest.
	h.stdin = input
	r = h.run("import", "--skip-invalid")
	if r.code != exitOK || r.stdout != "imported 2 sessions of 2 (8 invalid left out)\n" {
		t.Errorf("skip invalid: exit %d, %q, %s", r.code, r.stdout, r.stderr)
	}
	if got := countLines(h.ok("export")); got != 2 {
		t.Errorf("%d imported, want 2", got)
	}
}

func TestImportUsage(t *testing.T) {
	h := importTarget(t)
	h.fails(exitUsage, []string{"--from must be"}, "import", "--from", "csv")
	h.fails(exitUsage, []string{"--user-key applies"}, "import", "--user-key", "u")
	h.fails(exitUsage, []string{"needs the scs database FILE"}, "import", "--from", "scs-bolt")
	h.fails(exitUsage, []string{"--batch"}, "import", "--batch", "0")
	h.fails(exitUsage, []string{"import takes at most one input FILE or URL (none: stdin), not 2 arguments", "sesctl import --help"}, "import", "a", "b")
	h.fails(exitFailure, []string{"no such file"}, "import", filepath.Join(h.dir, "missing.jsonl"))
	delete(h.env, envKeys)
	h.stdin = ""
	h.fails(exitFailure, []string{"needs the keys"}, "import")
}

// TestImportCreatesDatabase: import is the one command that creates a
// missing database file (0600, one line on stderr saying so), so that
// export | import restores or migrates without running the app first; and
// only once the input proved valid and the keys are there.
func TestImportCreatesDatabase(t *testing.T) {
	src := seeded(t)
	exported := src.ok("export")

	h := newHarness(t)
	h.env[envKeys] = h.keyFile
	newDB := filepath.Join(h.dir, "new.db")
	notCreated := func(what string) {
		t.Helper()
		if _, err := os.Lstat(newDB); !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("%s created the database: %v", what, err)
		}
	}

	h.stdin = exported + "{not json\n"
	h.fails(exitFailure, []string{"1 line invalid; nothing imported"}, "--db", newDB, "import")
	notCreated("an invalid input")
	h.stdin = exported
	h.ok("--db", newDB, "import", "--dry-run")
	notCreated("a dry run")
	delete(h.env, envKeys)
	h.fails(exitFailure, []string{"needs the keys"}, "--db", newDB, "import")
	notCreated("an import without keys")
	h.env[envKeys] = h.keyFile
	h.fails(exitFailure, []string{"no such file or directory"}, "--db", filepath.Join(h.dir, "nodir", "new.db"), "import")

	got := h.transcript([]string{"--db", newDB, "import"}, []string{"--db", newDB, "import"})
	h.golden("import_create.golden", got)
	fi, err := os.Stat(newDB)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("new database: mode %v, want 0600", fi.Mode().Perm())
	}
	if got, want := h.ok("--db", newDB, "export"), src.ok("export", "--live"); got != want {
		t.Errorf("the new database holds:\n%s\nwant the live sessions:\n%s", got, want)
	}
	// The app's keys read what import wrote.
	if n := countLines(h.ok("--db", newDB, "--keys", h.keyFile, "-o", "json", "list")); n != 4 {
		t.Errorf("%d sessions verify with the keys, want 4", n)
	}
}
