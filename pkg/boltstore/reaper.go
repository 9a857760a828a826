package boltstore

import (
	"bytes"
	"context"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/sesbolt/sesbolt/pkg/session"
)

// An expiry pass walks the expiry index from its start, where the records
// that expire first are, and stops at the first entry of a minute after
// now, so its cost tracks the number of expired records, not the total.
//
// It works in chunks of up to reapChunk due entries, which one read
// transaction collects, and each chunk in two phases of write transactions
// (rounds):
//
//  1. Records, in id order. Each round re-checks its entries against the
//     records as they are then and removes a record when the entry is its
//     current one and it is expired at now (an entry only gives the
//     minute: a record of the current minute that expires later stays, and
//     so does its entry), or when it fails its seal. A removed record's id
//     goes into bucketReaped with its user, its index entries stay.
//  2. Index entries, in key order: the removed records' user-index entries,
//     then the chunk's expiry entries that are to go (those of removed
//     records; stale, orphan or malformed ones, which need no record
//     removed), then the ids in bucketReaped.
//
// Why two phases: the ids, users and expiry times of sessions are
// unrelated, so removing each record with its index entries in expiry
// order dirtied a random page in each of three B+trees per record, and the
// branch pages above them, again in every round: on a 200k-session file a
// pass wrote 3.5 times what scs's single transaction writes. In key order a
// round's pages are neighbours and each page is written about once per
// chunk.
//
// An id in bucketReaped is reserved (txn.reserved): nothing is stored under
// it until its index entries are gone, so phase 2 removes them without
// looking at the records. A pass that stops between the phases (an error,
// Close, a crash) leaves them to the next pass: the phase 2 of its first
// chunk also does what bucketReaped holds, and removes the expiry entries
// left behind (orphans, due, so in the chunk). Readers meanwhile skip index
// entries without a record, as they always have, and Check takes those of
// ids in bucketReaped as pending, not as damage.
//
// Each round is bounded in entries (ReapBatch) and in time: the batch
// adapts so that a round takes about reapRoundTarget, or half of it while
// request writes commit, starting small. Requests waiting for the committer
// are so delayed by at most about one round.

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

// Round sizing: a round aims at reapRoundTarget (half of it while request
// writes commit, roundTarget) and never exceeds
// ReapBatch entries; it starts at reapFirstBatch entries (or ReapBatch if
// smaller) and never goes below reapMinBatch. A chunk holds at most
// reapChunk entries, about 250 bytes each while the pass runs (16 MiB).
// The larger the chunk, the fewer times a pass rewrites the user index:
// a chunk's user entries are spread over all of it.
const (
	reapRoundTarget = 10 * time.Millisecond
	reapFirstBatch  = 64
	reapMinBatch    = 16
	reapChunk       = 1 << 16
)

// indexBatchFactor is how many times ReapBatch a round of phase 2 may
// handle: its entries are removed in key order, so many share a page,
// where each record removed in phase 1 dirties a page of its own. Time
// still bounds the rounds.
const indexBatchFactor = 16

// nextBatch returns the size of the round after one of size batch that took
// d: halved when it overshot the target, grown by half when it took less
// than half the target, kept otherwise.
func nextBatch(batch int, d, target time.Duration, maxBatch int) int {
	switch {
	case d > target:
		batch /= 2
	case d < target/2:
		batch += batch/2 + 1
	}
	return max(min(batch, maxBatch), min(reapMinBatch, maxBatch))
}

// slowRound is the round length over which a pass warns: twice the target,
// the longest a request write should wait for the reaper.
const slowRound = 2 * reapRoundTarget

// reapPass is one expiry pass in progress.
type reapPass struct {
	s   *Store
	ctx context.Context
	now time.Time

	// The size of the next round of each kind, kept from chunk to chunk:
	// the cost of an entry differs between them (a record dirties a page
	// of its own; a chunk's expiry entries are neighbours; its user
	// entries are spread over the whole user index).
	recordBatch, userBatch, expiryBatch, idBatch, tombstoneBatch int

	removed                  int
	longest, longestDeleting time.Duration
	slowRounds               int
	commits                  int64 // the store's commits counter at the last roundTarget
}

// roundTarget returns how long the next round should take: reapRoundTarget,
// or half of it when request writes committed since the last call. A write
// waits for the round in progress, so rounds shrink while writers are
// about; the pass then takes longer (BENCHMARKS.md: on 1M sessions with a
// writer running, the writer's longest wait 16.5 ms instead of 30.6,
// medians, the pass 13% longer).
func (p *reapPass) roundTarget() time.Duration {
	c := p.s.commits.Load()
	busy := c != p.commits
	p.commits = c
	if busy {
		return reapRoundTarget / 2
	}
	return reapRoundTarget
}

// purge runs one expiry pass at now.
func (s *Store) purge(ctx context.Context, now time.Time) (int, error) {
	s.reapMu.Lock()
	defer s.reapMu.Unlock()
	start := time.Now()
	first := min(reapFirstBatch, s.opts.ReapBatch)
	p := &reapPass{s: s, ctx: ctx, now: now, recordBatch: first, userBatch: first, expiryBatch: first, idBatch: first, tombstoneBatch: first,
		commits: s.commits.Load()}
	err := p.run()
	if err == nil {
		err = p.removeEndedTombstones()
	}
	if p.slowRounds > 0 {
		// Writers waited that long. Deleting is the reaper's own work;
		// committing is mostly the disk's (page writes and fsyncs).
		s.log.Warn("boltstore: slow reaper rounds", "rounds", p.slowRounds, "over", slowRound,
			"longest", p.longest, "deleting", p.longestDeleting, "committing", p.longest-p.longestDeleting)
	}
	pass := session.ReapStats{At: now, Removed: p.removed, Duration: time.Since(start), LongestStep: p.longest}
	s.lastReap.Store(&pass)
	s.reaped(pass)
	return p.removed, err
}

// run reaps the due entries chunk by chunk; the phase 2 of its first chunk
// also finishes what an interrupted pass left in bucketReaped.
func (p *reapPass) run() error {
	var after []byte // the last entry collected: entries of records not yet expired stay behind
	for {
		if err := p.s.stopping(p.ctx); err != nil {
			return err
		}
		keys, pending, err := p.s.reapScan(expiryNanos(p.now), reapChunk, after)
		if err != nil {
			return err
		}
		// What a stopped pass left joins the first chunk's phase 2, which
		// also removes the expiry entries it left (orphans, due).
		res := &chunkResult{reaped: pending}
		if len(keys) == 0 {
			if len(pending) > 0 {
				return p.removeIndexEntries(res)
			}
			return nil
		}
		if err := p.chunk(keys, res); err != nil || len(keys) < reapChunk {
			return err
		}
		after = keys[len(keys)-1]
	}
}

// reapedID is an id in bucketReaped and the user its record was bound to
// ("" for none).
type reapedID struct {
	id   session.ID
	user string
}

// reapScan returns copies of up to n expiry-index keys due at limit (unix
// nanoseconds), from the start of the index or, when after is not nil, from
// the first key after it; and, at the start of a pass (after is nil), the
// ids in bucketReaped.
func (s *Store) reapScan(limit uint64, n int, after []byte) (keys [][]byte, pending []reapedID, err error) {
	err = s.view("reap scan", func(tx *bolt.Tx) error {
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
		} else {
			pending = readReaped(tx)
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
	return keys, pending, err
}

// chunkResult is what phase 1 left for phase 2.
type chunkResult struct {
	reaped  []reapedID // records removed, in id order
	expired [][]byte   // expiry entries to remove: of removed records, or malformed
	recheck [][]byte   // expiry entries to remove if they still name no record, or one that expires at another time
}

// chunk reaps the due entries keys (in index order): phase 1, then 2, which
// also does what res holds.
func (p *reapPass) chunk(keys [][]byte, res *chunkResult) error {
	if err := p.removeRecords(keys, res); err != nil {
		return err
	}
	return p.removeIndexEntries(res)
}

// removeRecords is phase 1 for the due entries keys; it adds to res what
// phase 2 is to do.
func (p *reapPass) removeRecords(keys [][]byte, res *chunkResult) error {
	entries := make([][]byte, 0, len(keys)) // the well-formed keys, in the order of the ids they end with
	for _, k := range keys {
		if nanos, _, ok := parseExpiryKey(k); !ok || nanos > expiryNanos(p.now) {
			res.expired = append(res.expired, k) // malformed
			continue
		}
		entries = append(entries, k)
	}
	slices.SortFunc(entries, func(a, b []byte) int { return bytes.Compare(a[len(a)-idSize:], b[len(b)-idSize:]) })
	var hook func(lo, hi int)
	if p.s.reapHook != nil {
		hook = func(lo, hi int) { p.s.reapHook(entries[lo:hi:hi]) }
	}
	err := p.rounds(len(entries), &p.recordBatch, p.s.opts.ReapBatch, hook, func(t *txn, lo, hi int) (func(), error) {
		var round chunkResult
		c := t.sessions.Cursor()
		for _, k := range entries[lo:hi] {
			if err := t.reapEntry(c, k, p.now, &round); err != nil {
				return nil, err
			}
		}
		return func() {
			p.removed += len(round.reaped)
			res.reaped = append(res.reaped, round.reaped...)
			res.expired = append(res.expired, round.expired...)
			res.recheck = append(res.recheck, round.recheck...)
		}, nil
	})
	return err
}

// reapEntry handles due expiry-index entry key (well-formed) in phase 1,
// through c, a cursor of the sessions bucket, and notes in res what phase 2
// is to do.
func (t *txn) reapEntry(c *bolt.Cursor, key []byte, now time.Time, res *chunkResult) error {
	_, id, _ := parseExpiryKey(key)
	k, cur := c.Seek(id[:])
	if !bytes.Equal(k, id[:]) {
		res.recheck = append(res.recheck, key) // orphan
		return nil
	}
	rec, err := t.s.codec.decode(id, cur)
	if err != nil {
		t.s.sealFailed(id, err)
		old, _ := decodeUnverified(id, cur)
		res.expired = append(res.expired, key)
		return t.reap(c, id, old, res)
	}
	if !bytes.Equal(expiryKey(rec), key) {
		res.recheck = append(res.recheck, key) // stale: the record expires at another time now
		return nil
	}
	if !rec.Expired(now) {
		return nil // later in the current minute: a later pass
	}
	res.expired = append(res.expired, key)
	return t.reap(c, id, rec, res)
}

// removeIndexEntries is phase 2: it removes the index entries res names, in
// key order, then the reaped ids from bucketReaped.
func (p *reapPass) removeIndexEntries(res *chunkResult) error {
	var users [][]byte
	for _, r := range res.reaped {
		if r.user != "" {
			users = append(users, userKey(r.user, r.id))
		}
	}
	slices.SortFunc(users, bytes.Compare)
	type drop struct {
		key     []byte
		recheck bool
	}
	drops := make([]drop, 0, len(res.expired)+len(res.recheck))
	for _, k := range res.expired {
		drops = append(drops, drop{k, false})
	}
	for _, k := range res.recheck {
		drops = append(drops, drop{k, true})
	}
	slices.SortFunc(drops, func(a, b drop) int { return bytes.Compare(a.key, b.key) })
	ids := slices.Clone(res.reaped)
	slices.SortFunc(ids, func(a, b reapedID) int { return bytes.Compare(a.id[:], b.id[:]) })

	// In this order: an id leaves bucketReaped only after its entries.
	limit := p.s.opts.ReapBatch * indexBatchFactor
	if err := p.each(len(users), &p.userBatch, limit, func(t *txn, i int) error {
		return t.removeUserKey(users[i])
	}); err != nil {
		return err
	}
	if err := p.each(len(drops), &p.expiryBatch, limit, func(t *txn, i int) error {
		if drops[i].recheck && !t.staleExpiryEntry(drops[i].key) {
			return nil
		}
		return t.expiry.Delete(drops[i].key)
	}); err != nil {
		return err
	}
	return p.each(len(ids), &p.idBatch, limit, func(t *txn, i int) error {
		return t.unreserve(ids[i].id)
	})
}

// each runs step for items [0, n) in rounds (see rounds).
func (p *reapPass) each(n int, batch *int, maxBatch int, step func(t *txn, i int) error) error {
	return p.rounds(n, batch, maxBatch, nil, func(t *txn, lo, hi int) (func(), error) {
		for i := lo; i < hi; i++ {
			if err := step(t, i); err != nil {
				return nil, err
			}
		}
		return nil, nil
	})
}

// staleExpiryEntry reports whether expiry-index entry k (well-formed) names
// no record, or one whose current entry is another: a record that does not
// decode keeps it, for the next pass to remove the record.
func (t *txn) staleExpiryEntry(k []byte) bool {
	_, id, _ := parseExpiryKey(k)
	cur := t.sessions.Get(id[:])
	if cur == nil {
		return true
	}
	r, err := decodeUnverified(id, cur)
	return err == nil && !bytes.Equal(expiryKey(r), k)
}

// rounds handles n items in rounds of write transactions: round handles
// items [lo, hi) and returns a function to run once its transaction
// committed (nil for none). A round's size starts at *batch and adapts
// (nextBatch) up to maxBatch; *batch keeps it for the next call. before,
// when not nil, runs ahead of each round's transaction (the tests'
// reapHook).
func (p *reapPass) rounds(n int, batch *int, maxBatch int, before func(lo, hi int),
	round func(t *txn, lo, hi int) (func(), error)) error {
	for lo := 0; lo < n; {
		if err := p.s.stopping(p.ctx); err != nil {
			return err
		}
		hi := min(n, lo+*batch)
		if before != nil {
			before(lo, hi)
		}
		start := time.Now()
		var deleting time.Duration
		var done func()
		var ended []session.Ended
		err := p.s.update("reap", func(tx *bolt.Tx) error {
			t, err := p.s.newTxn(tx)
			if err != nil {
				return err
			}
			if done, err = round(t, lo, hi); err != nil {
				return err
			}
			ended = t.ended
			deleting = time.Since(start)
			return t.flush()
		})
		p.s.reapTxs.Add(1)
		if err != nil {
			return err
		}
		if done != nil {
			done()
		}
		p.s.opts.Observer.ReportEnded(p.ctx, session.EndExpired, ended)
		d := time.Since(start)
		if d > p.longest {
			p.longest, p.longestDeleting = d, deleting
		}
		if d > slowRound {
			p.slowRounds++
		}
		*batch = nextBatch(*batch, d, p.roundTarget(), maxBatch)
		lo = hi
	}
	return nil
}
