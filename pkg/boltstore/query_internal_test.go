package boltstore

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/sesbolt/sesbolt/pkg/session"
	"github.com/sesbolt/sesbolt/pkg/session/sessiontest"
)

// TestListExpiredReadsEachEntryOnce pages through expired records in small
// pages: each page resumes where the previous one stopped, so the whole
// listing reads each due entry of the expiry index once (it used to walk
// and sort the whole due part for every page: pages × entries). Entries
// left behind by an earlier version of a record, and entries of records
// that are gone, list nothing.
func TestListExpiredReadsEachEntryOnce(t *testing.T) {
	s := openInternal(t, filepath.Join(t.TempDir(), "s.db"), false)
	ctx, base := context.Background(), sessiontest.Base()
	const expired, live = 2000, 300
	var recs []*session.Record
	for i := range expired + live {
		// Expired ones over 50 minutes before base, live ones after it.
		exp := base.Add(-time.Duration(i%50+1) * time.Minute).Add(time.Duration(i) * time.Millisecond)
		if i >= expired {
			exp = base.Add(time.Duration(i) * time.Second)
		}
		r := sessiontest.NewRecord(session.NewID(), "", exp.Add(-sessiontest.IdleTimeout))
		recs = append(recs, r)
	}
	if n, err := s.Import(ctx, recs, base.Add(-2*time.Hour)); err != nil || n != len(recs) {
		t.Fatalf("Import = %d, %v", n, err)
	}
	// A second, stale entry for the first record, and an orphan entry.
	err := s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketExpiry)
		for _, id := range []session.ID{recs[0].ID, session.NewID()} {
			if err := b.Put(expiryKeyAt(expiryNanos(base.Add(-time.Hour)), 0, id), []byte{}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	before := s.listSteps.Load()
	seen := make(map[session.ID]int)
	q := session.ListQuery{Filter: session.Expired, Now: base, Limit: 7}
	pages := 0
	for ; ; pages++ {
		if pages > expired {
			t.Fatal("the listing does not end")
		}
		p, err := s.List(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range p.Records {
			seen[r.ID]++
		}
		if p.Next.IsZero() {
			break
		}
		q.After = p.Next
	}
	steps := s.listSteps.Load() - before
	t.Logf("%d pages read %d expiry-index entries", pages+1, steps)
	if due := int64(expired + 2); steps > due {
		t.Errorf("listing %d expired records in %d pages read %d index entries; want at most the %d due ones",
			expired, pages+1, steps, due)
	}
	if len(seen) != expired {
		t.Errorf("listed %d records; want the %d expired ones", len(seen), expired)
	}
	for i, r := range recs[:expired] {
		if seen[r.ID] != 1 {
			t.Fatalf("expired record %d listed %d times", i, seen[r.ID])
		}
	}
}
