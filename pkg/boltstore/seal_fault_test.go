package boltstore_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"testing"

	"github.com/sesbolt/sesbolt/pkg/boltstore"
	"github.com/sesbolt/sesbolt/pkg/session"
	"github.com/sesbolt/sesbolt/pkg/session/sessiontest"
)

// TestDamagedSealIsNoSession: one damaged byte in a stored seal, the "="
// that pads its base64 turned into a digit, makes the seal decode to one
// byte more than a seal has. Such a record is no session (Load, Apply,
// UserSessions, List, Stats, the reaper, Check), counted as a seal failure.
// It used to panic the decoder, so every request carrying that session's
// cookie crashed its handler. FuzzDecodeEnvelope found it; its input is
// kept as testdata/fuzz/FuzzDecodeEnvelope/regression-seal-padding-panic.
func TestDamagedSealIsNoSession(t *testing.T) {
	s, path := openTemp(t)
	ctx := context.Background()
	now := sessiontest.Base()
	victim := insert(t, s, 1, now, func(int) string { return "alice" })[0]
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	pad := []byte(`=","record":{"id":"` + victim.ID.String())
	if bytes.Count(b, pad) == 0 {
		t.Fatal("the stored envelope was not found in the file")
	}
	b = bytes.ReplaceAll(b, pad, append([]byte("0"), pad[1:]...))
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}

	s = openAt(t, path, testOptions(t))
	other := insert(t, s, 1, now, func(int) string { return "alice" })[0]
	if r, err := s.Load(ctx, victim.ID, now); !errors.Is(err, session.ErrNotFound) {
		t.Fatalf("Load of a record with a damaged seal = %+v, %v; want ErrNotFound", r, err)
	}
	if _, err := s.Apply(ctx, &session.Change{ID: victim.ID, Now: now, Set: map[string]json.RawMessage{"k": rawJSON(1)}}); !errors.Is(err, session.ErrNotFound) {
		t.Fatalf("update of a record with a damaged seal: %v; want ErrNotFound", err)
	}
	recs, err := s.UserSessions(ctx, "alice", now)
	if err != nil || len(recs) != 1 || recs[0].ID != other.ID {
		t.Fatalf("UserSessions = %v, %v; want only the undamaged session", recs, err)
	}
	page, err := s.List(ctx, session.ListQuery{Filter: session.All, Now: now})
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	for _, r := range page.Records {
		if r.ID == victim.ID {
			t.Error("List shows the record with a damaged seal")
		}
	}
	st, err := s.Stats(ctx, now)
	if err != nil || st.SealFailures == 0 {
		t.Fatalf("Stats = %+v, %v; want the seal failure counted", st, err)
	}
	rep, err := s.Diagnose(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Problems) != 1 || rep.Problems[0].Area != boltstore.AreaSeal || rep.Problems[0].ID != victim.ID {
		t.Fatalf("Check problems = %v; want one seal problem for %s", rep.Problems, victim.ID)
	}
	// The reaper removes it once expired, like any record.
	later := victim.Expires().Add(1)
	if n, err := s.Purge(ctx, later); err != nil || n != 2 {
		t.Fatalf("Purge past the records' expiry = %d, %v; want both removed", n, err)
	}
	mustCheck(t, s)
}
