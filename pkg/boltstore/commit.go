package boltstore

import (
	"context"
	"errors"
	"slices"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/sesbolt/sesbolt/pkg/session"
)

// Writes of requests are group-committed by leader election. Every write
// of the store (a change, a delete, an import) is an op: a function over
// the write transaction. A submitter appends its op to the queue; if no
// commit is running, it becomes the leader and commits, in its own
// goroutine, every op queued at that moment (up to maxCommitBatch), in
// arrival order, in one bbolt write transaction: one fsync for the whole
// group. There is no timer and no hand-off for a lone writer: its op
// commits at once, in its own goroutine. Ops that arrive during a commit
// wait; when the leader's commit ends it hands the queue to a new leader
// goroutine and returns, so no request does more than one group's work.
//
// Each op succeeds or fails on its own. A change first reads and computes
// everything it will write (the latest record, the result, its encoding,
// the existence checks), and writes only when all of that succeeded, so a
// change failing with ErrNotFound, ErrExists, ErrTooLarge or ErrInvalid
// leaves no trace in the shared transaction. Should an op fail halfway
// through its writes (a bbolt error or a panic on a damaged page), the
// transaction is rolled back and run again without it, so every op must be
// idempotent: it recomputes its result from the transaction it runs in. If
// the commit itself fails (disk full, I/O error), every op of the group
// gets that error.

// maxCommitBatch bounds the operations of one transaction (a record is at
// most MaxRecordSize, so this also bounds a transaction's size).
const maxCommitBatch = 256

// Why not bbolt's DB.Batch, which also runs many callers' functions in one
// transaction: it waits for company. A batch commits when it holds
// MaxBatchSize calls or when MaxBatchDelay (10 ms by default) has passed
// since its first call, so a lone writer, the common case on a quiet
// server, waits the whole delay. BenchmarkWriteKeyDBBatch/goroutines=1
// takes about 11 ms per change against 0.27 ms for BenchmarkWriteKey; at
// 64 writers, whose groups wait for the delay too, 230 µs against 38 µs
// (BENCHMARKS.md). A shorter delay only trades that wait for smaller
// groups. Leader election needs no timer: a group is whatever queued while
// the previous commit ran. Like DB.Batch, the committer takes a function
// that fails out of the group and runs the others again; it also tells a
// failure that wrote nothing (reject) from one halfway through its writes,
// and only the latter costs a rerun.

// op states, for cancellation: a waiter whose context ends abandons its op
// only if the committer has not claimed it yet.
const (
	opQueued int32 = iota
	opClaimed
	opAbandoned
)

// op is one unit of work for the committer: a function over the group's
// write transaction, as bbolt's DB.Batch takes them, and its outcome.
//
// fn applies the operation to t and keeps its results (counts, the
// resulting record) in its caller's variables, which the caller reads once
// submit returned nil. fn may run more than once, each time in a fresh
// transaction, so it computes everything from t, and assigns every result,
// on each run (every operation of the store is idempotent: a change is
// applied to the latest record, a delete deletes what is there). It returns
//   - nil when it applied the operation;
//   - reject(err) when the operation fails on its own (not found, exists,
//     too large, invalid) before writing anything: the group goes on
//     without it, and the op's error is err;
//   - any other error when it failed halfway through its writes: the
//     group's transaction is rolled back and run again without it, and the
//     op's error is that error.
type op struct {
	fn    func(t *txn) error
	state atomic.Int32
	done  chan struct{} // closed when err is final
	err   error         // fn's rejection or failure, or the commit's error
}

// newOp returns a queued op running fn.
func newOp(fn func(t *txn) error) *op {
	return &op{fn: fn, done: make(chan struct{})}
}

// rejection is the error of an operation that failed before it wrote
// anything; see op.
type rejection struct{ err error }

func (r *rejection) Error() string { return r.err.Error() }
func (r *rejection) Unwrap() error { return r.err }

// reject marks err as the failure of an operation that left the transaction
// untouched, so the other operations of its group commit without a rerun.
func reject(err error) error { return &rejection{err} }

// errAbort rolls back a group transaction after one op failed halfway.
var errAbort = errors.New("boltstore: group transaction aborted")

// submit queues fn (see op), leads a commit if none is running, and waits
// for its outcome. It returns ctx.Err() when ctx ends before a commit
// claimed fn (fn was then not applied), session.ErrClosed when the store is
// closed, fn's rejection or failure, or the commit's error; nil when fn's
// work is on disk and the results it kept are final.
func (s *Store) submit(ctx context.Context, fn func(t *txn) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if !s.enter() {
		return session.ErrClosed
	}
	defer s.leave()
	o := newOp(fn)
	s.queueMu.Lock()
	s.queue = append(s.queue, o)
	lead := !s.leading
	if lead {
		s.leading = true
		s.leaders.Add(1)
	}
	s.queueMu.Unlock()
	if lead {
		s.lead()
	}
	select {
	case <-o.done:
	case <-ctx.Done():
		if o.state.CompareAndSwap(opQueued, opAbandoned) {
			return ctx.Err()
		}
		<-o.done // claimed: it is being committed right now
	}
	return o.err
}

// lead commits one group: the changes queued now. If more arrived in the
// meantime, a new leader goroutine takes them over. The caller has set
// s.leading and added to s.leaders.
func (s *Store) lead() {
	defer s.leaders.Done()
	s.queueMu.Lock()
	n := min(len(s.queue), maxCommitBatch)
	batch := s.queue[:n:n]
	s.queue = s.queue[n:]
	s.queueMu.Unlock()

	s.commit(batch)

	s.queueMu.Lock()
	defer s.queueMu.Unlock()
	if len(s.queue) == 0 {
		s.leading = false
		s.queue = nil // let the backing array go
		return
	}
	s.leaders.Add(1)
	go s.lead()
}

// commit applies the ops of one group and publishes their results.
func (s *Store) commit(batch []*op) {
	start := time.Now()
	live := make([]*op, 0, len(batch))
	for _, o := range batch {
		if o.state.CompareAndSwap(opQueued, opClaimed) {
			live = append(live, o)
		}
	}
	for len(live) > 0 {
		failed, failErr := -1, error(nil)
		err := s.update("commit", func(tx *bolt.Tx) error {
			t, err := s.newTxn(tx)
			if err != nil {
				return err
			}
			for i, o := range live {
				if err := t.run(o); err != nil {
					failed, failErr = i, err
					return errAbort
				}
			}
			return t.flush()
		})
		s.commits.Add(1)
		if failed >= 0 && errors.Is(err, errAbort) {
			o := live[failed]
			o.err = failErr
			close(o.done)
			live = slices.Delete(live, failed, failed+1)
			continue
		}
		if err != nil {
			s.log.Error("boltstore: commit failed", "changes", len(live), "err", err)
			for _, o := range live {
				o.err = err
			}
		}
		s.committed(start, len(live), err)
		break
	}
	for _, o := range live {
		close(o.done)
	}
}
