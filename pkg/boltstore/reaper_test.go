package boltstore_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sesbolt/sesbolt/pkg/boltstore"
	"github.com/sesbolt/sesbolt/pkg/session"
	"github.com/sesbolt/sesbolt/pkg/session/sessiontest"
)

// insertConcurrently inserts the records with 64 writers.
func insertConcurrently(t testing.TB, s *boltstore.Store, recs []*session.Record) {
	t.Helper()
	var wg sync.WaitGroup
	var failed atomic.Pointer[error]
	next := atomic.Int64{}
	for range 64 {
		wg.Go(func() {
			for {
				i := next.Add(1) - 1
				if i >= int64(len(recs)) {
					return
				}
				if _, err := s.Apply(context.Background(), sessiontest.CreateChange(recs[i])); err != nil {
					failed.Store(&err)
					return
				}
			}
		})
	}
	wg.Wait()
	if err := failed.Load(); err != nil {
		t.Fatalf("insert: %v", *err)
	}
}

func TestReapSameInstant(t *testing.T) {
	s, _ := openTemp(t)
	const n = 10000
	now := sessiontest.Base()
	recs := make([]*session.Record, n)
	for i := range recs {
		recs[i] = sessiontest.NewRecord(session.NewID(), fmt.Sprintf("user%d", i%100), now)
		recs[i].Data = nil
	}
	insertConcurrently(t, s, recs)
	// A live session expiring later must stay.
	keep := insert(t, s, 1, now.Add(time.Hour), nil)[0]

	expires := recs[0].Expires()
	before := boltstore.ReapTxs(s)
	largest := 0
	boltstore.SetReapHook(s, func(keys [][]byte) { largest = max(largest, len(keys)) })
	removed, err := s.Purge(context.Background(), expires)
	if err != nil {
		t.Fatal(err)
	}
	if removed != n {
		t.Fatalf("Purge removed %d, want %d", removed, n)
	}
	// Bounded transactions: at most ReapBatch (1000) entries per round.
	if largest > boltstore.DefaultReapBatch {
		t.Errorf("a round handled %d entries, more than ReapBatch", largest)
	}
	if txs := boltstore.ReapTxs(s) - before; txs < n/boltstore.DefaultReapBatch {
		t.Errorf("Purge used %d write transactions for %d entries", txs, n)
	}
	st, err := s.Stats(context.Background(), expires)
	if err != nil {
		t.Fatal(err)
	}
	if st.Sessions != 1 || st.Expired != 0 || st.Users != 0 || st.LastReap.Removed != n || !st.LastReap.At.Equal(expires) ||
		st.LastReap.LongestStep <= 0 || st.LastReap.LongestStep > st.LastReap.Duration {
		t.Fatalf("Stats after purge: %+v", st)
	}
	if _, err := s.Load(context.Background(), keep.ID, expires); err != nil {
		t.Fatalf("live session: %v", err)
	}
	mustCheck(t, s)
}

func TestReapRechecksTouchedSession(t *testing.T) {
	s, _ := openTemp(t)
	now := sessiontest.Base()
	recs := insert(t, s, 3, now, nil)
	touched, expired, untouched := recs[0], recs[1], recs[2]
	expires := touched.Expires()

	// Between the scan (which saw all three due) and the deleting
	// transaction, one session is touched: its idle expiry moves on.
	var hookCalls int
	boltstore.SetReapHook(s, func(keys [][]byte) {
		hookCalls++
		if hookCalls > 1 {
			return
		}
		if len(keys) != 3 {
			t.Errorf("scan found %d due entries, want 3", len(keys))
		}
		at := expires.Add(-time.Second)
		_, err := s.Apply(context.Background(), &session.Change{ID: touched.ID, Now: at,
			LastSeen: at, IdleExpires: at.Add(sessiontest.IdleTimeout)})
		if err != nil {
			t.Errorf("touch: %v", err)
		}
	})
	_ = untouched
	removed, err := s.Purge(context.Background(), expires)
	if err != nil {
		t.Fatal(err)
	}
	if removed != 2 {
		t.Fatalf("Purge removed %d, want 2 (the touched session survives)", removed)
	}
	if _, err := s.Load(context.Background(), touched.ID, expires); err != nil {
		t.Fatalf("touched session: %v", err)
	}
	if _, err := s.Load(context.Background(), expired.ID, now); !errors.Is(err, session.ErrNotFound) {
		t.Fatalf("expired session: %v; want removed", err)
	}
	mustCheck(t, s)
}

func TestReapStaleEntries(t *testing.T) {
	s, _ := openTemp(t)
	now := sessiontest.Base()
	live := insert(t, s, 1, now, func(int) string { return "alice" })[0]
	// A stale entry (the record now expires later) and an orphan entry.
	past := uint64(now.Add(-time.Hour).UnixNano())
	if err := boltstore.PutRawExpiryEntry(s, past, live.ID); err != nil {
		t.Fatal(err)
	}
	if err := boltstore.PutRawExpiryEntry(s, past, session.NewID()); err != nil {
		t.Fatal(err)
	}
	if rep, err := s.Diagnose(context.Background()); err != nil || rep.OK() {
		t.Fatalf("Check with stale entries = %+v, %v; want problems", rep, err)
	}
	removed, err := s.Purge(context.Background(), now)
	if err != nil || removed != 0 {
		t.Fatalf("Purge = %d, %v; want 0 removed", removed, err)
	}
	if _, err := s.Load(context.Background(), live.ID, now); err != nil {
		t.Fatalf("live session with a stale entry: %v", err)
	}
	mustCheck(t, s) // the stale and orphan entries are gone
}

func TestReaperRuns(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sessions.db")
	var clock atomic.Int64
	now := sessiontest.Base()
	clock.Store(now.UnixNano())
	opts := testOptions(t)
	opts.ReapInterval = 10 * time.Millisecond
	opts.Now = func() time.Time { return time.Unix(0, clock.Load()) }
	s := openAt(t, path, opts)
	recs := insert(t, s, 20, now, nil)
	clock.Store(recs[0].Expires().UnixNano())
	deadline := time.Now().Add(5 * time.Second)
	for {
		st, err := s.Stats(context.Background(), now)
		if err != nil {
			t.Fatal(err)
		}
		if st.Sessions == 0 {
			if st.LastReap.At.IsZero() {
				t.Fatalf("LastReap not recorded: %+v", st)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("reaper did not remove expired sessions: %+v", st)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := s.Close(); err != nil { // stops the reaper
		t.Fatal(err)
	}
}

// TestRandomOperationsConsistent runs random sequences of every kind of
// write against one store, with a clock that moves forward, and checks after
// every few steps that records and index entries match one to one and the
// counters agree.
func TestRandomOperationsConsistent(t *testing.T) {
	for seed := range uint64(3) {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			s, _ := openTemp(t)
			rng := rand.New(rand.NewPCG(seed, 42))
			now := sessiontest.Base()
			users := []string{"", "alice", "bob", "carol", "d\x00ve", "ä"}
			var ids []session.ID
			pick := func() session.ID {
				if len(ids) == 0 || rng.IntN(10) == 0 {
					return session.NewID() // sometimes a missing one
				}
				return ids[rng.IntN(len(ids))]
			}
			ctx := context.Background()
			for step := range 400 {
				now = now.Add(time.Duration(rng.IntN(int(5 * time.Minute))))
				var err error
				switch op := rng.IntN(10); op {
				case 0, 1:
					r := sessiontest.NewRecord(session.NewID(), users[rng.IntN(len(users))], now)
					_, err = s.Apply(ctx, sessiontest.CreateChange(r))
					ids = append(ids, r.ID)
				case 2:
					_, err = s.Apply(ctx, &session.Change{ID: pick(), Now: now,
						Set: map[string]json.RawMessage{fmt.Sprint("k", rng.IntN(5)): rawJSON(step)}})
				case 3:
					_, err = s.Apply(ctx, &session.Change{ID: pick(), Now: now, LastSeen: now,
						IdleExpires: now.Add(sessiontest.IdleTimeout)})
				case 4:
					u := users[rng.IntN(len(users))]
					_, err = s.Apply(ctx, &session.Change{ID: pick(), Now: now, NewID: session.NewID(), User: &u,
						Deadline: now.Add(sessiontest.Lifetime)})
				case 5:
					id := pick()
					var r *session.Record
					if r, err = s.Apply(ctx, &session.Change{ID: id, Now: now, NewID: session.NewID()}); err == nil {
						ids = append(ids, r.ID)
					}
				case 6:
					_, err = s.Apply(ctx, &session.Change{ID: pick(), Now: now, Destroy: true})
				case 7:
					_, err = s.Delete(ctx, pick(), pick())
				case 8:
					_, err = s.DeleteUser(ctx, users[rng.IntN(len(users))])
				case 9:
					_, err = s.Purge(ctx, now)
				}
				if err != nil && !errors.Is(err, session.ErrNotFound) {
					t.Fatalf("step %d: %v", step, err)
				}
				if step%50 == 49 {
					rep := mustCheck(t, s)
					st, err := s.Stats(ctx, now)
					if err != nil {
						t.Fatal(err)
					}
					if st.Sessions != rep.Sessions || st.Sessions != rep.ExpiryEntries {
						t.Fatalf("step %d: Stats %+v disagree with Check %+v", step, st, rep)
					}
				}
			}
		})
	}
}
