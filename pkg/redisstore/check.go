package redisstore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sesbolt/sesbolt/pkg/session"
)

// maxProblems caps CheckReport.Problems.
const maxProblems = 100

// Check verifies the store (session.Checker): the format under the prefix;
// every record (its envelope, its seal when the store has keys, its id, its
// expiry in Redis not before the session's); every bucket index against
// the records, both ways; every user index against the registry; and that
// every record bound to a user is in that user's index, which "log out
// everywhere" relies on. Problems are reported one line each (at most
// 100), never quoting stored bytes.
//
// Check reads every key under the prefix (SCAN on every master): its cost
// is proportional to the number of sessions. It runs while the application
// writes; a discrepancy found in the bulk pass is reported only if a second,
// atomic read of that session confirms it.
func (s *Store) Check(ctx context.Context) (_ session.CheckReport, err error) {
	if err := s.usable(ctx); err != nil {
		return session.CheckReport{}, err
	}
	defer func() { s.leave("check", err) }()
	c := &checker{s: s, ctx: ctx, suspects: make(map[session.ID]bool), listedBy: make(map[session.ID][]string)}
	c.rep.SealsVerified = s.codec.keys != nil
	for _, step := range []func() error{c.format, c.records, c.buckets, c.users, c.confirm} {
		if err := step(); err != nil {
			return session.CheckReport{}, err
		}
	}
	if c.more > 0 {
		c.rep.Problems = append(c.rep.Problems, fmt.Sprintf("... and %d more problems", c.more))
	}
	return c.rep, nil
}

// checker is the state of one Check.
type checker struct {
	s    *Store
	ctx  context.Context
	rep  session.CheckReport
	more int // problems beyond maxProblems
	now  int64

	stored   map[session.ID]found    // records seen by the bulk pass
	suspects map[session.ID]bool     // ids to read again before reporting
	listedBy map[session.ID][]string // users whose index lists an id not bound to them (single server)
}

// found is a record as the bulk pass saw it.
type found struct {
	retain int64 // PEXPIRETIME
	user   string
}

func (c *checker) problem(format string, args ...any) {
	if len(c.rep.Problems) >= maxProblems {
		c.more++
		return
	}
	c.rep.Problems = append(c.rep.Problems, fmt.Sprintf(format, args...))
}

func (c *checker) err(what string, err error) error { return c.s.redisErr(c.ctx, "check: "+what, err) }

// format checks the meta hash and reads Redis's clock.
func (c *checker) format() error {
	m, err := c.s.client.HGetAll(c.ctx, c.s.keys.meta()).Result()
	if err != nil {
		return c.err("reading the format", err)
	}
	if m["format"] != formatName || m["schema"] != fmt.Sprint(SchemaVersion) {
		c.problem("%s: format %q schema %q, want %q %d", c.s.keys.meta(), m["format"], m["schema"], formatName, SchemaVersion)
	}
	at, err := c.s.client.Time(c.ctx).Result()
	if err != nil {
		return c.err("reading the time", err)
	}
	c.now = at.UnixMilli()
	return nil
}

// records reads every record key under the prefix.
func (c *checker) records() error {
	keys, err := c.s.scan(c.ctx, "check", c.s.keys.recordPattern())
	if err != nil {
		return err
	}
	c.stored = make(map[session.ID]found, len(keys))
	for chunk := range slices.Chunk(keys, session.MaxPageSize) {
		pipe := c.s.client.Pipeline()
		gets := make([]*redis.StringCmd, len(chunk))
		exps := make([]*redis.DurationCmd, len(chunk))
		for i, k := range chunk {
			gets[i] = pipe.Get(c.ctx, k)
			exps[i] = pipe.PExpireTime(c.ctx, k)
		}
		pipe.Exec(c.ctx) // errors are per command, read below
		for i, k := range chunk {
			v, err := gets[i].Bytes()
			if errors.Is(err, redis.Nil) {
				continue // expired since the scan
			}
			if err != nil {
				return c.err("reading sessions", err)
			}
			exp, err := exps[i].Result()
			if err != nil {
				return c.err("reading expiry times", err)
			}
			c.record(k, v, exp)
		}
	}
	return nil
}

// record checks one record read by the bulk pass.
func (c *checker) record(key string, value []byte, exp time.Duration) {
	id, ok := c.s.keys.idOfRecordKey(key)
	if !ok {
		c.problem("key %q is not the key of a session", key)
		return
	}
	c.rep.Records++
	retain := exp.Milliseconds()
	r, err := c.s.codec.decode(id, value)
	if err != nil {
		// Its contents are not to be trusted (nor quoted): only its
		// bucket's indexes are checked.
		c.problem("session %s: %s", id, badReason(err))
		c.stored[id] = found{retain: retain}
		return
	}
	switch {
	case exp < 0:
		c.problem("session %s has no expiry time in Redis: it would be kept forever", id)
		return
	case retain < ceilMillis(r.Expires()):
		c.problem("session %s: Redis deletes it at %s, before it expires at %s", id, time.UnixMilli(retain).UTC().Format(time.RFC3339Nano), r.Expires().UTC().Format(time.RFC3339Nano))
	}
	c.stored[id] = found{retain: retain, user: r.UserID}
}

// buckets compares the bucket indexes with the records, both ways.
func (c *checker) buckets() error {
	pipe := c.s.client.Pipeline()
	exps := make([]*redis.ZSliceCmd, buckets)
	ids := make([]*redis.StringSliceCmd, buckets)
	for b := range buckets {
		exps[b] = pipe.ZRangeWithScores(c.ctx, c.s.keys.expiry(byte(b)), 0, -1)
		ids[b] = pipe.ZRange(c.ctx, c.s.keys.ids(byte(b)), 0, -1)
	}
	pipe.Exec(c.ctx) // errors are per command, read below
	indexed := make(map[session.ID]bool)
	for b := range buckets {
		zs, err := exps[b].Result()
		if err != nil {
			return c.err("reading the expiry index", err)
		}
		members, err := ids[b].Result()
		if err != nil {
			return c.err("reading the id index", err)
		}
		inIDs := make(map[string]bool, len(members))
		for _, m := range members {
			inIDs[m] = true
		}
		for _, z := range zs {
			m, _ := z.Member.(string)
			id, err := session.ParseID(m)
			if err != nil || id[0] != byte(b) {
				c.problem("bucket %02x: expiry index entry %q is not an id of the bucket", b, m)
				continue
			}
			indexed[id] = true
			f, ok := c.stored[id]
			switch {
			case !inIDs[m]:
				c.suspects[id] = true
			case !ok && int64(z.Score) >= c.now:
				c.suspects[id] = true // an entry without its record
			case ok && int64(z.Score) != f.retain:
				c.suspects[id] = true
			}
			delete(inIDs, m)
		}
		for m := range inIDs {
			if id, err := session.ParseID(m); err == nil {
				c.suspects[id] = true // in the id index only
			} else {
				c.problem("bucket %02x: id index entry %q is not an id", b, m)
			}
		}
	}
	for id := range c.stored {
		if !indexed[id] {
			c.suspects[id] = true
		}
	}
	return nil
}

// users checks every registered user's index against the registry, and
// that every record bound to a user is in that user's index.
func (c *checker) users() error {
	pipe := c.s.client.Pipeline()
	regs := make([]*redis.ZSliceCmd, buckets)
	for b := range buckets {
		regs[b] = pipe.ZRangeWithScores(c.ctx, c.s.keys.users(byte(b)), 0, -1)
	}
	pipe.Exec(c.ctx) // errors are per command, read below
	for b := range buckets {
		zs, err := regs[b].Result()
		if err != nil {
			return c.err("reading the user registry", err)
		}
		for _, z := range zs {
			user, _ := z.Member.(string)
			if int64(z.Score) < c.now {
				continue // expired with its index; the trim drops it
			}
			if userBucket(user) != byte(b) {
				c.problem("user registry %02x lists user %q of another bucket", b, user)
				continue
			}
			if err := c.user(user); err != nil {
				return err
			}
		}
	}
	var bound []session.ID
	for id, f := range c.stored {
		if f.user != "" {
			bound = append(bound, id)
		}
	}
	pipe = c.s.client.Pipeline()
	scores := make([]*redis.FloatCmd, len(bound))
	for i, id := range bound {
		scores[i] = pipe.ZScore(c.ctx, c.s.keys.userIndex(c.stored[id].user), id.String())
	}
	pipe.Exec(c.ctx) // errors are per command, read below
	for i, id := range bound {
		score, err := scores[i].Result()
		if err != nil && !errors.Is(err, redis.Nil) {
			return c.err("reading user indexes", err)
		}
		if err != nil || int64(score) < c.stored[id].retain {
			c.suspects[id] = true
		}
	}
	return nil
}

// user checks one user's index, read atomically with its registry entry.
func (c *checker) user(user string) error {
	pipe := c.s.client.TxPipeline()
	entries := pipe.ZRangeWithScores(c.ctx, c.s.keys.userIndex(user), 0, -1)
	versions := pipe.HGetAll(c.ctx, c.s.keys.userVersions(user))
	reg := pipe.ZScore(c.ctx, c.s.keys.users(userBucket(user)), user)
	if _, err := pipe.Exec(c.ctx); err != nil && !errors.Is(err, redis.Nil) {
		return c.err("reading a user index", err)
	}
	zs, vs := entries.Val(), versions.Val()
	if reg.Err() != nil {
		return nil // removed since the registry was read
	}
	if len(zs) == 0 {
		c.problem("user %q is registered but has no index", user)
		return nil
	}
	if top := zs[len(zs)-1].Score; top != reg.Val() {
		c.problem("user %q: registry score %d, but the index's last entry expires at %d", user, int64(reg.Val()), int64(top))
	}
	for _, z := range zs {
		m, _ := z.Member.(string)
		if _, ok := vs[m]; !ok {
			c.problem("user %q: index entry %q has no version", user, m)
		}
		id, err := session.ParseID(m)
		if err != nil {
			c.problem("user %q: index entry %q is not an id", user, m)
			continue
		}
		if f, ok := c.stored[id]; !c.s.sharded && int64(z.Score) >= c.now && (!ok || f.user != user) {
			// A stale entry, which a single server never leaves (a sharded
			// client may; readers re-check every entry).
			c.suspects[id] = true
			c.listedBy[id] = append(c.listedBy[id], user)
		}
	}
	return nil
}

// confirm reads every suspect session again, its record and bucket indexes
// atomically, and reports what is still wrong.
func (c *checker) confirm() error {
	ids := make([]session.ID, 0, len(c.suspects))
	for id := range c.suspects {
		ids = append(ids, id)
	}
	slices.SortFunc(ids, func(a, b session.ID) int { return slices.Compare(a[:], b[:]) })
	for _, id := range ids {
		if err := c.confirmOne(id); err != nil {
			return err
		}
	}
	return nil
}

func (c *checker) confirmOne(id session.ID) error {
	k := c.s.keys
	pipe := c.s.client.TxPipeline()
	get := pipe.Get(c.ctx, k.record(id))
	pexp := pipe.PExpireTime(c.ctx, k.record(id))
	exp := pipe.ZScore(c.ctx, k.expiry(id[0]), id.String())
	inIDs := pipe.ZScore(c.ctx, k.ids(id[0]), id.String())
	if _, err := pipe.Exec(c.ctx); err != nil && !errors.Is(err, redis.Nil) {
		return c.err("reading a session again", err)
	}
	// Read after the session: an entry whose record Redis had expired by
	// then has a retain before this.
	tm, err := c.s.client.Time(c.ctx).Result()
	if err != nil {
		return c.err("reading the time", err)
	}
	now := tm.UnixMilli()
	value, recErr := get.Bytes()
	_, expErr := exp.Result()
	_, idsErr := inIDs.Result()
	if (expErr == nil) != (idsErr == nil) {
		c.problem("session %s is in only one of its bucket's indexes", id)
	}
	if recErr != nil {
		if expErr == nil && int64(exp.Val()) >= now {
			c.problem("session %s is indexed but not stored", id)
		}
		return c.staleEntries(id, "", now)
	}
	retain := pexp.Val().Milliseconds()
	if expErr != nil {
		c.problem("session %s is stored but missing from its bucket's expiry index", id)
	} else if int64(exp.Val()) != retain {
		c.problem("session %s: the expiry index says %d, Redis expires it at %d", id, int64(exp.Val()), retain)
	}
	r, err := c.s.codec.decode(id, value)
	if err != nil {
		return nil // reported by the bulk pass; its contents are not to be trusted
	}
	if r.UserID != "" {
		score, err := c.s.client.ZScore(c.ctx, k.userIndex(r.UserID), id.String()).Result()
		switch {
		case errors.Is(err, redis.Nil):
			c.problem("session %s of user %q is missing from the user's index", id, r.UserID)
		case err != nil:
			return c.err("reading a user index", err)
		case int64(score) < retain:
			c.problem("session %s of user %q: the user's index drops it at %d, before Redis expires it at %d", id, r.UserID, int64(score), retain)
		}
	}
	return c.staleEntries(id, r.UserID, now)
}

// staleEntries reports the user indexes that, on a single server, still
// list id although it is not bound to their user (user: the user it is
// bound to now, "" when none or gone).
func (c *checker) staleEntries(id session.ID, user string, now int64) error {
	for _, u := range c.listedBy[id] {
		if u == user {
			continue
		}
		score, err := c.s.client.ZScore(c.ctx, c.s.keys.userIndex(u), id.String()).Result()
		switch {
		case errors.Is(err, redis.Nil):
		case err != nil:
			return c.err("reading a user index", err)
		case int64(score) >= now:
			c.problem("the index of user %q lists session %s, which is not bound to it", u, id)
		}
	}
	return nil
}
