package main

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sesbolt/sesbolt/pkg/admin"
	"github.com/sesbolt/sesbolt/pkg/session"
)

// complete runs cobra's completion request for args (the last one is the
// word being completed) and returns the candidates; it fails the test
// unless sesctl exits 0, ends with the no-file directive and prints no
// error of its own.
func (h *harness) complete(args ...string) []string {
	h.t.Helper()
	r := h.run(append([]string{"__complete"}, args...)...)
	lines := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
	if r.code != exitOK || len(lines) == 0 || lines[len(lines)-1] != ":4" || strings.Contains(r.stderr, "sesctl:") {
		h.t.Fatalf("completing %q: exit %d\nstdout:\n%s\nstderr:\n%s", args, r.code, r.stdout, r.stderr)
	}
	if len(lines) == 1 {
		return nil
	}
	return lines[:len(lines)-1]
}

// values drops the descriptions of completion candidates.
func values(cands []string) []string {
	out := make([]string, len(cands))
	for i, c := range cands {
		out[i], _, _ = strings.Cut(c, "\t")
	}
	return out
}

func TestCompleteFlagValues(t *testing.T) {
	h := newHarness(t) // no database needed
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"-o", ""}, []string{"table", "json"}},
		{[]string{"list", "--output", "j"}, []string{"table", "json"}}, // the shell filters
		{[]string{"list", "--sort", ""}, []string{"created", "last-seen", "expires"}},
		{[]string{"import", "--from", ""}, []string{"jsonl", "scs-bolt", "flask-redis"}},
		{[]string{"completion", ""}, []string{"bash", "fish", "powershell", "zsh"}},
	} {
		if got := values(h.complete(tc.args...)); !slices.Equal(got, tc.want) {
			t.Errorf("%q: %q, want %q", tc.args, got, tc.want)
		}
	}
}

func TestCompleteIDsAndUsers(t *testing.T) {
	h := seeded(t)
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"show", "7a1b"}, []string{idBob.String() + "\tbob", idAnon.String() + "\tanonymous"}},
		{[]string{"show", "B0B0"}, []string{idCarol.String() + "\tcarol, expired"}},
		{[]string{"show", "0f8e4d2c5b"}, []string{"0f8e4d2c5b1a4c3e9d7f2a6b8c0e1f34\talice"}},
		{[]string{"show", "0f8e4d2c-5b"}, []string{idAlice1.String() + "\talice"}},
		{[]string{"show", "zz"}, nil},
		{[]string{"show", idBob.String(), ""}, nil}, // show takes one id
		{[]string{"expire", idBob.String(), "7a1b"}, []string{idAnon.String() + "\tanonymous"}},
		{[]string{"list", "--user", ""}, []string{"alice", "bob", "carol"}},
		{[]string{"list", "--user", "a"}, []string{"alice"}},
		{[]string{"expire", "--user", "b"}, []string{"bob"}},
		{[]string{"export", "--user", "c"}, []string{"carol"}},
	} {
		if got := h.complete(tc.args...); !slices.Equal(got, tc.want) {
			t.Errorf("%q: %q, want %q", tc.args, got, tc.want)
		}
	}
	if got := h.complete("show", ""); len(got) != 6 {
		t.Errorf("every stored id: %q", got)
	}
}

// TestCompleteBounded: at most maxCompletions candidates.
func TestCompleteBounded(t *testing.T) {
	h := newHarness(t)
	var recs []*session.Record
	for i := range maxCompletions + 50 {
		r := fixture()[0]
		r.ID, r.UserID = session.NewID(), fmt.Sprintf("user%03d", i)
		recs = append(recs, r)
	}
	h.seed(recs...)
	if got := h.complete("show", ""); len(got) != maxCompletions {
		t.Errorf("%d ids, want %d", len(got), maxCompletions)
	}
	users := h.complete("list", "--user", "user")
	if len(users) != maxCompletions || !slices.IsSorted(users) {
		t.Errorf("%d users (sorted: %v), want %d", len(users), slices.IsSorted(users), maxCompletions)
	}
}

// TestCompleteNeverFails: without a readable database completion offers
// nothing and says nothing; through the app's socket it works.
func TestCompleteNeverFails(t *testing.T) {
	h := newHarness(t)
	if got := h.complete("show", ""); got != nil {
		t.Errorf("no database: %q", got)
	}
	h.seed(fixture()...)
	h.env[envKeys] = wrongKeyFile(t, h)
	if got := h.complete("show", ""); got != nil {
		t.Errorf("wrong keys: %q", got)
	}
	h.env[envKeys] = filepath.Join(h.dir, "missing.keys")
	if got := h.complete("list", "--user", ""); got != nil {
		t.Errorf("unreadable keys: %q", got)
	}
	delete(h.env, envKeys)

	st := h.openStore() // the app holds the file, no socket
	if got := h.complete("show", ""); got != nil {
		t.Errorf("held file: %q", got)
	}
	st.Close()
	serveSocket(t, h, h.db+".sock")
	if got := h.complete("list", "--user", ""); !slices.Equal(got, []string{"alice", "bob", "carol"}) {
		t.Errorf("through the socket: %q", got)
	}
}

// stuckService is an admin socket that never answers a listing (until
// the test ends).
type stuckService struct {
	admin.Service
	release chan struct{}
}

func (s *stuckService) List(context.Context, admin.ListQuery) (session.Page, error) {
	<-s.release
	return session.Page{}, nil
}

// TestCompleteTimeout: a store that does not answer costs about
// completionTimeout, then no candidates.
func TestCompleteTimeout(t *testing.T) {
	h := newHarness(t)
	stuck := &stuckService{release: make(chan struct{})}
	t.Cleanup(func() { close(stuck.release) })
	h.dial = func(string) admin.Service { return stuck }
	start := time.Now()
	if got := h.complete("--socket", filepath.Join(h.dir, "app.sock"), "show", ""); got != nil {
		t.Errorf("got %q", got)
	}
	if d := time.Since(start); d > 20*completionTimeout {
		t.Errorf("took %v", d)
	}
}
