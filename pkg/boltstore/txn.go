package boltstore

import (
	"bytes"
	"errors"
	"fmt"
	"runtime/debug"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/sesbolt/sesbolt/pkg/session"
)

// txn is a write transaction seen through the store's layout: the bucket
// handles (with the expiry index's fill percent set, which bbolt keeps per
// handle and transaction) and the changes to the meta counters, written once
// by flush.
type txn struct {
	s                             *Store
	sessions, expiry, users, meta *bolt.Bucket
	deltaSessions, deltaUsers     int64
	ended                         []session.Ended // removed by end, for the observer (observe.go)
}

// newTxn wraps a write transaction.
func (s *Store) newTxn(tx *bolt.Tx) (*txn, error) {
	t := &txn{s: s}
	for _, b := range []struct {
		name []byte
		dst  **bolt.Bucket
	}{{bucketSessions, &t.sessions}, {bucketExpiry, &t.expiry}, {bucketUsers, &t.users}, {bucketMeta, &t.meta}} {
		var err error
		if *b.dst, err = bucket(tx, b.name); err != nil {
			return nil, err
		}
	}
	t.expiry.FillPercent = expiryFillPercent
	return t, nil
}

// flush adds the counter changes to the meta bucket.
func (t *txn) flush() error {
	for _, c := range []struct {
		key   []byte
		delta int64
	}{{metaSessions, t.deltaSessions}, {metaUsers, t.deltaUsers}} {
		if c.delta == 0 {
			continue
		}
		v, _ := getUint64(t.meta.Get(c.key))
		n := int64(v) + c.delta
		if n < 0 {
			n = 0 // a counter damaged earlier; Check reports the mismatch
		}
		if err := t.meta.Put(c.key, putUint64(uint64(n))); err != nil {
			return err
		}
	}
	t.deltaSessions, t.deltaUsers = 0, 0
	return nil
}

// run runs o.fn in t (see op for its contract), with a panic (a damaged
// page) turned into an error wrapping ErrCorrupt. A rejection becomes o's
// error and leaves t usable; a non-nil return means o failed halfway
// through its writes and the transaction must be rolled back.
func (t *txn) run(o *op) (err error) {
	o.err = nil
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: %v", ErrCorrupt, r)
			t.s.log.Error("boltstore: recovered from a panic applying a change; the file may be damaged",
				"panic", fmt.Sprint(r), "stack", string(debug.Stack()))
		}
	}()
	err = o.fn(t)
	if r, ok := errors.AsType[*rejection](err); ok {
		o.err = r.err
		return nil
	}
	return err
}

// apply applies change c (see Store.Apply), with prep when it was computed
// from the record as it is now, and returns what it stored: the result and
// its encoding (nil for Destroy), owned by the caller.
func (t *txn) apply(c *session.Change, prep *prepared) (*prepared, error) {
	id := c.ID
	cur := t.sessions.Get(id[:])

	switch {
	case c.Create != nil:
		if cur != nil || t.reserved(id) {
			return nil, reject(fmt.Errorf("%w: %s", session.ErrExists, id))
		}
		p := prep
		if p == nil {
			p = t.s.codec.prepare(c, nil)
		}
		if p.err != nil {
			return nil, reject(p.err)
		}
		if err := t.put(p.next, p.enc); err != nil {
			return nil, err
		}
		return p, t.limitUser(p.next, c)

	case c.Destroy:
		if cur == nil {
			return nil, nil
		}
		old, _ := decodeUnverified(id, cur)
		return nil, t.end(id, old)
	}

	if cur == nil {
		if renewedAt(t.sessions.Tx(), id, c.Now) {
			return nil, reject(fmt.Errorf("%w: %s", session.ErrRenewed, id))
		}
		return nil, reject(fmt.Errorf("%w: %s", session.ErrNotFound, id))
	}
	p := prep
	if p == nil || !bytes.Equal(p.base, cur) {
		// Not prepared, or the record changed since: compute it here.
		latest, err := t.s.codec.decodeShared(id, cur, false)
		if err != nil {
			t.s.sealFailed(id, err)
			return nil, reject(fmt.Errorf("%w: %s", session.ErrNotFound, id))
		}
		p = t.s.codec.prepare(c, latest)
	}
	if p.latest.Expired(c.Now) {
		return nil, reject(fmt.Errorf("%w: %s expired", session.ErrNotFound, id))
	}
	target := c.TargetID()
	if target != id && t.taken(target) {
		return nil, reject(fmt.Errorf("%w: renew onto %s", session.ErrExists, target))
	}
	if p.err != nil {
		return nil, reject(p.err)
	}
	if target != id {
		if err := t.remove(id, p.latest); err != nil {
			return nil, err
		}
		if err := t.bury(id, c.Now.Add(session.RenewGrace)); err != nil {
			return nil, err
		}
		if err := t.put(p.next, p.enc); err != nil {
			return nil, err
		}
	} else if err := t.replace(p.latest, p.next, p.enc); err != nil {
		return nil, err
	}
	return p, t.limitUser(p.next, c)
}

// limitUser removes, in this transaction, the sessions of next's user over
// c.MaxUserSessions (session.OverLimit), found through the user index. A
// record that fails its seal is no live session: it neither counts nor is
// removed here.
func (t *txn) limitUser(next *session.Record, c *session.Change) error {
	if c.MaxUserSessions <= 0 || next.UserID == "" {
		return nil
	}
	prefix := userPrefix(next.UserID)
	var others []*session.Record
	cur := t.users.Cursor()
	for k, _ := cur.Seek(prefix); k != nil && hasUserPrefix(k, prefix); k, _ = cur.Next() {
		var id session.ID
		copy(id[:], k[len(prefix):])
		v := t.sessions.Get(id[:])
		if id == next.ID || v == nil {
			continue
		}
		if r, err := t.s.codec.decodeShared(id, v, false); err == nil {
			others = append(others, r)
		}
	}
	over := session.OverLimit(c.MaxUserSessions, next, others, c.Now)
	for _, r := range others {
		if slices.Contains(over, r.ID) {
			if err := t.end(r.ID, r); err != nil {
				return err
			}
		}
	}
	return nil
}

// delete removes the records of ids and returns how many there were.
func (t *txn) delete(ids []session.ID) (n int, err error) {
	for _, id := range ids {
		cur := t.sessions.Get(id[:])
		if cur == nil {
			continue
		}
		old, _ := decodeUnverified(id, cur)
		if err := t.end(id, old); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// deleteUser removes up to limit records bound to user, except keep (a
// zero keep spares none), and user-index entries of the user that point
// nowhere. It returns how many records it removed and whether it reached
// the limit (more may remain).
func (t *txn) deleteUser(user string, keep session.ID, limit int) (n int, more bool, err error) {
	prefix := userPrefix(user)
	var ids []session.ID
	c := t.users.Cursor()
	for k, _ := c.Seek(prefix); k != nil && hasUserPrefix(k, prefix) && len(ids) < limit; k, _ = c.Next() {
		var id session.ID
		copy(id[:], k[len(prefix):])
		if id != keep || keep.IsZero() {
			ids = append(ids, id)
		}
	}
	more = len(ids) == limit
	for _, id := range ids {
		cur := t.sessions.Get(id[:])
		var old *session.Record
		if cur != nil {
			old, _ = decodeUnverified(id, cur)
		}
		if old != nil && old.UserID == user {
			if err := t.end(id, old); err != nil {
				return n, more, err
			}
			n++
			continue
		}
		// A stale entry: the record is gone, undecodable or someone else's.
		if err := t.removeUserEntry(user, id); err != nil {
			return n, more, err
		}
	}
	return n, more, nil
}

// importRecords inserts the records of recs that are neither stored nor
// expired at now, all or none: every record is encoded before the first is
// written. It returns how many it inserted.
func (t *txn) importRecords(recs []*session.Record, now time.Time) (int, error) {
	type ready struct {
		rec *session.Record
		enc encoded
	}
	var todo []ready
	seen := make(map[session.ID]bool, len(recs))
	for _, r := range recs {
		if seen[r.ID] || r.Expired(now) || t.taken(r.ID) {
			continue
		}
		seen[r.ID] = true
		enc, err := t.s.codec.encode(r)
		if err != nil {
			return 0, reject(fmt.Errorf("boltstore: import: %w", err))
		}
		todo = append(todo, ready{r, enc})
	}
	for _, p := range todo {
		if err := t.put(p.rec, p.enc); err != nil {
			return 0, err
		}
	}
	return len(todo), nil
}

// put stores a new record (its id is not stored) with its index entries.
func (t *txn) put(r *session.Record, enc encoded) error {
	if err := t.sessions.Put(r.ID[:], enc.value); err != nil {
		return err
	}
	if err := t.expiry.Put(expiryKey(r), []byte{}); err != nil {
		return err
	}
	if r.UserID != "" {
		if err := t.addUserEntry(r.UserID, r.ID); err != nil {
			return err
		}
	}
	t.deltaSessions++
	return nil
}

// replace overwrites the stored record old with next (same id) and moves
// the index entries that changed.
func (t *txn) replace(old, next *session.Record, enc encoded) error {
	if err := t.sessions.Put(next.ID[:], enc.value); err != nil {
		return err
	}
	if oldKey, nextKey := expiryKey(old), expiryKey(next); !bytes.Equal(oldKey, nextKey) {
		if err := t.expiry.Delete(oldKey); err != nil {
			return err
		}
		if err := t.expiry.Put(nextKey, []byte{}); err != nil {
			return err
		}
	}
	if old.UserID != next.UserID {
		if old.UserID != "" {
			if err := t.removeUserEntry(old.UserID, old.ID); err != nil {
				return err
			}
		}
		if next.UserID != "" {
			if err := t.addUserEntry(next.UserID, next.ID); err != nil {
				return err
			}
		}
	}
	return nil
}

// remove deletes the record stored under id and the index entries of old,
// its decoded content (nil when it could not be decoded: its entries stay
// behind until the reaper, DeleteUser or Check meets them).
func (t *txn) remove(id session.ID, old *session.Record) error {
	if err := t.sessions.Delete(id[:]); err != nil {
		return err
	}
	t.deltaSessions--
	if old == nil {
		t.s.log.Warn("boltstore: deleted an undecodable record; its index entries may remain", "id", id.String())
		return nil
	}
	if err := t.expiry.Delete(expiryKey(old)); err != nil {
		return err
	}
	if old.UserID != "" {
		return t.removeUserEntry(old.UserID, id)
	}
	return nil
}

// addUserEntry adds the user-index entry (user, id), counting a new user.
func (t *txn) addUserEntry(user string, id session.ID) error {
	prefix := userPrefix(user)
	first := !t.userHasEntries(prefix)
	if err := t.users.Put(userKey(user, id), []byte{}); err != nil {
		return err
	}
	if first {
		t.deltaUsers++
	}
	return nil
}

// removeUserEntry removes the user-index entry (user, id) if present,
// counting a user who has no entries left.
func (t *txn) removeUserEntry(user string, id session.ID) error {
	return t.removeUserKey(userKey(user, id))
}

// removeUserKey is removeUserEntry by the entry's key.
func (t *txn) removeUserKey(key []byte) error {
	if k, _ := t.users.Cursor().Seek(key); !bytes.Equal(k, key) {
		return nil
	}
	if err := t.users.Delete(key); err != nil {
		return err
	}
	if !t.userHasEntries(key[:len(key)-idSize]) {
		t.deltaUsers--
	}
	return nil
}

// userHasEntries reports whether the user with this prefix has an entry.
func (t *txn) userHasEntries(prefix []byte) bool {
	k, _ := t.users.Cursor().Seek(prefix)
	return k != nil && hasUserPrefix(k, prefix)
}
