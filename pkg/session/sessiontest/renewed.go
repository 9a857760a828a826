package sessiontest

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/sesbolt/sesbolt/pkg/session"
)

// renewedCases check the tombstone a renew leaves for the old id (see
// session.Store, "Renewed IDs").
var renewedCases = []testCase{
	{"OldIDAnswersRenewed", testRenewedOldIDAnswers},
	{"UpdatesOfOldIDFail", testRenewedUpdatesFail},
	{"OldIDStaysTaken", testRenewedOldIDTaken},
	{"DestroyAndDeleteOfOldID", testRenewedDestroyAndDelete},
	{"Chain", testRenewedChain},
	{"OnlyRenewLeavesOne", testRenewedOnlyRenew},
	{"Invisible", testRenewedInvisible},
}

// renewed renews a fresh record of user at now and returns the record as
// renewed (under its new id) and the old id.
func renewed(t *testing.T, s session.Store, user string, now time.Time) (*session.Record, session.ID) {
	t.Helper()
	rec := NewRecord(session.NewID(), user, now)
	rec.Data["secret"] = raw(`"only for the renewed session"`)
	r := Insert(t, s, rec)[0]
	return apply(t, s, &session.Change{ID: r.ID, Now: now, NewID: session.NewID(),
		Set: map[string]json.RawMessage{"renewed": raw(`true`)}}), r.ID
}

// wantRenewed fails the test unless Load of id at now fails with an error
// matching both ErrRenewed and ErrNotFound that neither names nor returns
// anything of the session the id was renewed to (newID).
func wantRenewed(t testing.TB, s session.Store, id, newID session.ID, now time.Time) {
	t.Helper()
	r, err := s.Load(ctx(t), id, now)
	if !errors.Is(err, session.ErrRenewed) || !errors.Is(err, session.ErrNotFound) || r != nil {
		t.Fatalf("Load(%s, %s) of a renewed id = %s, %v; want ErrRenewed (and ErrNotFound)", id, stamp(now), format(r), err)
	}
	if strings.Contains(err.Error(), newID.String()) {
		t.Fatalf("Load(%s, %s) of a renewed id: the error names the new id: %v", id, stamp(now), err)
	}
	if sl, ok := s.(session.SharedLoader); ok {
		if r, err := sl.LoadShared(ctx(t), id, now); !errors.Is(err, session.ErrRenewed) || r != nil {
			t.Fatalf("LoadShared(%s, %s) of a renewed id = %s, %v; want ErrRenewed", id, stamp(now), format(r), err)
		}
	}
}

// wantEnded fails the test unless Load of id at now fails with ErrNotFound
// but not ErrRenewed: no tombstone lasts.
func wantEnded(t testing.TB, s session.Store, id session.ID, now time.Time) {
	t.Helper()
	r, err := s.Load(ctx(t), id, now)
	if !errors.Is(err, session.ErrNotFound) || errors.Is(err, session.ErrRenewed) {
		t.Fatalf("Load(%s, %s) = %s, %v; want ErrNotFound without ErrRenewed", id, stamp(now), format(r), err)
	}
}

// testRenewedOldIDAnswers: the old id answers ErrRenewed for RenewGrace
// after the renew, then plain ErrNotFound.
func testRenewedOldIDAnswers(t *testing.T, s session.Store) {
	now := Base()
	got, old := renewed(t, s, "alice", now)
	wantRenewed(t, s, old, got.ID, now)
	wantRenewed(t, s, old, got.ID, now.Add(session.RenewGrace-time.Nanosecond))
	wantEnded(t, s, old, now.Add(session.RenewGrace))
	wantEnded(t, s, old, now.Add(session.RenewGrace+time.Hour))
	wantLoad(t, s, got.ID, now.Add(session.RenewGrace), got)
}

// testRenewedUpdatesFail: a request that still holds the old id cannot
// write through it: its updates fail with ErrRenewed (ErrNotFound after the
// grace), and nothing reaches the renewed session or creates a record.
func testRenewedUpdatesFail(t *testing.T, s session.Store) {
	now := Base()
	got, old := renewed(t, s, "alice", now)
	for _, at := range []time.Time{now, now.Add(session.RenewGrace - time.Second), now.Add(session.RenewGrace)} {
		for _, c := range resurrectionAttempts(old, at) {
			want := session.ErrRenewed
			if !at.Before(now.Add(session.RenewGrace)) {
				want = session.ErrNotFound
			}
			r, err := s.Apply(ctx(t), c)
			if !errors.Is(err, want) || r != nil || (want == session.ErrNotFound && errors.Is(err, session.ErrRenewed)) {
				t.Fatalf("Apply(%s) = %s, %v; want %q only", describe(c), format(r), err, want)
			}
			if strings.Contains(err.Error(), got.ID.String()) {
				t.Fatalf("Apply(%s): the error names the new id: %v", describe(c), err)
			}
			if !c.NewID.IsZero() {
				wantGone(t, s, c.NewID, at)
			}
		}
	}
	wantLoad(t, s, got.ID, now, got)
	if ui, ok := s.(session.UserIndex); ok {
		wantUserIDs(t, ui, "alice", now, got.ID)
	}
}

// testRenewedOldIDTaken: while its tombstone lasts, the old id cannot be
// stored again, by insert, renew or import.
func testRenewedOldIDTaken(t *testing.T, s session.Store) {
	now := Base()
	got, old := renewed(t, s, "alice", now)
	at := now.Add(time.Minute)
	applyFails(t, s, CreateChange(NewRecord(old, "mallory", at)), session.ErrExists)
	other := Insert(t, s, NewRecord(session.NewID(), "bob", at))[0]
	applyFails(t, s, &session.Change{ID: other.ID, Now: at, NewID: old}, session.ErrExists)
	if im, ok := s.(session.Importer); ok {
		if n, err := im.Import(ctx(t), []*session.Record{NewRecord(old, "mallory", at)}, at); err != nil || n != 0 {
			t.Fatalf("Import of a record under a renewed id = %d, %v; want 0, <nil>", n, err)
		}
	}
	wantRenewed(t, s, old, got.ID, at)
	wantLoad(t, s, got.ID, at, got)
	wantLoad(t, s, other.ID, at, other)
}

// testRenewedDestroyAndDelete: Destroy and Delete of the old id succeed
// without touching the renewed session.
func testRenewedDestroyAndDelete(t *testing.T, s session.Store) {
	now := Base()
	got, old := renewed(t, s, "alice", now)
	if r, err := s.Apply(ctx(t), &session.Change{ID: old, Now: now, Destroy: true}); err != nil || r != nil {
		t.Fatalf("Apply(destroy of a renewed id) = %s, %v; want <nil>, <nil>", format(r), err)
	}
	if n, err := s.Delete(ctx(t), old); err != nil || n != 0 {
		t.Fatalf("Delete(renewed id) = %d, %v; want 0, <nil> (a tombstone is not a record)", n, err)
	}
	wantGone(t, s, old, now)
	wantLoad(t, s, got.ID, now, got)
}

// testRenewedChain: every id of a session renewed twice answers ErrRenewed,
// and ending the session leaves them so.
func testRenewedChain(t *testing.T, s session.Store) {
	now := Base()
	second, first := renewed(t, s, "alice", now)
	at := now.Add(time.Minute)
	third := apply(t, s, &session.Change{ID: second.ID, Now: at, NewID: session.NewID()})
	wantRenewed(t, s, first, third.ID, at)
	wantRenewed(t, s, second.ID, third.ID, at)
	apply(t, s, &session.Change{ID: third.ID, Now: at, Destroy: true})
	wantEnded(t, s, third.ID, at)
	wantRenewed(t, s, second.ID, third.ID, at)
	wantEnded(t, s, first, now.Add(session.RenewGrace))
	wantRenewed(t, s, second.ID, third.ID, now.Add(session.RenewGrace))
	wantEnded(t, s, second.ID, at.Add(session.RenewGrace))
}

// testRenewedOnlyRenew: ending a session (destroy, delete, delete by user,
// expiry, purge) leaves no tombstone, and neither does a renew that failed.
func testRenewedOnlyRenew(t *testing.T, s session.Store) {
	now := Base()
	recs := Insert(t, s,
		NewRecord(session.NewID(), "alice", now),
		NewRecord(session.NewID(), "bob", now),
		NewRecord(session.NewID(), "carol", now),
		NewRecord(session.NewID(), "dave", now),
		NewRecord(session.NewID(), "erin", now),
		NewRecord(session.NewID(), "frank", now))
	destroyed, deleted, byUser, expired, failed, taken := recs[0], recs[1], recs[2], recs[3], recs[4], recs[5]

	// A renew onto a taken id, and a renew of a missing id, fail and leave
	// no tombstone.
	applyFails(t, s, &session.Change{ID: failed.ID, Now: now, NewID: taken.ID}, session.ErrExists)
	wantLoad(t, s, failed.ID, now, failed)
	missing := session.NewID()
	applyFails(t, s, &session.Change{ID: missing, Now: now, NewID: session.NewID()}, session.ErrNotFound)
	wantEnded(t, s, missing, now)

	apply(t, s, &session.Change{ID: destroyed.ID, Now: now, Destroy: true})
	wantEnded(t, s, destroyed.ID, now)
	if n, err := s.Delete(ctx(t), deleted.ID); err != nil || n != 1 {
		t.Fatalf("Delete = %d, %v; want 1, <nil>", n, err)
	}
	wantEnded(t, s, deleted.ID, now)
	if ui, ok := s.(session.UserIndex); ok {
		if n, err := ui.DeleteUser(ctx(t), "carol"); err != nil || n != 1 {
			t.Fatalf("DeleteUser = %d, %v; want 1, <nil>", n, err)
		}
		wantEnded(t, s, byUser.ID, now)
	}
	wantEnded(t, s, expired.ID, expired.Expires())
	if p, ok := s.(session.Purger); ok {
		if _, err := p.Purge(ctx(t), expired.Expires()); err != nil {
			t.Fatalf("Purge: %v", err)
		}
		wantEnded(t, s, expired.ID, now)
	}
}

// testRenewedInvisible: tombstones are not records: listings, the user
// index, Stats and Check see only the renewed sessions.
func testRenewedInvisible(t *testing.T, s session.Store) {
	now := Base()
	a, _ := renewed(t, s, "alice", now)
	b, _ := renewed(t, s, "", now)
	c, cOld := renewed(t, s, "carol", now)
	apply(t, s, &session.Change{ID: c.ID, Now: now, Destroy: true})
	if l, ok := s.(session.Lister); ok {
		for _, f := range []session.Filter{session.Live, session.Expired, session.All} {
			got := listAll(t, l, session.ListQuery{Now: now, Filter: f}, 0)
			var want []session.ID
			if f != session.Expired {
				want = sortedIDs(a.ID, b.ID)
			}
			wantIDs(t, "List("+f.String()+") with tombstones", got, want...)
		}
		got := listAll(t, l, session.ListQuery{Now: now, Filter: session.All, User: "carol"}, 0)
		wantIDs(t, "List(all, carol) with only a tombstone left", got)
	}
	if ui, ok := s.(session.UserIndex); ok {
		wantUserIDs(t, ui, "alice", now, a.ID)
		wantUserIDs(t, ui, "carol", now)
	}
	if sr, ok := s.(session.StatsReporter); ok {
		wantCounts(t, sr, now, counts{Sessions: 2, Live: 2, Expired: 0, Users: 1})
	}
	if ch, ok := s.(session.Checker); ok {
		rep, err := ch.Check(ctx(t))
		if err != nil {
			t.Fatalf("Check: %v", err)
		}
		if !rep.OK() || rep.Records != 2 {
			t.Fatalf("Check with tombstones: %d records, problems %q; want 2 records and no problem", rep.Records, rep.Problems)
		}
	}
	wantRenewed(t, s, cOld, c.ID, now)
}
