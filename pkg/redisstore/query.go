package redisstore

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sesbolt/sesbolt/pkg/session"
)

// UserSessions returns the records of user's sessions live at now, oldest
// Created first (ties by id), found through the user index (cost: the
// user's sessions, not a scan); nil when there are none. An empty user
// (anonymous sessions) has none. Every record is re-checked: an index entry
// whose record is gone or bound to another user is ignored, and records
// that fail their seal are left out (and counted). It writes nothing.
func (s *Store) UserSessions(ctx context.Context, user string, now time.Time) (_ []*session.Record, err error) {
	if err := s.usable(ctx); err != nil {
		return nil, err
	}
	defer func() { s.leave("user_sessions", err) }()
	if user == "" {
		return nil, nil
	}
	recs, _, err := s.userRecords(ctx, user)
	if err != nil {
		return nil, err
	}
	recs = slices.DeleteFunc(recs, func(r *session.Record) bool { return r.Expired(now) })
	if len(recs) == 0 {
		return nil, nil
	}
	slices.SortFunc(recs, func(a, b *session.Record) int {
		if c := a.Created.Compare(b.Created); c != 0 {
			return c
		}
		return bytes.Compare(a.ID[:], b.ID[:])
	})
	return recs, nil
}

// userRecords returns the verified records bound to user that user's index
// lists, live or expired, in id order, and the index entries whose record
// is bound to another user (stale entries of a sharded client).
func (s *Store) userRecords(ctx context.Context, user string) (mine, others []*session.Record, err error) {
	_, ids, values, err := s.readUserIndex(ctx, user)
	if err != nil {
		return nil, nil, err
	}
	for i, id := range ids {
		if values[i] == nil {
			continue // expired by Redis, or a sharded write in flight
		}
		r, err := s.codec.decode(id, values[i])
		if err != nil {
			s.sealFailed(id, err)
			continue
		}
		if r.UserID == user {
			mine = append(mine, r)
		} else {
			others = append(others, r)
		}
	}
	return mine, others, nil
}

// DeleteUser removes every session bound to user, live or expired, through
// the user index, and returns how many it removed; 0 for user "". Each
// record is re-checked and removed only if it is still bound to user and
// unchanged since it was read, so a stale index entry can never remove
// another user's session. Index entries found stale are dropped. Sessions
// bound to user while DeleteUser runs may survive. Each removed session is
// reported to Options.Observer's Ended with the reason in ctx.
func (s *Store) DeleteUser(ctx context.Context, user string) (int, error) {
	return s.DeleteUserExcept(ctx, user, session.ID{})
}

// DeleteUserExcept is DeleteUser sparing the session stored under keep
// (session.UserIndex, "sign out the other devices"): a zero keep, or one
// that is not a session of user, spares nothing. Removed sessions leave no
// tombstone.
func (s *Store) DeleteUserExcept(ctx context.Context, user string, keep session.ID) (n int, err error) {
	if err := s.writable(ctx); err != nil {
		return 0, err
	}
	if user == "" {
		return 0, nil
	}
	var ended []session.Ended
	defer func() {
		s.leave("delete_user", err)
		s.opts.Observer.ReportEnded(ctx, session.EndReasonFrom(ctx), ended)
	}()
	mine, others, err := s.userRecords(ctx, user)
	if err != nil {
		return 0, err
	}
	if len(others) > 0 {
		var stale []*program
		for _, r := range others {
			stale = append(stale, s.userRemove(user, r.ID, r.Version))
		}
		s.runPost(ctx, stale)
	}
	ids := make([]session.ID, 0, len(mine))
	for _, r := range mine {
		if r.ID != keep || keep.IsZero() {
			ids = append(ids, r.ID)
		}
	}
	return s.removeIf(ctx, ids, func(id session.ID, value []byte) bool {
		r, err := s.codec.decode(id, value)
		return err == nil && r.UserID == user
	}, &ended)
}

// List returns the next page of records matching q, in ascending id order
// (session.Lister). An unknown q.Filter is an error wrapping
// session.ErrInvalid. Records failing their seal are left out (and
// counted).
//
// With q.User it reads that user's index; with the Expired filter it walks
// the buckets' expiry indexes (cost: the expired records still kept, see
// Options.ExpiredRetention); otherwise it walks the buckets' id indexes
// from q.After, reading records in pipelined batches. Page.Next is zero
// when the listing is complete; a full page may be followed by one empty
// page.
func (s *Store) List(ctx context.Context, q session.ListQuery) (_ session.Page, err error) {
	if err := s.usable(ctx); err != nil {
		return session.Page{}, err
	}
	defer func() { s.leave("list", err) }()
	switch q.Filter {
	case session.Live, session.Expired, session.All:
	default:
		return session.Page{}, fmt.Errorf("redisstore: list: %w: unknown filter %d", session.ErrInvalid, q.Filter)
	}
	after, err := q.After.ID()
	if err != nil {
		return session.Page{}, fmt.Errorf("redisstore: list: %w", err)
	}
	if q.User != "" {
		return s.listUser(ctx, q, after)
	}
	src := source{bounded: true, fetch: func(pipe redis.Pipeliner, b byte, after string, need int) *redis.StringSliceCmd {
		return pipe.ZRangeByLex(ctx, s.keys.ids(b), &redis.ZRangeBy{Min: after, Max: "+", Count: int64(need)})
	}}
	if q.Filter == session.Expired {
		hi := fmt.Sprint(q.Now.UnixMilli() + s.retention + 1) // the millisecond that may go either way included
		src = source{fetch: func(pipe redis.Pipeliner, b byte, _ string, _ int) *redis.StringSliceCmd {
			return pipe.ZRangeByScore(ctx, s.keys.expiry(b), &redis.ZRangeBy{Min: "-inf", Max: hi})
		}}
	}
	return s.walk(ctx, q, after, src)
}

// matches reports whether r is selected by q's filter.
func matches(r *session.Record, q session.ListQuery) bool {
	switch q.Filter {
	case session.Live:
		return !r.Expired(q.Now)
	case session.Expired:
		return r.Expired(q.Now)
	}
	return true
}

// listUser lists the records of q.User with an id above after.
func (s *Store) listUser(ctx context.Context, q session.ListQuery, after session.ID) (session.Page, error) {
	mine, _, err := s.userRecords(ctx, q.User)
	if err != nil {
		return session.Page{}, err
	}
	slices.SortFunc(mine, func(a, b *session.Record) int { return bytes.Compare(a.ID[:], b.ID[:]) })
	limit := q.PageLimit()
	var page session.Page
	for i, r := range mine {
		if bytes.Compare(r.ID[:], after[:]) <= 0 || !matches(r, q) {
			continue
		}
		page.Records = append(page.Records, r)
		if len(page.Records) == limit {
			if i < len(mine)-1 {
				page.Next = session.IDCursor(r.ID)
			}
			break
		}
	}
	return page, nil
}

// source fetches the candidate ids of one bucket for a listing.
type source struct {
	// fetch queues the query for the ids of bucket b after the exclusive
	// lexical bound after ("(<id>"); a bounded source returns at most need.
	fetch func(pipe redis.Pipeliner, b byte, after string, need int) *redis.StringSliceCmd
	// bounded: a result of need ids may leave more in the bucket.
	bounded bool
}

// walk fills a page from the buckets in order, starting at the bucket of
// after. Each round trip asks a window of buckets for their next
// candidate ids (the window widens while buckets come back empty, so a
// sparse store costs few round trips); the next one reads the records of
// the first candidates, as many as the page still needs.
func (s *Store) walk(ctx context.Context, q session.ListQuery, after session.ID, src source) (session.Page, error) {
	limit := q.PageLimit()
	var out []*session.Record
	// every id up to after is done
	b := int(after[0]) // the next bucket to read
	window := 8
	for b < buckets {
		end := min(b+window, buckets)
		need := limit - len(out)
		pipe := s.client.Pipeline()
		cmds := make([]*redis.StringSliceCmd, 0, end-b)
		for bb := b; bb < end; bb++ {
			bound := "-"
			if bb == int(after[0]) {
				bound = "(" + after.String()
			}
			cmds = append(cmds, src.fetch(pipe, byte(bb), bound, need))
		}
		pipe.Exec(ctx) // errors are per command, read below
		var cand []session.ID
		more := false // a bucket may hold ids beyond the candidates
		for _, c := range cmds {
			members, err := c.Result()
			if err != nil {
				return session.Page{}, s.redisErr(ctx, "listing", err)
			}
			ids := slices.DeleteFunc(parseIDs(members), func(id session.ID) bool { return bytes.Compare(id[:], after[:]) <= 0 })
			slices.SortFunc(ids, func(x, y session.ID) int { return bytes.Compare(x[:], y[:]) })
			cand = append(cand, ids...)
			if src.bounded && len(members) == need && len(ids) > 0 {
				more = true
				break
			}
		}
		if len(cand) > need {
			cand, more = cand[:need], true
		}
		recs, err := s.loadMatching(ctx, cand, q)
		if err != nil {
			return session.Page{}, err
		}
		for _, r := range recs {
			out = append(out, r)
			if len(out) == limit {
				return session.Page{Records: out, Next: session.IDCursor(r.ID)}, nil
			}
		}
		if len(cand) > 0 {
			after = cand[len(cand)-1]
		}
		if more {
			b = int(after[0]) // continue after the last candidate
			continue
		}
		b = end
		if len(out) == 0 {
			window = min(window*2, buckets)
		}
	}
	return session.Page{Records: out}, nil
}

// loadMatching reads the records of ids and returns, in order, those that
// exist, pass their seal and match q's filter.
func (s *Store) loadMatching(ctx context.Context, ids []session.ID, q session.ListQuery) ([]*session.Record, error) {
	values, err := s.readMany(ctx, ids)
	if err != nil {
		return nil, err
	}
	var out []*session.Record
	for i, id := range ids {
		if values[i] == nil {
			continue
		}
		r, err := s.codec.decode(id, values[i])
		if err != nil {
			s.sealFailed(id, err)
			continue
		}
		if matches(r, q) {
			out = append(out, r)
		}
	}
	return out, nil
}

// readUserIndex reads user's index: its members as stored, the ids among
// them, and the stored values of those ids (nil for those not stored).
func (s *Store) readUserIndex(ctx context.Context, user string) (members []string, ids []session.ID, values [][]byte, err error) {
	members, err = s.client.ZRange(ctx, s.keys.userIndex(user), 0, -1).Result()
	if err != nil {
		return nil, nil, nil, s.redisErr(ctx, "reading user index", err)
	}
	ids = parseIDs(members)
	values, err = s.readMany(ctx, ids)
	if err != nil {
		return nil, nil, nil, err
	}
	return members, ids, values, nil
}

// parseIDs parses index members, skipping any that is not an id.
func parseIDs(members []string) []session.ID {
	ids := make([]session.ID, 0, len(members))
	for _, m := range members {
		if id, err := session.ParseID(m); err == nil {
			ids = append(ids, id)
		}
	}
	return ids
}
