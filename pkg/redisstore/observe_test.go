package redisstore_test

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sesbolt/sesbolt/internal/redistest"
	"github.com/sesbolt/sesbolt/pkg/redisstore"
	"github.com/sesbolt/sesbolt/pkg/session"
	"github.com/sesbolt/sesbolt/pkg/session/sessiontest"
)

// observedOptions returns testOptions reporting to rec.
func observedOptions(t testing.TB, rec *sessiontest.Recorder) *redisstore.Options {
	o := testOptions(t)
	o.Observer = rec.StoreObserver()
	return o
}

// TestObserverConformance runs the observer suite on a single server,
// where the per-user limit is part of the change's step, and on Cluster,
// where a step after the write enforces it.
func TestObserverConformance(t *testing.T) {
	onEachKind(t, func(t *testing.T, rc redis.UniversalClient) {
		sessiontest.RunObserver(t, func(t *testing.T, obs session.StoreObserver) session.Store {
			o := testOptions(t)
			o.Observer = obs
			return newStore(t, rc, o)
		})
	})
}

// TestObserveEndedOnceUnderRace: stores of two processes (two Store
// values on one prefix) destroying and deleting the same sessions at once
// report each session ended exactly once between them.
func TestObserveEndedOnceUnderRace(t *testing.T) {
	onEachKind(t, func(t *testing.T, rc redis.UniversalClient) {
		rec := &sessiontest.Recorder{}
		o := observedOptions(t, rec)
		a, b := newStore(t, rc, o), newStore(t, rc, o)
		now := sessiontest.Base()
		var recs []*session.Record
		for range 20 {
			recs = append(recs, sessiontest.NewRecord(session.NewID(), "alice", now))
		}
		sessiontest.Insert(t, a, recs...)
		rec.Reset()
		ctx := session.WithEndReason(context.Background(), session.EndRevoked)
		var wg sync.WaitGroup
		errs := make(chan error, 4*len(recs))
		for _, r := range recs {
			for _, s := range []*redisstore.Store{a, b} {
				wg.Add(2)
				go func() {
					defer wg.Done()
					_, err := s.Apply(ctx, &session.Change{ID: r.ID, Now: now, Destroy: true})
					errs <- err
				}()
				go func() {
					defer wg.Done()
					_, err := s.Delete(ctx, r.ID)
					errs <- err
				}()
			}
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatalf("removing concurrently: %v", err)
			}
		}
		got := map[session.ID]int{}
		for _, e := range rec.Ended() {
			got[e.ID]++
			if e.Reason != session.EndRevoked || e.User != "alice" {
				t.Errorf("Ended %+v; want alice's, revoked", e)
			}
		}
		for _, r := range recs {
			if got[r.ID] != 1 {
				t.Errorf("session reported ended %d times; want once", got[r.ID])
			}
		}
	})
}

// TestObserveCommits: every Apply that reaches Redis is one commit of
// size 1, counted in Stats.Commits; a data outcome (not found) is a
// commit without error; a failure of Redis is a failed commit and a
// Failed "apply".
func TestObserveCommits(t *testing.T) {
	srv := redistest.Start(t)
	rc := srv.Client(t)
	rec := &sessiontest.Recorder{}
	s := newStore(t, rc, observedOptions(t, rec))
	ctx := context.Background()
	now := sessiontest.Base()
	r := sessiontest.Insert(t, s, sessiontest.NewRecord(session.NewID(), "alice", now))[0]
	set := &session.Change{ID: r.ID, Now: now, Set: map[string]json.RawMessage{"a": json.RawMessage(`1`)}}
	if _, err := s.Apply(ctx, set); err != nil {
		t.Fatal(err)
	}
	missing := &session.Change{ID: session.NewID(), Now: now, Set: set.Set}
	if _, err := s.Apply(ctx, missing); !errors.Is(err, session.ErrNotFound) {
		t.Fatalf("Apply to a missing session: %v; want ErrNotFound", err)
	}
	// A malformed change never reaches Redis: no commit.
	if _, err := s.Apply(ctx, &session.Change{Now: now}); err == nil {
		t.Fatal("Apply of a change without an id succeeded")
	}
	commits := rec.Commits()
	if len(commits) != 3 {
		t.Fatalf("Committed reported %d commits; want 3 (insert, update, not found)", len(commits))
	}
	for _, c := range commits {
		if c.Size != 1 || c.Err != nil || c.Duration <= 0 {
			t.Errorf("Committed %+v; want size 1, no error, a duration", c)
		}
	}
	st, err := s.Stats(ctx, now)
	if err != nil {
		t.Fatal(err)
	}
	if st.Commits.Count != 3 || st.Commits.Changes != 3 || st.Commits.Failed != 0 || st.Commits.Max <= 0 {
		t.Errorf("Stats.Commits = %+v; want 3 commits of 3 changes, none failed", st.Commits)
	}
	if f := rec.Failures(); len(f) > 0 {
		t.Errorf("Failed reported %v; nothing failed", f)
	}

	rec.Reset()
	if err := srv.Stop(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Apply(ctx, set); !errors.Is(err, redisstore.ErrRedis) {
		t.Fatalf("Apply with the server gone: %v; want ErrRedis", err)
	}
	if c := rec.Commits(); len(c) != 1 || !errors.Is(c[0].Err, redisstore.ErrRedis) {
		t.Errorf("Committed %+v; want one commit failing with ErrRedis", c)
	}
	if f := rec.Failures(); !slices.Equal(f, []string{"apply"}) {
		t.Errorf("Failed reported %v; want [apply]", f)
	}
}

// TestObserveFailed: errors of Redis are reported under the operation's
// name; a deadline of the caller's that ends a call is not a failure of
// the store, nor is a data outcome.
func TestObserveFailed(t *testing.T) {
	srv := redistest.Start(t)
	o := srv.Options()
	o.ReadTimeout, o.WriteTimeout = time.Minute, time.Minute // only the context may end a call early
	o.MaxRetries = 0
	rc := redis.NewClient(o)
	t.Cleanup(func() { rc.Close() })
	rec := &sessiontest.Recorder{}
	s := newStore(t, rc, observedOptions(t, rec))
	now := sessiontest.Base()
	r := sessiontest.Insert(t, s, sessiontest.NewRecord(session.NewID(), "alice", now))[0]
	if _, err := s.Load(context.Background(), session.NewID(), now); !errors.Is(err, session.ErrNotFound) {
		t.Fatalf("Load of a missing id: %v", err)
	}

	if err := srv.Pause(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	_, err := s.Load(ctx, r.ID, now)
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Load on a hung server: %v; want DeadlineExceeded", err)
	}
	if err := srv.Resume(); err != nil {
		t.Fatal(err)
	}
	if f := rec.Failures(); len(f) > 0 {
		t.Errorf("Failed reported %v for a not-found and a deadline; want nothing", f)
	}

	if err := srv.Stop(); err != nil {
		t.Fatal(err)
	}
	ctx = context.Background()
	calls := []struct {
		op   string
		call func() error
	}{
		{"load", func() error { _, err := s.Load(ctx, r.ID, now); return err }},
		{"delete", func() error { _, err := s.Delete(ctx, r.ID); return err }},
		{"delete_user", func() error { _, err := s.DeleteUser(ctx, "alice"); return err }},
		{"user_sessions", func() error { _, err := s.UserSessions(ctx, "alice", now); return err }},
		{"list", func() error { _, err := s.List(ctx, session.ListQuery{Now: now, Limit: 10}); return err }},
		{"stats", func() error { _, err := s.Stats(ctx, now); return err }},
		{"purge", func() error { _, err := s.Purge(ctx, now); return err }},
	}
	for _, c := range calls {
		rec.Reset()
		if err := c.call(); !errors.Is(err, redisstore.ErrRedis) {
			t.Errorf("%s with the server gone: %v; want ErrRedis", c.op, err)
		}
		if f := rec.Failures(); !slices.Equal(f, []string{c.op}) {
			t.Errorf("%s: Failed reported %v; want [%s]", c.op, f, c.op)
		}
		if p := rec.Reaped(); len(p) > 0 {
			t.Errorf("%s: Reaped reported %+v for a pass that failed", c.op, p)
		}
	}
}

// TestObserveSealFailed: a tampered record is reported once, however often
// it is read, and treated as absent.
func TestObserveSealFailed(t *testing.T) {
	onEachKind(t, func(t *testing.T, rc redis.UniversalClient) {
		rec := &sessiontest.Recorder{}
		opts := observedOptions(t, rec)
		s := newStore(t, rc, opts)
		k := keyNames{opts.Prefix}
		ctx := context.Background()
		now := sessiontest.Base()
		victim := sessiontest.Insert(t, s, sessiontest.NewRecord(session.NewID(), "alice", now))[0]
		edited := strings.Replace(rc.Get(ctx, k.record(victim.ID)).Val(), `"user":"alice"`, `"user":"admin"`, 1)
		if err := rc.Set(ctx, k.record(victim.ID), edited, redis.KeepTTL).Err(); err != nil {
			t.Fatal(err)
		}
		for range 3 {
			if _, err := s.Load(ctx, victim.ID, now); !errors.Is(err, session.ErrNotFound) {
				t.Fatalf("Load of a tampered record: %v; want ErrNotFound", err)
			}
		}
		if _, err := s.Apply(ctx, &session.Change{ID: victim.ID, Now: now, Set: map[string]json.RawMessage{"a": json.RawMessage(`1`)}}); !errors.Is(err, session.ErrNotFound) {
			t.Fatalf("Apply to a tampered record: %v; want ErrNotFound", err)
		}
		if got := rec.SealFailures(); !slices.Equal(got, []session.ID{victim.ID}) {
			t.Errorf("SealFailed reported %v; want the tampered id once", got)
		}

		// Removing it reports it ended, with the user it names.
		rec.Reset()
		if n, err := s.Delete(ctx, victim.ID); err != nil || n != 1 {
			t.Fatalf("Delete = %d, %v", n, err)
		}
		if got := rec.Ended(); len(got) != 1 || got[0].ID != victim.ID || got[0].User != "admin" {
			t.Errorf("Ended reported %+v; want the tampered record, as admin's", got)
		}
	})
}

// TestPurgeIsLastReap: Stats.LastReap describes the store's latest Purge.
func TestPurgeIsLastReap(t *testing.T) {
	s := newStore(t, redistest.Shared(t).Client(t), nil)
	ctx := context.Background()
	now := sessiontest.Base()
	if st, err := s.Stats(ctx, now); err != nil || !st.LastReap.At.IsZero() {
		t.Fatalf("Stats before any Purge: LastReap %+v, %v; want zero", st.LastReap, err)
	}
	sessiontest.Insert(t, s, sessiontest.NewRecord(session.NewID(), "", now))
	later := now.Add(sessiontest.Lifetime + time.Hour)
	if n, err := s.Purge(ctx, later); err != nil || n != 1 {
		t.Fatalf("Purge = %d, %v; want 1", n, err)
	}
	st, err := s.Stats(ctx, later)
	if err != nil {
		t.Fatal(err)
	}
	if !st.LastReap.At.Equal(later) || st.LastReap.Removed != 1 {
		t.Errorf("LastReap = %+v; want the pass at %s that removed 1", st.LastReap, later)
	}
}
