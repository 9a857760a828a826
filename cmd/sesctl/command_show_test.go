package main

import (
	"encoding/json"
	"testing"
)

// showCases are the runs of show whose output is the same on every store.
var showCases = []goldenCase{
	{"full id", []string{"show", idAlice1.String()}, "show.golden"},
	{"prefix", []string{"show", "0f8e4d2c"}, "show.golden"},
	{"prefix with dash, upper case", []string{"show", "0F8E4D2C-5B1A"}, "show.golden"},
	{"32 hex digits", []string{"show", "0f8e4d2c5b1a4c3e9d7f2a6b8c0e1f34"}, "show.golden"},
	{"json", []string{"-o", "json", "show", "0f8e4d2c"}, "show_json.golden"},
	{"expired anonymous", []string{"show", "e1e2e3e4"}, "show_expired.golden"},
	{"longer prefix disambiguates", []string{"show", "7a1b2c3d-0000-4000-9"}, "show_anon_prefix.golden"},
}

func TestShow(t *testing.T) {
	runGolden(t, seeded(t), showCases)
}

func TestShowJSONRoundTrip(t *testing.T) {
	h := seeded(t)
	var got struct {
		sessionView
		Data map[string]json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal([]byte(h.ok("-o", "json", "show", idAlice1.String())), &got); err != nil {
		t.Fatal(err)
	}
	want := fixture()[0]
	if got.ID != want.ID.String() || got.User != "alice" || !got.Expires.Equal(want.Expires()) || len(got.Data) != 3 {
		t.Errorf("got %+v", got)
	}
	if string(got.Data["note"]) != `"<b>&</b>"` {
		t.Errorf("note = %s, want it unescaped", got.Data["note"])
	}
}

func TestShowErrors(t *testing.T) {
	h := seeded(t)
	h.unchanged(func() {
		h.fails(exitFailure, []string{"ambiguous", idBob.String(), idAnon.String()}, "show", "7a1b2c3d")
		h.fails(exitFailure, []string{"no session id starts with 99999999"}, "show", "99999999")
		h.fails(exitFailure, []string{"not found"}, "show", "99999999-0000-4000-8000-000000000000")
		h.fails(exitUsage, []string{"too short"}, "show", "0f8e4d")
		h.fails(exitUsage, []string{"not a session id"}, "show", "alice")
		h.fails(exitUsage, []string{"too long"}, "show", "0f8e4d2c5b1a4c3e9d7f2a6b8c0e1f3400")
		h.fails(exitUsage, []string{"show needs one session ID"}, "show")
		h.fails(exitUsage, []string{"show takes one session ID, not 2 arguments"}, "show", "a", "b")
	})
}

func TestPrefixCursor(t *testing.T) {
	cases := map[string]string{
		"0f8e4d2c":  "0f8e4d2b-ffff-ffff-ffff-ffffffffffff",
		"00000000":  "",
		"00000001":  "00000000-ffff-ffff-ffff-ffffffffffff",
		"7a1b2c3d0": "7a1b2c3c-ffff-ffff-ffff-ffffffffffff",
		"7a1b2c3d1": "7a1b2c3d-0fff-ffff-ffff-ffffffffffff",
	}
	for prefix, want := range cases {
		if got := prefixCursor(prefix); got.String() != want {
			t.Errorf("prefixCursor(%s) = %s, want %s", prefix, got, want)
		}
	}
	if !prefixCursor("00000000").IsZero() {
		t.Error("an all-zero prefix must start at the beginning")
	}
}
