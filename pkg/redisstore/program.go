package redisstore

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sesbolt/sesbolt/pkg/session"
)

//go:embed program.lua
var programSource string

//go:embed trim.lua
var trimSource string

var (
	programScript = redis.NewScript(programSource)
	trimScript    = redis.NewScript(trimSource)
)

// guardKind says what a failed guard means.
type guardKind uint8

const (
	guardOK       guardKind = iota // no guard failed
	guardConflict                  // the record changed since it was read
	guardExists                    // the id is taken
	// guardStale is no guard of a script: an attempt that started from a
	// remembered value rather than reading (Store.attempt) did not succeed,
	// so the next attempt reads, without waiting.
	guardStale
)

// step is one guard or operation of a program: an opcode, the keys it
// names and its other arguments.
type step struct {
	op   string
	keys []string
	args []any
	kind guardKind // for guards
}

// program is a list of guards and operations that program.lua runs in one
// atomic step. On a sharded client every key of a program must be in one
// hash slot; the store builds them so.
type program struct {
	guards []step
	ops    []step
}

// eq adds a guard: key holds exactly value (the record as it was read).
func (p *program) eq(key string, value []byte) {
	p.guards = append(p.guards, step{op: "eq", keys: []string{key}, args: []any{value}, kind: guardConflict})
}

// none adds a guard: key does not exist.
func (p *program) none(key string) {
	p.guards = append(p.guards, step{op: "none", keys: []string{key}, kind: guardExists})
}

// free adds a guard: the tombstone at key does not last at at.
func (p *program) free(key string, at time.Time) {
	p.guards = append(p.guards, step{op: "free", keys: []string{key}, args: []any{tombstoneValue(at)}, kind: guardExists})
}

// vacant adds the guards that an id is free to take at at: no key at key
// (its record or session), and no tombstone at tombstone that lasts at at.
func (p *program) vacant(key, tombstone string, at time.Time) {
	p.none(key)
	p.free(tombstone, at)
}

// unchanged adds a guard: key holds exactly value, or does not exist when
// value is nil (a record as it was read, for a decision that depends on
// it). Its failure is a conflict.
func (p *program) unchanged(key string, value []byte) {
	if value == nil {
		p.guards = append(p.guards, step{op: "none", keys: []string{key}, kind: guardConflict})
		return
	}
	p.eq(key, value)
}

// members adds a guard: the sorted set key has exactly the members ms, in
// any order. Its failure is a conflict.
func (p *program) members(key string, ms []string) {
	args := make([]any, 0, len(ms)+1)
	args = append(args, len(ms))
	for _, m := range ms {
		args = append(args, m)
	}
	p.guards = append(p.guards, step{op: "members", keys: []string{key}, args: args, kind: guardConflict})
}

// put stores value as the record of id until retain and indexes it.
func (p *program) put(l layout, id session.ID, value []byte, retain int64) {
	p.ops = append(p.ops, step{op: "put",
		keys: []string{l.record(id), l.ids(id[0]), l.expiry(id[0])},
		args: []any{id.String(), value, retain}})
}

// create stores value as the record of id until retain and indexes it,
// guarded by id being free at now (see vacant): an insert.
func (p *program) create(l layout, id session.ID, value []byte, retain int64, now time.Time) {
	p.vacant(l.record(id), l.renewed(id), now)
	p.put(l, id, value, retain)
}

// rewrite replaces the record of id, stored before under the same id and
// user, with value until retain, leaving its index entries alone but for
// its expiry index entry when moved (retain changed).
func (p *program) rewrite(l layout, id session.ID, value []byte, retain int64, moved bool) {
	p.ops = append(p.ops, step{op: "rewrite",
		keys: []string{l.record(id), l.ids(id[0]), l.expiry(id[0])},
		args: []any{id.String(), value, retain, flag(moved)}})
}

// del deletes the record of id and its bucket index entries.
func (p *program) del(l layout, id session.ID) {
	p.ops = append(p.ops, step{op: "del",
		keys: []string{l.record(id), l.ids(id[0]), l.expiry(id[0])},
		args: []any{id.String()}})
}

// tombstone leaves the tombstone of id, lasting until end.
func (p *program) tombstone(l layout, id session.ID, end time.Time) {
	p.mark(l.renewed(id), end)
}

// mark leaves a tombstone at key, lasting until end.
func (p *program) mark(key string, end time.Time) {
	p.setUntil(key, []byte(tombstoneValue(end)), ceilMillis(end))
}

// setUntil stores value at key until the unix millisecond until (deletes
// it when that is not in the future).
func (p *program) setUntil(key string, value []byte, until int64) {
	p.ops = append(p.ops, step{op: "mark", keys: []string{key}, args: []any{value, until}})
}

// expireAt makes key expire at the unix millisecond until (deletes it when
// that is not in the future), leaving its value alone.
func (p *program) expireAt(key string, until int64) {
	p.ops = append(p.ops, step{op: "ttl", keys: []string{key}, args: []any{until}})
}

// drop deletes key.
func (p *program) drop(key string) {
	p.ops = append(p.ops, step{op: "drop", keys: []string{key}})
}

// uadd lists id in user's index with retain (exactly, or at least when
// exact is false) as of version.
func (p *program) uadd(l layout, user string, id session.ID, retain int64, version uint64, exact bool) {
	p.ops = append(p.ops, step{op: "uadd",
		keys: []string{l.userIndex(user), l.userVersions(user), l.users(userBucket(user))},
		args: []any{user, id.String(), retain, strconv.FormatUint(version, 10), flag(exact)}})
}

// ulater moves id's entry in user's index to retain, later than the
// entry's (exactly, or at least when exact is false); an entry found
// missing is listed as uadd lists it, as of version.
func (p *program) ulater(l layout, user string, id session.ID, retain int64, version uint64, exact bool) {
	p.ops = append(p.ops, step{op: "ulater",
		keys: []string{l.userIndex(user), l.userVersions(user), l.users(userBucket(user))},
		args: []any{user, id.String(), retain, strconv.FormatUint(version, 10), flag(exact)}})
}

// flag is a boolean argument of program.lua.
func flag(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

// urem drops id from user's index unless a change after version listed it.
func (p *program) urem(l layout, user string, id session.ID, version uint64) {
	p.ops = append(p.ops, step{op: "urem",
		keys: []string{l.userIndex(user), l.userVersions(user), l.users(userBucket(user))},
		args: []any{user, id.String(), strconv.FormatUint(version, 10)}})
}

// absorb appends q's guards and operations to p.
func (p *program) absorb(q *program) {
	p.guards = append(p.guards, q.guards...)
	p.ops = append(p.ops, q.ops...)
}

// encode returns the KEYS and ARGV of the program for program.lua.
func (p *program) encode() (keys []string, argv []any) {
	index := make(map[string]int)
	ref := func(k string) int {
		if i, ok := index[k]; ok {
			return i
		}
		keys = append(keys, k)
		index[k] = len(keys)
		return len(keys)
	}
	argv = append(argv, len(p.guards))
	for _, list := range [][]step{p.guards, p.ops} {
		for _, s := range list {
			argv = append(argv, s.op)
			for _, k := range s.keys {
				argv = append(argv, ref(k))
			}
			argv = append(argv, s.args...)
		}
	}
	return keys, argv
}

// failed returns the kind of guard number g (1-based) as the script
// returned it; 0 is guardOK.
func (p *program) failed(g int64) (guardKind, error) {
	if g == 0 {
		return guardOK, nil
	}
	if g < 0 || g > int64(len(p.guards)) {
		return 0, fmt.Errorf("redisstore: script returned guard %d of %d", g, len(p.guards))
	}
	return p.guards[g-1].kind, nil
}

// plan is everything one change writes, in the order a sharded client runs
// it: user-index additions (pre), the record programs (main, in order, one
// hash slot each), then user-index removals (post). Adding to an index
// before the record is written and removing after it is gone is what keeps
// the indexes from ever missing a stored record on a sharded client. On a
// single server the whole plan runs as one program.
type plan struct {
	pre, main, post []*program
	// undo runs, in order, on a sharded client when a main program after
	// the first fails: it takes back what the earlier ones and pre wrote
	// (a renew whose second step met a conflict).
	undo []*program
	// limit, on a single server, holds the result's user to
	// Change.MaxUserSessions in the same step: guards that the user's
	// sessions are as they were read, and the removal of the surplus (see
	// limitProgram). nil without a limit, and always on a sharded client,
	// which enforces the limit in a step of its own (limitPass).
	limit *program
	// ended lists the sessions the plan removes (a destroyed record, those
	// over the limit), for the observer's Ended once the plan succeeded;
	// nil when the observer does not collect them.
	ended []session.Ended
}

// merged returns the plan as one program: its main, pre, post and limit
// programs' guards (all checked before any operation runs), then their
// operations, in that order.
func (pl *plan) merged() *program {
	m := &program{}
	for _, list := range [][]*program{pl.main, pl.pre, pl.post} {
		for _, p := range list {
			m.absorb(p)
		}
	}
	if pl.limit != nil {
		m.absorb(pl.limit)
	}
	return m
}

// run runs one program and returns the kind of the guard that failed, if
// any.
func (s *runner) run(ctx context.Context, p *program) (guardKind, error) {
	keys, argv := p.encode()
	g, err := programScript.Run(ctx, s.client, keys, argv...).Int64()
	if err != nil {
		return 0, s.redisErr(ctx, "writing", err)
	}
	return p.failed(g)
}

// runAll runs programs in one pipeline (each atomic on its own) and returns
// the outcome of each. A program whose script is not cached (a restarted
// or failed-over server) is run again with its source.
func (s *runner) runAll(ctx context.Context, progs []*program) ([]guardKind, error) {
	switch len(progs) {
	case 0:
		return nil, nil
	case 1:
		k, err := s.run(ctx, progs[0])
		return []guardKind{k}, err
	}
	calls := make([]scriptCall, len(progs))
	for i, p := range progs {
		calls[i].keys, calls[i].args = p.encode()
	}
	replies, err := s.evalAll(ctx, programScript, calls)
	if err != nil {
		return nil, s.redisErr(ctx, "writing", err)
	}
	out := make([]guardKind, len(progs))
	for i, g := range replies {
		if out[i], err = progs[i].failed(g); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// scriptCall is the KEYS and ARGV of one run of a script.
type scriptCall struct {
	keys []string
	args []any
}

// evalAll runs sc once per call in one pipeline, each run atomic on its
// own, and returns their integer replies. A call the server has not
// cached the script for (a restarted or failed-over server) runs again
// with the source. On an error it returns the replies of the calls before
// the failed one, and the error unwrapped.
func (s *runner) evalAll(ctx context.Context, sc *redis.Script, calls []scriptCall) ([]int64, error) {
	pipe := s.client.Pipeline()
	cmds := make([]*redis.Cmd, len(calls))
	for i, c := range calls {
		cmds[i] = sc.EvalSha(ctx, pipe, c.keys, c.args...)
	}
	pipe.Exec(ctx) // errors are per command, read below
	out := make([]int64, 0, len(calls))
	for i, c := range cmds {
		n, err := c.Int64()
		if err != nil && redis.HasErrorPrefix(err, "NOSCRIPT") {
			n, err = sc.Run(ctx, s.client, calls[i].keys, calls[i].args...).Int64()
		}
		if err != nil {
			return out, err
		}
		out = append(out, n)
	}
	return out, nil
}

// exec runs a plan: as one program on a single server; step by step on a
// sharded client. It returns the kind of the guard that failed (nothing
// was written then, but on a sharded client the pre programs ran). A
// failure of the post programs, which only drop index entries, is logged,
// not returned: the change itself is stored, and the entries left are
// re-checked by every reader and expire with the record.
func (s *runner) exec(ctx context.Context, pl *plan) (guardKind, error) {
	if !s.sharded {
		return s.run(ctx, pl.merged())
	}
	if _, err := s.runAll(ctx, pl.pre); err != nil {
		return 0, err
	}
	for i, p := range pl.main {
		k, err := s.run(ctx, p)
		if err != nil {
			return 0, err
		}
		if k != guardOK {
			if i > 0 {
				s.undo(ctx, pl.undo)
			}
			return k, nil
		}
	}
	s.runPost(ctx, pl.post)
	return guardOK, nil
}

// undo runs the undo programs of a plan whose later step failed, logging a
// failure.
func (s *runner) undo(ctx context.Context, progs []*program) {
	for _, p := range progs {
		if _, err := s.run(ctx, p); err != nil {
			s.log.Warn("redisstore: undoing the first step of a renew failed; a copy of the session may remain under the new id until it expires", "err", err)
			s.failed("undo_renew", err)
			return
		}
	}
}

// execAll runs independent single-step plans (deletions) together and
// returns the outcome of each.
func (s *runner) execAll(ctx context.Context, plans []*plan) ([]guardKind, error) {
	progs := make([]*program, len(plans))
	for i, pl := range plans {
		if s.sharded {
			if len(pl.pre) > 0 || len(pl.main) != 1 {
				return nil, errors.New("redisstore: execAll needs single-step plans")
			}
			progs[i] = pl.main[0]
		} else {
			progs[i] = pl.merged()
		}
	}
	out, err := s.runAll(ctx, progs)
	if err != nil || !s.sharded {
		return out, err
	}
	var post []*program
	for i, pl := range plans {
		if out[i] == guardOK {
			post = append(post, pl.post...)
		}
	}
	s.runPost(ctx, post)
	return out, nil
}

// runPost runs the post programs of a sharded plan, logging a failure.
func (s *runner) runPost(ctx context.Context, post []*program) {
	if _, err := s.runAll(ctx, post); err != nil {
		s.log.Warn("redisstore: removing user index entries failed; they remain until read or expired", "err", err)
		s.failed("unindex", err)
	}
}
