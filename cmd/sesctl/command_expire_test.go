package main

import (
	"strings"
	"testing"
)

func TestExpire(t *testing.T) {
	cases := []struct {
		name      string
		args      []string
		want      string
		remaining int // sessions stored afterwards, live or expired
	}{
		{"one id", []string{"expire", idAlice1.String()}, "expired 1 session\n", 5},
		{"prefixes", []string{"expire", "0f8e4d2c", "b0b0b0b0-1111"}, "expired 2 sessions\n", 4},
		{"unknown id", []string{"expire", "99999999-0000-4000-8000-000000000000"}, "expired 0 sessions\n", 6},
		{"user", []string{"expire", "--user", "alice"}, "expired 2 sessions\n", 4},
		{"user json", []string{"-o", "json", "expire", "--user", "carol"}, `{"expired":1}` + "\n", 5},
		{"user except", []string{"expire", "--user", "alice", "--except", idAlice1.String()}, "expired 1 session\n", 5},
		{"user except prefix", []string{"expire", "--user", "alice", "--except", "3c2d1e0f"}, "expired 1 session\n", 5},
		{"user except another's", []string{"expire", "--user", "alice", "--except", idBob.String()}, "expired 2 sessions\n", 4},
		{"all", []string{"expire", "--all", "--yes"}, "expired 6 sessions\n", 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := seeded(t)
			h.env[envKeys] = h.keyFile
			if got := h.ok(c.args...); got != c.want {
				t.Errorf("got %q, want %q", got, c.want)
			}
			if n := countLines(h.ok("-o", "json", "list", "--all")); n != c.remaining {
				t.Errorf("%d sessions remain, want %d", n, c.remaining)
			}
		})
	}
}

func TestExpireAllConfirmation(t *testing.T) {
	h := seeded(t)
	h.env[envKeys] = h.keyFile

	// Not a terminal: refused without --yes, nothing changes.
	h.unchanged(func() { h.fails(exitUsage, []string{"--yes"}, "expire", "--all") })

	// A terminal: asks; anything but yes aborts.
	h.terminal = func(any) bool { return true }
	h.stdin = "n\n"
	h.unchanged(func() {
		r := h.fails(exitFailure, []string{"End all 6 sessions in " + h.db + "? [y/N]", "aborted"}, "expire", "--all")
		if r.stdout != "" {
			t.Errorf("stdout %q", r.stdout)
		}
	})
	h.stdin = ""
	h.unchanged(func() { h.fails(exitFailure, []string{"aborted"}, "expire", "--all") })
	h.stdin = "yes\n"
	if got := h.ok("expire", "--all"); got != "expired 6 sessions\n" {
		t.Errorf("got %q", got)
	}
}

func TestExpireErrors(t *testing.T) {
	h := seeded(t)
	h.unchanged(func() {
		h.fails(exitUsage, []string{"exactly one of"}, "expire")
		h.fails(exitUsage, []string{"exactly one of"}, "expire", "--user", "alice", "--all")
		h.fails(exitUsage, []string{"exactly one of"}, "expire", idBob.String(), "--user", "bob")
		h.fails(exitUsage, []string{"not a session id"}, "expire", "bob")
		h.fails(exitUsage, []string{"--except ID goes with --user"}, "expire", "--except", idAlice1.String())
		h.fails(exitUsage, []string{"--except ID goes with --user"}, "expire", "--all", "--except", idAlice1.String())
		h.fails(exitUsage, []string{"not a session id"}, "expire", "--user", "alice", "--except", "bob")
		// Changing the file needs the keys.
		h.fails(exitFailure, []string{"needs the keys", "--keys"}, "expire", "--user", "alice")
		h.env[envKeys] = h.keyFile
		h.fails(exitFailure, []string{"ambiguous"}, "expire", "7a1b2c3d")
	})
}

// TestExpireExceptGolden: "sign out the other devices" from the shell: the
// kept session is the user's only one left.
func TestExpireExceptGolden(t *testing.T) {
	h := seeded(t)
	h.env[envKeys] = h.keyFile
	got := h.transcript(
		[]string{"expire", "--user", "alice", "--except", "0f8e4d2c"},
		[]string{"list", "--user", "alice"},
		[]string{"-o", "json", "expire", "--user", "alice", "--except", "0f8e4d2c"},
	)
	h.golden("expire_except.golden", got)
}

func countLines(s string) int {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0
	}
	return strings.Count(s, "\n") + 1
}
