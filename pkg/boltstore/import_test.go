package boltstore_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/sesbolt/sesbolt/pkg/boltstore"
	"github.com/sesbolt/sesbolt/pkg/session"
	"github.com/sesbolt/sesbolt/pkg/session/sessiontest"
)

func TestImportAllOrNothing(t *testing.T) {
	s, _ := openTemp(t)
	ctx := context.Background()
	now := sessiontest.Base()
	var recs []*session.Record
	for i := range 50 {
		recs = append(recs, sessiontest.NewRecord(session.NewID(), []string{"", "alice"}[i%2], now))
	}
	big := sessiontest.NewRecord(session.NewID(), "", now)
	big.Data["big"] = rawJSON(strings.Repeat("x", boltstore.DefaultMaxRecordSize))
	if n, err := s.Import(ctx, append(recs[:len(recs):len(recs)], big), now); !errors.Is(err, session.ErrTooLarge) || n != 0 {
		t.Fatalf("Import with a too-large record = %d, %v; want 0, ErrTooLarge", n, err)
	}
	if st, _ := s.Stats(ctx, now); st.Sessions != 0 {
		t.Fatalf("a failed import stored %d sessions", st.Sessions)
	}
	n, err := s.Import(ctx, recs, now)
	if err != nil || n != len(recs) {
		t.Fatalf("Import = %d, %v", n, err)
	}
	if got, err := s.Load(ctx, recs[1].ID, now); err != nil || got.Version != 1 || got.UserID != "alice" {
		t.Fatalf("imported record: %+v, %v", got, err)
	}
	if users, err := s.UserSessions(ctx, "alice", now); err != nil || len(users) != 25 {
		t.Fatalf("UserSessions after import: %d, %v", len(users), err)
	}
	mustCheck(t, s)
}

func TestInvalidInput(t *testing.T) {
	s, _ := openTemp(t)
	ctx := context.Background()
	now := sessiontest.Base()
	r := insert(t, s, 1, now, nil)[0]
	c := &session.Change{ID: r.ID, Now: now, Set: map[string]json.RawMessage{"bad": json.RawMessage(`{"open`)}}
	if _, err := s.Apply(ctx, c); !errors.Is(err, session.ErrInvalid) {
		t.Fatalf("Apply of invalid JSON data = %v; want ErrInvalid", err)
	}
	if got, err := s.Load(ctx, r.ID, now); err != nil || !got.Equal(r) {
		t.Fatalf("record after an invalid change: %+v, %v", got, err)
	}
	if _, err := s.Apply(ctx, &session.Change{Now: now}); !errors.Is(err, session.ErrInvalid) {
		t.Fatalf("Apply of a change without id = %v; want ErrInvalid", err)
	}
	if _, err := s.List(ctx, session.ListQuery{Now: now, Filter: session.Filter(42)}); !errors.Is(err, session.ErrInvalid) {
		t.Fatalf("List with an unknown filter = %v; want ErrInvalid", err)
	}
}

func TestCheckReport(t *testing.T) {
	s, _ := openTemp(t)
	ctx := context.Background()
	now := sessiontest.Base()
	insert(t, s, 5, now, nil)
	rep, err := s.Check(ctx)
	if err != nil || !rep.OK() || rep.Records != 5 || !rep.SealsVerified {
		t.Fatalf("Check = %+v, %v", rep, err)
	}
	// Stale entries show up as one line each, naming area and id.
	id := session.NewID()
	if err := boltstore.PutRawExpiryEntry(s, 1, id); err != nil {
		t.Fatal(err)
	}
	rep, err = s.Check(ctx)
	if err != nil || rep.OK() || len(rep.Problems) != 1 || !strings.Contains(rep.Problems[0], id.String()) ||
		!strings.HasPrefix(rep.Problems[0], boltstore.AreaExpiry+": ") {
		t.Fatalf("Check with an orphan entry = %+v, %v", rep, err)
	}
}
