//go:build linux

package boltstore_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/sesbolt/sesbolt/internal/testfs"
	"github.com/sesbolt/sesbolt/pkg/session"
	"github.com/sesbolt/sesbolt/pkg/session/sessiontest"
)

func TestDiskFull(t *testing.T) {
	dir := testfs.MountTmpfs(t, "2m")
	// Space the test frees later to let writes succeed again.
	filler := filepath.Join(dir, "filler")
	if err := os.WriteFile(filler, bytes.Repeat([]byte{1}, 512<<10), 0o600); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "sessions.db")
	s := openAt(t, path, testOptions(t))
	ctx := context.Background()
	now := sessiontest.Base()
	payload := rawJSON(strings.Repeat("x", 8<<10))

	var stored []*session.Record
	var fullErr error
	for i := range 1000 {
		r := sessiontest.NewRecord(session.NewID(), "alice", now)
		r.Data["payload"] = payload
		got, err := s.Apply(ctx, sessiontest.CreateChange(r))
		if err != nil {
			fullErr = err
			t.Logf("commit %d failed: %v", i, err)
			break
		}
		stored = append(stored, got)
	}
	if fullErr == nil {
		t.Fatal("never ran out of space")
	}
	if errors.Is(fullErr, session.ErrTooLarge) || errors.Is(fullErr, session.ErrExists) || errors.Is(fullErr, session.ErrNotFound) {
		t.Fatalf("disk full reported as a data error: %v", fullErr)
	}
	if !errors.Is(fullErr, syscall.ENOSPC) {
		t.Errorf("disk-full error %v does not wrap ENOSPC", fullErr)
	}
	if len(stored) < 10 {
		t.Fatalf("only %d sessions fit before the disk filled", len(stored))
	}

	// Everything committed before stays readable.
	check := func() {
		t.Helper()
		for _, r := range stored {
			got, err := s.Load(ctx, r.ID, now)
			if err != nil {
				t.Fatalf("session %s after disk full: %v", r.ID, err)
			}
			if !got.Equal(r) {
				t.Fatalf("session %s changed after disk full", r.ID)
			}
		}
	}
	check()

	// Free space: writes succeed again.
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	r := sessiontest.NewRecord(session.NewID(), "bob", now)
	r.Data["payload"] = payload
	got, err := s.Apply(ctx, sessiontest.CreateChange(r))
	if err != nil {
		t.Fatalf("write after freeing space: %v", err)
	}
	stored = append(stored, got)
	upd, err := s.Apply(ctx, &session.Change{ID: stored[0].ID, Now: now, Set: map[string]json.RawMessage{"after": rawJSON(1)}})
	if err != nil {
		t.Fatalf("update after freeing space: %v", err)
	}
	stored[0] = upd
	check()
	mustCheck(t, s)

	// And all of it survives a reopen.
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	opts := testOptions(t)
	opts.Verify = true
	s = openAt(t, path, opts)
	check()
	mustCheck(t, s)
}
