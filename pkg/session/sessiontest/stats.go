package sessiontest

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/sesbolt/sesbolt/pkg/session"
)

var statsCases = []testCase{
	{"Empty", testStatsEmpty},
	{"Counts", testStatsCounts},
}

func testStatsEmpty(t *testing.T, s session.Store) {
	sr := implementing[session.StatsReporter](t, s)
	wantCounts(t, sr, Base(), counts{})
}

func testStatsCounts(t *testing.T, s session.Store) {
	sr := implementing[session.StatsReporter](t, s)
	now := Base()
	soon := func(r *session.Record) *session.Record {
		r.IdleExpires = now.Add(time.Minute)
		return r
	}
	recs := Insert(t, s,
		NewRecord(session.NewID(), "alice", now),
		soon(NewRecord(session.NewID(), "alice", now)),
		NewRecord(session.NewID(), "bob", now),
		NewRecord(session.NewID(), "", now),
		soon(NewRecord(session.NewID(), "", now)),
	)
	later := now.Add(2 * time.Minute)
	wantCounts(t, sr, now, counts{Sessions: 5, Live: 5, Expired: 0, Users: 2})
	wantCounts(t, sr, later, counts{Sessions: 5, Live: 3, Expired: 2, Users: 2})

	// Renewing and changing data move no counter; binding a user does.
	renewed := session.NewID()
	apply(t, s, &session.Change{ID: recs[0].ID, Now: now, NewID: renewed,
		Set: map[string]json.RawMessage{"a": raw(`1`)}})
	wantCounts(t, sr, later, counts{Sessions: 5, Live: 3, Expired: 2, Users: 2})
	apply(t, s, &session.Change{ID: recs[3].ID, Now: now, User: str("carol")})
	wantCounts(t, sr, later, counts{Sessions: 5, Live: 3, Expired: 2, Users: 3})

	// Removing bob's only session removes bob.
	if n, err := s.Delete(ctx(t), recs[2].ID); err != nil || n != 1 {
		t.Fatalf("Delete = %d, %v; want 1, <nil>", n, err)
	}
	wantCounts(t, sr, later, counts{Sessions: 4, Live: 2, Expired: 2, Users: 2})

	// An expired session still counts its user until it is removed.
	apply(t, s, &session.Change{ID: renewed, Now: now, Destroy: true})
	wantCounts(t, sr, later, counts{Sessions: 3, Live: 1, Expired: 2, Users: 2})
	if _, err := s.Delete(ctx(t), recs[1].ID); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	wantCounts(t, sr, later, counts{Sessions: 2, Live: 1, Expired: 1, Users: 1})
}

var purgeCases = []testCase{
	{"Empty", testPurgeEmpty},
	{"RemovesExpired", testPurgeRemovesExpired},
}

func testPurgeEmpty(t *testing.T, s session.Store) {
	p := implementing[session.Purger](t, s)
	if n, err := p.Purge(ctx(t), Base()); err != nil || n != 0 {
		t.Fatalf("Purge of an empty store = %d, %v; want 0, <nil>", n, err)
	}
}

func testPurgeRemovesExpired(t *testing.T, s session.Store) {
	p := implementing[session.Purger](t, s)
	now := Base()
	idle := NewRecord(session.NewID(), "alice", now) // expires at now+IdleTimeout
	deadline := NewRecord(session.NewID(), "bob", now)
	deadline.Deadline, deadline.IdleExpires = now.Add(20*time.Minute), now.Add(IdleTimeout+time.Hour)
	long := NewRecord(session.NewID(), "alice", now.Add(time.Second))
	long.IdleExpires = now.Add(2 * time.Hour)
	refreshed := NewRecord(session.NewID(), "", now)
	anon := NewRecord(session.NewID(), "", now)
	purgeAt := now.Add(IdleTimeout) // idle, deadline and anon expired; exactly at expiry for two of them
	barely := NewRecord(session.NewID(), "bob", now)
	barely.IdleExpires = purgeAt.Add(time.Nanosecond) // live at purgeAt
	Insert(t, s, idle, deadline, long, refreshed, anon, barely)

	// refreshed is touched (and logged in) before it would expire.
	at := now.Add(25 * time.Minute)
	refreshedNow := apply(t, s, &session.Change{ID: refreshed.ID, Now: at, User: str("carol"),
		LastSeen: at, IdleExpires: at.Add(IdleTimeout)})

	n, err := p.Purge(ctx(t), purgeAt)
	if err != nil || n != 3 {
		t.Fatalf("Purge(%s) = %d, %v; want 3, <nil>", stamp(purgeAt), n, err)
	}
	// Removed, not merely expired: gone even when asked as of before.
	for _, r := range []*session.Record{idle, deadline, anon} {
		wantGone(t, s, r.ID, now)
		applyFails(t, s, &session.Change{ID: r.ID, Now: now, LastSeen: now, IdleExpires: purgeAt.Add(time.Hour)},
			session.ErrNotFound)
	}
	wantLoad(t, s, long.ID, purgeAt, stored(long))
	wantLoad(t, s, refreshed.ID, purgeAt, refreshedNow)
	wantLoad(t, s, barely.ID, purgeAt, stored(barely))

	if l, ok := s.(session.Lister); ok {
		got := listAll(t, l, session.ListQuery{Now: now, Filter: session.All}, 0)
		wantIDs(t, "List(all) after Purge", got, sortedIDs(long.ID, refreshed.ID, barely.ID)...)
	}
	if ui, ok := s.(session.UserIndex); ok {
		wantUserIDs(t, ui, "alice", now.Add(time.Second), long.ID)
		wantUserIDs(t, ui, "bob", now, barely.ID)
		wantUserIDs(t, ui, "carol", purgeAt, refreshed.ID)
	}
	if sr, ok := s.(session.StatsReporter); ok {
		wantCounts(t, sr, purgeAt, counts{Sessions: 3, Live: 3, Expired: 0, Users: 3})
	}

	if n, err := p.Purge(ctx(t), purgeAt); err != nil || n != 0 {
		t.Fatalf("second Purge(%s) = %d, %v; want 0, <nil>", stamp(purgeAt), n, err)
	}
	// Much later everything goes.
	if n, err := p.Purge(ctx(t), now.Add(Lifetime)); err != nil || n != 3 {
		t.Fatalf("Purge(%s) = %d, %v; want 3, <nil>", stamp(now.Add(Lifetime)), n, err)
	}
	if sr, ok := s.(session.StatsReporter); ok {
		wantCounts(t, sr, now, counts{})
	}
}
