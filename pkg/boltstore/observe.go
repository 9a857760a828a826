package boltstore

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/sesbolt/sesbolt/pkg/session"
)

// What the store reports to Options.Observer (session.StoreObserver), and
// from where; each call site is one line:
//   - Ended: Apply (Destroy), Delete, DeleteUser and DeleteUserExcept,
//     once their commit is durable, with the caller's reason
//     (session.EndReasonFrom); Apply's per-user limit as session.EndLimit;
//     expiry passes after each round's commit, as session.EndExpired. Removals are
//     collected by txn.noteEnded (from end, and the reaper's reap) inside the
//     transaction and reported after it with
//     session.StoreObserver.ReportEnded.
//   - Committed: the committer, once per group (commit.go), also measured
//     for Stats.Commits.
//   - Reaped: the end of every expiry pass (reaper.go).
//   - SealFailed: queued by sealFailed (sealcount.Failures), which may run
//     inside a transaction, and delivered by leave, after every operation,
//     outside its transactions.
//   - Failed: view and update (guard.go), for system errors.

// committed records a group commit that started at start and carried size
// operations, for Stats.Commits and the observer.
func (s *Store) committed(start time.Time, size int, err error) {
	c := session.Commit{Duration: time.Since(start), Size: size, Err: err}
	s.commitStats.Add(c)
	if f := s.opts.Observer.Committed; f != nil {
		f(c)
	}
}

// reaped reports an expiry pass.
func (s *Store) reaped(pass session.ReapStats) {
	if f := s.opts.Observer.Reaped; f != nil {
		f(pass)
	}
}

// failed reports a system error of the operation named what (a view's or
// an update's name; spaces become underscores in the label). Data
// outcomes, a closed or read-only store, an aborted group (rerun) and a
// cancelled context are not failures of the store.
func (s *Store) failed(what string, err error) {
	f := s.opts.Observer.Failed
	if f == nil || err == nil {
		return
	}
	for _, e := range []error{errAbort, session.ErrClosed, ErrReadOnly, session.ErrNotFound, session.ErrExists,
		session.ErrTooLarge, session.ErrInvalid, context.Canceled, context.DeadlineExceeded} {
		if errors.Is(err, e) {
			return
		}
	}
	f(strings.ReplaceAll(what, " ", "_"), err)
}

// endedSince returns the sessions t ended (end) since it had mark of them:
// an op's closure keeps them for StoreObserver.ReportEnded, as it keeps its other
// results, and computes them again if the op runs again.
func (t *txn) endedSince(mark int) []session.Ended {
	return t.ended[mark:len(t.ended):len(t.ended)]
}

// end removes the record stored under id (old: its decoded content, nil
// when it could not be decoded) as remove does, as the end of a session:
// it is reported to the observer's Ended once the transaction committed.
func (t *txn) end(id session.ID, old *session.Record) error {
	if err := t.remove(id, old); err != nil {
		return err
	}
	user := ""
	if old != nil {
		user = old.UserID
	}
	t.noteEnded(id, user)
	return nil
}

// noteEnded keeps the session that ended under id (bound to user) for the
// observer's Ended, when there is one.
func (t *txn) noteEnded(id session.ID, user string) {
	if t.s.opts.Observer.Ended != nil {
		t.ended = append(t.ended, session.Ended{ID: id, User: user})
	}
}
