package boltstore

import (
	bolt "go.etcd.io/bbolt"

	"github.com/sesbolt/sesbolt/pkg/session"
)

// bucketReaped lists the records the expiry pass removed whose index
// entries it has yet to remove (reaper.go, phase 2): key the 16-byte id,
// value the user id the record was bound to (empty for none). It is empty
// between passes, unless a pass stopped early; the next pass empties it
// first.
//
// Like bucketRenewed it came after schema 2 without a version change: older
// versions of this package ignore it. Such a version's reaper removes the
// expiry entries left behind (they name no record), and the user entries
// stay until that user's sessions are deleted; its Check reports them.

// reserved reports whether nothing may be stored under id: it has a
// tombstone (ended or not), or its index entries are still being removed.
func (t *txn) reserved(id session.ID) bool {
	if t.tombstoned(id) {
		return true
	}
	b := t.sessions.Tx().Bucket(bucketReaped)
	return b != nil && b.Get(id[:]) != nil
}

// taken reports whether id holds a record or is reserved: a new record
// may not be stored under it.
func (t *txn) taken(id session.ID) bool {
	return t.sessions.Get(id[:]) != nil || t.reserved(id)
}

// reap is end for the expiry pass: it removes the record stored under id,
// where c (a cursor of the sessions bucket) stands, (old: its decoded
// content, nil when it could not be decoded) and leaves its index entries,
// noting its id in bucketReaped and res.
func (t *txn) reap(c *bolt.Cursor, id session.ID, old *session.Record, res *chunkResult) error {
	if err := c.Delete(); err != nil {
		return err
	}
	t.deltaSessions--
	r := reapedID{id: id}
	if old != nil {
		r.user = old.UserID
	}
	b, err := bucket(t.sessions.Tx(), bucketReaped)
	if err != nil {
		return err
	}
	if err := b.Put(id[:], []byte(r.user)); err != nil {
		return err
	}
	res.reaped = append(res.reaped, r)
	t.noteEnded(id, r.user)
	return nil
}

// unreserve removes id from bucketReaped: its index entries are gone.
func (t *txn) unreserve(id session.ID) error {
	b, err := bucket(t.sessions.Tx(), bucketReaped)
	if err != nil {
		return err
	}
	return b.Delete(id[:])
}

// readReaped returns the ids in bucketReaped; malformed keys are skipped
// (Check reports them).
func readReaped(tx *bolt.Tx) []reapedID {
	b := tx.Bucket(bucketReaped)
	if b == nil {
		return nil
	}
	var ids []reapedID
	c := b.Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		if len(k) == idSize {
			ids = append(ids, reapedID{id: session.ID(k), user: string(v)})
		}
	}
	return ids
}

// pendingIDs returns the ids of bucketReaped as a set, for Check.
func pendingIDs(tx *bolt.Tx) map[session.ID]bool {
	ids := readReaped(tx)
	set := make(map[session.ID]bool, len(ids))
	for _, r := range ids {
		set[r.id] = true
	}
	return set
}

// checkReaped reports malformed entries of bucketReaped and ids in it that
// hold a record (nothing may be stored under them).
func checkReaped(tx *bolt.Tx, sessions *bolt.Bucket, rep *Diagnosis) {
	b := tx.Bucket(bucketReaped)
	if b == nil {
		return
	}
	c := b.Cursor()
	for k, _ := c.First(); k != nil; k, _ = c.Next() {
		if len(k) != idSize {
			rep.add(AreaReaped, session.ID{}, "key of %d bytes", len(k))
			continue
		}
		if sessions.Get(k) != nil {
			rep.add(AreaReaped, session.ID(k), "id holds a record while its index entries are being removed")
		}
	}
}
