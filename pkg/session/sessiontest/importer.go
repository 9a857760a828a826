package sessiontest

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/sesbolt/sesbolt/pkg/session"
)

var importCases = []testCase{
	{"InsertsAndSkips", testImportInsertsAndSkips},
	{"AtomicOnInvalid", testImportAtomicOnInvalid},
}

func testImportInsertsAndSkips(t *testing.T, s session.Store) {
	im := implementing[session.Importer](t, s)
	now := Base()
	existing := Insert(t, s, NewRecord(session.NewID(), "alice", now))[0]

	clash := NewRecord(existing.ID, "mallory", now) // same id: skipped, not replaced
	fresh := NewRecord(session.NewID(), "bob", now)
	fresh.Version = 7
	expired := NewRecord(session.NewID(), "carol", now.Add(-time.Hour))
	expired.IdleExpires = now.Add(-time.Minute)
	n, err := im.Import(ctx(t), []*session.Record{clash, fresh, expired}, now)
	if err != nil || n != 1 {
		t.Fatalf("Import = %d, %v; want 1, <nil>", n, err)
	}
	got := load(t, s, existing.ID, now)
	if got.UserID != "alice" {
		t.Errorf("import replaced an existing record: user %q", got.UserID)
	}
	got = load(t, s, fresh.ID, now)
	if !sameContent(got, fresh) || got.Version != 7 {
		t.Errorf("imported record = %+v, want %+v with version 7", got, fresh)
	}
	if ui, ok := s.(session.UserIndex); ok {
		recs, err := ui.UserSessions(ctx(t), "bob", now)
		if err != nil || len(recs) != 1 || recs[0].ID != fresh.ID {
			t.Errorf("imported record not in the user index: %v, %v", recs, err)
		}
	}
	if _, err := s.Load(ctx(t), expired.ID, time.Time{}); !errors.Is(err, session.ErrNotFound) {
		t.Errorf("expired record imported: err = %v", err)
	}
	// Re-running the same import inserts nothing.
	if n, err := im.Import(ctx(t), []*session.Record{fresh}, now); err != nil || n != 0 {
		t.Errorf("second import = %d, %v; want 0, <nil>", n, err)
	}
}

func testImportAtomicOnInvalid(t *testing.T, s session.Store) {
	im := implementing[session.Importer](t, s)
	now := Base()
	good := NewRecord(session.NewID(), "dave", now)
	bad := NewRecord(session.NewID(), "dave", now)
	bad.Data["broken"] = json.RawMessage(`{"unterminated`)
	n, err := im.Import(ctx(t), []*session.Record{good, bad}, now)
	if !errors.Is(err, session.ErrInvalid) || n != 0 {
		t.Fatalf("Import with an invalid record = %d, %v; want 0, ErrInvalid", n, err)
	}
	if _, err := s.Load(ctx(t), good.ID, now); !errors.Is(err, session.ErrNotFound) {
		t.Errorf("valid record of a failed batch was written: err = %v", err)
	}
}

// sameContent compares r and want ignoring Version.
func sameContent(r, want *session.Record) bool {
	a, b := *r, *want
	a.Version, b.Version = 0, 0
	return a.Equal(&b)
}
