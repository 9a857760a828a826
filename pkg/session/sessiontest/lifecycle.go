package sessiontest

import (
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sesbolt/sesbolt/pkg/session"
)

// Timeouts of the remembered ("persistent") records the suite makes, as
// session.Config's defaults give them.
const (
	persistentIdle     = 30 * 24 * time.Hour
	persistentLifetime = 90 * 24 * time.Hour
)

// persistentRecord returns a remembered record of user created at now:
// Persistent, with the long timeouts and a LastClient unlike its Client.
func persistentRecord(user string, now time.Time) *session.Record {
	r := NewRecord(session.NewID(), user, now)
	r.Persistent = true
	r.IdleExpires, r.Deadline = now.Add(persistentIdle), now.Add(persistentLifetime)
	r.LastClient = session.ClientInfo{IP: "2001:db8::7", UserAgent: "sessiontest-phone/2"}
	return r
}

// persistentCases check the fields Login and the throttled touch write
// besides the data: Record.Persistent and Record.LastClient.
var persistentCases = []testCase{
	{"RecordFields", testPersistentRecordFields},
	{"ChangeFields", testPersistentChangeFields},
	{"OwnTimeouts", testPersistentOwnTimeouts},
}

// testPersistentRecordFields: an inserted record keeps Persistent and
// LastClient as given, in every read.
func testPersistentRecordFields(t *testing.T, s session.Store) {
	now := Base()
	r := persistentRecord("alice", now)
	got := apply(t, s, CreateChange(r))
	want := stored(r)
	wantEqual(t, "Apply(insert of a persistent record)", got, want)
	wantLoad(t, s, r.ID, now, want)
	if ui, ok := s.(session.UserIndex); ok {
		wantRecords(t, "UserSessions(alice)", userSessions(t, ui, "alice", now), []*session.Record{want})
	}
	if l, ok := s.(session.Lister); ok {
		wantRecords(t, "List", listAll(t, l, session.ListQuery{Now: now}, 0), []*session.Record{want})
	}
	// A record without a last client (stored before stores kept one).
	old := NewRecord(session.NewID(), "bob", now)
	old.LastClient = session.ClientInfo{}
	wantLoad(t, s, Insert(t, s, old)[0].ID, now, stored(old))
}

// testPersistentChangeFields: Change.Persistent sets the flag when non-nil;
// Change.LastClient replaces LastClient when not zero and never touches
// Client.
func testPersistentChangeFields(t *testing.T, s session.Store) {
	now := Base()
	r := Insert(t, s, NewRecord(session.NewID(), "alice", now))[0]
	phone := session.ClientInfo{IP: "203.0.113.9", UserAgent: "phone/1"}

	at := now.Add(time.Minute)
	got := apply(t, s, &session.Change{ID: r.ID, Now: at, LastSeen: at, IdleExpires: at.Add(IdleTimeout), LastClient: phone})
	want := r.Clone()
	want.LastSeen, want.IdleExpires, want.LastClient, want.Version = at, at.Add(IdleTimeout), phone, 2
	wantEqual(t, "touch with a last client", got, want)
	wantLoad(t, s, r.ID, at, want)

	// Zero fields leave them alone.
	got = apply(t, s, &session.Change{ID: r.ID, Now: at, Set: map[string]json.RawMessage{"k": raw(`1`)}})
	want.Data["k"], want.Version = raw(`1`), 3
	wantEqual(t, "change without persistent or last client", got, want)

	// Login with remember-me: renew, bind, persistent, long timeouts.
	newID := session.NewID()
	got = apply(t, s, &session.Change{ID: r.ID, Now: at, NewID: newID, User: str("alice"), Persistent: ptr(true),
		LastSeen: at, IdleExpires: at.Add(persistentIdle), Deadline: at.Add(persistentLifetime)})
	want.ID, want.Persistent, want.Version = newID, true, 4
	want.IdleExpires, want.Deadline = at.Add(persistentIdle), at.Add(persistentLifetime)
	wantEqual(t, "login with remember-me", got, want)
	wantLoad(t, s, newID, at, want)

	// A later login without it makes the session ordinary again.
	got = apply(t, s, &session.Change{ID: newID, Now: at, Persistent: ptr(false)})
	want.Persistent, want.Version = false, 5
	wantEqual(t, "persistent set to false", got, want)
	wantLoad(t, s, newID, at, want)
}

// testPersistentOwnTimeouts: a remembered session lives by its own, long
// expiry times, refreshed by touches, and still ends at its deadline; an
// ordinary session beside it ends after the usual idle timeout.
func testPersistentOwnTimeouts(t *testing.T, s session.Store) {
	now := Base()
	remembered := Insert(t, s, persistentRecord("alice", now))[0]
	ordinary := Insert(t, s, NewRecord(session.NewID(), "alice", now))[0]

	day29 := now.Add(29 * 24 * time.Hour)
	wantLoad(t, s, remembered.ID, day29, remembered)
	wantGone(t, s, ordinary.ID, now.Add(IdleTimeout))
	wantGone(t, s, remembered.ID, remembered.IdleExpires)

	// Touched every 29 days it lives to its deadline, not beyond.
	at := now
	var got *session.Record
	for at.Add(29 * 24 * time.Hour).Before(remembered.Deadline) {
		at = at.Add(29 * 24 * time.Hour)
		got = apply(t, s, &session.Change{ID: remembered.ID, Now: at, LastSeen: at, IdleExpires: at.Add(persistentIdle)})
	}
	wantLoad(t, s, remembered.ID, remembered.Deadline.Add(-time.Nanosecond), got)
	wantGone(t, s, remembered.ID, remembered.Deadline)
	applyFails(t, s, &session.Change{ID: remembered.ID, Now: remembered.Deadline, LastSeen: remembered.Deadline,
		IdleExpires: remembered.Deadline.Add(persistentIdle)}, session.ErrNotFound)
}

// restartCases run with the Reopen option: what a restart must keep.
var restartCases = []restartCase{
	{"PersistentSurvives", testRestartPersistentSurvives},
}

// testRestartPersistentSurvives: a remembered session comes back after a
// restart with its flag, its own timeouts and its last client; the ordinary
// session stored beside it still ends at its own idle expiry.
func testRestartPersistentSurvives(t *testing.T, s session.Store, reopen func(*testing.T, session.Store) session.Store) {
	now := Base()
	remembered := Insert(t, s, persistentRecord("alice", now))[0]
	ordinary := Insert(t, s, NewRecord(session.NewID(), "alice", now))[0]
	at := now.Add(time.Hour)
	touched := apply(t, s, &session.Change{ID: remembered.ID, Now: at, LastSeen: at, IdleExpires: at.Add(persistentIdle),
		LastClient: session.ClientInfo{IP: "198.51.100.4", UserAgent: "tablet/3"}})

	s = reopen(t, s)
	wantLoad(t, s, remembered.ID, at, touched)
	wantLoad(t, s, remembered.ID, at.Add(persistentIdle-time.Nanosecond), touched)
	wantGone(t, s, remembered.ID, at.Add(persistentIdle))
	wantLoad(t, s, ordinary.ID, now, ordinary)
	wantGone(t, s, ordinary.ID, ordinary.IdleExpires)
	if ui, ok := s.(session.UserIndex); ok {
		wantUserIDs(t, ui, "alice", at.Add(24*time.Hour), remembered.ID)
	}
}

// userLimitCases check Change.MaxUserSessions.
var userLimitCases = []testCase{
	{"InsertEndsLeastRecentlySeen", testLimitLeastRecentlySeen},
	{"TiesByID", testLimitTiesByID},
	{"LoginEnds", testLimitLogin},
	{"NewOneCounts", testLimitNewOneCounts},
	{"ExpiredNeitherCountNorEnd", testLimitExpired},
	{"OnlyThatUser", testLimitOnlyThatUser},
	{"NoResurrection", testLimitNoResurrection},
	{"FailedChangeEndsNothing", testLimitFailedChange},
	{"Negative", testLimitNegative},
}

// userLimitOptionCases check Change.MaxUserSessions as far as Run's
// options ask (see LimitAfterWrite).
var userLimitOptionCases = []optionCase{
	{"Concurrent", testLimitConcurrent},
	{"Lacking", testLimitLacking},
}

// testLimitLacking: a store that declares it lacks UserLimit refuses a
// change whose result a limit would apply to with ErrNotSupported, writing
// nothing, and ignores the limit where the contract does (a destroy, a
// result bound to no user).
func testLimitLacking(t *testing.T, s session.Store, o options) {
	if o.lacking(UserLimit) == 0 {
		t.Skip("the store holds users to the limit (the other cases check it)")
	}
	now := Base()
	r := Insert(t, s, NewRecord(session.NewID(), "alice", now))[0]
	login := NewRecord(session.NewID(), "alice", now)
	applyFails(t, s, &session.Change{ID: login.ID, Now: now, Create: login, MaxUserSessions: 1}, session.ErrNotSupported)
	wantGone(t, s, login.ID, now)
	applyFails(t, s, &session.Change{ID: r.ID, Now: now, NewID: session.NewID(), User: str("alice"), MaxUserSessions: 1}, session.ErrNotSupported)
	applyFails(t, s, &session.Change{ID: r.ID, Now: now, Set: map[string]json.RawMessage{"k": raw(`1`)}, MaxUserSessions: 1}, session.ErrNotSupported)
	wantLoad(t, s, r.ID, now, r)

	anon := NewRecord(session.NewID(), "", now)
	apply(t, s, &session.Change{ID: anon.ID, Now: now, Create: anon, MaxUserSessions: 1})
	wantLoad(t, s, anon.ID, now, stored(anon))
	if got, err := s.Apply(ctx(t), &session.Change{ID: r.ID, Now: now, Destroy: true, MaxUserSessions: 1}); err != nil || got != nil {
		t.Fatalf("Apply(destroy with a limit) = %s, %v; want <nil>, <nil>", format(got), err)
	}
	wantGone(t, s, r.ID, now)
}

// userRecord returns a record of user created at created and last seen at
// seen, with id.
func userRecord(id session.ID, user string, created, seen time.Time) *session.Record {
	r := NewRecord(id, user, created)
	r.LastSeen = seen
	r.IdleExpires = seen.Add(IdleTimeout)
	return r
}

// wantLive fails the test unless exactly the sessions want are live at now
// among ids (the others gone), and, with a user index and a user other than
// "", exactly want are the user's live sessions.
func wantLive(t *testing.T, s session.Store, user string, now time.Time, ids []session.ID, want ...session.ID) {
	t.Helper()
	keep := make(map[session.ID]bool, len(want))
	for _, id := range want {
		keep[id] = true
	}
	for _, id := range ids {
		r, err := s.Load(ctx(t), id, now)
		switch {
		case keep[id] && err != nil:
			t.Fatalf("Load(%s) = %v; want the session live", id, err)
		case !keep[id] && (r != nil || !errors.Is(err, session.ErrNotFound)):
			t.Fatalf("Load(%s) = %s, %v; want ErrNotFound (ended by the session limit)", id, format(r), err)
		}
	}
	if ui, ok := s.(session.UserIndex); ok && user != "" {
		wantUserIDs(t, ui, user, now, want...)
	}
}

// testLimitLeastRecentlySeen: an insert over the limit ends the user's
// sessions with the oldest LastSeen, whatever their creation order.
func testLimitLeastRecentlySeen(t *testing.T, s session.Store) {
	now := Base()
	a := Insert(t, s, userRecord(session.NewID(), "alice", now, now.Add(3*time.Minute)))[0]                // seen last
	b := Insert(t, s, userRecord(session.NewID(), "alice", now.Add(time.Second), now.Add(time.Minute)))[0] // seen first
	c := Insert(t, s, userRecord(session.NewID(), "alice", now.Add(2*time.Second), now.Add(2*time.Minute)))[0]
	all := []session.ID{a.ID, b.ID, c.ID}

	at := now.Add(4 * time.Minute)
	d := NewRecord(session.NewID(), "alice", at)
	got := apply(t, s, &session.Change{ID: d.ID, Now: at, Create: d, MaxUserSessions: 3})
	wantEqual(t, "Apply(insert over the limit)", got, stored(d))
	all = append(all, d.ID)
	wantLive(t, s, "alice", at, all, a.ID, c.ID, d.ID)
	wantEnded(t, s, b.ID, at) // no tombstone

	e := NewRecord(session.NewID(), "alice", at)
	apply(t, s, &session.Change{ID: e.ID, Now: at, Create: e, MaxUserSessions: 2})
	all = append(all, e.ID)
	wantLive(t, s, "alice", at, all, d.ID, e.ID)
}

// testLimitTiesByID: sessions last seen at the same instant end in ID order,
// the smaller first.
func testLimitTiesByID(t *testing.T, s session.Store) {
	now := Base()
	ids := []session.ID{SeqID(3), SeqID(1), SeqID(2)}
	for _, id := range ids {
		Insert(t, s, userRecord(id, "alice", now, now))
	}
	at := now.Add(time.Minute)
	r := NewRecord(SeqID(9), "alice", at)
	apply(t, s, &session.Change{ID: r.ID, Now: at, Create: r, MaxUserSessions: 2})
	wantLive(t, s, "alice", at, append(ids, r.ID), SeqID(3), r.ID)
}

// testLimitLogin: a login (renew, bind, fresh expiry) over the limit ends
// the surplus in the same step; the renewed id leaves its tombstone, the
// ended sessions none.
func testLimitLogin(t *testing.T, s session.Store) {
	now := Base()
	old := Insert(t, s, userRecord(session.NewID(), "alice", now, now))[0]
	recent := Insert(t, s, userRecord(session.NewID(), "alice", now, now.Add(time.Minute)))[0]
	anon := Insert(t, s, NewRecord(session.NewID(), "", now))[0]

	at := now.Add(2 * time.Minute)
	newID := session.NewID()
	got := apply(t, s, &session.Change{ID: anon.ID, Now: at, NewID: newID, User: str("alice"), Persistent: ptr(true),
		LastSeen: at, IdleExpires: at.Add(persistentIdle), Deadline: at.Add(persistentLifetime), MaxUserSessions: 2})
	if got.ID != newID || got.UserID != "alice" || !got.Persistent {
		t.Fatalf("Apply(login over the limit) = %s", format(got))
	}
	wantLive(t, s, "alice", at, []session.ID{old.ID, recent.ID, newID}, recent.ID, newID)
	wantEnded(t, s, old.ID, at)
	wantRenewed(t, s, anon.ID, newID, at)
}

// testLimitNewOneCounts: the session the change stores counts toward the
// limit and is never the one ended, even when it was seen least recently.
func testLimitNewOneCounts(t *testing.T, s session.Store) {
	now := Base()
	a := Insert(t, s, userRecord(session.NewID(), "alice", now, now.Add(time.Minute)))[0]
	b := Insert(t, s, userRecord(session.NewID(), "alice", now, now.Add(2*time.Minute)))[0]
	at := now.Add(3 * time.Minute)
	r := userRecord(session.NewID(), "alice", now, now) // seen before both
	apply(t, s, &session.Change{ID: r.ID, Now: at, Create: r, MaxUserSessions: 1})
	wantLive(t, s, "alice", at, []session.ID{a.ID, b.ID, r.ID}, r.ID)

	// An update of an existing session under the limit ends the others too.
	c := Insert(t, s, userRecord(session.NewID(), "alice", at, at))[0]
	got := apply(t, s, &session.Change{ID: r.ID, Now: at, Set: map[string]json.RawMessage{"k": raw(`1`)}, MaxUserSessions: 1})
	if got.ID != r.ID {
		t.Fatalf("Apply(update) = %s", format(got))
	}
	wantLive(t, s, "alice", at, []session.ID{r.ID, c.ID}, r.ID)
}

// testLimitExpired: the user's expired sessions neither count toward the
// limit nor are removed by it (they stay stored until expiry removes them).
func testLimitExpired(t *testing.T, s session.Store) {
	now := Base()
	expired := userRecord(session.NewID(), "alice", now, now)
	expired.IdleExpires = now.Add(time.Minute)
	Insert(t, s, expired)
	live := Insert(t, s, userRecord(session.NewID(), "alice", now, now.Add(time.Second)))[0]
	at := now.Add(2 * time.Minute)
	r := NewRecord(session.NewID(), "alice", at)
	apply(t, s, &session.Change{ID: r.ID, Now: at, Create: r, MaxUserSessions: 2})
	wantLive(t, s, "alice", at, []session.ID{expired.ID, live.ID, r.ID}, live.ID, r.ID)
	wantLoad(t, s, expired.ID, time.Time{}, stored(expired)) // still stored
	if l, ok := s.(session.Lister); ok {
		got := listAll(t, l, session.ListQuery{Now: at, Filter: session.Expired}, 0)
		wantIDs(t, "List(expired) after the limit", got, expired.ID)
	}
}

// testLimitOnlyThatUser: only the result's user is limited: other users,
// anonymous sessions, and a result bound to no user end nothing.
func testLimitOnlyThatUser(t *testing.T, s session.Store) {
	now := Base()
	bob := Insert(t, s, NewRecord(session.NewID(), "bob", now), NewRecord(session.NewID(), "bob", now))
	anon := Insert(t, s, NewRecord(session.NewID(), "", now), NewRecord(session.NewID(), "", now))
	alice := Insert(t, s, NewRecord(session.NewID(), "alice", now))[0]
	at := now.Add(time.Minute)

	r := NewRecord(session.NewID(), "", at)
	apply(t, s, &session.Change{ID: r.ID, Now: at, Create: r, MaxUserSessions: 1})
	r2 := NewRecord(session.NewID(), "alice", at)
	apply(t, s, &session.Change{ID: r2.ID, Now: at, Create: r2, MaxUserSessions: 1})

	wantLive(t, s, "bob", at, []session.ID{bob[0].ID, bob[1].ID}, bob[0].ID, bob[1].ID)
	wantLive(t, s, "", at, []session.ID{anon[0].ID, anon[1].ID, r.ID}, anon[0].ID, anon[1].ID, r.ID)
	wantLive(t, s, "alice", at, []session.ID{alice.ID, r2.ID}, r2.ID)
}

// testLimitNoResurrection: a session the limit ended cannot be written back
// by a request that still holds it.
func testLimitNoResurrection(t *testing.T, s session.Store) {
	now := Base()
	victim := Insert(t, s, NewRecord(session.NewID(), "alice", now))[0]
	at := now.Add(time.Minute)
	r := NewRecord(session.NewID(), "alice", at)
	apply(t, s, &session.Change{ID: r.ID, Now: at, Create: r, MaxUserSessions: 1})
	wantNoResurrection(t, s, victim.ID, at)
	wantEnded(t, s, victim.ID, at)
	wantLive(t, s, "alice", at, []session.ID{victim.ID, r.ID}, r.ID)
}

// testLimitFailedChange: a change that fails ends nothing.
func testLimitFailedChange(t *testing.T, s session.Store) {
	now := Base()
	recs := Insert(t, s, NewRecord(session.NewID(), "alice", now), NewRecord(session.NewID(), "alice", now))
	at := now.Add(time.Minute)
	ids := []session.ID{recs[0].ID, recs[1].ID}

	dup := NewRecord(recs[0].ID, "alice", at)
	applyFails(t, s, &session.Change{ID: dup.ID, Now: at, Create: dup, MaxUserSessions: 1}, session.ErrExists)
	applyFails(t, s, &session.Change{ID: session.NewID(), Now: at, User: str("alice"), MaxUserSessions: 1}, session.ErrNotFound)
	applyFails(t, s, &session.Change{ID: recs[0].ID, Now: at, NewID: recs[1].ID, MaxUserSessions: 1}, session.ErrExists)
	if _, err := s.Apply(ctx(t), &session.Change{ID: recs[0].ID, Now: at, Destroy: true, MaxUserSessions: 1}); err != nil {
		t.Fatalf("Apply(destroy with a limit): %v", err)
	}
	wantLive(t, s, "alice", at, ids, recs[1].ID)
}

// testLimitNegative: a negative limit is a malformed change.
func testLimitNegative(t *testing.T, s session.Store) {
	r := NewRecord(session.NewID(), "alice", Base())
	applyFails(t, s, &session.Change{ID: r.ID, Now: Base(), Create: r, MaxUserSessions: -1}, session.ErrInvalid)
	wantGone(t, s, r.ID, Base())
}

// testLimitConcurrent: 20 logins of one user at once, each with the limit,
// never leave more than the limit live, seen by a reader polling the user
// index meanwhile (unless the store enforces the limit after the write, see
// LimitAfterWrite), and exactly the limit at the end.
func testLimitConcurrent(t *testing.T, s session.Store, o options) {
	const logins, limit = 20, 3
	now := Base()
	anon := make([]*session.Record, logins)
	for i := range anon {
		anon[i] = Insert(t, s, NewRecord(session.NewID(), "", now))[0]
	}
	ui, hasIndex := s.(session.UserIndex)
	var done atomic.Bool
	var wg sync.WaitGroup
	errs := make(chan error, logins+1)
	if hasIndex {
		wg.Go(func() {
			for !done.Load() {
				recs, err := ui.UserSessions(ctx(t), "alice", now)
				if err != nil {
					errs <- fmt.Errorf("UserSessions: %w", err)
					return
				}
				if len(recs) > limit && !o.limitAfterWrite {
					errs <- fmt.Errorf("UserSessions saw %d live sessions, more than the limit of %d: %v", len(recs), limit, ids(recs))
					return
				}
			}
		})
	}
	newIDs := make([]session.ID, logins)
	var logged sync.WaitGroup
	for i := range logins {
		newIDs[i] = session.NewID()
		logged.Go(func() {
			c := &session.Change{ID: anon[i].ID, Now: now, NewID: newIDs[i], User: str("alice"),
				LastSeen: now, IdleExpires: now.Add(IdleTimeout), Deadline: now.Add(Lifetime), MaxUserSessions: limit}
			if _, err := s.Apply(ctx(t), c); err != nil {
				errs <- fmt.Errorf("login %d: %w", i, err)
			}
		})
	}
	logged.Wait()
	done.Store(true)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if t.Failed() {
		t.FailNow()
	}
	live := 0
	for _, id := range newIDs {
		if _, err := s.Load(ctx(t), id, now); err == nil {
			live++
		} else if !errors.Is(err, session.ErrNotFound) {
			t.Fatalf("Load(%s): %v", id, err)
		}
	}
	if live != limit {
		t.Fatalf("%d of %d logins live afterwards; want exactly the limit, %d", live, logins, limit)
	}
	if hasIndex {
		if got := userSessions(t, ui, "alice", now); len(got) != limit {
			t.Fatalf("UserSessions(alice) = %v; want %d sessions", ids(got), limit)
		}
	}
}

// deleteUserExceptCases check session.UserIndex.DeleteUserExcept ("sign
// out other devices").
var deleteUserExceptCases = []testCase{
	{"KeepsExactlyOne", testExceptKeepsOne},
	{"KeepNotTheUsers", testExceptKeepOther},
	{"NoResurrection", testExceptNoResurrection},
	{"Anonymous", testExceptAnonymous},
}

// testExceptKeepsOne: every session of the user, live or expired, ends
// but keep, which is untouched; other users keep theirs; no tombstones.
func testExceptKeepsOne(t *testing.T, s session.Store) {
	ui := implementing[session.UserIndex](t, s)
	now := Base()
	expired := NewRecord(session.NewID(), "alice", now)
	expired.IdleExpires = now.Add(time.Minute)
	recs := Insert(t, s,
		NewRecord(session.NewID(), "alice", now),
		persistentRecord("alice", now),
		expired,
		NewRecord(session.NewID(), "alice", now.Add(time.Second)),
		NewRecord(session.NewID(), "bob", now),
		NewRecord(session.NewID(), "", now),
	)
	keep := recs[1]
	at := now.Add(2 * time.Minute)
	n, err := ui.DeleteUserExcept(ctx(t), "alice", keep.ID)
	if err != nil || n != 3 {
		t.Fatalf(`DeleteUserExcept("alice", keep) = %d, %v; want 3 (two live, one expired), <nil>`, n, err)
	}
	wantUserIDs(t, ui, "alice", at, keep.ID)
	wantLoad(t, s, keep.ID, at, keep)
	for _, r := range []*session.Record{recs[0], recs[2], recs[3]} {
		wantEnded(t, s, r.ID, now)
	}
	wantLoad(t, s, recs[4].ID, at, recs[4])
	wantLoad(t, s, recs[5].ID, at, recs[5])

	// Again: nothing left to end; keep stays.
	if n, err := ui.DeleteUserExcept(ctx(t), "alice", keep.ID); err != nil || n != 0 {
		t.Fatalf(`DeleteUserExcept("alice", keep) again = %d, %v; want 0, <nil>`, n, err)
	}
	wantLoad(t, s, keep.ID, at, keep)
	// A zero keep spares nothing.
	if n, err := ui.DeleteUserExcept(ctx(t), "alice", session.ID{}); err != nil || n != 1 {
		t.Fatalf(`DeleteUserExcept("alice", zero) = %d, %v; want 1, <nil>`, n, err)
	}
	wantEnded(t, s, keep.ID, at)
}

// testExceptKeepOther: a keep that is not one of the user's sessions (some
// other user's, or unknown) spares nothing of the user and leaves keep
// alone.
func testExceptKeepOther(t *testing.T, s session.Store) {
	ui := implementing[session.UserIndex](t, s)
	now := Base()
	recs := Insert(t, s, NewRecord(session.NewID(), "alice", now), NewRecord(session.NewID(), "bob", now))
	if n, err := ui.DeleteUserExcept(ctx(t), "alice", recs[1].ID); err != nil || n != 1 {
		t.Fatalf(`DeleteUserExcept("alice", bob's session) = %d, %v; want 1, <nil>`, n, err)
	}
	wantGone(t, s, recs[0].ID, now)
	wantLoad(t, s, recs[1].ID, now, recs[1])
	r := Insert(t, s, NewRecord(session.NewID(), "bob", now))[0]
	if n, err := ui.DeleteUserExcept(ctx(t), "bob", session.NewID()); err != nil || n != 2 {
		t.Fatalf(`DeleteUserExcept("bob", unknown) = %d, %v; want 2, <nil>`, n, err)
	}
	wantUserIDs(t, ui, "bob", now)
	wantGone(t, s, r.ID, now)
}

// testExceptNoResurrection: a request still holding an ended session cannot
// write it back.
func testExceptNoResurrection(t *testing.T, s session.Store) {
	ui := implementing[session.UserIndex](t, s)
	now := Base()
	recs := Insert(t, s, NewRecord(session.NewID(), "alice", now), NewRecord(session.NewID(), "alice", now))
	if _, err := ui.DeleteUserExcept(ctx(t), "alice", recs[0].ID); err != nil {
		t.Fatalf("DeleteUserExcept: %v", err)
	}
	wantNoResurrection(t, s, recs[1].ID, now.Add(time.Minute))
	wantUserIDs(t, ui, "alice", now.Add(time.Minute), recs[0].ID)
}

// testExceptAnonymous: no user names no sessions.
func testExceptAnonymous(t *testing.T, s session.Store) {
	ui := implementing[session.UserIndex](t, s)
	now := Base()
	anon := Insert(t, s, NewRecord(session.NewID(), "", now), NewRecord(session.NewID(), "", now))
	if n, err := ui.DeleteUserExcept(ctx(t), "", anon[0].ID); err != nil || n != 0 {
		t.Fatalf(`DeleteUserExcept("") = %d, %v; want 0, <nil>`, n, err)
	}
	for _, r := range anon {
		wantLoad(t, s, r.ID, now, r)
	}
}

func ptr[T any](v T) *T { return &v }
