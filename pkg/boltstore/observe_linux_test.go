//go:build linux

package boltstore_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sesbolt/sesbolt/internal/testfs"
	"github.com/sesbolt/sesbolt/pkg/session"
	"github.com/sesbolt/sesbolt/pkg/session/sessiontest"
)

// TestObserveDiskFull: a commit that fails (the disk is full) is reported
// to Committed with its error and to Failed as "commit", once; the data
// errors and successes before it are not failures.
func TestObserveDiskFull(t *testing.T) {
	dir := testfs.MountTmpfs(t, "2m")
	if err := os.WriteFile(filepath.Join(dir, "filler"), bytes.Repeat([]byte{1}, 512<<10), 0o600); err != nil {
		t.Fatal(err)
	}
	rec := &sessiontest.Recorder{}
	s := openAt(t, filepath.Join(dir, "sessions.db"), observedOptions(t, rec))
	ctx := context.Background()
	now := sessiontest.Base()
	// A data error first: not a failure.
	if _, err := s.Apply(ctx, &session.Change{ID: session.NewID(), Now: now, LastSeen: now}); err == nil {
		t.Fatal("update of a missing record succeeded")
	}
	payload := rawJSON(strings.Repeat("x", 8<<10))
	for i := 0; ; i++ {
		r := sessiontest.NewRecord(session.NewID(), "alice", now)
		r.Data["payload"] = payload
		if _, err := s.Apply(ctx, sessiontest.CreateChange(r)); err != nil {
			break
		}
		if i == 1000 {
			t.Fatal("never ran out of space")
		}
	}
	commits := rec.Commits()
	last := commits[len(commits)-1]
	if last.Err == nil || last.Size != 1 {
		t.Errorf("last commit reported %+v; want the disk-full error", last)
	}
	for _, c := range commits[:len(commits)-1] {
		if c.Err != nil {
			t.Errorf("commit before the disk filled reported %v", c.Err)
		}
	}
	if f := rec.Failures(); len(f) != 1 || f[0] != "commit" {
		t.Errorf("Failed reported %v; want [commit]", f)
	}
	st, err := s.Stats(ctx, now)
	if err != nil {
		t.Fatal(err)
	}
	if st.Commits.Failed != 1 || st.Commits.Count != int64(len(commits)) {
		t.Errorf("Stats.Commits = %+v; want %d commits, 1 failed", st.Commits, len(commits))
	}
}
