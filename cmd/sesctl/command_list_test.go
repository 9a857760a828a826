package main

import (
	"encoding/json"
	"strings"
	"testing"
)

// goldenCase is one run of sesctl and the golden file of its output.
type goldenCase struct {
	name   string
	args   []string
	golden string
}

// listCases are the listings whose output is the same on every store
// (--expired comes in the store's order: see TestList).
var listCases = []goldenCase{
	{"live table", []string{"list"}, "list.golden"},
	{"live json", []string{"-o", "json", "list"}, "list_json.golden"},
	{"all json", []string{"list", "--all", "--output=json"}, "list_all_json.golden"},
	{"user", []string{"list", "--user", "alice"}, "list_user.golden"},
	{"limit", []string{"list", "--all", "--limit", "2"}, "list_limit.golden"},
	{"sort created", []string{"list", "--all", "--sort", "created"}, "list_sort_created.golden"},
	{"sort last-seen reverse limit", []string{"list", "--sort", "last-seen", "--reverse", "--limit", "2"}, "list_sort_lastseen.golden"},
	{"sort expires json", []string{"-o", "json", "list", "--all", "--sort", "expires"}, "list_sort_expires_json.golden"},
	{"empty", []string{"list", "--user", "nobody"}, "list_empty.golden"},
	{"empty json", []string{"-o", "json", "list", "--user", "nobody"}, "list_empty_json.golden"},
}

// runGolden runs each case on h, requiring that it succeeds, leaves the
// store unchanged and prints its golden file.
func runGolden(t *testing.T, h *harness, cases []goldenCase) {
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h.t = t
			h.unchanged(func() { h.golden(c.golden, h.ok(c.args...)) })
		})
	}
}

func TestList(t *testing.T) {
	h := seeded(t)
	runGolden(t, h, append(listCases,
		// A file lists expired sessions by expiry, longest ago first.
		goldenCase{"expired", []string{"list", "--expired"}, "list_expired.golden"}))
}

func TestListJSONFields(t *testing.T) {
	h := seeded(t)
	out := h.ok("-o", "json", "list", "--all")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 6 {
		t.Fatalf("got %d lines, want 6", len(lines))
	}
	want := []string{"id", "user", "created", "last_seen", "expires", "idle_expires", "deadline", "expired", "persistent", "ip", "user_agent", "last_ip", "last_user_agent", "size", "version"}
	for _, line := range lines {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("%v: %s", err, line)
		}
		if len(m) != len(want) {
			t.Errorf("%d fields, want %d: %s", len(m), len(want), line)
		}
		for _, k := range want {
			if _, ok := m[k]; !ok {
				t.Errorf("no field %q: %s", k, line)
			}
		}
		for _, k := range []string{"created", "last_seen", "expires"} {
			if s, _ := m[k].(string); !strings.HasSuffix(s, "Z") {
				t.Errorf("%s = %q, want RFC 3339 UTC", k, s)
			}
		}
	}
}

func TestListUsage(t *testing.T) {
	h := seeded(t)
	for _, args := range [][]string{
		{"list", "--expired", "--all"},
		{"list", "--sort", "size"},
		{"list", "--limit", "-1"},
		{"list", "--reverse"},
		{"list", "extra"},
		{"list", "--bogus"},
		{"-o", "yaml", "list"},
	} {
		h.fails(exitUsage, []string{"Run 'sesctl list --help' for usage."}, args...)
	}
}

func TestTopN(t *testing.T) {
	recs := fixture()
	for _, n := range []int{0, 1, 3, 6, 10} {
		top := newTopN(sortKeys["created"], false, n)
		for _, r := range recs {
			top.add(r)
		}
		got := top.sorted()
		want := len(recs)
		if n > 0 && n < want {
			want = n
		}
		if len(got) != want {
			t.Fatalf("n=%d: %d records, want %d", n, len(got), want)
		}
		for i := 1; i < len(got); i++ {
			if got[i].Created.Before(got[i-1].Created) {
				t.Errorf("n=%d: not sorted at %d", n, i)
			}
		}
		if len(got) > 0 && !got[0].Created.Equal(testNow.Add(-26*3600e9)) {
			t.Errorf("n=%d: first is %v, want the oldest", n, got[0].Created)
		}
	}
}
