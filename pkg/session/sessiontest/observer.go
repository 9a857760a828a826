package sessiontest

import (
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/sesbolt/sesbolt/pkg/session"
)

// RunObserver runs the conformance suite of a store's events
// (session.StoreObserver) against the stores newStore makes: newStore is
// called once per subtest with the observer the store must report to, and
// must return a fresh, empty store that reports to it (and register its
// closing with t.Cleanup).
//
// It checks session.StoreObserver's contract for what every store can
// know: each session removed through Apply with Destroy, Delete,
// UserIndex.DeleteUser and DeleteUserExcept is reported to Ended exactly
// once, with its user and the reason the caller put in the context
// (session.WithEndReason; session.EndOther without one), and each one a
// change's MaxUserSessions removes as session.EndLimit; a record that was
// not stored, and a renew, insert or update, reports nothing; a Purge reports each record
// it removed as session.EndExpired, then the pass to Reaped (also an
// empty pass). None of that reports Failed. Committed, SealFailed and a
// store's own reaper are store-specific and left to the store's tests.
// Of Run's options it heeds Lacks: for a store lacking UserLimit it skips
// the case of the limit.
func RunObserver(t *testing.T, newStore func(t *testing.T, obs session.StoreObserver) session.Store, opts ...Option) {
	t.Helper()
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	for _, c := range observerCases {
		t.Run(c.name, func(t *testing.T) {
			if !o.runs(t, "Observer/"+c.name) {
				return
			}
			rec := &Recorder{}
			s := newStore(t, rec.StoreObserver())
			if s == nil {
				t.Fatal("newStore returned a nil store")
			}
			c.run(t, s, rec)
			if f := rec.Failures(); len(f) > 0 {
				t.Errorf("Failed reported %v; nothing failed", f)
			}
		})
	}
}

// observerCase is one subtest of RunObserver.
type observerCase struct {
	name string
	run  func(t *testing.T, s session.Store, rec *Recorder)
}

var observerCases = []observerCase{
	{"Destroy", testObserveDestroy},
	{"Delete", testObserveDelete},
	{"DeleteUser", testObserveDeleteUser},
	{"DeleteUserExcept", testObserveDeleteUserExcept},
	{"UserLimit", testObserveUserLimit},
	{"NoEndWithoutRemoval", testObserveNoEnd},
	{"Purge", testObservePurge},
}

func testObserveDestroy(t *testing.T, s session.Store, rec *Recorder) {
	now := Base()
	r := Insert(t, s, NewRecord(session.NewID(), "alice", now))[0]
	rec.Reset()
	destroy := &session.Change{ID: r.ID, Now: now, Destroy: true}
	if _, err := s.Apply(session.WithEndReason(ctx(t), session.EndLogout), destroy); err != nil {
		t.Fatalf("Destroy: %v", err)
	}
	wantEndedEvents(t, rec, session.Ended{ID: r.ID, User: "alice", Reason: session.EndLogout})

	// Ending it again, as a second tab's logout would, reports nothing.
	rec.Reset()
	if _, err := s.Apply(session.WithEndReason(ctx(t), session.EndLogout), destroy); err != nil {
		t.Fatalf("second Destroy: %v", err)
	}
	wantEndedEvents(t, rec)
}

func testObserveDelete(t *testing.T, s session.Store, rec *Recorder) {
	now := Base()
	recs := Insert(t, s,
		NewRecord(session.NewID(), "alice", now),
		NewRecord(session.NewID(), "", now),
		NewRecord(session.NewID(), "bob", now),
	)
	expired := NewRecord(session.NewID(), "carol", now.Add(-2*Lifetime))
	if _, err := s.Apply(ctx(t), CreateChange(expired)); err != nil {
		t.Fatalf("inserting an expired record: %v", err)
	}
	rec.Reset()

	// Repeated and missing ids are reported once and not at all; an
	// expired record that was still stored is reported too.
	n, err := s.Delete(session.WithEndReason(ctx(t), session.EndRevoked), recs[0].ID, recs[1].ID, session.NewID(), recs[0].ID, expired.ID)
	if err != nil || n != 3 {
		t.Fatalf("Delete = %d, %v; want 3, <nil>", n, err)
	}
	wantEndedEvents(t, rec,
		session.Ended{ID: recs[0].ID, User: "alice", Reason: session.EndRevoked},
		session.Ended{ID: recs[1].ID, User: "", Reason: session.EndRevoked},
		session.Ended{ID: expired.ID, User: "carol", Reason: session.EndRevoked},
	)

	// Without a reason in the context: EndOther.
	rec.Reset()
	if n, err := s.Delete(ctx(t), recs[2].ID, recs[0].ID); err != nil || n != 1 {
		t.Fatalf("Delete = %d, %v; want 1, <nil>", n, err)
	}
	wantEndedEvents(t, rec, session.Ended{ID: recs[2].ID, User: "bob", Reason: session.EndOther})
}

func testObserveDeleteUser(t *testing.T, s session.Store, rec *Recorder) {
	ui := implementing[session.UserIndex](t, s)
	now := Base()
	recs := Insert(t, s,
		NewRecord(session.NewID(), "alice", now),
		NewRecord(session.NewID(), "alice", now.Add(time.Second)),
		NewRecord(session.NewID(), "bob", now),
		NewRecord(session.NewID(), "", now),
	)
	rec.Reset()
	n, err := ui.DeleteUser(session.WithEndReason(ctx(t), session.EndLogoutEverywhere), "alice")
	if err != nil || n != 2 {
		t.Fatalf("DeleteUser = %d, %v; want 2, <nil>", n, err)
	}
	wantEndedEvents(t, rec,
		session.Ended{ID: recs[0].ID, User: "alice", Reason: session.EndLogoutEverywhere},
		session.Ended{ID: recs[1].ID, User: "alice", Reason: session.EndLogoutEverywhere},
	)
	rec.Reset()
	if n, err := ui.DeleteUser(session.WithEndReason(ctx(t), session.EndLogoutEverywhere), "alice"); err != nil || n != 0 {
		t.Fatalf("second DeleteUser = %d, %v; want 0, <nil>", n, err)
	}
	wantEndedEvents(t, rec)
}

func testObserveDeleteUserExcept(t *testing.T, s session.Store, rec *Recorder) {
	ui := implementing[session.UserIndex](t, s)
	now := Base()
	recs := Insert(t, s,
		NewRecord(session.NewID(), "alice", now),
		NewRecord(session.NewID(), "alice", now.Add(time.Second)),
		NewRecord(session.NewID(), "alice", now.Add(2*time.Second)),
	)
	rec.Reset()
	n, err := ui.DeleteUserExcept(session.WithEndReason(ctx(t), session.EndLogoutOthers), "alice", recs[1].ID)
	if err != nil || n != 2 {
		t.Fatalf("DeleteUserExcept = %d, %v; want 2, <nil>", n, err)
	}
	wantEndedEvents(t, rec,
		session.Ended{ID: recs[0].ID, User: "alice", Reason: session.EndLogoutOthers},
		session.Ended{ID: recs[2].ID, User: "alice", Reason: session.EndLogoutOthers},
	)
}

// testObserveUserLimit: the sessions a change's MaxUserSessions removes
// are reported as EndLimit, whatever the context says; the change's own
// session is not.
func testObserveUserLimit(t *testing.T, s session.Store, rec *Recorder) {
	now := Base()
	old := Insert(t, s,
		userRecord(session.NewID(), "alice", now, now.Add(time.Minute)),
		userRecord(session.NewID(), "alice", now, now.Add(2*time.Minute)),
		userRecord(session.NewID(), "bob", now, now),
	)
	rec.Reset()
	at := now.Add(3 * time.Minute)
	login := NewRecord(session.NewID(), "alice", at)
	apply(t, s, &session.Change{ID: login.ID, Now: at, Create: login, MaxUserSessions: 2})
	wantEndedEvents(t, rec, session.Ended{ID: old[0].ID, User: "alice", Reason: session.EndLimit})

	// An update that binds the user (a login) counts the same way.
	rec.Reset()
	anon := Insert(t, s, NewRecord(session.NewID(), "", at))[0]
	rec.Reset()
	apply(t, s, &session.Change{ID: anon.ID, Now: at, NewID: session.NewID(), User: str("alice"), MaxUserSessions: 1})
	got := rec.Ended()
	if len(got) != 2 || got[0].Reason != session.EndLimit || got[1].Reason != session.EndLimit {
		t.Errorf("a login limited to 1 reported %+v; want alice's two other sessions, as limit", got)
	}
}

func testObserveNoEnd(t *testing.T, s session.Store, rec *Recorder) {
	now := Base()
	r := Insert(t, s, NewRecord(session.NewID(), "", now))[0]
	newID := session.NewID()
	apply(t, s, &session.Change{ID: r.ID, Now: now, Set: map[string]json.RawMessage{"k": raw(`1`)}})
	apply(t, s, &session.Change{ID: r.ID, Now: now, NewID: newID, User: str("alice")}) // a login
	apply(t, s, &session.Change{ID: newID, Now: now, LastSeen: now, IdleExpires: now.Add(IdleTimeout)})
	applyFails(t, s, &session.Change{ID: r.ID, Now: now, Set: map[string]json.RawMessage{"k": raw(`2`)}}, session.ErrNotFound)
	if ended := rec.Ended(); len(ended) > 0 {
		t.Errorf("an insert, update, renew and a failed update reported %+v ended; none ended", ended)
	}
}

func testObservePurge(t *testing.T, s session.Store, rec *Recorder) {
	p := implementing[session.Purger](t, s)
	now := Base()
	recs := Insert(t, s,
		NewRecord(session.NewID(), "alice", now),
		NewRecord(session.NewID(), "", now),
		NewRecord(session.NewID(), "bob", now.Add(time.Hour)), // lives on
	)
	rec.Reset()
	later := now.Add(IdleTimeout + time.Minute)
	if n, err := p.Purge(ctx(t), later); err != nil || n != 2 {
		t.Fatalf("Purge = %d, %v; want 2, <nil>", n, err)
	}
	wantEndedEvents(t, rec,
		session.Ended{ID: recs[0].ID, User: "alice", Reason: session.EndExpired},
		session.Ended{ID: recs[1].ID, User: "", Reason: session.EndExpired},
	)
	passes := rec.Reaped()
	if len(passes) != 1 || passes[0].Removed != 2 || !passes[0].At.Equal(later) {
		t.Fatalf("Reaped reported %+v; want one pass at %s that removed 2", passes, stamp(later))
	}
	if order := rec.Order(); order[len(order)-1] != "reaped" {
		t.Errorf("events %v; want the pass reported after the sessions it ended", order)
	}

	// A pass that finds nothing is reported too, and ends nothing.
	rec.Reset()
	if n, err := p.Purge(ctx(t), later); err != nil || n != 0 {
		t.Fatalf("second Purge = %d, %v; want 0, <nil>", n, err)
	}
	wantEndedEvents(t, rec)
	if passes := rec.Reaped(); len(passes) != 1 || passes[0].Removed != 0 {
		t.Errorf("Reaped reported %+v; want one pass that removed 0", passes)
	}
}

// wantEndedEvents checks that rec's Ended events are want, in any order.
func wantEndedEvents(t testing.TB, rec *Recorder, want ...session.Ended) {
	t.Helper()
	got := rec.Ended()
	byID := func(a, b session.Ended) int { return compareID(a.ID, b.ID) }
	slices.SortFunc(got, byID)
	slices.SortFunc(want, byID)
	if !slices.Equal(got, want) {
		t.Errorf("Ended reported\n  %+v\nwant\n  %+v", got, want)
	}
}
