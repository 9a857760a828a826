package boltstore

import (
	"bytes"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/sesbolt/sesbolt/pkg/session"
)

// Tombstones of renewed ids (session.Store, "Renewed IDs") live in
// bucketRenewed: key the 16-byte old id, value the 8-byte big-endian unix
// nanoseconds at which the tombstone ends (the renew's Change.Now plus
// session.RenewGrace). They carry nothing else: no data, no new id.
//
// The bucket is keyed by id because Load and Apply look tombstones up by
// id, and only on a miss in the sessions bucket. The expiry pass scans the
// whole bucket, which holds the renews of about the last RenewGrace plus a
// reaper interval, not the stored sessions: its cost tracks the login rate,
// not the total.
//
// The bucket came after schema 2 without a schema change: older versions
// of this package ignore it (their reaper leaves it alone, which is
// harmless), and a file without it (older, or opened read-only) simply has
// no tombstones. A writable Open creates it.

// tombstoneValue encodes the end of a tombstone.
func tombstoneValue(until time.Time) []byte { return putUint64(expiryNanos(until)) }

// tombstoneLasts reports whether tombstone value v lasts at now. A malformed
// value does not: the id is then merely not found, and the expiry pass
// removes the entry.
func tombstoneLasts(v []byte, now time.Time) bool {
	until, ok := getUint64(v)
	return ok && expiryNanos(now) < until
}

// renewedAt reports whether id has a tombstone in tx that lasts at now.
func renewedAt(tx *bolt.Tx, id session.ID, now time.Time) bool {
	b := tx.Bucket(bucketRenewed)
	return b != nil && tombstoneLasts(b.Get(id[:]), now)
}

// tombstoned reports whether id has a tombstone stored in t, ended or not:
// until the expiry pass removes it, nothing may be stored under id.
func (t *txn) tombstoned(id session.ID) bool {
	b := t.sessions.Tx().Bucket(bucketRenewed)
	return b != nil && b.Get(id[:]) != nil
}

// bury leaves the tombstone of id, renewed away, until until.
func (t *txn) bury(id session.ID, until time.Time) error {
	b, err := bucket(t.sessions.Tx(), bucketRenewed)
	if err != nil {
		return err
	}
	return b.Put(id[:], tombstoneValue(until))
}

// createOptionalBuckets creates bucketRenewed and bucketReaped in a file
// that lacks them (one written by an older version). It runs at a writable
// Open.
func (s *Store) createOptionalBuckets() error {
	optional := [][]byte{bucketRenewed, bucketReaped}
	exists := true
	if err := s.view("open", func(tx *bolt.Tx) error {
		for _, name := range optional {
			exists = exists && tx.Bucket(name) != nil
		}
		return nil
	}); err != nil || exists {
		return err
	}
	return s.update("create buckets", func(tx *bolt.Tx) error {
		for _, name := range optional {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return err
			}
		}
		return nil
	})
}

// removeEndedTombstones removes the tombstones that ended at p.now, in
// rounds of the pass of at most ReapBatch entries (an ended tombstone
// written again by a later renew stays). One read transaction first
// collects the ended ones.
func (p *reapPass) removeEndedTombstones() error {
	var ended [][]byte
	err := p.s.view("reap scan", func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketRenewed)
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, v []byte) error {
			if !tombstoneLasts(v, p.now) {
				ended = append(ended, bytes.Clone(k))
			}
			return nil
		})
	})
	if err != nil {
		return err
	}
	return p.each(len(ended), &p.tombstoneBatch, p.s.opts.ReapBatch, func(t *txn, i int) error {
		b, err := bucket(t.sessions.Tx(), bucketRenewed)
		if err != nil {
			return err
		}
		if v := b.Get(ended[i]); v == nil || tombstoneLasts(v, p.now) {
			return nil // removed meanwhile, or written again by a later renew
		}
		return b.Delete(ended[i])
	})
}

// checkTombstones reports malformed entries of bucketRenewed and tombstones
// whose id also holds a record (nothing may be stored under a tombstoned
// id). Ended tombstones waiting for the expiry pass are no problem.
func checkTombstones(tx *bolt.Tx, sessions *bolt.Bucket, rep *Diagnosis) {
	b := tx.Bucket(bucketRenewed)
	if b == nil {
		return
	}
	c := b.Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		if len(k) != idSize {
			rep.add(AreaRenewed, session.ID{}, "key of %d bytes", len(k))
			continue
		}
		id := session.ID(k)
		if _, ok := getUint64(v); !ok {
			rep.add(AreaRenewed, id, "value of %d bytes, want an 8-byte time", len(v))
		}
		if sessions.Get(k) != nil {
			rep.add(AreaRenewed, id, "tombstone of an id that holds a record")
		}
	}
}
