package boltstore

import (
	"bytes"
	"context"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/sesbolt/sesbolt/pkg/session"
)

// An expiry pass walks the expiry index from its start, where the records
// that expire first are, and stops at the first entry of a minute after
// now, so its cost tracks the number of expired records, not the total. It
// works in rounds: a read transaction collects up to ReapBatch entries due
// at now, then a write transaction re-checks each one against the record as
// it is then and deletes:
//   - the record and its index entries, when the entry is the record's
//     current one and the record is expired at now (an entry only gives
//     the minute: a record of the current minute that expires later is
//     left, and the next round resumes after it);
//   - only the entry, when it is stale: the record was refreshed in
//     between (it now expires later and has another entry), deleted, or
//     never existed;
//   - the record, when it fails its seal (counted and logged) and the index
//     says it is due.
// Rounds repeat until a round finds fewer entries than it asked for; then
// the pass removes the tombstones of renewed ids that ended (tombstone.go).
// Each round's write transaction is bounded in entries (ReapBatch) and, because
// the cost of an entry varies with the file (random pages of a large file
// are slow to dirty and write), in time: the batch adapts so that a round
// takes about reapRoundTarget, starting small. Requests waiting for the
// committer are so delayed by at most about one round.

// Purge removes every record expired at now, with its index entries, and
// returns how many records it removed. Records refreshed concurrently
// survive. It also removes the tombstones of renewed ids that ended at now
// (not counted). It runs the reaper's pass on demand (one pass at a time; a
// concurrent pass waits) and records it in Stats.LastReap. It returns
// ErrReadOnly on a read-only store and stops early with ctx's error or
// session.ErrClosed; the count then covers the rounds that committed.
func (s *Store) Purge(ctx context.Context, now time.Time) (int, error) {
	if s.readOnly {
		return 0, ErrReadOnly
	}
	if !s.enter() {
		return 0, session.ErrClosed
	}
	defer s.leave()
	return s.purge(ctx, now)
}

// reapLoop is the reaper goroutine: a pass every interval until Close.
func (s *Store) reapLoop(interval time.Duration) {
	defer close(s.reaperDone)
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-tick.C:
		}
		if !s.enter() {
			return
		}
		n, err := s.purge(s.ctx, s.opts.Now())
		s.leave()
		switch {
		case err != nil && s.ctx.Err() == nil:
			s.log.Error("boltstore: reaper pass failed", "removed", n, "err", err)
		case n > 0:
			s.log.Debug("boltstore: reaper removed expired sessions", "removed", n)
		}
	}
}

// Round sizing: a round aims at reapRoundTarget and never exceeds
// ReapBatch entries; it starts at reapFirstBatch entries (or ReapBatch if
// smaller) and never goes below reapMinBatch.
const (
	reapRoundTarget = 10 * time.Millisecond
	reapFirstBatch  = 64
	reapMinBatch    = 16
)

// nextBatch returns the size of the round after one of size batch that took
// d: halved when it overshot the target, grown by half when it took less
// than half the target, kept otherwise.
func nextBatch(batch int, d time.Duration, maxBatch int) int {
	switch {
	case d > reapRoundTarget:
		batch /= 2
	case d < reapRoundTarget/2:
		batch += batch/2 + 1
	}
	return max(min(batch, maxBatch), min(reapMinBatch, maxBatch))
}

// purge runs one expiry pass at now.
func (s *Store) purge(ctx context.Context, now time.Time) (int, error) {
	s.reapMu.Lock()
	defer s.reapMu.Unlock()
	start := time.Now()
	total := 0
	batch := min(reapFirstBatch, s.opts.ReapBatch)
	var longest, longestDeleting time.Duration
	slowRounds := 0
	var after []byte // the last entry handled: records of the current minute not yet expired stay behind
	var err error
	for {
		if err = s.stopping(ctx); err != nil {
			break
		}
		var keys [][]byte
		if keys, err = s.reapScan(expiryNanos(now), batch, after); err != nil || len(keys) == 0 {
			break
		}
		if s.reapHook != nil {
			s.reapHook(keys)
		}
		roundStart := time.Now()
		var n int
		var deleting time.Duration
		var ended []session.Ended
		n, deleting, ended, err = s.reapRound(keys, now)
		s.opts.Observer.ReportEnded(ctx, session.EndExpired, ended)
		d := time.Since(roundStart)
		if d > longest {
			longest, longestDeleting = d, deleting
		}
		if d > slowRound {
			slowRounds++
		}
		total += n
		if err != nil || len(keys) < batch {
			break
		}
		after = keys[len(keys)-1]
		batch = nextBatch(batch, d, s.opts.ReapBatch)
	}
	if err == nil {
		_, err = s.reapTombstones(ctx, now)
	}
	if slowRounds > 0 {
		// Writers waited that long. Deleting is the reaper's own work;
		// committing is mostly the disk's (page writes and fsyncs).
		s.log.Warn("boltstore: slow reaper rounds", "rounds", slowRounds, "over", slowRound,
			"longest", longest, "deleting", longestDeleting, "committing", longest-longestDeleting)
	}
	pass := session.ReapStats{At: now, Removed: total, Duration: time.Since(start), LongestStep: longest}
	s.lastReap.Store(&pass)
	s.reaped(pass)
	return total, err
}

// slowRound is the round length over which a pass warns: twice the target,
// the longest a request write should wait for the reaper.
const slowRound = 2 * reapRoundTarget

// reapScan returns copies of up to n expiry-index keys due at limit (unix
// nanoseconds), from the start of the index or, when after is not nil, from
// the first key after it.
func (s *Store) reapScan(limit uint64, n int, after []byte) ([][]byte, error) {
	var keys [][]byte
	err := s.view("reap scan", func(tx *bolt.Tx) error {
		b, err := bucket(tx, bucketExpiry)
		if err != nil {
			return err
		}
		c := b.Cursor()
		k, _ := c.First()
		if after != nil {
			if k, _ = c.Seek(after); bytes.Equal(k, after) {
				k, _ = c.Next()
			}
		}
		for ; k != nil && len(keys) < n; k, _ = c.Next() {
			if due(k, limit) {
				keys = append(keys, bytes.Clone(k))
				continue
			}
			break
		}
		return nil
	})
	return keys, err
}

// reapRound re-checks and deletes keys in one write transaction and returns
// the records removed, how long it took until the commit (waiting for the
// write lock and deleting), and the sessions it ended for the observer.
func (s *Store) reapRound(keys [][]byte, now time.Time) (removed int, deleting time.Duration, ended []session.Ended, err error) {
	start := time.Now()
	err = s.update("reap", func(tx *bolt.Tx) error {
		removed = 0
		t, err := s.newTxn(tx)
		if err != nil {
			return err
		}
		defer func() { ended = t.ended }()
		c := t.expiry.Cursor()
		for _, k := range keys {
			if got, _ := c.Seek(k); !bytes.Equal(got, k) {
				continue // gone since the scan: the record was refreshed or deleted
			}
			n, err := t.reapEntry(k, now)
			if err != nil {
				return err
			}
			removed += n
		}
		deleting = time.Since(start)
		return t.flush()
	})
	s.reapTxs.Add(1)
	if err != nil {
		return 0, deleting, nil, err
	}
	return removed, deleting, ended, nil
}

// reapEntry handles one due expiry-index entry and returns 1 if it removed
// a record.
func (t *txn) reapEntry(k []byte, now time.Time) (int, error) {
	nanos, id, ok := parseExpiryKey(k)
	if !ok || nanos > expiryNanos(now) {
		return 0, t.expiry.Delete(k) // malformed
	}
	cur := t.sessions.Get(id[:])
	if cur == nil {
		return 0, t.expiry.Delete(k) // orphan
	}
	rec, err := t.s.codec.decode(id, cur)
	if err != nil {
		t.s.sealFailed(id, err)
		old, _ := decodeUnverified(id, cur)
		if err := t.end(id, old); err != nil {
			return 0, err
		}
		return 1, t.expiry.Delete(k)
	}
	if !bytes.Equal(expiryKey(rec), k) {
		return 0, t.expiry.Delete(k) // stale: the record expires at another time now
	}
	if !rec.Expired(now) {
		return 0, nil // later in the current minute: a later pass
	}
	return 1, t.end(id, rec)
}
