package boltstore_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/sesbolt/sesbolt/pkg/boltstore"
	"github.com/sesbolt/sesbolt/pkg/session"
	"github.com/sesbolt/sesbolt/pkg/session/sessiontest"
)

// renewAll renews each of recs at now and returns the old ids.
func renewAll(t *testing.T, s *boltstore.Store, recs []*session.Record, now time.Time) []session.ID {
	t.Helper()
	old := make([]session.ID, 0, len(recs))
	for _, r := range recs {
		if _, err := s.Apply(context.Background(), &session.Change{ID: r.ID, Now: now, NewID: session.NewID()}); err != nil {
			t.Fatalf("renew: %v", err)
		}
		old = append(old, r.ID)
	}
	return old
}

// insertUnder tries to insert a record under id at now: nil when it was
// stored, session.ErrExists when id is taken; any other error fails t.
func insertUnder(t *testing.T, s *boltstore.Store, id session.ID, now time.Time) error {
	t.Helper()
	_, err := s.Apply(context.Background(), sessiontest.CreateChange(sessiontest.NewRecord(id, "", now)))
	if err != nil && !errors.Is(err, session.ErrExists) {
		t.Fatalf("insert under %s: %v", id, err)
	}
	return err
}

// TestTombstoneOutlivesTheProcess: the tombstone is in the file, so another
// process (here: the store opened again) knows the id was renewed.
func TestTombstoneOutlivesTheProcess(t *testing.T) {
	s, path := openTemp(t)
	now := sessiontest.Base()
	old := renewAll(t, s, insert(t, s, 1, now, nil), now)[0]
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	for _, ro := range []bool{false, true} {
		opts := testOptions(t)
		opts.ReadOnly = ro
		s := openAt(t, path, opts)
		if _, err := s.Load(context.Background(), old, now); !errors.Is(err, session.ErrRenewed) {
			t.Fatalf("Load of the renewed id after reopening (read-only %v) = %v; want ErrRenewed", ro, err)
		}
		s.Close()
	}
}

// TestPurgeRemovesEndedTombstones: an ended tombstone keeps its id taken
// until an expiry pass removes it, in rounds of at most ReapBatch.
func TestPurgeRemovesEndedTombstones(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sessions.db")
	opts := testOptions(t)
	opts.ReapBatch = 2
	s := openAt(t, path, opts)
	now := sessiontest.Base()
	end := now.Add(session.RenewGrace)
	old := renewAll(t, s, insert(t, s, 5, now, nil), now)
	later := renewAll(t, s, insert(t, s, 1, now.Add(time.Minute), nil), now.Add(time.Minute))[0]

	ctx := context.Background()
	if n, err := s.Purge(ctx, end.Add(-time.Nanosecond)); err != nil || n != 0 {
		t.Fatalf("Purge before the tombstones end = %d, %v; want 0, <nil>", n, err)
	}
	if err := insertUnder(t, s, old[0], end); err == nil {
		t.Fatal("an ended tombstone not yet removed let its id be stored again")
	}
	txs := boltstore.ReapTxs(s)
	if n, err := s.Purge(ctx, end); err != nil || n != 0 {
		t.Fatalf("Purge = %d, %v; want 0 (tombstones are not records), <nil>", n, err)
	}
	if got := boltstore.ReapTxs(s) - txs; got != 3 {
		t.Errorf("removing 5 tombstones with ReapBatch 2 took %d write transactions, want 3", got)
	}
	for _, id := range old {
		if err := insertUnder(t, s, id, end); err != nil {
			t.Fatalf("the id of a removed tombstone is still taken: %v", err)
		}
	}
	if _, err := s.Load(ctx, later, end); !errors.Is(err, session.ErrRenewed) {
		t.Fatalf("a tombstone that lasts was removed: Load = %v", err)
	}
	mustCheck(t, s)
}

// TestReaperRemovesTombstones: the background reaper removes them too.
func TestReaperRemovesTombstones(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sessions.db")
	now := sessiontest.Base()
	var clock atomic.Int64
	clock.Store(now.UnixNano())
	opts := testOptions(t)
	opts.ReapInterval = 5 * time.Millisecond
	opts.Now = func() time.Time { return time.Unix(0, clock.Load()) }
	s := openAt(t, path, opts)
	old := renewAll(t, s, insert(t, s, 1, now, nil), now)[0]
	end := now.Add(session.RenewGrace)
	clock.Store(end.UnixNano())
	deadline := time.Now().Add(10 * time.Second)
	for insertUnder(t, s, old, end) != nil {
		if time.Now().After(deadline) {
			t.Fatal("the reaper did not remove an ended tombstone")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestOpenAddsTheOptionalBuckets: a file written before tombstones and
// two-phase expiry passes (no "renewed" or "reaped" bucket) opens read-only
// as it is and gets the buckets at a writable open, without a schema
// change.
func TestOpenAddsTheOptionalBuckets(t *testing.T) {
	s, path := openTemp(t)
	now := sessiontest.Base()
	rec := insert(t, s, 1, now, nil)[0]
	s.Close()
	editBolt(t, path, func(tx *bolt.Tx) error {
		for _, name := range []string{"renewed", "reaped"} {
			if err := tx.DeleteBucket([]byte(name)); err != nil {
				return err
			}
		}
		return nil
	})

	ro := openAt(t, path, &boltstore.Options{ReadOnly: true, Keys: testKeys(t), Logger: quietLogger()})
	ctx := context.Background()
	if _, err := ro.Load(ctx, rec.ID, now); err != nil {
		t.Fatalf("read-only Load from a file without tombstones: %v", err)
	}
	if _, err := ro.Load(ctx, session.NewID(), now); !errors.Is(err, session.ErrNotFound) || errors.Is(err, session.ErrRenewed) {
		t.Fatalf("read-only Load of an unknown id = %v; want ErrNotFound", err)
	}
	mustCheck(t, ro)
	ro.Close()

	s = openAt(t, path, testOptions(t))
	old := renewAll(t, s, []*session.Record{rec}, now)[0]
	if _, err := s.Load(ctx, old, now); !errors.Is(err, session.ErrRenewed) {
		t.Fatalf("Load of a renewed id after the upgrade = %v; want ErrRenewed", err)
	}
	mustCheck(t, s)
	s.Close()
	editBolt(t, path, func(tx *bolt.Tx) error {
		for _, name := range []string{"renewed", "reaped"} {
			if tx.Bucket([]byte(name)) == nil {
				t.Errorf("the writable open did not create the %s bucket", name)
			}
		}
		if v := tx.Bucket([]byte("meta")).Get([]byte("schema")); len(v) != 8 || v[7] != boltstore.SchemaVersion {
			t.Errorf("schema version %x, want %d unchanged", v, boltstore.SchemaVersion)
		}
		return nil
	})
}

// TestCheckReportsBadTombstones: Check accepts tombstones, lasting or
// ended, but reports malformed entries and one beside a record.
func TestCheckReportsBadTombstones(t *testing.T) {
	s, path := openTemp(t)
	now := sessiontest.Base()
	recs := insert(t, s, 3, now, nil)
	renewAll(t, s, recs[:2], now)
	mustCheck(t, s)
	s.Close()
	live, other := recs[2].ID, session.NewID()
	editBolt(t, path, func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte("renewed"))
		for k, v := range map[string]string{"short": "12345678", string(other[:]): "xx", string(live[:]): "12345678"} {
			if err := b.Put([]byte(k), []byte(v)); err != nil {
				return err
			}
		}
		return nil
	})
	s = openAt(t, path, testOptions(t))
	rep, err := s.Diagnose(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range rep.Problems {
		if p.Area != boltstore.AreaRenewed {
			t.Errorf("unexpected problem: %s", p)
		}
		got = append(got, p.Message)
	}
	want := "key of 5 bytes|value of 2 bytes, want an 8-byte time|tombstone of an id that holds a record"
	for _, w := range strings.Split(want, "|") {
		if !strings.Contains(strings.Join(got, "|"), w) {
			t.Errorf("Check problems %q lack %q", got, w)
		}
	}
	if len(got) != 3 {
		t.Errorf("Check found %d problems, want 3: %q", len(got), got)
	}
}
