package sessiontest

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/sesbolt/sesbolt/pkg/session"
)

var sharedCases = []testCase{
	{"SameAsLoad", testSharedSameAsLoad},
	{"LentRecordKept", testSharedLentRecordKept},
	{"LoadStillCopies", testSharedLoadStillCopies},
}

func loadShared(t testing.TB, sl session.SharedLoader, id session.ID, now time.Time) *session.Record {
	t.Helper()
	r, err := sl.LoadShared(ctx(t), id, now)
	if err != nil {
		t.Fatalf("LoadShared(%s): %v", id, err)
	}
	return r
}

// testSharedSameAsLoad: LoadShared answers what Load answers, found or not.
func testSharedSameAsLoad(t *testing.T, s session.Store) {
	sl := implementing[session.SharedLoader](t, s)
	now := Base()
	r := NewRecord(session.NewID(), "alice", now)
	r.Data["list"] = raw(`[1,2,3]`)
	Insert(t, s, r)
	wantEqual(t, "LoadShared", loadShared(t, sl, r.ID, now), load(t, s, r.ID, now))
	wantEqual(t, "LoadShared again", loadShared(t, sl, r.ID, now), load(t, s, r.ID, now))

	for what, id := range map[string]session.ID{"unknown id": session.NewID(), "expired record": r.ID} {
		at := now
		if what == "expired record" {
			at = r.Expires()
		}
		if got, err := sl.LoadShared(ctx(t), id, at); !errors.Is(err, session.ErrNotFound) {
			t.Errorf("LoadShared of an %s = %v, %v; want ErrNotFound", what, format(got), err)
		}
	}
}

// testSharedLentRecordKept: the store never modifies a record it lent, even
// when the session changes afterwards.
func testSharedLentRecordKept(t *testing.T, s session.Store) {
	sl := implementing[session.SharedLoader](t, s)
	now := Base()
	r := NewRecord(session.NewID(), "alice", now)
	r.Data["k"] = raw(`"old"`)
	Insert(t, s, r)
	lent := loadShared(t, sl, r.ID, now)
	want := lent.Clone()

	updated := apply(t, s, &session.Change{ID: r.ID, Now: now.Add(time.Minute), Set: map[string]json.RawMessage{"k": raw(`"new"`)},
		Delete: []string{"seed"}, User: str("bob")})
	wantEqual(t, "lent record after Apply", lent, want)
	wantEqual(t, "LoadShared after Apply", loadShared(t, sl, r.ID, now.Add(time.Minute)), updated)

	renewed := session.NewID()
	apply(t, s, &session.Change{ID: r.ID, NewID: renewed, Now: now.Add(2 * time.Minute)})
	apply(t, s, &session.Change{ID: renewed, Now: now.Add(2 * time.Minute), Destroy: true})
	wantEqual(t, "lent record after renew and destroy", lent, want)
}

// testSharedLoadStillCopies: changing what Load returned does not reach
// what LoadShared lends.
func testSharedLoadStillCopies(t *testing.T, s session.Store) {
	sl := implementing[session.SharedLoader](t, s)
	now := Base()
	r := NewRecord(session.NewID(), "alice", now)
	r.Data["list"] = raw(`[1,2,3]`)
	Insert(t, s, r)
	want := loadShared(t, sl, r.ID, now).Clone()
	scribble(load(t, s, r.ID, now))
	wantEqual(t, "LoadShared after scribbling on Load's record", loadShared(t, sl, r.ID, now), want)
}
