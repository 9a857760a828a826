package main

import (
	"strings"
	"testing"

	"github.com/sesbolt/sesbolt/pkg/boltstore"
)

// TestImportValidatesStoreLimits: a record the store would refuse (a user
// id longer than boltstore.MaxUserIDSize) is invalid input, reported with
// its line number before anything is written, like any other bad line;
// it used to pass validation and stop the import half-way, with the
// batches before it written ("every line is validated before anything is
// written", docs/sesctl.md).
func TestImportValidatesStoreLimits(t *testing.T) {
	lines := strings.Split(strings.TrimSpace(seeded(t).ok("export", "--live")), "\n")
	long := strings.Replace(lines[1], `"user":"alice"`, `"user":"`+strings.Repeat("u", boltstore.MaxUserIDSize+1)+`"`, 1)
	if long == lines[1] {
		t.Fatalf("fixture line 2 has no alice: %s", lines[1])
	}
	atLimit := strings.Replace(lines[2], `"user":"bob"`, `"user":"`+strings.Repeat("b", boltstore.MaxUserIDSize)+`"`, 1)
	input := strings.Join([]string{lines[0], long, atLimit, lines[3]}, "\n")

	h := importTarget(t)
	h.stdin = input
	h.fails(exitFailure, []string{"line 2: ", "user id", "1 line invalid; nothing imported"}, "import", "--batch", "1")
	if got := h.ok("export"); got != "" {
		t.Errorf("an import with an invalid line wrote:\n%s", got)
	}
	h.stdin = input
	h.fails(exitFailure, []string{"line 2: ", "1 line invalid"}, "import", "--dry-run")

	// --skip-invalid imports the rest, the user id at the limit included.
	h.stdin = input
	if got := h.ok("-o", "json", "import", "--skip-invalid", "--batch", "1"); got != `{"read":3,"imported":3,"skipped":0,"invalid":1,"dry_run":false}`+"\n" {
		t.Errorf("skip invalid: %s", got)
	}
}
