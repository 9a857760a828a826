package redisstore_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/sesbolt/sesbolt/internal/redistest"
	"github.com/sesbolt/sesbolt/pkg/redisstore"
	"github.com/sesbolt/sesbolt/pkg/session"
	"github.com/sesbolt/sesbolt/pkg/session/sessiontest"
)

// TestLimitSeesTouchBeforeWrite: on a single server the per-user limit is
// decided on the user's sessions as they are when the change is written.
// Another process touches the least recently seen session between the
// store's read and its write; the change is tried again and ends the
// session that is then the least recently seen.
func TestLimitSeesTouchBeforeWrite(t *testing.T) {
	rc := redistest.Shared(t).Client(t)
	opts := testOptions(t)
	s, other := twoStores(t, rc, opts)
	ctx := context.Background()
	now := sessiontest.Base()
	seen := func(at time.Duration) *session.Record {
		r := sessiontest.NewRecord(session.NewID(), "alice", now)
		r.LastSeen = now.Add(at)
		return r
	}
	recs := sessiontest.Insert(t, s, seen(time.Minute), seen(2*time.Minute))
	a, b := recs[0], recs[1] // a is the least recently seen

	at := now.Add(3 * time.Minute)
	calls := 0
	redisstore.SetBeforeWrite(s, func() {
		calls++
		if calls == 1 { // another process touches a: b becomes the oldest
			if _, err := other.Apply(ctx, &session.Change{ID: a.ID, Now: at, LastSeen: at}); err != nil {
				t.Errorf("touch from the other store: %v", err)
			}
		}
	})
	r := sessiontest.NewRecord(session.NewID(), "alice", at)
	if _, err := s.Apply(ctx, &session.Change{ID: r.ID, Now: at, Create: r, MaxUserSessions: 2}); err != nil {
		t.Fatalf("Apply(insert with the limit): %v", err)
	}
	redisstore.SetBeforeWrite(s, nil)
	if calls != 2 {
		t.Errorf("attempts = %d; want 2 (the touch is a conflict)", calls)
	}
	if _, err := s.Load(ctx, a.ID, at); err != nil {
		t.Errorf("Load(a, touched last) = %v; want it live", err)
	}
	if _, err := s.Load(ctx, b.ID, at); !errors.Is(err, session.ErrNotFound) {
		t.Errorf("Load(b, now least recently seen) = %v; want ErrNotFound", err)
	}
	got, err := s.UserSessions(ctx, "alice", at)
	if err != nil || len(got) != 2 {
		t.Fatalf("UserSessions(alice) = %d records, %v; want 2", len(got), err)
	}
	mustCheck(t, s)
}
