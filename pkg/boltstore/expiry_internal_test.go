package boltstore

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"slices"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/sesbolt/sesbolt/pkg/session"
	"github.com/sesbolt/sesbolt/pkg/session/sessiontest"
)

// expiryKeys returns the expiry index's keys.
func expiryKeys(t *testing.T, s *Store) [][]byte {
	t.Helper()
	var keys [][]byte
	if err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketExpiry).ForEach(func(k, _ []byte) error {
			keys = append(keys, bytes.Clone(k))
			return nil
		})
	}); err != nil {
		t.Fatal(err)
	}
	return keys
}

func wantClean(t *testing.T, s *Store) {
	t.Helper()
	d, err := s.Diagnose(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range d.Problems {
		t.Errorf("Check: %s", p)
	}
}

// minute is the start of a minute, for records that expire inside it.
var minute = sessiontest.Base().Truncate(time.Minute)

// insertExpiring inserts a record that expires at exp.
func insertExpiring(t *testing.T, s *Store, exp time.Time) *session.Record {
	t.Helper()
	r := sessiontest.NewRecord(session.NewID(), "alice", exp.Add(-time.Hour))
	r.IdleExpires = exp
	if _, err := s.Apply(context.Background(), sessiontest.CreateChange(r)); err != nil {
		t.Fatal(err)
	}
	return r
}

// TestWritesWithinAMinuteKeepTheIndex: a write that moves the expiry
// within its minute leaves the expiry index as it is; one into another
// minute moves the entry.
func TestWritesWithinAMinuteKeepTheIndex(t *testing.T) {
	s := openInternal(t, filepath.Join(t.TempDir(), "s.db"), false)
	r := insertExpiring(t, s, minute.Add(10*time.Second))
	before := expiryKeys(t, s)
	touch := func(exp time.Time) {
		t.Helper()
		if _, err := s.Apply(context.Background(), &session.Change{ID: r.ID, Now: minute, IdleExpires: exp,
			Set: map[string]json.RawMessage{"k": json.RawMessage(`1`)}}); err != nil {
			t.Fatal(err)
		}
	}
	touch(minute.Add(50 * time.Second))
	if got := expiryKeys(t, s); !slices.EqualFunc(got, before, bytes.Equal) {
		t.Errorf("a write within the minute moved the index: %x -> %x", before, got)
	}
	touch(minute.Add(70 * time.Second))
	got := expiryKeys(t, s)
	if want := expiryKeyAt(uint64(minute.Add(time.Minute).UnixNano()), uint64(r.Created.UnixNano()), r.ID); len(got) != 1 || !bytes.Equal(got[0], want) {
		t.Errorf("a write into the next minute left the index at %x, want %x", got, want)
	}
	wantClean(t, s)
}

// TestExpiryWithinTheCurrentMinute: Purge, Stats and List judge the records
// of the current minute by their exact expiry, not by their minute.
func TestExpiryWithinTheCurrentMinute(t *testing.T) {
	s := openInternal(t, filepath.Join(t.TempDir(), "s.db"), false)
	ctx := context.Background()
	early := insertExpiring(t, s, minute.Add(10*time.Second))
	late := insertExpiring(t, s, minute.Add(50*time.Second))
	older := insertExpiring(t, s, minute.Add(-30*time.Second))
	now := minute.Add(30 * time.Second)

	st, err := s.Stats(ctx, now)
	if err != nil || st.Expired != 2 || st.Live != 1 {
		t.Fatalf("Stats = %+v, %v; want 2 expired, 1 live", st, err)
	}
	page, err := s.List(ctx, session.ListQuery{Filter: session.Expired, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	var listed []session.ID
	for _, r := range page.Records {
		listed = append(listed, r.ID)
	}
	if want := []session.ID{early.ID, older.ID}; len(listed) != 2 || !slices.Contains(listed, want[0]) || !slices.Contains(listed, want[1]) {
		t.Errorf("List(Expired) = %v, want %v", listed, want)
	}

	if n, err := s.Purge(ctx, now); err != nil || n != 2 {
		t.Fatalf("Purge = %d, %v; want 2", n, err)
	}
	if _, err := s.Load(ctx, late.ID, now); err != nil {
		t.Fatalf("the record expiring later in the minute: %v", err)
	}
	if n, err := s.Purge(ctx, now); err != nil || n != 0 {
		t.Fatalf("second Purge = %d, %v; want 0", n, err)
	}
	if n, err := s.Purge(ctx, minute.Add(50*time.Second)); err != nil || n != 1 {
		t.Fatalf("Purge at its expiry = %d, %v; want 1", n, err)
	}
	wantClean(t, s)
}

// TestReaperSkipsManyLiveRecordsOfTheMinute: a pass whose rounds find only
// records of the current minute that expire later ends (it resumes after
// them instead of finding them again).
func TestReaperSkipsManyLiveRecordsOfTheMinute(t *testing.T) {
	s := openInternal(t, filepath.Join(t.TempDir(), "s.db"), false)
	ctx := context.Background()
	var recs []*session.Record
	for i := range 3*reapFirstBatch + 5 {
		r := sessiontest.NewRecord(session.NewID(), "", minute.Add(-time.Hour))
		r.IdleExpires = minute.Add(time.Duration(30+i%20) * time.Second)
		recs = append(recs, r)
	}
	expired := insertExpiring(t, s, minute.Add(-time.Second))
	if _, err := s.Import(ctx, recs, minute); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if n, err := s.Purge(ctx, minute.Add(20*time.Second)); err != nil || n != 1 {
			t.Errorf("Purge = %d, %v; want 1", n, err)
		}
	}()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("Purge did not end")
	}
	if _, err := s.Load(ctx, expired.ID, minute); err == nil {
		t.Error("the expired record survived")
	}
}

// TestMigrateSchema1 opens a file of schema 1 (exact expiry keys): read
// only, it checks clean as it is; for writing, it is upgraded in place.
func TestMigrateSchema1(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.db")
	s := openInternal(t, path, false)
	var recs []*session.Record
	for i := range 50 {
		recs = append(recs, insertExpiring(t, s, minute.Add(time.Duration(i)*7*time.Second+123)))
	}
	// Turn the file into schema 1.
	if err := s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketExpiry)
		for _, r := range recs {
			if err := b.Delete(expiryKey(r)); err != nil {
				return err
			}
			if err := b.Put(exactExpiryKey(r), []byte{}); err != nil {
				return err
			}
		}
		return tx.Bucket(bucketMeta).Put(metaSchema, putUint64(1))
	}); err != nil {
		t.Fatal(err)
	}
	s.Close()

	ro := openInternal(t, path, true)
	wantClean(t, ro)
	ro.Close()

	s = openInternal(t, path, false)
	wantClean(t, s)
	if err := s.db.View(func(tx *bolt.Tx) error {
		if v, _ := getUint64(tx.Bucket(bucketMeta).Get(metaSchema)); v != SchemaVersion {
			t.Errorf("schema after the upgrade: %d, want %d", v, SchemaVersion)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	for _, k := range expiryKeys(t, s) {
		if nanos, _, _ := parseExpiryKey(k); len(k) != expiryKeySize || nanos%expiryGranule != 0 {
			t.Fatalf("key %x was not re-keyed", k)
		}
	}
	now := minute.Add(3 * time.Minute)
	want := 0
	for _, r := range recs {
		if r.Expired(now) {
			want++
		}
	}
	if n, err := s.Purge(context.Background(), now); err != nil || n != want {
		t.Fatalf("Purge after the upgrade = %d, %v; want %d", n, err, want)
	}
	wantClean(t, s)
}

// TestMigrateKeepsDamagedRecordsReapable: a schema-1 entry whose record no
// longer decodes keeps its time through the upgrade, so the reaper still
// removes the damaged record when it is due.
func TestMigrateKeepsDamagedRecordsReapable(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.db")
	s := openInternal(t, path, false)
	id := session.NewID()
	due := uint64(minute.Add(-time.Hour).UnixNano() + 123)
	if err := s.db.Update(func(tx *bolt.Tx) error {
		if err := tx.Bucket(bucketSessions).Put(id[:], []byte(`{"v":1,"damaged`)); err != nil {
			return err
		}
		k := make([]byte, expiryKeySize1)
		copy(k, putUint64(due))
		copy(k[8:], id[:])
		if err := tx.Bucket(bucketExpiry).Put(k, []byte{}); err != nil {
			return err
		}
		return tx.Bucket(bucketMeta).Put(metaSchema, putUint64(1))
	}); err != nil {
		t.Fatal(err)
	}
	s.Close()

	s = openInternal(t, path, false)
	if n, err := s.Purge(context.Background(), minute); err != nil || n != 1 {
		t.Fatalf("Purge after the upgrade = %d, %v; want the damaged record removed", n, err)
	}
	if err := s.db.View(func(tx *bolt.Tx) error {
		if tx.Bucket(bucketSessions).Get(id[:]) != nil {
			t.Error("the damaged record is still stored")
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}
