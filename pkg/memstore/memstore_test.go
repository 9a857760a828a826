package memstore_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/sesbolt/sesbolt/pkg/memstore"
	"github.com/sesbolt/sesbolt/pkg/session"
	"github.com/sesbolt/sesbolt/pkg/session/sessiontest"
)

// newStore returns a Store that the test closes when it ends.
func newStore(t *testing.T, opts *memstore.Options) *memstore.Store {
	t.Helper()
	s := memstore.New(opts)
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

func TestConformance(t *testing.T) {
	t.Run("Defaults", func(t *testing.T) {
		sessiontest.Run(t, func(t *testing.T) session.Store { return newStore(t, nil) })
	})
	// A cleanup goroutine that runs all the time, on the real clock, must
	// neither race with the operations nor remove the suite's records
	// (they expire in the future).
	t.Run("BusyCleanup", func(t *testing.T) {
		sessiontest.Run(t, func(t *testing.T) session.Store {
			return newStore(t, &memstore.Options{CleanupInterval: time.Millisecond})
		})
	})
}

func TestObserverConformance(t *testing.T) {
	sessiontest.RunObserver(t, func(t *testing.T, obs session.StoreObserver) session.Store {
		return newStore(t, &memstore.Options{CleanupInterval: -1, Observer: obs})
	})
}

// TestCleanupReportsEnded: the cleanup goroutine reports each session it
// removes as expired, once, then its pass; passes that remove nothing are
// reported too.
func TestCleanupReportsEnded(t *testing.T) {
	base := sessiontest.Base()
	clock := &fakeClock{now: base}
	rec := &sessiontest.Recorder{}
	s := newStore(t, &memstore.Options{CleanupInterval: time.Millisecond, Now: clock.Now, Observer: rec.StoreObserver()})
	short := sessiontest.Insert(t, s, sessiontest.NewRecord(session.NewID(), "alice", base))[0]
	waitFor(t, "two empty passes reported", func() bool { return len(rec.Reaped()) >= 2 })
	if ended := rec.Ended(); len(ended) != 0 {
		t.Fatalf("passes before expiry reported %+v ended", ended)
	}

	clock.Set(base.Add(time.Hour))
	waitFor(t, "a pass that removed the session", func() bool {
		for _, p := range rec.Reaped() {
			if p.Removed == 1 {
				return true
			}
		}
		return false
	})
	n := len(rec.Reaped())
	waitFor(t, "two more passes", func() bool { return len(rec.Reaped()) >= n+2 })
	want := []session.Ended{{ID: short.ID, User: "alice", Reason: session.EndExpired}}
	if got := rec.Ended(); len(got) != 1 || got[0] != want[0] {
		t.Fatalf("Ended reported %+v; want %+v once", got, want)
	}
}

// fakeClock is a settable clock that counts its readings.
type fakeClock struct {
	mu    sync.Mutex
	now   time.Time
	reads atomic.Int64
}

func (c *fakeClock) Now() time.Time {
	c.reads.Add(1)
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

// waitFor polls cond until it holds, failing the test after a few seconds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestCleanupRemovesExpired(t *testing.T) {
	ctx := t.Context()
	base := sessiontest.Base()
	clock := &fakeClock{now: base}
	s := newStore(t, &memstore.Options{CleanupInterval: time.Millisecond, Now: clock.Now})

	short := sessiontest.NewRecord(sessiontest.SeqID(1), "alice", base) // expires at base+30m
	long := sessiontest.NewRecord(sessiontest.SeqID(2), "alice", base)
	long.IdleExpires = base.Add(2 * time.Hour)
	sessiontest.Insert(t, s, short, long)

	// Cleanup passes at base remove nothing.
	reads := clock.reads.Load()
	waitFor(t, "two cleanup passes", func() bool { return clock.reads.Load() >= reads+2 })
	if st, err := s.Stats(ctx, base); err != nil || st.Sessions != 2 {
		t.Fatalf("Stats before expiry = %+v, %v; want 2 sessions", st, err)
	}

	clock.Set(base.Add(time.Hour))
	waitFor(t, "the expired record to be removed", func() bool {
		st, err := s.Stats(ctx, base)
		return err == nil && st.Sessions == 1
	})
	// Removed, not just expired: gone even as of base.
	if _, err := s.Load(ctx, short.ID, base); !errors.Is(err, session.ErrNotFound) {
		t.Fatalf("Load of the removed record: %v, want ErrNotFound", err)
	}
	if got, err := s.Load(ctx, long.ID, base.Add(time.Hour)); err != nil || got.ID != long.ID {
		t.Fatalf("Load of the live record = %v, %v", got, err)
	}
	if recs, err := s.UserSessions(ctx, "alice", base); err != nil || len(recs) != 1 || recs[0].ID != long.ID {
		t.Fatalf("UserSessions after cleanup = %d records, %v; want only %s", len(recs), err, long.ID)
	}
	st, err := s.Stats(ctx, base)
	if err != nil {
		t.Fatal(err)
	}
	if !st.LastReap.At.Equal(base.Add(time.Hour)) {
		t.Fatalf("Stats.LastReap.At = %v, want the fake clock's %v", st.LastReap.At, base.Add(time.Hour))
	}
}

// TestCleanupRemovesTombstones: the tombstone a renew leaves keeps its id
// taken until the cleanup goroutine or Purge removes it once it ended.
func TestCleanupRemovesTombstones(t *testing.T) {
	base := sessiontest.Base()
	end := base.Add(session.RenewGrace)
	for _, by := range []string{"cleanup", "purge"} {
		t.Run(by, func(t *testing.T) {
			clock := &fakeClock{now: base}
			opts := &memstore.Options{CleanupInterval: -1, Now: clock.Now}
			if by == "cleanup" {
				opts.CleanupInterval = time.Millisecond
			}
			s := newStore(t, opts)
			old := sessiontest.Insert(t, s, sessiontest.NewRecord(session.NewID(), "alice", base))[0].ID
			if _, err := s.Apply(t.Context(), &session.Change{ID: old, Now: base, NewID: session.NewID()}); err != nil {
				t.Fatal(err)
			}
			insertOld := func() error {
				_, err := s.Apply(t.Context(), sessiontest.CreateChange(sessiontest.NewRecord(old, "", end)))
				if err != nil && !errors.Is(err, session.ErrExists) {
					t.Fatalf("insert under the old id: %v", err)
				}
				return err
			}
			if by == "cleanup" {
				reads := clock.reads.Load()
				waitFor(t, "two cleanup passes", func() bool { return clock.reads.Load() >= reads+2 })
			} else if _, err := s.Purge(t.Context(), end.Add(-time.Nanosecond)); err != nil {
				t.Fatal(err)
			}
			// Ended by now, but still stored: the id stays taken.
			if err := insertOld(); err == nil {
				t.Fatal("the old id was free again before its tombstone was removed")
			}
			clock.Set(end)
			if by == "cleanup" {
				waitFor(t, "the tombstone to be removed", func() bool { return insertOld() == nil })
				return
			}
			if n, err := s.Purge(t.Context(), end); err != nil || n != 0 {
				t.Fatalf("Purge = %d, %v; want 0 (tombstones are not counted), <nil>", n, err)
			}
			if err := insertOld(); err != nil {
				t.Fatalf("the old id is still taken after Purge removed its tombstone: %v", err)
			}
		})
	}
}

// TestCloseStopsCleanup: Close waits for a cleanup pass in progress,
// including its report to the observer, and the goroutine then ends (the
// synctest bubble fails the test if a goroutine of it outlives it).
func TestCloseStopsCleanup(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		entered := make(chan struct{})
		release := make(chan struct{})
		var once sync.Once
		reaped := func(session.ReapStats) {
			once.Do(func() { // block the first pass inside its report
				close(entered)
				<-release
			})
		}
		s := memstore.New(&memstore.Options{CleanupInterval: time.Minute, Observer: session.StoreObserver{Reaped: reaped}})
		<-entered

		var closeReturned atomic.Bool
		closed := make(chan struct{})
		go func() {
			defer close(closed)
			if err := s.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
			closeReturned.Store(true)
		}()
		synctest.Wait() // every goroutine of the bubble is blocked
		if closeReturned.Load() {
			t.Error("Close returned while a cleanup pass was still reporting")
		}
		close(release)
		<-closed

		// Close is idempotent, also concurrently.
		var wg sync.WaitGroup
		for range 4 {
			wg.Go(func() {
				if err := s.Close(); err != nil {
					t.Errorf("Close again: %v", err)
				}
			})
		}
		wg.Wait()
	})
}

// TestCleanupDisabled: a negative CleanupInterval starts no goroutine, so
// a day later the clock was never read and expired records stay stored
// until Purge.
func TestCleanupDisabled(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		clock := &fakeClock{now: sessiontest.Base()}
		s := newStore(t, &memstore.Options{CleanupInterval: -1, Now: clock.Now})
		sessiontest.Insert(t, s, sessiontest.NewRecord(sessiontest.SeqID(1), "", sessiontest.Base()))
		clock.Set(sessiontest.Base().Add(24 * time.Hour))
		time.Sleep(24 * time.Hour) // the bubble's clock: no time passes
		if n := clock.reads.Load(); n != 0 {
			t.Fatalf("clock read %d times with cleanup disabled", n)
		}
		st, err := s.Stats(t.Context(), sessiontest.Base())
		if err != nil || st.Sessions != 1 || !st.LastReap.At.IsZero() {
			t.Fatalf("Stats = %+v, %v; want the record still stored and no pass", st, err)
		}
	})
}

// everyMethod returns a call of each of s's methods that take a context,
// each returning the method's error.
func everyMethod(ctx context.Context, s *memstore.Store, id session.ID, now time.Time) map[string]func() error {
	return map[string]func() error{
		"Load":       func() error { _, err := s.Load(ctx, id, now); return err },
		"LoadShared": func() error { _, err := s.LoadShared(ctx, id, now); return err },
		"Apply(insert)": func() error {
			_, err := s.Apply(ctx, sessiontest.CreateChange(sessiontest.NewRecord(sessiontest.SeqID(99), "", now)))
			return err
		},
		"Apply(update)":  func() error { _, err := s.Apply(ctx, &session.Change{ID: id, Now: now}); return err },
		"Apply(destroy)": func() error { _, err := s.Apply(ctx, &session.Change{ID: id, Now: now, Destroy: true}); return err },
		"Import": func() error {
			_, err := s.Import(ctx, []*session.Record{sessiontest.NewRecord(sessiontest.SeqID(98), "", now)}, now)
			return err
		},
		"Delete":           func() error { _, err := s.Delete(ctx, id); return err },
		"UserSessions":     func() error { _, err := s.UserSessions(ctx, "alice", now); return err },
		"DeleteUser":       func() error { _, err := s.DeleteUser(ctx, "alice"); return err },
		"DeleteUserExcept": func() error { _, err := s.DeleteUserExcept(ctx, "alice", id); return err },
		"List":             func() error { _, err := s.List(ctx, session.ListQuery{Now: now}); return err },
		"Stats":            func() error { _, err := s.Stats(ctx, now); return err },
		"Purge":            func() error { _, err := s.Purge(ctx, now); return err },
	}
}

func TestErrClosed(t *testing.T) {
	now := sessiontest.Base()
	s := memstore.New(nil)
	r := sessiontest.Insert(t, s, sessiontest.NewRecord(sessiontest.SeqID(1), "alice", now))[0]
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	for name, call := range everyMethod(t.Context(), s, r.ID, now) {
		if err := call(); !errors.Is(err, session.ErrClosed) {
			t.Errorf("%s after Close: %v, want ErrClosed", name, err)
		}
	}
}

func TestTooLarge(t *testing.T) {
	ctx := t.Context()
	now := sessiontest.Base()
	s := newStore(t, &memstore.Options{MaxRecordSize: 1024})
	r := sessiontest.Insert(t, s, sessiontest.NewRecord(sessiontest.SeqID(1), "alice", now))[0]
	big := json.RawMessage(`"` + strings.Repeat("x", 1024) + `"`)

	// An update that would grow the record too much writes nothing.
	_, err := s.Apply(ctx, &session.Change{ID: r.ID, Now: now, Set: map[string]json.RawMessage{"big": big}})
	if !errors.Is(err, session.ErrTooLarge) {
		t.Fatalf("Apply(set a large value) = %v, want ErrTooLarge", err)
	}
	if got, err := s.Load(ctx, r.ID, now); err != nil || !got.Equal(r) {
		t.Fatalf("record after a rejected update = %+v, %v; want it unchanged", got, err)
	}

	// So does a renew: the old id stays, the new one is not created.
	newID := sessiontest.SeqID(2)
	_, err = s.Apply(ctx, &session.Change{ID: r.ID, Now: now, NewID: newID, Set: map[string]json.RawMessage{"big": big}})
	if !errors.Is(err, session.ErrTooLarge) {
		t.Fatalf("Apply(renew with a large value) = %v, want ErrTooLarge", err)
	}
	if got, err := s.Load(ctx, r.ID, now); err != nil || !got.Equal(r) {
		t.Fatalf("record after a rejected renew = %+v, %v; want it unchanged", got, err)
	}
	if _, err := s.Load(ctx, newID, now); !errors.Is(err, session.ErrNotFound) {
		t.Fatalf("Load(new id) after a rejected renew: %v, want ErrNotFound", err)
	}

	// And an insert.
	rec := sessiontest.NewRecord(sessiontest.SeqID(3), "bob", now)
	rec.Data["big"] = big
	if _, err := s.Apply(ctx, sessiontest.CreateChange(rec)); !errors.Is(err, session.ErrTooLarge) {
		t.Fatalf("Apply(insert a large record) = %v, want ErrTooLarge", err)
	}
	if _, err := s.Load(ctx, rec.ID, now); !errors.Is(err, session.ErrNotFound) {
		t.Fatalf("Load after a rejected insert: %v, want ErrNotFound", err)
	}
	if recs, err := s.UserSessions(ctx, "bob", now); err != nil || len(recs) != 0 {
		t.Fatalf("UserSessions(bob) after a rejected insert = %d records, %v; want none", len(recs), err)
	}
}

func TestDefaultMaxRecordSize(t *testing.T) {
	ctx := t.Context()
	now := sessiontest.Base()
	s := newStore(t, nil)
	value := func(n int) json.RawMessage { return json.RawMessage(`"` + strings.Repeat("x", n) + `"`) }

	fits := sessiontest.NewRecord(sessiontest.SeqID(1), "", now)
	fits.Data["v"] = value(memstore.DefaultMaxRecordSize - 1024)
	if _, err := s.Apply(ctx, sessiontest.CreateChange(fits)); err != nil {
		t.Fatalf("Apply(insert a record just under 64 KiB): %v", err)
	}
	tooBig := sessiontest.NewRecord(sessiontest.SeqID(2), "", now)
	tooBig.Data["v"] = value(memstore.DefaultMaxRecordSize)
	if _, err := s.Apply(ctx, sessiontest.CreateChange(tooBig)); !errors.Is(err, session.ErrTooLarge) {
		t.Fatalf("Apply(insert a record over 64 KiB) = %v, want ErrTooLarge", err)
	}

	unlimited := newStore(t, &memstore.Options{MaxRecordSize: -1})
	if _, err := unlimited.Apply(ctx, sessiontest.CreateChange(tooBig)); err != nil {
		t.Fatalf("Apply(insert a large record) without a limit: %v", err)
	}
}

// TestUnencodable: a change or an import whose record cannot be encoded
// as JSON (a Data value that is not JSON, a time past the year 9999) is
// malformed input, an error wrapping session.ErrInvalid that no retry
// mends, and writes nothing.
func TestUnencodable(t *testing.T) {
	ctx := t.Context()
	now := sessiontest.Base()
	s := newStore(t, nil)
	r := sessiontest.Insert(t, s, sessiontest.NewRecord(sessiontest.SeqID(1), "", now))[0]
	badData := map[string]json.RawMessage{"bad": json.RawMessage(`{not json`)}
	farFuture := time.Date(10000, time.January, 1, 0, 0, 0, 0, time.UTC)

	created := sessiontest.NewRecord(sessiontest.SeqID(2), "", now)
	created.Data = badData
	imported := sessiontest.NewRecord(sessiontest.SeqID(3), "", now)
	imported.Deadline = farFuture
	calls := map[string]func() error{
		"update setting invalid JSON": func() error {
			_, err := s.Apply(ctx, &session.Change{ID: r.ID, Now: now, Set: badData})
			return err
		},
		"update to a deadline past 9999": func() error {
			_, err := s.Apply(ctx, &session.Change{ID: r.ID, Now: now, Deadline: farFuture})
			return err
		},
		"insert with invalid JSON": func() error {
			_, err := s.Apply(ctx, sessiontest.CreateChange(created))
			return err
		},
		"import with a deadline past 9999": func() error {
			_, err := s.Import(ctx, []*session.Record{imported}, now)
			return err
		},
	}
	for name, call := range calls {
		if err := call(); !errors.Is(err, session.ErrInvalid) {
			t.Errorf("%s: %v, want an error wrapping ErrInvalid", name, err)
		}
	}
	if got, err := s.Load(ctx, r.ID, now); err != nil || !got.Equal(r) {
		t.Fatalf("record after rejected updates = %+v, %v; want it unchanged", got, err)
	}
	if st, err := s.Stats(ctx, now); err != nil || st.Sessions != 1 {
		t.Fatalf("Stats after rejected inserts = %+v, %v; want only the first record", st, err)
	}
}

func TestMalformedChange(t *testing.T) {
	ctx := t.Context()
	now := sessiontest.Base()
	s := newStore(t, nil)
	id := sessiontest.SeqID(1)
	noExpiry := sessiontest.NewRecord(id, "", now)
	noExpiry.Deadline = time.Time{}
	changes := map[string]*session.Change{
		"nil":                nil,
		"zero id":            {Now: now},
		"renew to same id":   {ID: id, Now: now, NewID: id},
		"insert without exp": {ID: id, Now: now, Create: noExpiry},
		"insert id mismatch": {ID: sessiontest.SeqID(2), Now: now, Create: sessiontest.NewRecord(id, "", now)},
		"create and destroy": {ID: id, Now: now, Create: sessiontest.NewRecord(id, "", now), Destroy: true},
	}
	for name, c := range changes {
		if got, err := s.Apply(ctx, c); err == nil {
			t.Errorf("Apply(%s) = %+v, <nil>; want an error", name, got)
		}
	}
	if st, err := s.Stats(ctx, now); err != nil || st.Sessions != 0 {
		t.Fatalf("Stats after malformed changes = %+v, %v; want nothing stored", st, err)
	}
}

// TestCanceledContext: every method fails with the context's error and
// changes nothing.
func TestCanceledContext(t *testing.T) {
	now := sessiontest.Base()
	s := newStore(t, nil)
	r := sessiontest.Insert(t, s, sessiontest.NewRecord(sessiontest.SeqID(1), "alice", now))[0]
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	for name, call := range everyMethod(ctx, s, r.ID, now) {
		if err := call(); !errors.Is(err, context.Canceled) {
			t.Errorf("%s with a cancelled context: %v, want context.Canceled", name, err)
		}
	}
	if got, err := s.Load(t.Context(), r.ID, now); err != nil || !got.Equal(r) {
		t.Fatalf("record after cancelled calls = %+v, %v; want it unchanged", got, err)
	}
	if st, err := s.Stats(t.Context(), now); err != nil || st.Sessions != 1 {
		t.Fatalf("Stats after cancelled calls = %+v, %v; want only the first record", st, err)
	}
}

func TestListUnknownFilter(t *testing.T) {
	s := newStore(t, nil)
	if _, err := s.List(t.Context(), session.ListQuery{Filter: session.Filter(42)}); err == nil {
		t.Fatal("List with an unknown filter succeeded")
	}
}
