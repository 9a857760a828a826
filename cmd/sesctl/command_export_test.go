package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/sesbolt/sesbolt/pkg/session"
)

func TestExport(t *testing.T) {
	h := seeded(t)
	var out string
	h.unchanged(func() { out = h.ok("export") })
	h.golden("export.golden", out)
	// -o does not matter: export is always JSON lines.
	if got := h.ok("-o", "json", "export"); got != out {
		t.Error("export differs with -o json")
	}
	// Every line is a session.Record, equal to the stored one.
	want := map[session.ID]*session.Record{}
	for _, r := range fixture() {
		want[r.ID] = r
	}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		r, err := decodeRecordLine([]byte(line))
		if err != nil {
			t.Fatalf("%v: %s", err, line)
		}
		w := want[r.ID]
		if w == nil {
			t.Fatalf("unexpected %s", r.ID)
		}
		w = w.Clone()
		w.Version = 1
		if !r.Equal(w) {
			t.Errorf("exported\n%+v\nwant\n%+v", r, w)
		}
		delete(want, r.ID)
	}
	if len(want) != 0 {
		t.Errorf("not exported: %v", want)
	}

	if got := h.ok("export", "--user", "alice"); countLines(got) != 2 {
		t.Errorf("--user alice: %s", got)
	}
	if got := h.ok("export", "--live"); countLines(got) != 4 {
		t.Errorf("--live: %s", got)
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(strings.Split(out, "\n")[0]), &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"id", "user", "created", "last_seen", "idle_expires", "deadline", "client", "data", "version"} {
		if _, ok := m[k]; !ok {
			t.Errorf("no field %q", k)
		}
	}
}
