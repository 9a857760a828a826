package main

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sesbolt/sesbolt/pkg/admin"
	"github.com/sesbolt/sesbolt/pkg/boltstore"
)

// importSeeds are import lines worth starting from: the fixture as export
// writes it, and the kinds of bad line TestImportInvalid reports.
func importSeeds(f *testing.F) [][]byte {
	f.Helper()
	var seeds [][]byte
	for _, r := range fixture() {
		var buf bytes.Buffer
		if err := newJSONEncoder(&buf).Encode(exportRecord(r)); err != nil {
			f.Fatal(err)
		}
		seeds = append(seeds, bytes.TrimSpace(buf.Bytes()))
	}
	for _, s := range []string{
		`{"id":"not-a-uuid","user":"x"}`,
		`{"id":"11111111-2222-4333-8444-555555555555","created":"2025-03-14T15:00:00Z","data":{}}`,
		`{"id":"11111111-2222-4333-8444-555555555556","created":"2025-03-14T15:00:00Z","idle_expires":"2025-03-14T16:00:00Z","deadline":"2025-03-14T16:00:00Z","data":{"k":nope}}`,
		`{"id":"11111111-2222-4333-8444-555555555557","created":"2025-03-14T15:00:00Z","idle_expires":"2099-03-14T16:00:00Z","deadline":"2099-03-14T16:00:00Z","data":{"":1}}`,
		`{"id":"11111111-2222-4333-8444-555555555558","user":"\u0000\ud800","created":"2025-03-14T15:00:00+01:00","idle_expires":"2099-03-14T16:00:00Z","deadline":"2099-03-14T16:00:00Z","client":{"ip":"::1"},"data":{"a":{"b":[1,2,{"c":null}]}," ":" \u2028 "},"version":18446744073709551615}`,
		`[1,2]`,
		`{"id":`,
		`{} {}`,
		`null`,
	} {
		seeds = append(seeds, []byte(s))
	}
	return seeds
}

// FuzzImportLine: no line makes decodeRecordLine (what import reads each
// line with) panic; a line it accepts is a valid record; and import reads
// back exactly what export writes of it (export∘import∘export = export).
func FuzzImportLine(f *testing.F) {
	for _, s := range importSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		r, err := decodeRecordLine(line)
		if err != nil {
			if r != nil {
				t.Fatalf("a record and an error: %v", err)
			}
			return
		}
		if err := r.Validate(); err != nil {
			t.Fatalf("accepted an invalid record: %v", err)
		}
		export := func(r any) []byte {
			var buf bytes.Buffer
			if err := newJSONEncoder(&buf).Encode(r); err != nil {
				t.Fatalf("export cannot encode an accepted record: %v", err)
			}
			return bytes.TrimSpace(buf.Bytes())
		}
		first := export(exportRecord(r))
		back, err := decodeRecordLine(first)
		if err != nil {
			t.Fatalf("import refuses what export wrote of an accepted line:\n%s\n%v", first, err)
		}
		if again := export(exportRecord(back)); !bytes.Equal(again, first) {
			t.Fatalf("export/import round trip changed the record:\n%s\n%s", first, again)
		}
	})
}

// FuzzImportCommand runs "sesctl import" on arbitrary input: it never
// panics or hangs, exits 0 or 1 (never 2: the input is not a usage error),
// a dry run's count of valid and invalid records matches the non-blank
// lines, and input a dry run found valid imports without error.
func FuzzImportCommand(f *testing.F) {
	seeds := importSeeds(f)
	f.Add(string(bytes.Join(seeds[:4], []byte("\n"))))
	f.Add(string(bytes.Join(seeds, []byte("\n"))))
	f.Add("\n\n" + string(seeds[0]) + "\r\n\t \n")
	f.Add("")
	h := newHarness(f)
	h.seed() // the dry run wants the file to exist
	h.env[envKeys] = h.keyFile
	// The imports go to a store opened once, on a tmpfs where there is one
	// (fsync costs nothing there): a file opened and synced per input
	// would make this target too slow to fuzz.
	dir := f.TempDir()
	if d, err := os.MkdirTemp("/dev/shm", "sesctl-fuzz-"); err == nil {
		dir = d
		f.Cleanup(func() { os.RemoveAll(d) })
	}
	store, err := boltstore.Open(filepath.Join(dir, "import.db"), &boltstore.Options{
		Keys: h.keys, ReapInterval: -1, Logger: slog.New(slog.DiscardHandler),
		Now: func() time.Time { return testNow },
	})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { store.Close() })
	h.useService(admin.NewLocal(store, func() time.Time { return testNow }))
	f.Fuzz(func(t *testing.T, input string) {
		h.t = t
		h.stdin = input
		r := h.run("-o", "json", "import", "--dry-run", "--skip-invalid")
		if strings.Contains(r.stderr, "panic") || strings.Contains(r.stderr, "goroutine ") {
			t.Fatalf("stack trace:\n%s", r.stderr)
		}
		if r.code != exitOK {
			// Only a line longer than the scanner's limit fails a
			// skip-invalid dry run.
			if r.code != exitFailure || !strings.Contains(r.stderr, "longer than") {
				t.Fatalf("dry run: exit %d\n%s", r.code, r.stderr)
			}
			return
		}
		var res importResult
		if err := json.Unmarshal([]byte(r.stdout), &res); err != nil {
			t.Fatalf("dry run output %q: %v", r.stdout, err)
		}
		lines := 0
		for _, l := range strings.Split(input, "\n") {
			if len(bytes.TrimSpace([]byte(l))) > 0 {
				lines++
			}
		}
		if res.Read+res.Invalid != lines || !res.DryRun {
			t.Fatalf("dry run of %d non-blank lines reported %+v", lines, res)
		}
		if res.Read == 0 {
			return
		}
		// What validation let through, the store takes.
		h.stdin = input
		r = h.run("-o", "json", "import", "--skip-invalid")
		if r.code != exitOK {
			t.Fatalf("import of input whose dry run found %d valid records: exit %d\n%s", res.Read, r.code, r.stderr)
		}
	})
}
