package redisstore

import (
	"errors"
	"time"

	"github.com/sesbolt/sesbolt/pkg/session"
)

// What the store reports to Options.Observer (session.StoreObserver), and
// from where:
//   - Ended: Apply (Destroy), Delete, DeleteUser and DeleteUserExcept,
//     once Redis acknowledged the removal, with the caller's reason
//     (session.EndReasonFrom); Apply's per-user limit as session.EndLimit
//     (in the change's own step on a single server, by limitPass after it
//     on a sharded client); Purge as session.EndExpired. A plan carries
//     the sessions it removes (plan.ended), collected only when Ended is
//     set, and the caller reports them after its queues are released.
//     Records Redis deletes by their TTL are not reported: the store does
//     not see them go.
//   - Committed: once per Apply that reached Redis, also measured for
//     Stats.Commits.
//   - Reaped: the end of every Purge. The trim pass is no expiry pass (it
//     drops index entries of records Redis already deleted) and is not
//     reported.
//   - SealFailed: queued by sealFailed (sealcount.Failures), which may run
//     while a queue token is held, and delivered by leave, when the
//     exported method returns.
//   - Failed: leave, for the errors of an exported method wrapping
//     ErrRedis; logged failures of after-the-write steps (limitPass,
//     runPost, undo) and of the trim pass where they happen.

// leave ends an exported method named op that returns err: it delivers
// the seal failures queued meanwhile and reports err if it is a system
// error. Exported methods defer it.
func (s *Store) leave(op string, err error) {
	s.seals.Deliver()
	s.failed(op, err)
}

// observesEnds reports whether removals must be collected for the
// observer's Ended.
func (s *Store) observesEnds() bool { return s.opts.Observer.Ended != nil }

// committed records an Apply that started at start and returned err, for
// Stats.Commits and the observer. Data outcomes (not found, exists, too
// large) are a commit that succeeded without writing: Err is nil.
func (s *Store) committed(start time.Time, err error) {
	c := commitOf(start, err)
	s.commitStats.Add(c)
	if f := s.opts.Observer.Committed; f != nil {
		f(c)
	}
}

// commitOf describes an Apply that started at start and returned err as a
// commit: data outcomes (not found, exists, too large, invalid, not
// supported) are a commit that succeeded without writing, Err nil.
func commitOf(start time.Time, err error) session.Commit {
	for _, e := range []error{session.ErrNotFound, session.ErrExists, session.ErrTooLarge, session.ErrInvalid, session.ErrNotSupported} {
		if errors.Is(err, e) {
			err = nil
			break
		}
	}
	return session.Commit{Duration: time.Since(start), Size: 1, Err: err}
}

// reaped records an expiry pass (Purge), for Stats.LastReap and the
// observer.
func (s *Store) reaped(pass session.ReapStats) {
	s.lastReap.Store(&pass)
	if f := s.opts.Observer.Reaped; f != nil {
		f(pass)
	}
}

// endedOf returns the session a plan removing the record of id, whose
// stored bytes are value, ends: with the user the record names, read
// without verifying its seal (a damaged record is reported too).
func endedOf(id session.ID, value []byte) session.Ended {
	e := session.Ended{ID: id}
	if r, err := decodeUnverified(id, value); err == nil {
		e.User = r.UserID
	}
	return e
}
