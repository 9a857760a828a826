package boltstore_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"testing"

	"github.com/sesbolt/sesbolt/pkg/boltstore"
	"github.com/sesbolt/sesbolt/pkg/session"
	"github.com/sesbolt/sesbolt/pkg/session/sessiontest"
)

func TestSealDetectsTampering(t *testing.T) {
	s, path := openTemp(t)
	ctx := context.Background()
	now := sessiontest.Base()
	victim := sessiontest.NewRecord(session.NewID(), "alice", now)
	victim.Data["role"] = rawJSON("user-role-marker")
	insert := func(r *session.Record) *session.Record {
		got, err := s.Apply(ctx, sessiontest.CreateChange(r))
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	insert(victim)
	other := insert(sessiontest.NewRecord(session.NewID(), "bob", now))
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	// Edit the record offline: "user" becomes "admin" in every copy of its
	// JSON in the file (older page versions may linger in free pages). The
	// JSON stays valid; only the seal can tell.
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	marker := []byte(`"user-role-marker"`)
	if n := bytes.Count(b, marker); n == 0 {
		t.Fatal("record JSON not found in the file")
	}
	b = bytes.ReplaceAll(b, marker, []byte(`"admn-role-marker"`))
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}

	s = openAt(t, path, testOptions(t))
	for range 2 {
		if r, err := s.Load(ctx, victim.ID, now); !errors.Is(err, session.ErrNotFound) {
			t.Fatalf("Load of a tampered record = %+v, %v; want ErrNotFound", r, err)
		}
	}
	if _, err := s.Apply(ctx, &session.Change{ID: victim.ID, Now: now, LastSeen: now}); !errors.Is(err, session.ErrNotFound) {
		t.Fatalf("update of a tampered record: %v; want ErrNotFound", err)
	}
	st, err := s.Stats(ctx, now)
	if err != nil {
		t.Fatal(err)
	}
	if st.SealFailures != 1 { // counted once per record
		t.Fatalf("Stats.SealFailures = %d, want 1", st.SealFailures)
	}
	if got, err := s.Load(ctx, other.ID, now); err != nil || !got.Equal(other) {
		t.Fatalf("untouched record: %v, %v", got, err)
	}
	if recs, err := s.UserSessions(ctx, "alice", now); err != nil || recs != nil {
		t.Fatalf("UserSessions of the tampered record's user = %v, %v; want none", recs, err)
	}
	rep, err := s.Diagnose(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Problems) != 1 || rep.Problems[0].Area != boltstore.AreaSeal || rep.Problems[0].ID != victim.ID {
		t.Fatalf("Check problems = %v; want one seal problem for %s", rep.Problems, victim.ID)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	// Read-only inspection without keys does not check seals: the edited
	// record shows (that is what "sesctl show" without --keys sees).
	ro := openAt(t, path, &boltstore.Options{ReadOnly: true, Logger: quietLogger()})
	got, err := ro.Load(ctx, victim.ID, now)
	if err != nil || string(got.Data["role"]) != `"admn-role-marker"` {
		t.Fatalf("read-only Load without keys = %+v, %v", got, err)
	}
	if rep, err := ro.Diagnose(ctx); err != nil || !rep.OK() || rep.SealsChecked {
		t.Fatalf("read-only Check without keys = %+v, %v; want OK without seal checks", rep, err)
	}
}

func TestRecordMovedToAnotherID(t *testing.T) {
	// Records swapped between ids offline fail their check.
	s, path := openTemp(t)
	ctx := context.Background()
	now := sessiontest.Base()
	recs := insert(t, s, 2, now, nil)
	s.Close()
	b, _ := os.ReadFile(path)
	a, c := []byte(recs[0].ID.String()), []byte(recs[1].ID.String())
	// Swap the ids inside the record JSON; the keys stay.
	b = bytes.ReplaceAll(b, a, []byte("SWAP"+string(a[4:])))
	b = bytes.ReplaceAll(b, c, a)
	b = bytes.ReplaceAll(b, []byte("SWAP"+string(a[4:])), c)
	os.WriteFile(path, b, 0o600)
	s = openAt(t, path, testOptions(t))
	for _, r := range recs {
		if _, err := s.Load(ctx, r.ID, now); !errors.Is(err, session.ErrNotFound) {
			t.Fatalf("Load of a record moved to another id: %v; want ErrNotFound", err)
		}
	}
}

func TestKeyRotation(t *testing.T) {
	s, path := openTemp(t)
	ctx := context.Background()
	now := sessiontest.Base()
	old := insert(t, s, 1, now, nil)[0]
	s.Close()

	// A new key first, the old one still present: old seals verify.
	kr, err := session.NewKeyring(bytes.Repeat([]byte("n"), session.KeySize), testKey)
	if err != nil {
		t.Fatal(err)
	}
	opts := testOptions(t)
	opts.Keys = kr
	s = openAt(t, path, opts)
	if _, err := s.Load(ctx, old.ID, now); err != nil {
		t.Fatalf("record sealed with the previous key: %v", err)
	}
	fresh := insert(t, s, 1, now, nil)[0]
	s.Close()

	// The old key dropped: records sealed with it are gone, new ones stay.
	kr, _ = session.NewKeyring(bytes.Repeat([]byte("n"), session.KeySize))
	opts.Keys = kr
	s = openAt(t, path, opts)
	if _, err := s.Load(ctx, old.ID, now); !errors.Is(err, session.ErrNotFound) {
		t.Fatalf("record sealed with a dropped key: %v; want ErrNotFound", err)
	}
	if _, err := s.Load(ctx, fresh.ID, now); err != nil {
		t.Fatalf("record sealed with the current key: %v", err)
	}
}
