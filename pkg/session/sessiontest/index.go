package sessiontest

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/sesbolt/sesbolt/pkg/session"
)

var userIndexCases = []testCase{
	{"Insert", testUserIndexInsert},
	{"Login", testUserIndexLogin},
	{"Order", testUserIndexOrder},
	{"SimilarNames", testUserIndexSimilarNames},
	{"Renew", testUserIndexRenew},
	{"DestroyAndDelete", testUserIndexDestroyAndDelete},
	{"Rebind", testUserIndexRebind},
	{"Expired", testUserIndexExpired},
	{"Anonymous", testUserIndexAnonymous},
	{"DeleteUser", testUserIndexDeleteUser},
	{"ReturnsCopies", testUserIndexReturnsCopies},
}

func testUserIndexInsert(t *testing.T, s session.Store) {
	ui := implementing[session.UserIndex](t, s)
	now := Base()
	wantUserIDs(t, ui, "alice", now)
	r := Insert(t, s, NewRecord(session.NewID(), "alice", now))[0]
	wantRecords(t, "UserSessions(alice)", userSessions(t, ui, "alice", now), []*session.Record{r})
}

func testUserIndexLogin(t *testing.T, s session.Store) {
	ui := implementing[session.UserIndex](t, s)
	now := Base()
	r := Insert(t, s, NewRecord(session.NewID(), "", now))[0]
	wantUserIDs(t, ui, "alice", now)
	got := apply(t, s, &session.Change{ID: r.ID, Now: now, User: str("alice")})
	wantRecords(t, "UserSessions(alice) after login", userSessions(t, ui, "alice", now), []*session.Record{got})

	// Login as the store sees it from Session.Login: bind, renew, new deadline.
	at := now.Add(time.Minute)
	newID := session.NewID()
	got = apply(t, s, &session.Change{ID: r.ID, Now: at, NewID: newID, User: str("bob"),
		LastSeen: at, IdleExpires: at.Add(IdleTimeout), Deadline: at.Add(Lifetime)})
	wantUserIDs(t, ui, "alice", at)
	wantRecords(t, "UserSessions(bob) after login with renew", userSessions(t, ui, "bob", at), []*session.Record{got})
}

func testUserIndexOrder(t *testing.T, s session.Store) {
	ui := implementing[session.UserIndex](t, s)
	now := Base()
	recs := Insert(t, s,
		NewRecord(session.NewID(), "alice", now.Add(2*time.Minute)),
		NewRecord(session.NewID(), "alice", now),
		NewRecord(session.NewID(), "bob", now.Add(30*time.Second)),
		NewRecord(session.NewID(), "alice", now.Add(time.Minute)),
	)
	at := now.Add(3 * time.Minute)
	wantRecords(t, "UserSessions(alice), oldest Created first", userSessions(t, ui, "alice", at),
		[]*session.Record{recs[1], recs[3], recs[0]})
	wantRecords(t, "UserSessions(bob)", userSessions(t, ui, "bob", at), []*session.Record{recs[2]})
}

func testUserIndexSimilarNames(t *testing.T, s session.Store) {
	ui := implementing[session.UserIndex](t, s)
	now := Base()
	// Names that are prefixes of each other, differ in case, or hold bytes
	// a key encoding might use as separators.
	users := []string{"ali", "alice", "alice2", "Alice", "ali ce", "zoë", "a/b", "a\x00b", "a"}
	byUser := make(map[string]session.ID)
	for _, u := range users {
		byUser[u] = Insert(t, s, NewRecord(session.NewID(), u, now))[0].ID
	}
	for _, u := range users {
		wantUserIDs(t, ui, u, now, byUser[u])
	}
	wantUserIDs(t, ui, "al", now)
	wantUserIDs(t, ui, "alic", now)

	n, err := ui.DeleteUser(ctx(t), "ali")
	if err != nil || n != 1 {
		t.Fatalf(`DeleteUser("ali") = %d, %v; want 1, <nil>`, n, err)
	}
	for _, u := range users {
		if u == "ali" {
			wantGone(t, s, byUser[u], now)
			continue
		}
		load(t, s, byUser[u], now)
		wantUserIDs(t, ui, u, now, byUser[u])
	}
}

func testUserIndexRenew(t *testing.T, s session.Store) {
	ui := implementing[session.UserIndex](t, s)
	now := Base()
	r := Insert(t, s, NewRecord(session.NewID(), "alice", now))[0]
	newID := session.NewID()
	apply(t, s, &session.Change{ID: r.ID, Now: now, NewID: newID})
	wantUserIDs(t, ui, "alice", now, newID)
}

func testUserIndexDestroyAndDelete(t *testing.T, s session.Store) {
	ui := implementing[session.UserIndex](t, s)
	now := Base()
	recs := Insert(t, s,
		NewRecord(session.NewID(), "alice", now),
		NewRecord(session.NewID(), "alice", now.Add(time.Second)),
		NewRecord(session.NewID(), "alice", now.Add(2*time.Second)),
	)
	at := now.Add(time.Minute)
	apply(t, s, &session.Change{ID: recs[0].ID, Now: at, Destroy: true})
	wantUserIDs(t, ui, "alice", at, recs[1].ID, recs[2].ID)
	if n, err := s.Delete(ctx(t), recs[2].ID); err != nil || n != 1 {
		t.Fatalf("Delete = %d, %v; want 1, <nil>", n, err)
	}
	wantUserIDs(t, ui, "alice", at, recs[1].ID)
}

func testUserIndexRebind(t *testing.T, s session.Store) {
	ui := implementing[session.UserIndex](t, s)
	now := Base()
	r := Insert(t, s, NewRecord(session.NewID(), "alice", now))[0]
	apply(t, s, &session.Change{ID: r.ID, Now: now, User: str("bob")})
	wantUserIDs(t, ui, "alice", now)
	wantUserIDs(t, ui, "bob", now, r.ID)

	// Binding the same user again keeps one entry.
	apply(t, s, &session.Change{ID: r.ID, Now: now, User: str("bob")})
	wantUserIDs(t, ui, "bob", now, r.ID)

	// Binding no user (logout that keeps the session) drops the entry.
	apply(t, s, &session.Change{ID: r.ID, Now: now, User: str("")})
	wantUserIDs(t, ui, "bob", now)
	wantUserIDs(t, ui, "alice", now)
	if n, err := ui.DeleteUser(ctx(t), "bob"); err != nil || n != 0 {
		t.Fatalf(`DeleteUser("bob") after unbinding = %d, %v; want 0, <nil>`, n, err)
	}
	load(t, s, r.ID, now)
}

func testUserIndexExpired(t *testing.T, s session.Store) {
	ui := implementing[session.UserIndex](t, s)
	now := Base()
	short := NewRecord(session.NewID(), "alice", now)
	long := NewRecord(session.NewID(), "alice", now.Add(time.Second))
	long.IdleExpires = now.Add(2 * IdleTimeout)
	Insert(t, s, short, long)
	wantUserIDs(t, ui, "alice", now.Add(time.Minute), short.ID, long.ID)
	wantUserIDs(t, ui, "alice", short.Expires(), long.ID)
	wantUserIDs(t, ui, "alice", long.Expires())
	wantUserIDs(t, ui, "alice", now.Add(time.Minute), short.ID, long.ID) // still stored
}

func testUserIndexAnonymous(t *testing.T, s session.Store) {
	ui := implementing[session.UserIndex](t, s)
	now := Base()
	anon := Insert(t, s, NewRecord(session.NewID(), "", now), NewRecord(session.NewID(), "", now))
	Insert(t, s, NewRecord(session.NewID(), "alice", now))
	wantUserIDs(t, ui, "", now)
	// "Log out everywhere" for no user must not end anonymous sessions.
	if n, err := ui.DeleteUser(ctx(t), ""); err != nil || n != 0 {
		t.Fatalf(`DeleteUser("") = %d, %v; want 0, <nil>`, n, err)
	}
	for _, r := range anon {
		wantLoad(t, s, r.ID, now, r)
	}
}

func testUserIndexDeleteUser(t *testing.T, s session.Store) {
	ui := implementing[session.UserIndex](t, s)
	now := Base()
	expired := NewRecord(session.NewID(), "alice", now)
	expired.IdleExpires = now.Add(time.Minute)
	recs := Insert(t, s,
		NewRecord(session.NewID(), "alice", now),
		expired,
		NewRecord(session.NewID(), "bob", now),
		NewRecord(session.NewID(), "alice", now.Add(time.Second)),
		NewRecord(session.NewID(), "", now),
	)
	at := now.Add(2 * time.Minute) // expired is expired, the rest live
	wantUserIDs(t, ui, "alice", at, recs[0].ID, recs[3].ID)

	n, err := ui.DeleteUser(ctx(t), "alice")
	if err != nil || n != 3 {
		t.Fatalf(`DeleteUser("alice") = %d, %v; want 3 (two live, one expired), <nil>`, n, err)
	}
	wantUserIDs(t, ui, "alice", now)
	for _, i := range []int{0, 1, 3} {
		wantGone(t, s, recs[i].ID, now)
		applyFails(t, s, &session.Change{ID: recs[i].ID, Now: now, Set: map[string]json.RawMessage{"a": raw(`1`)}},
			session.ErrNotFound)
	}
	wantLoad(t, s, recs[2].ID, at, recs[2])
	wantLoad(t, s, recs[4].ID, at, recs[4])
	wantUserIDs(t, ui, "bob", at, recs[2].ID)
	if l, ok := s.(session.Lister); ok {
		got := listAll(t, l, session.ListQuery{Now: at, Filter: session.All}, 0)
		wantIDs(t, "List(all) after DeleteUser", got, sortedIDs(recs[2].ID, recs[4].ID)...)
	}

	for _, u := range []string{"alice", "nobody"} {
		if n, err := ui.DeleteUser(ctx(t), u); err != nil || n != 0 {
			t.Fatalf("DeleteUser(%q) = %d, %v; want 0, <nil>", u, n, err)
		}
	}
}

func testUserIndexReturnsCopies(t *testing.T, s session.Store) {
	ui := implementing[session.UserIndex](t, s)
	now := Base()
	r := Insert(t, s, NewRecord(session.NewID(), "alice", now))[0]
	for _, got := range userSessions(t, ui, "alice", now) {
		scribble(got)
	}
	wantLoad(t, s, r.ID, now, r)
	wantRecords(t, "UserSessions(alice)", userSessions(t, ui, "alice", now), []*session.Record{r})
}
