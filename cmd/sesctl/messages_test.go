package main

import (
	"fmt"
	"path/filepath"
	"testing"

	"github.com/sesbolt/sesbolt/pkg/admin"
	"github.com/sesbolt/sesbolt/pkg/session"
)

func TestUserText(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"boltstore: closed", "closed"},
		{"a.db: boltstore: schema 9 is newer", "a.db: schema 9 is newer"},
		{"line 4: json: unknown field \"x\"", "line 4: unknown field \"x\""},
		{"admin: server unavailable: no admin server at /s (is it?)", "server unavailable: no admin server at /s (is it?)"},
		{"wrapped (session: not found)", "wrapped (not found)"},
		{"two\nlines\tand\x07bell", "two lines and\\abell"},
		// Not a package prefix: part of a path, or a quoted value.
		{"/var/lib/session: denied", "/var/lib/session: denied"},
		{`value "admin": not a user id`, `value "admin": not a user id`},
		{"sessionstore: x", "sessionstore: x"},
		{"expire --all ends every session: add --yes", "expire --all ends every session: add --yes"},
	} {
		if got := userText(tc.in); got != tc.want {
			t.Errorf("userText(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// TestFailureMessages: what sesctl says when a command fails (exit 1):
// one line, in its own words, each hint once, no package prefixes.
func TestFailureMessages(t *testing.T) {
	h := seeded(t)
	runs := [][]string{
		{"--socket", filepath.Join(h.dir, "none.sock"), "stats"},
		{"--keys", filepath.Join(h.dir, "none.keys"), "stats"},
		{"--db", filepath.Join(h.dir, "none.db"), "stats"},
		{"show", "99999999-9999-4999-8999-999999999999"},
		{"show", "99999999"},
	}
	got := h.transcript(runs...)

	for _, err := range []error{
		fmt.Errorf("boltstore: disk on fire"),
		fmt.Errorf("stats: %w", session.ErrNotSupported),
		fmt.Errorf("%w: uid 1001 is not the server's", admin.ErrForbidden),
	} {
		h.useService(&fakeService{err: err})
		got += h.transcript([]string{"stats"})
	}
	h.golden("failure_messages.golden", got)
}
