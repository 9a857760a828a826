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
// Each round's write transaction is bounded in entries and, because the
// cost of an entry varies with the file (random pages of a large file are
// slow to dirty and write), in time: the batch adapts to the cost per entry
// of the last round, starting small. Rounds are short (reapRoundTarget, at
// most ReapBatch entries) while writes wait for the committer, so requests
// are delayed by at most about one short round, and larger when none waits
// (round sizing, below).

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

// Round sizing knows who waits: the committer counts the writes submitted
// and not yet answered (Store.writersWaiting). A round that starts while a
// write waits aims at reapRoundTarget and handles at most ReapBatch
// entries; one that starts while none waits aims at reapIdleTarget and
// handles up to reapIdleFactor × ReapBatch, so a pass on an idle store
// takes fewer, larger transactions (fewer fsyncs, fewer rewrites of the
// same branch and user-index pages). An idle round stops deleting as soon
// as a write arrives, once it has handled what a round with writers waiting
// would (yieldAfter), and commits, so that write waits for the commit of
// that much work, not for the whole round. The first round takes
// reapFirstBatch entries; later ones size themselves from the cost per
// entry of the last round, grow at most about twofold per round, and never
// go below reapMinBatch (or ReapBatch if smaller).
const (
	reapRoundTarget = 10 * time.Millisecond
	reapIdleTarget  = 50 * time.Millisecond
	reapIdleFactor  = 8
	reapFirstBatch  = 64
	reapMinBatch    = 16
)

// nextBatch returns the size of a round aiming at target after one that
// handled n entries in d: n scaled by target/d, at most 2n+reapMinBatch,
// within [min(reapMinBatch, maxBatch), maxBatch]. n == 0 (no round yet)
// gives reapFirstBatch.
func nextBatch(n int, d, target time.Duration, maxBatch int) int {
	batch := reapFirstBatch
	if n > 0 {
		batch = 2*n + reapMinBatch
		if d > 0 {
			batch = int(min(int64(batch), int64(n)*int64(target)/int64(d)))
		}
	}
	return max(min(batch, maxBatch), min(reapMinBatch, maxBatch))
}

// purge runs one expiry pass at now.
func (s *Store) purge(ctx context.Context, now time.Time) (int, error) {
	s.reapMu.Lock()
	defer s.reapMu.Unlock()
	clock := s.reapClock
	if clock == nil {
		clock = time.Now
	}
	start := time.Now()
	total := 0
	var lastN int           // entries the last round handled
	var lastD time.Duration // and how long it took
	var longest, longestDeleting time.Duration
	slowRounds := 0
	var after []byte // the last entry handled: records of the current minute not yet expired stay behind
	var err error
	for {
		if err = s.stopping(ctx); err != nil {
			break
		}
		// What a round takes with writers waiting, and what this one takes.
		yieldAfter := nextBatch(lastN, lastD, reapRoundTarget, s.opts.ReapBatch)
		batch := yieldAfter
		if !s.writersWaiting() {
			batch = nextBatch(lastN, lastD, reapIdleTarget, s.opts.ReapBatch*reapIdleFactor)
		}
		var keys [][]byte
		if keys, err = s.reapScan(expiryNanos(now), batch, after); err != nil || len(keys) == 0 {
			break
		}
		if s.reapHook != nil {
			s.reapHook(keys)
		}
		roundStart := clock()
		var handled, n int
		var deleting time.Duration
		handled, n, deleting, err = s.reapRound(keys, now, yieldAfter)
		d := clock().Sub(roundStart)
		if d > longest {
			longest, longestDeleting = d, deleting
		}
		if d > slowRound && s.writersWaiting() {
			slowRounds++
		}
		total += n
		if err != nil || (len(keys) < batch && handled == len(keys)) {
			break
		}
		after = keys[handled-1]
		lastN, lastD = handled, d
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
	s.lastReap.Store(&session.ReapStats{At: now, Removed: total, Duration: time.Since(start), LongestStep: longest})
	return total, err
}

// slowRound is the round length over which a pass warns when writers are
// waiting at its end: twice the target, the longest a request write should
// wait for the reaper.
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

// reapRound re-checks and deletes keys in one write transaction. Once it
// has handled yieldAfter of them (at least one), it stops early when a
// write is waiting (see round sizing above). It returns how many keys it
// handled (a prefix of keys; the next round resumes after the last), the
// records removed, and how long it took until the commit (waiting for the
// write lock and deleting).
func (s *Store) reapRound(keys [][]byte, now time.Time, yieldAfter int) (handled, removed int, deleting time.Duration, err error) {
	start := time.Now()
	yieldAfter = max(yieldAfter, 1)
	err = s.update("reap", func(tx *bolt.Tx) error {
		handled, removed = 0, 0
		t, err := s.newTxn(tx)
		if err != nil {
			return err
		}
		c := t.expiry.Cursor()
		for _, k := range keys {
			if handled >= yieldAfter && s.writersWaiting() {
				break
			}
			handled++
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
		return 0, 0, deleting, err
	}
	return handled, removed, deleting, nil
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
		if err := t.remove(id, old); err != nil {
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
	return 1, t.remove(id, rec)
}
