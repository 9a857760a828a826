package sessiontest

import (
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/sesbolt/sesbolt/pkg/session"
)

// stored returns the record a store should hold after inserting r: a copy
// with Version 1 and non-nil Data.
func stored(r *session.Record) *session.Record {
	c := r.Clone()
	c.Version = 1
	return c
}

var contractCases = []testCase{
	{"InsertLoad", testInsertLoad},
	{"InsertNilData", testInsertNilData},
	{"LoadUnknown", testLoadUnknown},
	{"InsertExisting", testInsertExisting},
	{"UpdateMissing", testUpdateMissing},
	{"Destroy", testDestroy},
	{"DestroyMissing", testDestroyMissing},
	{"DeleteCount", testDeleteCount},
	{"LoadReturnsCopy", testLoadReturnsCopy},
	{"ApplyReturnsCopy", testApplyReturnsCopy},
	{"ApplyKeepsNoReference", testApplyKeepsNoReference},
	{"UnencodableIsInvalid", testUnencodableIsInvalid},
}

// testUnencodableIsInvalid: a change with a data value that is not JSON
// fails with ErrInvalid, the caller's mistake, which retrying cannot mend;
// nothing is stored and the record it changes stays as it was. (Which
// times a store can keep depends on its layout: the stores test those.)
func testUnencodableIsInvalid(t *testing.T, s session.Store) {
	now := Base()
	notJSON := NewRecord(session.NewID(), "", now)
	notJSON.Data["broken"] = raw(`{"unterminated`)
	applyFails(t, s, CreateChange(notJSON), session.ErrInvalid)
	wantGone(t, s, notJSON.ID, now)
	r := NewRecord(session.NewID(), "", now)
	want := apply(t, s, CreateChange(r))
	applyFails(t, s, &session.Change{ID: r.ID, Now: now, Set: map[string]json.RawMessage{"k": raw(`nope`)}}, session.ErrInvalid)
	wantLoad(t, s, r.ID, now, want)
}

func testInsertLoad(t *testing.T, s session.Store) {
	now := Base()
	user := NewRecord(session.NewID(), "alice@example.com", now)
	user.Data["cart"] = raw(`{"items":[1,2,3],"note":"zoë ✓"}`)
	anon := NewRecord(session.NewID(), "", now.Add(time.Second))
	for _, r := range []*session.Record{user, anon} {
		got := apply(t, s, CreateChange(r))
		want := stored(r)
		wantEqual(t, "Apply(insert) result", got, want)
		wantLoad(t, s, r.ID, now.Add(time.Second), want)
		wantLoad(t, s, r.ID, now.Add(IdleTimeout/2), want)
	}
}

func testInsertNilData(t *testing.T, s session.Store) {
	now := Base()
	r := NewRecord(session.NewID(), "", now)
	r.Data = nil
	got := load(t, s, Insert(t, s, r)[0].ID, now)
	if got.Data == nil || len(got.Data) != 0 {
		t.Fatalf("Load of a record inserted without data: Data = %#v, want an empty non-nil map", got.Data)
	}
	// Setting a key must work on it too.
	got = apply(t, s, &session.Change{ID: r.ID, Now: now, Set: map[string]json.RawMessage{"k": raw(`1`)}})
	if string(got.Data["k"]) != `1` {
		t.Fatalf("Set on a record without data: Data = %v", got.Data)
	}
}

func testLoadUnknown(t *testing.T, s session.Store) {
	now := Base()
	wantGone(t, s, session.NewID(), now)
	Insert(t, s, NewRecord(session.NewID(), "alice", now))
	wantGone(t, s, session.NewID(), now)
}

func testInsertExisting(t *testing.T, s session.Store) {
	now := Base()
	id := session.NewID()
	first := Insert(t, s, NewRecord(id, "alice", now))[0]

	second := NewRecord(id, "bob", now.Add(time.Minute))
	second.Data["other"] = raw(`true`)
	applyFails(t, s, CreateChange(second), session.ErrExists)
	wantLoad(t, s, id, now.Add(2*time.Minute), first)

	if ui, ok := s.(session.UserIndex); ok {
		wantUserIDs(t, ui, "alice", now.Add(2*time.Minute), id)
		wantUserIDs(t, ui, "bob", now.Add(2*time.Minute))
	}
}

func testUpdateMissing(t *testing.T, s session.Store) {
	now := Base()
	missing, target := session.NewID(), session.NewID()
	changes := []*session.Change{
		{ID: missing, Now: now, Set: map[string]json.RawMessage{"a": raw(`1`)}},
		{ID: missing, Now: now, User: str("alice"), LastSeen: now, IdleExpires: now.Add(IdleTimeout)},
		{ID: missing, Now: now, NewID: target, Deadline: now.Add(Lifetime)},
	}
	for _, c := range changes {
		applyFails(t, s, c, session.ErrNotFound)
	}
	wantGone(t, s, missing, now)
	wantGone(t, s, target, now)
	if l, ok := s.(session.Lister); ok {
		if recs := listAll(t, l, session.ListQuery{Now: now, Filter: session.All}, 0); len(recs) != 0 {
			t.Fatalf("updates of a missing session created records: %v", ids(recs))
		}
	}
	if ui, ok := s.(session.UserIndex); ok {
		wantUserIDs(t, ui, "alice", now)
	}
}

func testDestroy(t *testing.T, s session.Store) {
	now := Base()
	r := Insert(t, s, NewRecord(session.NewID(), "alice", now))[0]
	got, err := s.Apply(ctx(t), &session.Change{ID: r.ID, Now: now.Add(time.Minute), Destroy: true})
	if err != nil || got != nil {
		t.Fatalf("Apply(destroy) = %s, %v; want <nil>, <nil>", format(got), err)
	}
	wantGone(t, s, r.ID, now.Add(time.Minute))
	wantGone(t, s, r.ID, now) // removed, not merely expired
}

func testDestroyMissing(t *testing.T, s session.Store) {
	now := Base()
	other := Insert(t, s, NewRecord(session.NewID(), "alice", now))[0]
	got, err := s.Apply(ctx(t), &session.Change{ID: session.NewID(), Now: now, Destroy: true})
	if err != nil || got != nil {
		t.Fatalf("Apply(destroy of a missing session) = %s, %v; want <nil>, <nil>", format(got), err)
	}
	wantLoad(t, s, other.ID, now, other)
}

func testDeleteCount(t *testing.T, s session.Store) {
	now := Base()
	a, b, c := session.NewID(), session.NewID(), session.NewID()
	recs := Insert(t, s, NewRecord(a, "alice", now), NewRecord(b, "", now), NewRecord(c, "alice", now))

	wantDeleted := func(want int, del ...session.ID) {
		t.Helper()
		n, err := s.Delete(ctx(t), del...)
		if err != nil || n != want {
			t.Fatalf("Delete(%v) = %d, %v; want %d, <nil>", del, n, err, want)
		}
	}
	wantDeleted(0)
	wantDeleted(2, a, session.NewID(), b)
	wantGone(t, s, a, now)
	wantGone(t, s, b, now)
	wantLoad(t, s, c, now, recs[2])
	wantDeleted(0, a, b)

	wantDeleted(1, c)
	wantGone(t, s, c, now)
}

func testLoadReturnsCopy(t *testing.T, s session.Store) {
	now := Base()
	r := NewRecord(session.NewID(), "alice", now)
	r.Data["list"] = raw(`[1,2,3]`)
	want := Insert(t, s, r)[0].Clone()

	got := load(t, s, r.ID, now)
	scribble(got)
	wantLoad(t, s, r.ID, now, want)
}

func testApplyReturnsCopy(t *testing.T, s session.Store) {
	now := Base()
	r := NewRecord(session.NewID(), "alice", now)
	inserted := apply(t, s, CreateChange(r))
	want := inserted.Clone()
	scribble(inserted)
	wantLoad(t, s, r.ID, now, want)

	updated := apply(t, s, &session.Change{ID: r.ID, Now: now, Set: map[string]json.RawMessage{"k": raw(`"v"`)}})
	want = updated.Clone()
	scribble(updated)
	wantLoad(t, s, r.ID, now, want)
}

func testApplyKeepsNoReference(t *testing.T, s session.Store) {
	now := Base()
	r := NewRecord(session.NewID(), "alice", now)
	want := stored(r)
	apply(t, s, CreateChange(r))
	scribble(r)
	wantLoad(t, s, want.ID, now, want)

	set := map[string]json.RawMessage{"k": raw(`"value"`)}
	del := []string{"gone"}
	user := "bob"
	c := &session.Change{ID: want.ID, Now: now, Set: set, Delete: del, User: &user}
	want = apply(t, s, c).Clone()
	set["k"][1] = 'X'
	set["extra"] = raw(`1`)
	del[0] = "seed"
	user = "mallory"
	c.Clear = true
	wantLoad(t, s, want.ID, now, want)
}

// scribble changes every field of r a store might share: scalars, the Data
// map and the bytes of its values.
func scribble(r *session.Record) {
	r.UserID = "scribbled"
	r.Version += 100
	r.IdleExpires = r.IdleExpires.Add(time.Hour)
	r.Client.IP = "198.51.100.99"
	for k, v := range r.Data {
		for i := range v {
			v[i] = 'X'
		}
		r.Data[k] = v
	}
	r.Data["scribbled"] = raw(`1`)
}

var mergeCases = []testCase{
	{"DifferentKeys", testMergeDifferentKeys},
	{"ClearThenSet", testMergeClearThenSet},
	{"DeleteKeys", testMergeDeleteKeys},
	{"Fields", testMergeFields},
	{"Concurrent", testMergeConcurrent},
}

func testMergeDifferentKeys(t *testing.T, s session.Store) {
	now := Base()
	r := Insert(t, s, NewRecord(session.NewID(), "alice", now))[0]
	// Two requests loaded version 1; each changed one key.
	c1 := &session.Change{ID: r.ID, Now: now.Add(time.Second), Set: map[string]json.RawMessage{"a": raw(`1`)}}
	c2 := &session.Change{ID: r.ID, Now: now.Add(time.Second), Set: map[string]json.RawMessage{"b": raw(`2`)}}
	apply(t, s, c1)
	got := apply(t, s, c2)
	want := r.Clone()
	want.Data["a"], want.Data["b"] = raw(`1`), raw(`2`)
	want.Version = 3
	wantEqual(t, "result of the second change", got, want)
	wantLoad(t, s, r.ID, now.Add(2*time.Second), want)

	// Setting an existing key replaces its value only.
	got = apply(t, s, &session.Change{ID: r.ID, Now: now, Set: map[string]json.RawMessage{"a": raw(`"one"`)}})
	want.Data["a"], want.Version = raw(`"one"`), 4
	wantEqual(t, "result of replacing a key", got, want)
	wantLoad(t, s, r.ID, now, want)
}

func testMergeClearThenSet(t *testing.T, s session.Store) {
	now := Base()
	r := NewRecord(session.NewID(), "alice", now)
	r.Data["a"], r.Data["b"] = raw(`1`), raw(`2`)
	Insert(t, s, r)

	got := apply(t, s, &session.Change{ID: r.ID, Now: now, Clear: true,
		Set: map[string]json.RawMessage{"c": raw(`3`), "a": raw(`"new"`)}})
	want := r.Clone()
	want.Data = map[string]json.RawMessage{"c": raw(`3`), "a": raw(`"new"`)}
	want.Version = 2
	wantEqual(t, "result of clear then set", got, want)
	wantLoad(t, s, r.ID, now, want)

	// Clear alone leaves an empty, non-nil Data.
	got = apply(t, s, &session.Change{ID: r.ID, Now: now, Clear: true})
	if got.Data == nil || len(got.Data) != 0 || (got.Version != 3 && !lacks(t, Metadata)) {
		t.Fatalf("result of clear: Data %v (nil %v), Version %d; want empty non-nil, 3",
			got.Data, got.Data == nil, got.Version)
	}
	if l := load(t, s, r.ID, now); l.Data == nil || len(l.Data) != 0 {
		t.Fatalf("Load after clear: Data %#v; want an empty non-nil map", l.Data)
	}
}

func testMergeDeleteKeys(t *testing.T, s session.Store) {
	now := Base()
	r := NewRecord(session.NewID(), "alice", now)
	r.Data["a"], r.Data["b"], r.Data["c"] = raw(`1`), raw(`2`), raw(`3`)
	Insert(t, s, r)

	got := apply(t, s, &session.Change{ID: r.ID, Now: now, Delete: []string{"a", "absent"}})
	want := r.Clone()
	delete(want.Data, "a")
	want.Version = 2
	wantEqual(t, "result of deleting keys", got, want)
	wantLoad(t, s, r.ID, now, want)

	// Delete runs before Set: a key both deleted and set ends up set.
	got = apply(t, s, &session.Change{ID: r.ID, Now: now, Delete: []string{"b", "c"},
		Set: map[string]json.RawMessage{"c": raw(`"kept"`)}})
	delete(want.Data, "b")
	want.Data["c"], want.Version = raw(`"kept"`), 3
	wantEqual(t, "result of delete and set", got, want)
	wantLoad(t, s, r.ID, now, want)
}

func testMergeFields(t *testing.T, s session.Store) {
	now := Base()
	r := Insert(t, s, NewRecord(session.NewID(), "", now))[0]

	// Zero fields leave the record's values alone.
	got := apply(t, s, &session.Change{ID: r.ID, Now: now.Add(time.Minute)})
	want := r.Clone()
	want.Version = 2
	wantEqual(t, "result of an empty change", got, want)

	// Non-zero fields replace them.
	later := now.Add(20 * time.Minute)
	got = apply(t, s, &session.Change{ID: r.ID, Now: later, User: str("alice"),
		LastSeen: later, IdleExpires: later.Add(IdleTimeout), Deadline: later.Add(Lifetime)})
	want.UserID, want.LastSeen = "alice", later
	want.IdleExpires, want.Deadline = later.Add(IdleTimeout), later.Add(Lifetime)
	want.Version = 3
	wantEqual(t, "result of a login change", got, want)
	wantLoad(t, s, r.ID, later, want)
	// The refreshed idle expiry keeps the session past the old one.
	wantLoad(t, s, r.ID, now.Add(IdleTimeout+time.Minute), want)
}

func testMergeConcurrent(t *testing.T, s session.Store) {
	const n = 100
	now := Base()
	r := Insert(t, s, NewRecord(session.NewID(), "alice", now))[0]

	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			c := &session.Change{ID: r.ID, Now: now.Add(time.Second),
				Set: map[string]json.RawMessage{fmt.Sprintf("k%03d", i): jsonValue(i)}}
			if _, err := s.Apply(ctx(t), c); err != nil {
				errs <- fmt.Errorf("Apply(set k%03d): %w", i, err)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if t.Failed() {
		t.FailNow()
	}

	got := load(t, s, r.ID, now.Add(time.Second))
	want := r.Clone()
	for i := range n {
		want.Data[fmt.Sprintf("k%03d", i)] = jsonValue(i)
	}
	want.Version = n + 1
	if len(got.Data) != len(want.Data) {
		t.Fatalf("after %d concurrent changes: %d data keys, want %d (lost updates)", n, len(got.Data), len(want.Data))
	}
	wantEqual(t, "record after concurrent changes", got, want)
}

var noResurrectionCases = []testCase{
	{"AfterDelete", testNoResurrectionAfterDelete},
	{"AfterDestroy", testNoResurrectionAfterDestroy},
	{"AfterExpiry", testNoResurrectionAfterExpiry},
}

// resurrectionAttempts returns the updates a request that loaded id before
// it ended might try to save.
func resurrectionAttempts(id session.ID, now time.Time) []*session.Change {
	return []*session.Change{
		{ID: id, Now: now, Set: map[string]json.RawMessage{"late": raw(`1`)}},
		{ID: id, Now: now, LastSeen: now, IdleExpires: now.Add(IdleTimeout)},
		{ID: id, Now: now, Clear: true},
		{ID: id, Now: now, NewID: session.NewID(), User: str("alice"), Deadline: now.Add(Lifetime)},
	}
}

// wantNoResurrection tries each of resurrectionAttempts(id, at): each must
// fail with ErrNotFound and leave id (and a renewed id) absent.
func wantNoResurrection(t *testing.T, s session.Store, id session.ID, at time.Time) {
	t.Helper()
	for _, c := range resurrectionAttempts(id, at) {
		applyFails(t, s, c, session.ErrNotFound)
		wantGone(t, s, id, at)
		if !c.NewID.IsZero() {
			wantGone(t, s, c.NewID, at)
		}
	}
}

func testNoResurrectionAfterDelete(t *testing.T, s session.Store) {
	now := Base()
	r := Insert(t, s, NewRecord(session.NewID(), "alice", now))[0]
	if n, err := s.Delete(ctx(t), r.ID); err != nil || n != 1 {
		t.Fatalf("Delete = %d, %v; want 1, <nil>", n, err)
	}
	wantNoResurrection(t, s, r.ID, now.Add(time.Minute))
	if ui, ok := s.(session.UserIndex); ok {
		wantUserIDs(t, ui, "alice", now.Add(time.Minute))
	}
}

func testNoResurrectionAfterDestroy(t *testing.T, s session.Store) {
	now := Base()
	r := Insert(t, s, NewRecord(session.NewID(), "alice", now))[0]
	apply(t, s, &session.Change{ID: r.ID, Now: now, Destroy: true})
	wantNoResurrection(t, s, r.ID, now.Add(time.Minute))
	if ui, ok := s.(session.UserIndex); ok {
		wantUserIDs(t, ui, "alice", now.Add(time.Minute))
	}
}

func testNoResurrectionAfterExpiry(t *testing.T, s session.Store) {
	now := Base()
	r := Insert(t, s, NewRecord(session.NewID(), "alice", now))[0]
	expires := r.Expires()
	for _, at := range []time.Time{expires, expires.Add(time.Hour)} {
		wantNoResurrection(t, s, r.ID, at)
	}
	// Nothing was written: seen from before its expiry, the record is
	// unchanged (or already removed, which a store may do with expired
	// records).
	if got, err := s.Load(ctx(t), r.ID, now); err == nil {
		wantEqual(t, "record after failed updates", got, r)
	} else if !errors.Is(err, session.ErrNotFound) {
		t.Fatalf("Load before expiry: %v", err)
	}
	// Just before expiry the same kind of update succeeds.
	got := apply(t, s, &session.Change{ID: r.ID, Now: expires.Add(-time.Nanosecond),
		LastSeen: expires, IdleExpires: expires.Add(IdleTimeout)})
	if got.Version != 2 && !lacks(t, Metadata) {
		t.Fatalf("update just before expiry: Version %d, want 2", got.Version)
	}
}

var expiryCases = []testCase{
	{"Idle", testExpiryIdle},
	{"Deadline", testExpiryDeadline},
	{"Refresh", testExpiryRefresh},
	{"ZeroTime", testExpiryZeroTime},
}

func testExpiryIdle(t *testing.T, s session.Store) {
	now := Base()
	r := Insert(t, s, NewRecord(session.NewID(), "alice", now))[0]
	if !r.IdleExpires.Before(r.Deadline) && !lacks(t, Metadata) {
		t.Fatalf("test setup: idle expiry %s not before deadline %s", stamp(r.IdleExpires), stamp(r.Deadline))
	}
	wantLoad(t, s, r.ID, r.IdleExpires.Add(-time.Nanosecond), r)
	wantGone(t, s, r.ID, r.IdleExpires)
	wantGone(t, s, r.ID, r.IdleExpires.Add(time.Nanosecond))
	wantGone(t, s, r.ID, r.Deadline.Add(time.Hour))
	// Judged by the time given, not by what was asked before.
	wantLoad(t, s, r.ID, now, r)
}

func testExpiryDeadline(t *testing.T, s session.Store) {
	now := Base()
	rec := NewRecord(session.NewID(), "alice", now)
	rec.Deadline = now.Add(time.Hour)
	rec.IdleExpires = now.Add(90 * time.Minute) // refreshed past the deadline
	r := Insert(t, s, rec)[0]
	wantLoad(t, s, r.ID, r.Deadline.Add(-time.Nanosecond), r)
	wantGone(t, s, r.ID, r.Deadline)
	wantGone(t, s, r.ID, r.Deadline.Add(time.Minute))
	wantGone(t, s, r.ID, r.IdleExpires)

	// A refresh of the idle expiry does not move the deadline.
	got := apply(t, s, &session.Change{ID: r.ID, Now: now.Add(50 * time.Minute),
		LastSeen: now.Add(50 * time.Minute), IdleExpires: now.Add(80 * time.Minute)})
	if !got.Deadline.Equal(r.Deadline) {
		t.Fatalf("refresh moved the deadline from %s to %s", stamp(r.Deadline), stamp(got.Deadline))
	}
	wantGone(t, s, r.ID, r.Deadline)
}

// testExpiryZeroTime: expiry is judged by the time given alone, so at the
// zero time a record that expired but is still stored loads (admin's Get
// relies on it), while one that was removed does not.
func testExpiryZeroTime(t *testing.T, s session.Store) {
	now := Base()
	r := Insert(t, s, NewRecord(session.NewID(), "alice", now))[0]
	gone := Insert(t, s, NewRecord(session.NewID(), "bob", now))[0]
	wantGone(t, s, r.ID, r.Deadline.Add(time.Hour))
	wantLoad(t, s, r.ID, time.Time{}, r)
	if n, err := s.Delete(ctx(t), gone.ID); err != nil || n != 1 {
		t.Fatalf("Delete = %d, %v; want 1, <nil>", n, err)
	}
	wantGone(t, s, gone.ID, time.Time{})
	wantGone(t, s, session.NewID(), time.Time{})
}

func testExpiryRefresh(t *testing.T, s session.Store) {
	now := Base()
	r := Insert(t, s, NewRecord(session.NewID(), "", now))[0]
	at := now.Add(IdleTimeout - time.Minute)
	got := apply(t, s, &session.Change{ID: r.ID, Now: at, LastSeen: at, IdleExpires: at.Add(IdleTimeout)})
	wantLoad(t, s, r.ID, r.IdleExpires, got)
	wantLoad(t, s, r.ID, at.Add(IdleTimeout-time.Nanosecond), got)
	wantGone(t, s, r.ID, at.Add(IdleTimeout))
}

var renewCases = []testCase{
	{"MovesData", testRenewMovesData},
	{"OntoExisting", testRenewOntoExisting},
	{"OldIDUpdate", testRenewOldIDUpdate},
}

func testRenewMovesData(t *testing.T, s session.Store) {
	now := Base()
	rec := NewRecord(session.NewID(), "alice", now)
	rec.Data["cart"] = raw(`[1,2]`)
	r := Insert(t, s, rec)[0]
	newID := session.NewID()
	at := now.Add(time.Minute)
	got := apply(t, s, &session.Change{ID: r.ID, Now: at, NewID: newID,
		Set: map[string]json.RawMessage{"flash": raw(`"renewed"`)}})

	want := r.Clone()
	want.ID = newID
	want.Data["flash"] = raw(`"renewed"`)
	want.Version = 2
	wantEqual(t, "Apply(renew) result", got, want)
	wantLoad(t, s, newID, at, want)
	wantGone(t, s, r.ID, at)
	wantGone(t, s, r.ID, now) // removed, not expired

	// Renewing again keeps counting.
	third := session.NewID()
	got = apply(t, s, &session.Change{ID: newID, Now: at, NewID: third})
	want.ID, want.Version = third, 3
	wantEqual(t, "second renew result", got, want)
	wantGone(t, s, newID, at)
	wantLoad(t, s, third, at, want)
}

func testRenewOntoExisting(t *testing.T, s session.Store) {
	now := Base()
	recs := Insert(t, s, NewRecord(session.NewID(), "alice", now), NewRecord(session.NewID(), "bob", now))
	a, b := recs[0], recs[1]
	applyFails(t, s, &session.Change{ID: a.ID, Now: now, NewID: b.ID,
		Set: map[string]json.RawMessage{"x": raw(`1`)}}, session.ErrExists)
	wantLoad(t, s, a.ID, now, a)
	wantLoad(t, s, b.ID, now, b)
	if ui, ok := s.(session.UserIndex); ok {
		wantUserIDs(t, ui, "alice", now, a.ID)
		wantUserIDs(t, ui, "bob", now, b.ID)
	}
}

func testRenewOldIDUpdate(t *testing.T, s session.Store) {
	now := Base()
	r := Insert(t, s, NewRecord(session.NewID(), "alice", now))[0]
	newID := session.NewID()
	renewed := apply(t, s, &session.Change{ID: r.ID, Now: now, NewID: newID})
	// A concurrent request that still holds the old id must not recreate it.
	applyFails(t, s, &session.Change{ID: r.ID, Now: now, Set: map[string]json.RawMessage{"a": raw(`1`)}},
		session.ErrNotFound)
	wantGone(t, s, r.ID, now)
	wantLoad(t, s, newID, now, renewed)
}
