package redisstore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sesbolt/sesbolt/internal/commitstats"
	"github.com/sesbolt/sesbolt/internal/sealcount"
	"github.com/sesbolt/sesbolt/pkg/session"
)

// formatName and SchemaVersion are recorded in the meta hash under the
// prefix; New refuses data of another format or a newer schema.
const (
	formatName = "sesbolt-redis"
	// SchemaVersion is the version of the key layout and record format
	// this package writes.
	SchemaVersion = 1
)

// Store is a session.Store in Redis. It also implements
// session.SharedLoader, session.UserIndex, session.Lister,
// session.StatsReporter, session.Purger, session.Importer and
// session.Checker; not session.Backuper (back up with Redis's own means).
// It is safe for concurrent use, also by several processes sharing one
// Redis and prefix; Close stops its background pass.
type Store struct {
	*runner           // client, sharded, log, closed
	opts      Options // with defaults applied
	keys      layout
	codec     codec
	retention int64 // Options.ExpiredRetention in milliseconds

	// userQueues holds one token per user bucket: changes limiting the
	// sessions of the users of one bucket in this process take turns (see
	// lockUser).
	userQueues [buckets]chan struct{}

	ctx       context.Context // cancelled by Close: the trim pass stops
	cancel    context.CancelFunc
	closeOnce sync.Once
	trimDone  chan struct{} // closed when the trim pass has exited; nil without one

	seals sealcount.Failures // records that failed their integrity check (observe.go)
	cache *recordCache       // values last read or written, decoded

	commitStats commitstats.Recorder              // every Apply, for Stats.Commits
	lastReap    atomic.Pointer[session.ReapStats] // the latest Purge, for Stats.LastReap

	// Hooks and counters for tests (export_test.go).
	trimPasses atomic.Int64 // completed background passes
}

// Compile-time checks of the interfaces Store implements.
var (
	_ session.Store         = (*Store)(nil)
	_ session.SharedLoader  = (*Store)(nil)
	_ session.UserIndex     = (*Store)(nil)
	_ session.Lister        = (*Store)(nil)
	_ session.StatsReporter = (*Store)(nil)
	_ session.Purger        = (*Store)(nil)
	_ session.Importer      = (*Store)(nil)
	_ session.Checker       = (*Store)(nil)
)

// New returns a store on client, which may be any go-redis client: a
// *redis.Client (one server, or Sentinel-managed through
// redis.NewFailoverClient), a *redis.ClusterClient, or what
// redis.NewUniversalClient returns. The client must have
// ContextTimeoutEnabled set, so that the deadlines of the contexts given to
// the store bound its calls; New fails with ErrConfig otherwise. The store
// never closes the client.
//
// opts may be nil for the defaults, but a writable store needs opts.Keys:
// without them New fails with an error wrapping session.ErrNoKeys.
//
// New talks to Redis (within Options.InitTimeout): it records the store's
// format under the prefix on first use, fails with ErrSchema when the
// prefix holds another format or a newer schema, and loads the store's
// scripts. A Redis it cannot reach fails it with an error wrapping
// ErrRedis.
func New(client redis.UniversalClient, opts *Options) (*Store, error) {
	if client == nil {
		return nil, fmt.Errorf("%w: nil client", ErrConfig)
	}
	o, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	adopt := opts == nil || opts.ExpiredRetention == 0 // the retention recorded under the prefix, if any
	if !o.ReadOnly && o.Keys == nil {
		return nil, fmt.Errorf("redisstore: a writable store needs Options.Keys: %w", session.ErrNoKeys)
	}
	if err := checkClient(client); err != nil {
		return nil, err
	}
	s := &Store{
		runner:    newRunner(client, o.Logger, o.ReadOnly, o.Observer.Failed),
		opts:      o,
		keys:      layout{prefix: o.Prefix},
		codec:     codec{keys: o.Keys, maxSize: o.MaxRecordSize},
		retention: o.ExpiredRetention.Milliseconds(),
		cache:     new(recordCache),
	}
	s.seals.Report = o.Observer.SealFailed
	for i := range s.userQueues {
		s.userQueues[i] = make(chan struct{}, 1)
	}
	ctx, cancel := context.WithTimeout(context.Background(), o.InitTimeout)
	defer cancel()
	if err := s.init(ctx, adopt); err != nil {
		s.failed("open", err)
		return nil, err
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	if !o.ReadOnly && o.TrimInterval > 0 {
		s.trimDone = make(chan struct{})
		go s.trimLoop(o.TrimInterval)
	}
	return s, nil
}

// checkClient fails with ErrConfig for a go-redis client that ignores
// context deadlines.
func checkClient(client redis.UniversalClient) error {
	enabled := true
	switch c := client.(type) {
	case *redis.Client:
		enabled = c.Options().ContextTimeoutEnabled
	case *redis.ClusterClient:
		enabled = c.Options().ContextTimeoutEnabled
	case *redis.Ring:
		enabled = c.Options().ContextTimeoutEnabled
	}
	if !enabled {
		return fmt.Errorf("%w: the client needs ContextTimeoutEnabled: true, or it ignores request deadlines", ErrConfig)
	}
	return nil
}

// init records or checks the format under the prefix and loads the
// scripts. With adopt, the store takes the retention recorded under the
// prefix (Options.ExpiredRetention was left zero).
func (s *Store) init(ctx context.Context, adopt bool) error {
	meta := s.keys.meta()
	if s.opts.MustExist {
		n, err := s.client.Exists(ctx, meta).Result()
		if err != nil {
			return s.redisErr(ctx, "reading the format", err)
		}
		if n == 0 {
			return fmt.Errorf("%w %q", ErrNoStore, s.opts.Prefix)
		}
	}
	if !s.opts.ReadOnly {
		pipe := s.client.TxPipeline()
		pipe.HSetNX(ctx, meta, "format", formatName)
		pipe.HSetNX(ctx, meta, "schema", SchemaVersion)
		pipe.HSetNX(ctx, meta, "retention", s.retention)
		if _, err := pipe.Exec(ctx); err != nil {
			return s.redisErr(ctx, "recording the format", err)
		}
	}
	m, err := s.client.HGetAll(ctx, meta).Result()
	if err != nil {
		return s.redisErr(ctx, "reading the format", err)
	}
	if len(m) > 0 || !s.opts.ReadOnly {
		if m["format"] != formatName {
			return fmt.Errorf("%w: %s does not name the %s format; is the prefix %q another application's?", ErrSchema, meta, formatName, s.opts.Prefix)
		}
		if m["schema"] != fmt.Sprint(SchemaVersion) {
			return fmt.Errorf("%w: schema %q under prefix %q; this version of sesbolt understands %d", ErrSchema, m["schema"], s.opts.Prefix, SchemaVersion)
		}
	}
	if err := s.useRetention(m["retention"], adopt); err != nil {
		return err
	}
	for _, sc := range []*redis.Script{programScript, trimScript} {
		if err := sc.Load(ctx, s.client).Err(); err != nil {
			return s.redisErr(ctx, "loading scripts", err)
		}
	}
	return nil
}

// useRetention settles the store's retention given the one recorded under
// the prefix ("" when none is, as before this field existed): adopted when
// adopt, else kept, with a warning when they differ.
func (s *Store) useRetention(recorded string, adopt bool) error {
	if recorded == "" {
		return nil
	}
	ms, err := strconv.ParseInt(recorded, 10, 64)
	if err != nil || ms < 0 {
		return fmt.Errorf("%w: retention %q under prefix %q is not a number of milliseconds", ErrSchema, recorded, s.opts.Prefix)
	}
	switch {
	case ms == s.retention:
	case adopt:
		s.retention = ms
		s.opts.ExpiredRetention = time.Duration(ms) * time.Millisecond
	default:
		s.log.Warn("redisstore: Options.ExpiredRetention differs from the retention recorded under the prefix; "+
			"stats and expired listings miscount the records the other stores write",
			"prefix", s.opts.Prefix, "retention", s.opts.ExpiredRetention, "recorded", time.Duration(ms)*time.Millisecond)
	}
	return nil
}

// Close stops the background trim pass and waits for it. Afterwards every
// method returns session.ErrClosed; calls already running finish normally.
// Close does not close the client, which belongs to the caller. It is
// idempotent and returns nil.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.closed.Store(true)
		s.cancel()
		if s.trimDone != nil {
			<-s.trimDone
		}
	})
	return nil
}

// Prefix returns the key prefix of the store's keys.
func (s *Store) Prefix() string { return s.opts.Prefix }

// ReadOnly reports whether the store was made with Options.ReadOnly.
func (s *Store) ReadOnly() bool { return s.opts.ReadOnly }

// retain returns when Redis deletes r: its expiry rounded up to the
// millisecond, plus the retention of expired records, in unix milliseconds.
func (s *Store) retain(r *session.Record) int64 { return ceilMillis(r.Expires()) + s.retention }

// ceilMillis returns t in unix milliseconds, rounded up.
func ceilMillis(t time.Time) int64 {
	ms := t.UnixMilli() // rounds down, also before 1970
	if t.Nanosecond()%int(time.Millisecond) != 0 {
		ms++
	}
	return ms
}

// Load returns the record stored under id if it is live at now. It returns
// session.ErrNotFound when id is not stored, when the record is expired at
// now (whether or not Redis has deleted it yet), and when the stored record
// fails its seal (counted in Stats.SealFailures and logged once per id);
// session.ErrRenewed when id was renewed away and its tombstone lasts at
// now.
// The record belongs to the caller. Load at the zero time returns any
// stored record, expired or not (admin lookups).
func (s *Store) Load(ctx context.Context, id session.ID, now time.Time) (*session.Record, error) {
	r, err := s.LoadShared(ctx, id, now)
	return r.Clone(), err
}

// LoadShared is Load (session.SharedLoader), but the record may be shared
// with the store: the caller must not modify it. Every call reads Redis;
// when the bytes it fetched are exactly those this store last read or
// wrote under id, it lends the record it decoded them to then instead of
// decoding them again.
func (s *Store) LoadShared(ctx context.Context, id session.ID, now time.Time) (_ *session.Record, err error) {
	if err := s.usable(ctx); err != nil {
		return nil, err
	}
	defer func() { s.leave("load", err) }()
	v, tomb, err := s.read(ctx, id)
	if err != nil {
		return nil, err
	}
	if v == nil {
		s.cache.drop(id)
		return nil, absent(tomb, now)
	}
	r, err := s.decode(id, v)
	if err != nil {
		return nil, err
	}
	if r.Expired(now) {
		return nil, session.ErrNotFound
	}
	return r, nil
}

// decode returns the record the stored value v of id decodes to, from the
// cache when v is the value it remembers, else decoded (and remembered). A
// value that fails its seal is counted and logged, and yields
// session.ErrNotFound. The record is shared with the cache.
func (s *Store) decode(id session.ID, v []byte) (*session.Record, error) {
	if r := s.cache.lookup(id, v); r != nil {
		return r, nil
	}
	r, err := s.codec.decode(id, v)
	if err != nil {
		s.cache.drop(id)
		s.sealFailed(id, err)
		return nil, session.ErrNotFound
	}
	s.cache.add(id, v, r)
	return r, nil
}

// read returns the stored value of id and its tombstone, each nil when
// there is none (one MGET: they share a hash slot).
func (s *Store) read(ctx context.Context, id session.ID) (value, tombstone []byte, err error) {
	vals, err := s.client.MGet(ctx, s.keys.record(id), s.keys.renewed(id)).Result()
	if err != nil {
		return nil, nil, s.redisErr(ctx, "reading session", err)
	}
	if v, ok := vals[0].(string); ok {
		value = []byte(v)
	}
	if v, ok := vals[1].(string); ok {
		tombstone = []byte(v)
	}
	return value, tombstone, nil
}

// absent returns the error for an id without a record at now:
// session.ErrRenewed while its tombstone lasts, session.ErrNotFound
// otherwise.
func absent(tombstone []byte, now time.Time) error {
	if tombstoneLasts(tombstone, now) {
		return session.ErrRenewed
	}
	return session.ErrNotFound
}

// readMany returns the stored values of ids (nil for those not stored), in
// one pipeline.
func (s *Store) readMany(ctx context.Context, ids []session.ID) ([][]byte, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	pipe := s.client.Pipeline()
	cmds := make([]*redis.StringCmd, len(ids))
	for i, id := range ids {
		cmds[i] = pipe.Get(ctx, s.keys.record(id))
	}
	pipe.Exec(ctx) // errors are per command, read below
	out := make([][]byte, len(ids))
	for i, c := range cmds {
		v, err := c.Bytes()
		switch {
		case errors.Is(err, redis.Nil):
		case err != nil:
			return nil, s.redisErr(ctx, "reading sessions", err)
		default:
			out[i] = v
		}
	}
	return out, nil
}

// Apply applies c to the latest stored record and returns the resulting
// record (nil for Destroy). The errors follow session.Store:
// session.ErrNotFound for an update of a missing, expired (at c.Now) or
// tampered record (session.ErrRenewed while the id's tombstone lasts),
// session.ErrExists for an insert or renew onto a stored or tombstoned id,
// session.ErrTooLarge when the result exceeds Options.MaxRecordSize or its
// user id MaxUserIDSize; in each case nothing is written. A malformed
// change (see session.Change.Validate) fails before touching Redis. A
// renew leaves a tombstone for the old id until c.Now+session.RenewGrace.
//
// With c.MaxUserSessions, the result's user's live sessions over the limit
// are removed (session.OverLimit picks them; no tombstones), found through
// the user index: on a single server in the same atomic step as the change,
// guarded like it, so an insert too may then be tried again and fail with
// ErrConflict; on a sharded client in a step after it (see the package
// documentation, "Cluster"), whose failure is logged, not returned.
//
// An update reads the record, applies c in Go (session.Change.ApplyTo),
// seals the result and writes it only if the stored bytes are still those
// it read; otherwise it tries again, up to Options.MaxAttempts times, then
// fails with ErrConflict, having written nothing. When more than one
// attempt is allowed, the first attempt of an update that keeps its id and
// sets no session limit starts from the value this store last read or
// wrote under it (a request's Load has just read it) instead of reading:
// the guard is the same, so a stale value only fails that attempt, and the
// next one reads without waiting. When Apply returns nil,
// Redis has acknowledged the write; how durable that is depends on Redis's
// persistence settings (see Stats.Durability). An error wrapping ErrRedis
// or the context's error leaves it unknown whether the change was applied.
// Errors name no session id: they may reach request logs.
func (s *Store) Apply(ctx context.Context, c *session.Change) (_ *session.Record, err error) {
	if err := s.applicable(ctx, c); err != nil {
		return nil, err
	}
	start := time.Now()
	var ended []session.Ended
	defer func() {
		s.leave("apply", err)
		s.committed(start, err)
		if len(ended) > 0 {
			reason := session.EndLimit
			if c.Destroy {
				reason = session.EndReasonFrom(ctx)
			}
			s.opts.Observer.ReportEnded(ctx, reason, ended)
		}
	}()
	if c.Create != nil {
		return s.insert(ctx, c, &ended)
	}
	return s.update(ctx, c, &ended)
}

// update applies c, which is no insert, in the turn of its id among this
// process's changes; ended receives the sessions it removed (see
// attempt).
func (s *Store) update(ctx context.Context, c *session.Change, ended *[]session.Ended) (*session.Record, error) {
	first := s.opts.MaxAttempts > 1 && !c.Destroy && c.TargetID() == c.ID && c.MaxUserSessions == 0
	return s.retry(ctx, c.ID, s.opts.MaxAttempts, func() (*session.Record, guardKind, error) {
		var from *cacheEntry
		if first { // in the turn: this process's earlier changes are remembered
			from, first = s.cache.get(c.ID), false
		}
		return s.attempt(ctx, c, from, ended)
	})
}

// insert stores c.Create under a free id, holding its user to
// c.MaxUserSessions; ended receives the sessions the limit removed (when
// the observer collects them).
func (s *Store) insert(ctx context.Context, c *session.Change, ended *[]session.Ended) (*session.Record, error) {
	value, stored, err := s.codec.encode(c.ApplyTo(nil))
	if err != nil {
		return nil, err
	}
	if limited(c, stored) {
		unlock, err := s.lockUser(ctx, stored.UserID)
		if err != nil {
			return nil, err
		}
		defer unlock()
	}
	for attempt := 1; ; attempt++ {
		kind, limitEnded, err := s.insertOnce(ctx, c, value, stored)
		switch {
		case err != nil:
			return nil, err
		case kind == guardOK:
			*ended = limitEnded
			if s.sharded && limited(c, stored) {
				*ended = s.limitPass(ctx, c, stored)
			}
			s.cache.add(c.ID, value, stored.Clone())
			return stored, nil
		case kind == guardExists:
			return nil, existsErr(nil)
		case attempt >= s.opts.MaxAttempts:
			return nil, fmt.Errorf("%w: the user's sessions changed during each of %d attempts", ErrConflict, attempt)
		}
		if err := s.backoff(ctx, attempt); err != nil {
			return nil, err
		}
	}
}

// insertOnce makes one attempt at storing value, the encoding of stored,
// under c.ID. kind is guardExists when the id is taken, and guardConflict
// when the user's sessions changed while the limit was computed. ended
// lists the sessions a single server's limit removed with it (when the
// observer collects them).
func (s *Store) insertOnce(ctx context.Context, c *session.Change, value []byte, stored *session.Record) (kind guardKind, ended []session.Ended, err error) {
	retain := s.retain(stored)
	if s.sharded && stored.UserID != "" {
		// The user index is written first on a sharded client; a taken id
		// must fail before it does, or the index would list an id that is
		// another session's.
		if taken, err := s.taken(ctx, c.ID, c.Now); err != nil || taken {
			return guardExists, nil, err
		}
	}
	p := &program{}
	p.create(s.keys, c.ID, value, retain, c.Now)
	pl := &plan{main: []*program{p}}
	if stored.UserID != "" {
		pl.pre = []*program{s.userAdd(stored.UserID, c.ID, retain, stored.Version)}
	}
	if limited(c, stored) && !s.sharded {
		if pl.limit, pl.ended, err = s.limitProgram(ctx, c, stored, session.ID{}); err != nil {
			return 0, nil, err
		}
	}
	s.hook()
	kind, err = s.exec(ctx, pl)
	if err != nil || kind != guardOK {
		return kind, nil, err
	}
	return kind, pl.ended, nil
}

// existsErr returns err, or when it is nil an error wrapping
// session.ErrExists.
func existsErr(err error) error {
	if err != nil {
		return err
	}
	return fmt.Errorf("redisstore: insert: the id is taken: %w", session.ErrExists)
}

// taken reports whether id is occupied at now: by a record, live or
// expired, or by a tombstone that lasts.
func (s *Store) taken(ctx context.Context, id session.ID, now time.Time) (bool, error) {
	v, tomb, err := s.read(ctx, id)
	return v != nil || tombstoneLasts(tomb, now), err
}

// attempt makes one attempt at an update or destroy: read, apply, write if
// unchanged, holding the result's user to c.MaxUserSessions. kind is
// guardConflict when the record (or, on a single server, the sessions of
// the limited user) changed meanwhile, and guardExists when a renew's new
// id is taken. When it succeeds, ended receives the sessions it removed
// (the destroyed one, or those over the limit), if the observer collects
// them. With from, the attempt starts from that remembered value instead
// of reading; any outcome but success, which only the write confirms, is
// then guardStale, so that the next attempt reads.
func (s *Store) attempt(ctx context.Context, c *session.Change, from *cacheEntry, ended *[]session.Ended) (*session.Record, guardKind, error) {
	var old []byte
	var latest *session.Record
	if from != nil {
		old, latest = from.value, from.rec
		if latest.Expired(c.Now) {
			return nil, guardStale, nil
		}
	} else {
		var tomb []byte
		var err error
		if old, tomb, err = s.read(ctx, c.ID); err != nil {
			return nil, 0, err
		}
		if c.Destroy {
			if old == nil {
				return nil, guardOK, nil
			}
			s.hook()
			pl := s.removal(c.ID, old)
			kind, err := s.exec(ctx, pl)
			if err == nil && kind == guardOK {
				*ended = pl.ended
				s.cache.drop(c.ID)
			}
			return nil, kind, err
		}
		if old == nil {
			s.cache.drop(c.ID)
			return nil, 0, absent(tomb, c.Now)
		}
		if latest, err = s.decode(c.ID, old); err != nil {
			return nil, 0, err
		}
		if latest.Expired(c.Now) {
			return nil, 0, session.ErrNotFound
		}
	}
	value, stored, err := s.codec.encode(c.ApplyTo(latest))
	if err != nil {
		if from != nil {
			return nil, guardStale, nil
		}
		return nil, 0, err
	}
	retain := s.retain(stored)
	target := c.TargetID()
	renew := target != c.ID
	if renew {
		if taken, err := s.taken(ctx, target, c.Now); err != nil || taken {
			return nil, guardExists, err
		}
	}

	pl := &plan{}
	// An update that keeps the id and the user changes at most the
	// record's retain: the id index, and the user index unless retain
	// moved, stay as they are (see rewrite).
	rewrite := !renew && latest.UserID == stored.UserID
	wasRetain := s.retain(latest)
	if rewrite {
		p := &program{}
		p.eq(s.keys.record(c.ID), old)
		p.rewrite(s.keys, c.ID, value, retain, retain != wasRetain)
		pl.main = []*program{p}
	} else if !renew {
		p := &program{}
		p.eq(s.keys.record(c.ID), old)
		p.put(s.keys, c.ID, value, retain)
		pl.main = []*program{p}
	} else {
		// Two hash slots: on a sharded client the new record is written
		// first (no client knows its id yet), then the old one removed if
		// unchanged, leaving its tombstone; when it changed, the new one is
		// removed again.
		ins := &program{}
		ins.create(s.keys, target, value, retain, c.Now)
		rm := &program{}
		rm.eq(s.keys.record(c.ID), old)
		rm.del(s.keys, c.ID)
		rm.tombstone(s.keys, c.ID, c.Now.Add(session.RenewGrace))
		pl.main = []*program{ins, rm}
		undo := &program{}
		undo.eq(s.keys.record(target), value)
		undo.del(s.keys, target)
		pl.undo = []*program{undo}
		if stored.UserID != "" {
			pl.undo = append(pl.undo, s.userRemove(stored.UserID, target, stored.Version))
		}
	}
	switch {
	case stored.UserID == "":
	case rewrite && retain == wasRetain:
	case rewrite && retain > wasRetain:
		p := &program{}
		p.ulater(s.keys, stored.UserID, target, retain, stored.Version, !s.sharded)
		pl.pre = []*program{p}
	default: // a new listing, or an earlier retain: the index's expiry may move back
		pl.pre = []*program{s.userAdd(stored.UserID, target, retain, stored.Version)}
	}
	if latest.UserID != "" && (latest.UserID != stored.UserID || renew) {
		pl.post = []*program{s.userRemove(latest.UserID, c.ID, stored.Version)}
	}
	if limited(c, stored) {
		unlock, err := s.lockUser(ctx, stored.UserID)
		if err != nil {
			return nil, 0, err
		}
		defer unlock()
		if !s.sharded {
			var gone session.ID
			if renew {
				gone = c.ID
			}
			if pl.limit, pl.ended, err = s.limitProgram(ctx, c, stored, gone); err != nil {
				return nil, 0, err
			}
		}
	}
	s.hook()
	kind, err := s.exec(ctx, pl)
	if err == nil && kind == guardConflict && from != nil {
		kind = guardStale
	}
	if err != nil || kind != guardOK {
		return nil, kind, err
	}
	*ended = pl.ended
	if s.sharded && limited(c, stored) {
		*ended = s.limitPass(ctx, c, stored)
	}
	if renew {
		s.cache.drop(c.ID)
	}
	s.cache.add(target, value, stored.Clone())
	return stored, guardOK, nil
}

// removal returns the plan deleting the record of id if it still holds
// value, with its entry in the index of the user it names.
func (s *Store) removal(id session.ID, value []byte) *plan {
	p := &program{}
	p.eq(s.keys.record(id), value)
	p.del(s.keys, id)
	pl := &plan{main: []*program{p}}
	if r, err := decodeUnverified(id, value); err == nil && r.UserID != "" {
		pl.post = []*program{s.userRemove(r.UserID, id, r.Version+1)}
	}
	if s.observesEnds() {
		pl.ended = []session.Ended{endedOf(id, value)}
	}
	return pl
}

// userAdd returns the program listing id in user's index: with retain
// exactly on a single server, where it runs in the same step as the record;
// with at least retain on a sharded client, where concurrent changes may
// write the index in another order than the record.
func (s *Store) userAdd(user string, id session.ID, retain int64, version uint64) *program {
	p := &program{}
	p.uadd(s.keys, user, id, retain, version, !s.sharded)
	return p
}

// userRemove returns the program dropping id from user's index, unless a
// change after version listed it again.
func (s *Store) userRemove(user string, id session.ID, version uint64) *program {
	p := &program{}
	p.urem(s.keys, user, id, version)
	return p
}

// Delete removes the records stored under ids, live or expired (or failing
// their seal), with their index entries, and returns how many existed.
// Missing and repeated ids are not an error. Each record is removed on its
// own (atomically with its index entries on a single server); on error the
// count covers those removed before it. Each removed record is reported to
// Options.Observer's Ended with the reason in ctx.
func (s *Store) Delete(ctx context.Context, ids ...session.ID) (n int, err error) {
	if err := s.writable(ctx); err != nil {
		return 0, err
	}
	var ended []session.Ended
	defer func() {
		s.leave("delete", err)
		s.opts.Observer.ReportEnded(ctx, session.EndReasonFrom(ctx), ended)
	}()
	seen := make(map[session.ID]bool, len(ids))
	uniq := slices.DeleteFunc(slices.Clone(ids), func(id session.ID) bool {
		dup := seen[id]
		seen[id] = true
		return dup
	})
	for chunk := range slices.Chunk(uniq, session.MaxPageSize) {
		m, err := s.removeIf(ctx, chunk, nil, &ended)
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// removeIf deletes the records of ids whose stored value keep accepts (nil:
// every one), each only if unchanged since it was read; a record changed
// meanwhile is read and judged again, up to Options.MaxAttempts times. It
// returns how many it deleted, and appends them to ended (if not nil) when
// the observer collects them, also those deleted before an error.
func (s *Store) removeIf(ctx context.Context, ids []session.ID, keep func(id session.ID, value []byte) bool, ended *[]session.Ended) (int, error) {
	n := 0
	pending := ids
	for attempt := 1; len(pending) > 0; attempt++ {
		values, err := s.readMany(ctx, pending)
		if err != nil {
			return n, err
		}
		var plans []*plan
		var planned []session.ID
		for i, id := range pending {
			if values[i] == nil || (keep != nil && !keep(id, values[i])) {
				continue
			}
			plans = append(plans, s.removal(id, values[i]))
			planned = append(planned, id)
		}
		s.hook()
		out, err := s.execAll(ctx, plans)
		if err != nil {
			return n, err
		}
		pending = nil
		for i, k := range out {
			if k == guardOK {
				n++
				if ended != nil {
					*ended = append(*ended, plans[i].ended...)
				}
			} else {
				pending = append(pending, planned[i])
			}
		}
		if len(pending) == 0 {
			break
		}
		if attempt >= s.opts.MaxAttempts {
			return n, fmt.Errorf("%w: %d sessions changed during each of %d attempts to remove them", ErrConflict, len(pending), attempt)
		}
		if err := s.backoff(ctx, attempt); err != nil {
			return n, err
		}
	}
	return n, nil
}

// sealFailed counts and logs a record that failed its integrity check, once
// per id, and queues it for the observer (see sealcount.Failures).
func (s *Store) sealFailed(id session.ID, err error) {
	if !s.seals.Add(id) {
		return
	}
	s.log.Warn("redisstore: stored session failed its integrity check; treating it as absent",
		"id", id.String(), "reason", badReason(err), "prefix", s.opts.Prefix)
}
