package boltstore

import (
	"context"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/sesbolt/sesbolt/pkg/session"
)

// Hooks into the store's internals for the tests of package boltstore_test.

// Commits returns the number of write transactions the committer has run.
func Commits(s *Store) int64 { return s.commits.Load() }

// ReapTxs returns the number of write transactions expiry passes have run.
func ReapTxs(s *Store) int64 { return s.reapTxs.Load() }

// SetReapHook installs fn, called by every expiry round between its scan
// (a read transaction) and its deleting write transaction, with the expiry
// index keys it is about to re-check. Set it before any pass runs.
func SetReapHook(s *Store, fn func(keys [][]byte)) { s.reapHook = fn }

// PutRawExpiryEntry adds an expiry-index entry at unix nanoseconds nanos for
// id, bypassing the store's bookkeeping (to make stale entries).
func PutRawExpiryEntry(s *Store, nanos uint64, id [16]byte) error {
	return s.db.Update(func(tx *Tx) error {
		return tx.Bucket(bucketExpiry).Put(expiryKeyAt(nanos, 0, id), []byte{})
	})
}

// Tx is bbolt's transaction, for PutRawExpiryEntry's callback type.
type Tx = bolt.Tx

// ExpiryKeySize is the length of an expiry-index key.
const ExpiryKeySize = expiryKeySize

// NoSync reports bbolt's NoSync flag: it must stay false (every commit is
// fsynced).
func NoSync(s *Store) bool { return s.db.NoSync }

// ApplyDirect applies c in a write transaction of its own, bypassing the
// committer: the one-transaction-per-change baseline of the benchmarks.
func ApplyDirect(s *Store, c *session.Change) error {
	return runAlone(s, c, s.db.Update)
}

// ApplyBatch applies c through bbolt's DB.Batch instead of the committer
// (with bbolt's default MaxBatchDelay), for the benchmark that shows what
// DB.Batch's timer costs a lone writer.
func ApplyBatch(s *Store, c *session.Change) error {
	return runAlone(s, c, s.db.Batch)
}

// runAlone applies c as the committer's function would, in a write
// transaction run by update (bbolt's DB.Update or DB.Batch).
func runAlone(s *Store, c *session.Change, update func(func(*bolt.Tx) error) error) error {
	o := newOp(func(t *txn) error {
		_, err := t.apply(c, nil)
		return err
	})
	err := s.guard("apply", func() error {
		return boltErr("apply", update(func(tx *bolt.Tx) error {
			t, err := s.newTxn(tx)
			if err != nil {
				return err
			}
			if err := t.run(o); err != nil {
				return err
			}
			return t.flush()
		}))
	})
	if err != nil {
		return err
	}
	return o.err
}

// BulkInsert inserts the records perTx to a transaction through the
// committer's commit function (for building large benchmark files).
func BulkInsert(s *Store, recs []*session.Record, perTx int) error {
	for len(recs) > 0 {
		n := min(perTx, len(recs))
		batch := make([]*op, n)
		for i, r := range recs[:n] {
			c := &session.Change{ID: r.ID, Now: r.Created, Create: r}
			batch[i] = newOp(func(t *txn) error {
				_, err := t.apply(c, nil)
				return err
			})
		}
		s.commit(batch)
		for _, o := range batch {
			if o.err != nil {
				return o.err
			}
		}
		recs = recs[n:]
	}
	return nil
}

// PurgeRecords runs only the first phase of an expiry pass at now: it
// removes the expired records and leaves their index entries, as a pass
// that stopped between its phases (Close, an error, a crash) does. It
// returns how many records it removed.
func PurgeRecords(s *Store, now time.Time) (int, error) {
	p := &reapPass{s: s, ctx: context.Background(), now: now, recordBatch: s.opts.ReapBatch}
	keys, _, err := s.reapScan(expiryNanos(now), reapChunk, nil)
	if err != nil {
		return 0, err
	}
	err = p.removeRecords(keys, &chunkResult{})
	return p.removed, err
}
