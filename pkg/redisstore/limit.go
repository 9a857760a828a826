package redisstore

import (
	"context"
	"slices"

	"github.com/sesbolt/sesbolt/pkg/session"
)

// The per-user session limit (session.Change.MaxUserSessions).
//
// On a single server the limit is part of the change's own program: the
// store reads the user's index and the records it lists, picks the surplus
// with session.OverLimit, and adds to the program guards that the index
// and every record it read are still as read, and the removal of the
// surplus (limitProgram). The script checks every guard before it writes,
// so the change and the removals are one atomic step, and no reader ever
// sees more than the limit; a guard that fails is a conflict, and the
// change is read and tried again, like any compare-and-set.
//
// On a sharded client (Cluster) the user's index and the records it lists
// live in different hash slots, and no script spans them. The change is
// written first, then a second step (limitPass) reads the user's sessions
// and removes the surplus, each removal guarded by the record's bytes.
// Between the two steps readers may see more sessions than the limit, and
// logins of one user in different processes at the same moment may each
// remove a session the other keeps.
//
// In both cases the limited changes of one user in this process take turns
// (lockUser), so that they neither conflict with each other on a single
// server nor interleave their two steps on a sharded client.

// limited reports whether c holds the user of its result to a limit.
func limited(c *session.Change, result *session.Record) bool {
	return c.MaxUserSessions > 0 && result.UserID != ""
}

// lockUser waits for the turn of user's limited changes in this process,
// or for ctx; the returned function ends the turn.
func (s *Store) lockUser(ctx context.Context, user string) (unlock func(), err error) {
	q := s.userQueues[userBucket(user)]
	select {
	case q <- struct{}{}:
		return func() { <-q }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// limitProgram returns the program that, run in one step with the change
// c whose result is result, holds result's user to c.MaxUserSessions on a
// single server: guards that the user's index and the records it lists are
// as read now, and the removal of the surplus session.OverLimit picks,
// without tombstones. gone is the id the change itself removes (the old id
// of a renew; zero otherwise), which is not one of the others. Records that
// fail their seal are no live sessions: they neither count nor are removed.
// ended lists the sessions the program removes, when the observer collects
// them.
func (s *Store) limitProgram(ctx context.Context, c *session.Change, result *session.Record, gone session.ID) (_ *program, ended []session.Ended, err error) {
	user := result.UserID
	members, ids, values, err := s.readUserIndex(ctx, user)
	if err != nil {
		return nil, nil, err
	}
	p := &program{}
	p.members(s.keys.userIndex(user), members)
	others := make([]*session.Record, 0, len(ids))
	for i, id := range ids {
		p.unchanged(s.keys.record(id), values[i])
		if values[i] == nil || id == gone {
			continue
		}
		r, err := s.codec.decode(id, values[i])
		if err != nil {
			s.sealFailed(id, err)
			continue
		}
		others = append(others, r)
	}
	over := session.OverLimit(c.MaxUserSessions, result, others, c.Now)
	for _, r := range others {
		if slices.Contains(over, r.ID) {
			p.del(s.keys, r.ID)
			p.urem(s.keys, user, r.ID, r.Version+1)
			if s.observesEnds() {
				ended = append(ended, session.Ended{ID: r.ID, User: user})
			}
		}
	}
	return p, ended, nil
}

// limitPass holds result's user to c.MaxUserSessions on a sharded client,
// after the change is stored: it reads the user's sessions and removes the
// surplus session.OverLimit picks, each only if still bound to the user,
// live at c.Now and unchanged since read. The change has succeeded by then,
// so a failure is logged (and reported to the observer's Failed as
// "limit"), not returned: the next limited change of the user removes what
// this one left. It returns the sessions it removed, when the observer
// collects them.
func (s *Store) limitPass(ctx context.Context, c *session.Change, result *session.Record) (ended []session.Ended) {
	user := result.UserID
	mine, _, err := s.userRecords(ctx, user)
	if err == nil {
		over := session.OverLimit(c.MaxUserSessions, result, mine, c.Now)
		_, err = s.removeIf(ctx, over, func(id session.ID, value []byte) bool {
			r, err := s.codec.decode(id, value)
			return err == nil && r.UserID == user && !r.Expired(c.Now)
		}, &ended)
	}
	if err != nil {
		s.log.Warn("redisstore: ending sessions over the per-user limit failed; they remain until the user's next login", "err", err)
		s.failed("limit", err)
	}
	return ended
}
