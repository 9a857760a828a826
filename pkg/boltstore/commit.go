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

// Writes of requests are group-committed by leader election. A submitter
// appends its change to the queue; if no commit is running, it becomes the
// leader and commits, in its own goroutine, every change queued at that
// moment (up to maxCommitBatch), in arrival order, in one bbolt write
// transaction: one fsync for the whole group. There is no timer and no
// hand-off for a lone writer: its change commits at once, in its own
// goroutine. Changes that arrive during a commit wait; when the leader's
// commit ends it hands the queue to a new leader goroutine and returns, so
// no request does more than one group's work.
//
// Each change succeeds or fails on its own. A change first reads and
// computes everything it will write (the latest record, the result, its
// encoding, the existence checks), and writes only when all of that
// succeeded, so a change failing with ErrNotFound, ErrExists, ErrTooLarge
// or ErrInvalid leaves no trace in the shared transaction. Should a change
// fail halfway through its writes (a bbolt error or a panic on a damaged
// page), the transaction is rolled back and run again without it, so every
// change must be idempotent: it recomputes its result from the transaction
// it runs in. If the commit itself fails (disk full, I/O error), every
// change of the group gets that error.

// maxCommitBatch bounds the changes of one transaction (a record is at most
// MaxRecordSize, so this also bounds a transaction's size).
const maxCommitBatch = 256

// opKind says what an op does.
type opKind uint8

const (
	opApply      opKind = iota // apply change
	opDelete                   // delete ids
	opDeleteUser               // delete up to limit sessions of user
	opImport                   // insert recs, all or none
)

// op states, for cancellation: a waiter whose context ends abandons its op
// only if the committer has not claimed it yet.
const (
	opQueued int32 = iota
	opClaimed
	opAbandoned
)

// op is one unit of work for the committer, with its own result.
type op struct {
	kind   opKind
	change *session.Change   // opApply
	ids    []session.ID      // opDelete
	user   string            // opDeleteUser
	limit  int               // opDeleteUser
	recs   []*session.Record // opImport: validated copies
	now    time.Time         // opImport: records expired at now are skipped
	prep   *prepared         // opApply: computed before queueing; nil when not

	state atomic.Int32
	done  chan struct{} // closed when the results below are final

	result *session.Record // opApply: the resulting record, owned by the op; nil for Destroy
	value  []byte          // opApply: its stored value (the envelope)
	record []byte          // opApply: its stored JSON, inside value
	exact  bool            // opApply: decoding record gives back exactly result
	n      int             // opDelete, opDeleteUser: records removed; opImport: inserted
	more   bool            // opDeleteUser: the limit was reached
	err    error           // this op's own error
}

// reset clears the results before a (re)run.
func (o *op) reset() {
	o.result, o.value, o.record, o.exact, o.n, o.more, o.err = nil, nil, nil, false, 0, false, nil
}

// setResult records p's result as o's.
func (o *op) setResult(p *prepared) {
	o.result, o.value, o.record, o.exact = p.next, p.enc.value, p.enc.record, p.enc.exact
}

// errAbort rolls back a group transaction after one op failed halfway.
var errAbort = errors.New("boltstore: group transaction aborted")

// submit queues o, leads a commit if none is running, and waits for o's
// result. It returns ctx.Err() when ctx ends before a commit claimed o (o
// was then not applied), session.ErrClosed when the store is closed;
// otherwise nil, and o's result fields hold the outcome.
func (s *Store) submit(ctx context.Context, o *op) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if !s.enter() {
		return session.ErrClosed
	}
	defer s.leave()
	o.done = make(chan struct{})
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
		return nil
	case <-ctx.Done():
		if o.state.CompareAndSwap(opQueued, opAbandoned) {
			return ctx.Err()
		}
		<-o.done // claimed: it is being committed right now
		return nil
	}
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
			o.reset()
			o.err = failErr
			close(o.done)
			live = slices.Delete(live, failed, failed+1)
			continue
		}
		if err != nil {
			s.log.Error("boltstore: commit failed", "changes", len(live), "err", err)
			for _, o := range live {
				o.reset()
				o.err = err
			}
		}
		break
	}
	for _, o := range live {
		close(o.done)
	}
}
