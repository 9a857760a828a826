package boltstore_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sesbolt/sesbolt/pkg/boltstore"
	"github.com/sesbolt/sesbolt/pkg/session"
	"github.com/sesbolt/sesbolt/pkg/session/sessiontest"
)

// observedOptions returns testOptions reporting to rec.
func observedOptions(t testing.TB, rec *sessiontest.Recorder) *boltstore.Options {
	o := testOptions(t)
	o.Observer = rec.StoreObserver()
	return o
}

func TestObserverConformance(t *testing.T) {
	sessiontest.RunObserver(t, func(t *testing.T, obs session.StoreObserver) session.Store {
		o := testOptions(t)
		o.Observer = obs
		return openAt(t, filepath.Join(t.TempDir(), "sessions.db"), o)
	})
}

// TestObserveDeleteInBatches: a Delete larger than one transaction
// (ReapBatch) reports every removed session once.
func TestObserveDeleteInBatches(t *testing.T) {
	rec := &sessiontest.Recorder{}
	o := observedOptions(t, rec)
	o.ReapBatch = 7
	s := openAt(t, filepath.Join(t.TempDir(), "sessions.db"), o)
	recs := insert(t, s, 30, sessiontest.Base(), func(i int) string { return fmt.Sprint("u", i%2) })
	ids := make([]session.ID, len(recs))
	for i, r := range recs {
		ids[i] = r.ID
	}
	if n, err := s.DeleteUser(session.WithEndReason(context.Background(), session.EndRevoked), "u0"); err != nil || n != 15 {
		t.Fatalf("DeleteUser = %d, %v", n, err)
	}
	if n, err := s.Delete(session.WithEndReason(context.Background(), session.EndLimit), ids...); err != nil || n != 15 {
		t.Fatalf("Delete = %d, %v", n, err)
	}
	seen := map[session.ID]session.EndReason{}
	for _, e := range rec.Ended() {
		if _, dup := seen[e.ID]; dup {
			t.Errorf("%s reported twice", e.ID)
		}
		seen[e.ID] = e.Reason
	}
	for i, r := range recs {
		want := session.EndRevoked
		if i%2 == 1 {
			want = session.EndLimit
		}
		if seen[r.ID] != want {
			t.Errorf("session %d (%s): reason %q, want %q", i, r.ID, seen[r.ID], want)
		}
	}
}

// TestObserveCommits: every group commit is reported once with the number
// of operations it carried, and Stats.Commits sums up the same.
func TestObserveCommits(t *testing.T) {
	rec := &sessiontest.Recorder{}
	s := openAt(t, filepath.Join(t.TempDir(), "sessions.db"), observedOptions(t, rec))
	ctx := context.Background()
	now := sessiontest.Base()
	const writers, perWriter = 16, 10
	recs := insert(t, s, writers, now, nil)
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range perWriter {
				c := &session.Change{ID: recs[w].ID, Now: now, Set: map[string]json.RawMessage{fmt.Sprint("k", i): rawJSON(i)}}
				if _, err := s.Apply(ctx, c); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	if _, err := s.Delete(ctx, recs[0].ID); err != nil {
		t.Fatal(err)
	}

	commits := rec.Commits()
	ops := 0
	for _, c := range commits {
		if c.Err != nil || c.Size < 1 || c.Duration <= 0 {
			t.Errorf("commit %+v", c)
		}
		ops += c.Size
	}
	if want := writers + writers*perWriter + 1; ops != want {
		t.Errorf("commits carried %d operations, want %d (inserts, changes, a delete)", ops, want)
	}
	if n := int64(len(commits)); n != boltstore.Commits(s) {
		t.Errorf("%d commits reported, the committer ran %d", n, boltstore.Commits(s))
	}
	st, err := s.Stats(ctx, now)
	if err != nil {
		t.Fatal(err)
	}
	c := st.Commits
	if c.Count != int64(len(commits)) || c.Changes != int64(ops) || c.Failed != 0 {
		t.Errorf("Stats.Commits = %+v; want %d commits of %d operations", c, len(commits), ops)
	}
	if !(0 < c.P50 && c.P50 <= c.P90 && c.P90 <= c.P99 && c.P99 <= c.Max) {
		t.Errorf("Stats.Commits percentiles out of order: %+v", c)
	}
}

// TestObserveReaper: the background reaper reports every session it
// removes as expired, once, then its pass, which Stats.LastReap shows.
func TestObserveReaper(t *testing.T) {
	rec := &sessiontest.Recorder{}
	var clock atomic.Int64
	now := sessiontest.Base()
	clock.Store(now.UnixNano())
	o := observedOptions(t, rec)
	o.ReapInterval = 5 * time.Millisecond
	o.ReapBatch = 16 // several rounds
	o.Now = func() time.Time { return time.Unix(0, clock.Load()) }
	s := openAt(t, filepath.Join(t.TempDir(), "sessions.db"), o)
	recs := insert(t, s, 40, now, func(i int) string { return fmt.Sprint("user", i%3) })
	live := sessiontest.NewRecord(session.NewID(), "stays", now.Add(time.Hour))
	if _, err := s.Apply(context.Background(), sessiontest.CreateChange(live)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "an empty pass", func() bool { return len(rec.Reaped()) > 0 })
	if e := rec.Ended(); len(e) > 0 {
		t.Fatalf("passes before expiry ended %+v", e)
	}

	clock.Store(recs[0].Expires().Add(time.Minute).UnixNano())
	waitFor(t, "the reaper to remove 40 sessions", func() bool { return len(rec.Ended()) >= len(recs) })
	n := len(rec.Reaped())
	waitFor(t, "two more passes", func() bool { return len(rec.Reaped()) >= n+2 })
	if err := s.Close(); err != nil { // no pass after this
		t.Fatal(err)
	}

	users := map[session.ID]string{}
	for _, r := range recs {
		users[r.ID] = r.UserID
	}
	for _, e := range rec.Ended() {
		if user, ok := users[e.ID]; !ok || user != e.User || e.Reason != session.EndExpired {
			t.Errorf("reported %+v; want each of the 40 once, expired, with its user", e)
		}
		delete(users, e.ID)
	}
	removed := 0
	passes := rec.Reaped()
	for _, p := range passes {
		removed += p.Removed
	}
	if removed != len(recs) || len(users) != 0 {
		t.Errorf("passes removed %d, %d sessions not reported; want 40 and 0", removed, len(users))
	}
}

// TestObserveSealFailed: a record failing its seal is reported once, after
// the operation that found it (an Apply: inside the committer's
// transaction), so the observer may use the store.
func TestObserveSealFailed(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sessions.db")
	s := openAt(t, path, testOptions(t))
	now := sessiontest.Base()
	victim := sessiontest.NewRecord(session.NewID(), "alice", now)
	victim.Data["role"] = rawJSON("user-role-marker")
	recs := insert(t, s, 1, now, nil)
	if _, err := s.Apply(context.Background(), sessiontest.CreateChange(victim)); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b = bytes.ReplaceAll(b, []byte(`"user-role-marker"`), []byte(`"admn-role-marker"`))
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}

	rec := &sessiontest.Recorder{}
	var store *boltstore.Store
	var nested error
	o := testOptions(t)
	o.Observer = session.JoinStoreObservers(rec.StoreObserver(), session.StoreObserver{
		SealFailed: func(session.ID) {
			// Inside the committer this would wait for itself forever.
			_, nested = store.Apply(context.Background(), &session.Change{ID: recs[0].ID, Now: now, LastSeen: now})
		},
	})
	store = openAt(t, path, o)
	done := make(chan error, 1)
	go func() {
		_, err := store.Apply(context.Background(), &session.Change{ID: victim.ID, Now: now, LastSeen: now})
		done <- err
	}()
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("update of a tampered record succeeded")
		}
	case <-time.After(time.Minute):
		t.Fatal("an observer using the store from SealFailed deadlocked")
	}
	if nested != nil {
		t.Errorf("Apply from the observer: %v", nested)
	}
	for range 2 {
		store.Load(context.Background(), victim.ID, now)
	}
	if got := rec.SealFailures(); len(got) != 1 || got[0] != victim.ID {
		t.Errorf("SealFailed reported %v; want %s once", got, victim.ID)
	}
}

// waitFor polls cond until it holds, failing the test after a minute.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}
