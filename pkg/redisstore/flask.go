package redisstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sesbolt/sesbolt/internal/sealcount"
	"github.com/sesbolt/sesbolt/pkg/session"
)

// FlaskStore is a session.Store in the Redis layout of the Flask recipe
// (shared/seed/, examples/flask): the key is the bare session id in
// canonical form, the value the session dict as JSON, with the user id as
// one of its keys (FlaskOptions.UserKey), and the time to live the Flask
// app's permanent_session_lifetime (FlaskOptions.Lifetime), set again by
// every write. A Flask app following the recipe and a session.Manager with
// this store and pkg/flasksession's cookie codec share sessions.
//
// It implements session.SharedLoader besides session.Store, and none of
// the other optional interfaces: the layout has no per-user index
// (session.UserIndex: "log out everywhere" and a user's session list
// answer session.ErrNotSupported, and so does a change that would hold a
// user to session.Change.MaxUserSessions), and its keys are not in a
// keyspace of their own to list, count or purge. The package documentation, "The
// Flask layout", says what else the layout cannot keep.
//
// It is safe for concurrent use, also by several processes and by Flask
// apps sharing one Redis.
type FlaskStore struct {
	*runner
	opts  FlaskOptions // with defaults applied
	codec flaskCodec

	unreadable sealcount.Counter // values that are not a session dict, logged once per id
}

// Compile-time checks of the interfaces FlaskStore implements.
var (
	_ session.Store        = (*FlaskStore)(nil)
	_ session.SharedLoader = (*FlaskStore)(nil)
)

// NewFlask returns a store in the Flask recipe's layout on client, which
// may be any go-redis client with ContextTimeoutEnabled set (see New); it
// fails with ErrConfig otherwise, and for options without UserKey or
// Lifetime. It does not talk to Redis: a Redis that is down fails the
// first call. The store never closes the client.
func NewFlask(client redis.UniversalClient, opts *FlaskOptions) (*FlaskStore, error) {
	if client == nil {
		return nil, fmt.Errorf("%w: nil client", ErrConfig)
	}
	o, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	if err := checkClient(client); err != nil {
		return nil, err
	}
	return &FlaskStore{
		runner: newRunner(client, o.Logger, o.ReadOnly, o.Observer.Failed),
		opts:   o,
		codec:  flaskCodec{userKey: o.UserKey, lifetime: o.Lifetime, maxSize: o.MaxRecordSize},
	}, nil
}

// Close makes every later call return session.ErrClosed; calls already
// running finish normally. It does not close the client. It is idempotent
// and returns nil.
func (s *FlaskStore) Close() error {
	s.closed.Store(true)
	return nil
}

// UserKey returns the session dict's key that holds the user id.
func (s *FlaskStore) UserKey() string { return s.opts.UserKey }

// Lifetime returns the time to live every write sets.
func (s *FlaskStore) Lifetime() time.Duration { return s.opts.Lifetime }

// sessionKey is the key of id's session: the bare id.
func (s *FlaskStore) sessionKey(id session.ID) string { return id.String() }

// tombstoneKey is the key of id's tombstone: the prefix and the id in
// braces, which on Redis Cluster puts it in the hash slot of the bare id.
func (s *FlaskStore) tombstoneKey(id session.ID) string {
	return s.opts.TombstonePrefix + "{" + id.String() + "}"
}

// flaskStored is what one read finds under an id.
type flaskStored struct {
	value     []byte // nil: no session
	expireAt  int64  // the key's expiry in unix ms; negative: no TTL
	tombstone []byte // nil: none
}

// read reads id's session, its expiry and its tombstone in one
// transaction (the three share a hash slot).
func (s *FlaskStore) read(ctx context.Context, id session.ID) (flaskStored, error) {
	pipe := s.client.TxPipeline()
	get := pipe.Get(ctx, s.sessionKey(id))
	exp := pipe.Do(ctx, "pexpiretime", s.sessionKey(id))
	tomb := pipe.Get(ctx, s.tombstoneKey(id))
	pipe.Exec(ctx) // errors are per command, read below
	for _, cmd := range []redis.Cmder{get, exp, tomb} {
		if err := cmd.Err(); err != nil && !errors.Is(err, redis.Nil) {
			return flaskStored{}, s.redisErr(ctx, "reading session", err)
		}
	}
	var st flaskStored
	if v, err := get.Bytes(); err == nil {
		st.value = v
	}
	st.expireAt, _ = exp.Int64()
	if v, err := tomb.Bytes(); err == nil {
		st.tombstone = v
	}
	return st, nil
}

// parse takes the stored value of id apart and describes it as a record;
// a value that is not a session dict is logged (once per id) and fails
// with session.ErrNotFound.
func (s *FlaskStore) parse(id session.ID, st flaskStored) (*session.Record, flaskValue, error) {
	v, err := s.codec.decode(st.value)
	if err != nil {
		if s.unreadable.Add(id) {
			s.log.Warn("redisstore: a session in the Flask layout is not a session dict; treating it as absent",
				"id", id.String(), "reason", err.Error())
		}
		return nil, flaskValue{}, session.ErrNotFound
	}
	return s.codec.record(id, v, st.expireAt), v, nil
}

// Load returns the session stored under id if it is live at now (see
// session.Store): session.ErrNotFound when the key does not exist, when
// the session expired at now (by the key's expiry; Redis has usually
// deleted it by then), and when its value is not a session dict (logged
// once per id); session.ErrRenewed while the tombstone of a renew by this
// store lasts. The record's times are derived from the key's expiry (see
// FlaskStore); at the zero time any stored session loads.
func (s *FlaskStore) Load(ctx context.Context, id session.ID, now time.Time) (*session.Record, error) {
	return s.LoadShared(ctx, id, now)
}

// LoadShared is Load (session.SharedLoader): every read decodes afresh, so
// the record shares nothing with the store.
func (s *FlaskStore) LoadShared(ctx context.Context, id session.ID, now time.Time) (_ *session.Record, err error) {
	if err := s.usable(ctx); err != nil {
		return nil, err
	}
	defer func() { s.failed("load", err) }()
	st, err := s.read(ctx, id)
	if err != nil {
		return nil, err
	}
	if st.value == nil {
		return nil, absent(st.tombstone, now)
	}
	r, _, err := s.parse(id, st)
	if err != nil {
		return nil, err
	}
	if !now.IsZero() && r.Expired(now) {
		return nil, session.ErrNotFound
	}
	return r, nil
}

// Apply applies c to the latest stored session dict and returns the
// resulting record (nil for Destroy), with the errors of session.Store.
// Every write sets the key's time to live to FlaskOptions.Lifetime from
// c.Now; the change's expiry times are not kept (there is no absolute
// lifetime). A change that sets or deletes the user key as data fails with
// session.ErrInvalid; a result larger than FlaskOptions.MaxRecordSize with
// session.ErrTooLarge; one with a positive MaxUserSessions whose result is
// bound to a user with session.ErrNotSupported (there is no per-user
// index), all writing nothing.
//
// An update reads the dict, applies c in Go (session.Change.ApplyTo) and
// writes the result only if the stored bytes are still those it read,
// retrying up to FlaskOptions.MaxAttempts times (then ErrConflict), so
// changes through FlaskStores keep sesbolt's per-key merge. The Flask app
// writes whole dicts without such a check: a Flask save that lands after a
// Go change and was read before it undoes it. A change of nothing but
// times refreshes the TTL without rewriting the dict.
//
// A renew writes the dict under the new id, deletes the old key, and
// leaves a tombstone for the old id under FlaskOptions.TombstonePrefix for
// session.RenewGrace, which this store honours and the Flask app does not
// read. An update of a value that is not a session dict fails with
// session.ErrNotFound (Destroy deletes it). Errors name no session id.
func (s *FlaskStore) Apply(ctx context.Context, c *session.Change) (_ *session.Record, err error) {
	if err := s.applicable(ctx, c); err != nil {
		return nil, err
	}
	start := time.Now()
	var ended []session.Ended // a Destroy's removal
	defer func() {
		s.failed("apply", err)
		s.committed(start, err)
		if err == nil {
			s.opts.Observer.ReportEnded(ctx, session.EndReasonFrom(ctx), ended)
		}
	}()
	if c.Create != nil {
		return s.insert(ctx, c)
	}
	if _, ok := c.Set[s.opts.UserKey]; ok || slices.Contains(c.Delete, s.opts.UserKey) {
		return nil, s.codec.userKeyErr()
	}
	return s.retry(ctx, c.ID, s.opts.MaxAttempts, func() (*session.Record, guardKind, error) { return s.attempt(ctx, c, &ended) })
}

// until returns when a write at now makes a key expire, in unix ms.
func (s *FlaskStore) until(now time.Time) int64 { return ceilMillis(now.Add(s.opts.Lifetime)) }

// written returns the record a write of value with expiry until leaves
// under id, as Load will read it.
func (s *FlaskStore) written(id session.ID, value []byte, until int64) (*session.Record, error) {
	v, err := s.codec.decode(value)
	if err != nil {
		return nil, fmt.Errorf("redisstore: a session dict does not decode after encoding: %w", err)
	}
	return s.codec.record(id, v, until), nil
}

// limitErr is the error for a change that would hold the user of its
// result to c.MaxUserSessions: the layout cannot find a user's sessions.
func limitErr() error {
	return fmt.Errorf("redisstore: the Flask layout has no per-user index to hold a user to a session limit (session.Config.MaxUserSessions): %w", session.ErrNotSupported)
}

// insert stores c.Create under a free id.
func (s *FlaskStore) insert(ctx context.Context, c *session.Change) (*session.Record, error) {
	if c.MaxUserSessions > 0 && c.Create.UserID != "" {
		return nil, limitErr()
	}
	value, err := s.codec.encode(c.Create.Data, c.Create.UserID, nil)
	if err != nil {
		return nil, err
	}
	until := s.until(c.Now)
	p := &program{}
	p.vacant(s.sessionKey(c.ID), s.tombstoneKey(c.ID), c.Now)
	p.setUntil(s.sessionKey(c.ID), value, until)
	kind, err := s.run(ctx, p)
	if err != nil {
		return nil, err
	}
	if kind != guardOK {
		return nil, existsErr(nil)
	}
	return s.written(c.ID, value, until)
}

// attempt makes one attempt at an update or destroy: read, apply, write if
// unchanged. kind is guardConflict when the dict changed meanwhile, and
// guardExists when a renew's new id is taken. A destroy that removed the
// session sets *ended when the observer collects removals.
func (s *FlaskStore) attempt(ctx context.Context, c *session.Change, ended *[]session.Ended) (*session.Record, guardKind, error) {
	st, err := s.read(ctx, c.ID)
	if err != nil {
		return nil, 0, err
	}
	key := s.sessionKey(c.ID)
	if c.Destroy {
		if st.value == nil {
			return nil, guardOK, nil
		}
		p := &program{}
		p.eq(key, st.value)
		p.drop(key)
		s.hook()
		kind, err := s.run(ctx, p)
		if err == nil && kind == guardOK && s.observesEnds() {
			*ended = []session.Ended{{ID: c.ID, User: s.userOf(st.value)}}
		}
		return nil, kind, err
	}
	if st.value == nil {
		return nil, 0, absent(st.tombstone, c.Now)
	}
	latest, prev, err := s.parse(c.ID, st)
	if err != nil {
		return nil, 0, err
	}
	if latest.Expired(c.Now) {
		return nil, 0, session.ErrNotFound
	}
	next := c.ApplyTo(latest)
	if c.MaxUserSessions > 0 && next.UserID != "" {
		return nil, 0, limitErr()
	}
	value, err := s.codec.encode(next.Data, next.UserID, prev.user)
	if err != nil {
		return nil, 0, err
	}
	until := s.until(c.Now)
	target := c.TargetID()
	pl := &plan{}
	if target == c.ID {
		p := &program{}
		p.eq(key, st.value)
		if next.UserID == latest.UserID && maps.EqualFunc(next.Data, latest.Data, rawEqual) {
			p.expireAt(key, until) // times only: Flask's EXPIRE
		} else {
			p.setUntil(key, value, until)
		}
		pl.main = []*program{p}
	} else {
		taken, err := s.read(ctx, target)
		if err != nil {
			return nil, 0, err
		}
		if taken.value != nil || tombstoneLasts(taken.tombstone, c.Now) {
			return nil, guardExists, nil
		}
		// Two hash slots: on a sharded client the new key is written
		// first (no client knows its id yet), then the old one removed if
		// unchanged, leaving its tombstone; when it changed, the new one
		// is removed again.
		newKey := s.sessionKey(target)
		ins := &program{}
		ins.vacant(newKey, s.tombstoneKey(target), c.Now)
		ins.setUntil(newKey, value, until)
		rm := &program{}
		rm.eq(key, st.value)
		rm.drop(key)
		rm.mark(s.tombstoneKey(c.ID), c.Now.Add(session.RenewGrace))
		undo := &program{}
		undo.eq(newKey, value)
		undo.drop(newKey)
		pl.main, pl.undo = []*program{ins, rm}, []*program{undo}
	}
	s.hook()
	kind, err := s.exec(ctx, pl)
	if err != nil || kind != guardOK {
		return nil, kind, err
	}
	r, err := s.written(target, value, until)
	return r, guardOK, err
}

// rawEqual reports whether two JSON values are the same bytes.
func rawEqual(a, b json.RawMessage) bool { return string(a) == string(b) }

// Delete removes the sessions stored under ids, whatever their value, and
// returns how many existed. Missing and repeated ids are not an error;
// tombstones stay. On error the count covers the keys removed before it.
// The removed sessions are reported to the observer's Ended with the
// caller's reason.
func (s *FlaskStore) Delete(ctx context.Context, ids ...session.ID) (n int, err error) {
	if err := s.writable(ctx); err != nil {
		return 0, err
	}
	var ended []session.Ended
	defer func() {
		s.failed("delete", err)
		s.opts.Observer.ReportEnded(ctx, session.EndReasonFrom(ctx), ended)
	}()
	seen := make(map[session.ID]bool, len(ids))
	for chunk := range slices.Chunk(ids, session.MaxPageSize) {
		pipe := s.client.Pipeline()
		var cmds []*redis.StringCmd
		var removed []session.ID
		for _, id := range chunk {
			if !seen[id] {
				seen[id] = true
				cmds = append(cmds, pipe.GetDel(ctx, s.sessionKey(id)))
				removed = append(removed, id)
			}
		}
		if len(cmds) == 0 {
			continue
		}
		pipe.Exec(ctx) // errors are per command, read below
		for i, c := range cmds {
			v, err := c.Bytes()
			if errors.Is(err, redis.Nil) {
				continue
			}
			if err != nil {
				return n, s.redisErr(ctx, "deleting sessions", err)
			}
			n++
			if s.observesEnds() {
				ended = append(ended, session.Ended{ID: removed[i], User: s.userOf(v)})
			}
		}
	}
	return n, nil
}

// userOf returns the user a stored value binds; "" when it binds none or
// is not a session dict.
func (s *FlaskStore) userOf(value []byte) string {
	v, err := s.codec.decode(value)
	if err != nil {
		return ""
	}
	return userText(v.user)
}

// observesEnds reports whether removals must be collected for the
// observer's Ended: without it, Apply and Delete do not decode the values
// they remove to name their users.
func (s *FlaskStore) observesEnds() bool { return s.opts.Observer.Ended != nil }

// committed reports an Apply that started at start and returned err to
// the observer's Committed (see commitOf).
func (s *FlaskStore) committed(start time.Time, err error) {
	if f := s.opts.Observer.Committed; f != nil {
		f(commitOf(start, err))
	}
}

// sessionKeyPattern is the SCAN pattern of keys shaped like a session id
// in canonical form (lower-case hex in the 8-4-4-4-12 groups).
var sessionKeyPattern = func() string {
	hex := func(n int) string { return strings.Repeat("[0-9a-f]", n) }
	return hex(8) + "-" + hex(4) + "-" + hex(4) + "-" + hex(4) + "-" + hex(12)
}()

// Each calls fn with the id and record of every session in the layout
// that is live at now (every stored one at the zero time), in no
// particular order. For a key shaped like a session id whose value is not
// a session dict, fn gets a nil record and an error saying why (it never
// quotes the value); such values are not logged. Each finds the sessions
// with SCAN, on every master of a Redis Cluster: sessions stored or
// removed meanwhile may or may not be seen, every other one is seen once.
// Redis holds no index of the layout, so it reads every key name of the
// database, and the values of those shaped like session ids, 1000 at a
// time. It stops at the first error fn returns, and returns it.
func (s *FlaskStore) Each(ctx context.Context, now time.Time, fn func(id session.ID, r *session.Record, err error) error) error {
	if err := s.usable(ctx); err != nil {
		return err
	}
	keys, err := s.scan(ctx, "listing sessions", sessionKeyPattern)
	if err != nil {
		return err
	}
	var ids []session.ID
	for _, k := range keys {
		if id, err := session.ParseID(k); err == nil && id.String() == k {
			ids = append(ids, id)
		}
	}
	for chunk := range slices.Chunk(ids, 1000) {
		pipe := s.client.Pipeline()
		gets := make([]*redis.StringCmd, len(chunk))
		exps := make([]*redis.Cmd, len(chunk))
		for i, id := range chunk {
			gets[i] = pipe.Get(ctx, s.sessionKey(id))
			exps[i] = pipe.Do(ctx, "pexpiretime", s.sessionKey(id))
		}
		pipe.Exec(ctx) // errors are per command, read below
		for i, id := range chunk {
			v, err := gets[i].Bytes()
			if errors.Is(err, redis.Nil) {
				continue // removed since the scan
			}
			if err != nil {
				return s.redisErr(ctx, "listing sessions", err)
			}
			exp, err := exps[i].Int64()
			if err != nil {
				return s.redisErr(ctx, "listing sessions", err)
			}
			if exp == -2 {
				continue // removed between the two reads
			}
			val, err := s.codec.decode(v)
			if err != nil {
				if err := fn(id, nil, err); err != nil {
					return err
				}
				continue
			}
			r := s.codec.record(id, val, exp)
			if !now.IsZero() && r.Expired(now) {
				continue
			}
			if err := fn(id, r, nil); err != nil {
				return err
			}
		}
	}
	return nil
}
