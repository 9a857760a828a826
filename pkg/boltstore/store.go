package boltstore

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/sesbolt/sesbolt/internal/commitstats"
	"github.com/sesbolt/sesbolt/internal/sealcount"
	"github.com/sesbolt/sesbolt/pkg/boltstore/internal/boltfile"
	"github.com/sesbolt/sesbolt/pkg/session"
)

// Store is a session.Store persisted in one bbolt file. It also implements
// session.SharedLoader, session.UserIndex, session.Lister,
// session.StatsReporter, session.Purger, session.Importer, session.Checker
// and session.Backuper. It is safe for concurrent use; Close releases it.
type Store struct {
	db       *bolt.DB
	path     string
	opts     Options // with defaults applied
	codec    codec
	log      *slog.Logger
	readOnly bool

	// ctx is cancelled when Close starts: the reaper and long operations
	// (Purge, Backup, Check, Stats) stop at their next step.
	ctx    context.Context
	cancel context.CancelFunc

	// mu is held shared by every operation for its whole duration and
	// exclusively by Close, which so waits for operations in flight.
	mu        sync.RWMutex
	closed    bool
	closeOnce sync.Once
	closeErr  error

	// Group commit (commit.go): the queue of changes, whether a leader is
	// committing, and the leader goroutines still running.
	queueMu sync.Mutex
	queue   []*op
	leading bool
	leaders sync.WaitGroup

	reaperDone chan struct{} // closed when the reaper has exited; nil without reaper

	reapMu   sync.Mutex // one expiry pass at a time
	lastReap atomic.Pointer[session.ReapStats]

	seals sealcount.Failures // records that failed their integrity check (observe.go)

	commitStats commitstats.Recorder // Stats.Commits

	// Counters and hooks for tests (see export_test.go).
	commits   atomic.Int64 // write transactions run by the committer
	reapTxs   atomic.Int64 // write transactions run by expiry passes
	listSteps atomic.Int64 // expiry-index entries read by listings of expired sessions
	reapHook  func(keys [][]byte)
}

// Compile-time checks of the interfaces Store implements.
var (
	_ session.Store         = (*Store)(nil)
	_ session.UserIndex     = (*Store)(nil)
	_ session.Lister        = (*Store)(nil)
	_ session.StatsReporter = (*Store)(nil)
	_ session.Purger        = (*Store)(nil)
	_ session.Importer      = (*Store)(nil)
	_ session.Checker       = (*Store)(nil)
	_ session.Backuper      = (*Store)(nil)
	_ session.SharedLoader  = (*Store)(nil)
)

// Open opens the store in the bbolt file at path, creating the file (mode
// Options.FileMode) and its buckets when it does not exist. opts may be nil
// for the defaults, but a writable store needs opts.Keys: without them Open
// fails with an error wrapping session.ErrNoKeys.
//
// Open fails with an error wrapping ErrLocked when another process holds
// the file beyond Options.LockTimeout, ErrNotBolt when the file is not a
// bbolt database, ErrCorrupt when it is visibly damaged, and ErrSchema when
// it is not a sesbolt database or one of a newer schema. A read-only open of
// a missing file fails with an error matching fs.ErrNotExist.
func Open(path string, opts *Options) (*Store, error) {
	o := opts.withDefaults()
	if !o.ReadOnly && o.Keys == nil {
		return nil, fmt.Errorf("boltstore: opening %s for writing needs Options.Keys: %w", path, session.ErrNoKeys)
	}
	st, err := boltfile.Inspect(path)
	if err != nil {
		return nil, fileErr(path, err)
	}
	if o.ReadOnly && !st.Exists {
		return nil, fmt.Errorf("boltstore: %w", &fs.PathError{Op: "open", Path: path, Err: fs.ErrNotExist})
	}
	if o.ReadOnly && st.Size == 0 {
		return nil, fmt.Errorf("%w: %s is empty", ErrNotBolt, path)
	}
	if err := walkUnsynced(path, st); err != nil {
		return nil, err
	}

	ctx, cancel := context.WithCancel(context.Background())
	s := &Store{
		path:     path,
		opts:     o,
		codec:    codec{keys: o.Keys, maxSize: o.MaxRecordSize, cache: newRecordCache(o.ReadCacheSize)},
		log:      o.Logger,
		readOnly: o.ReadOnly,
		ctx:      ctx,
		cancel:   cancel,
	}
	s.seals.Report = o.Observer.SealFailed
	if err := s.openDB(); err != nil {
		cancel()
		return nil, err
	}
	if err := s.prepare(); err != nil {
		cancel()
		s.db.Close()
		return nil, err
	}
	if !s.readOnly && o.ReapInterval > 0 {
		s.reaperDone = make(chan struct{})
		go s.reapLoop(o.ReapInterval)
	}
	return s, nil
}

// walkUnsynced walks the page tree of the file Inspect described as st
// when it has no stored freelist (written with bbolt's NoFreelistSync, as
// etcd writes, and not closed cleanly): bbolt.Open then rebuilds the
// freelist by checking every page on a goroutine of its own, where a
// damaged page would crash the process instead of failing Open with
// ErrCorrupt.
func walkUnsynced(path string, st boltfile.File) error {
	if st.Size == 0 || st.Meta.HasFreelist() {
		return nil
	}
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("boltstore: opening %s: %w", path, err)
	}
	defer f.Close()
	problems, _, err := boltfile.Walk(f, st.Meta, 1)
	if err != nil {
		return fmt.Errorf("boltstore: opening %s: %w", path, err)
	}
	if len(problems) > 0 {
		return fmt.Errorf("%w: %s: %s", ErrCorrupt, path, problems[0])
	}
	return nil
}

// openDB opens the bbolt database, turning a panic inside bbolt.Open into
// ErrCorrupt and closing the file it had opened.
func (s *Store) openDB() error {
	var file *os.File
	bo := &bolt.Options{
		Timeout:         s.opts.boltTimeout(),
		ReadOnly:        s.readOnly,
		PreLoadFreelist: true,
		// The array freelist keeps its page ids sorted; the hashmap one
		// sorts all of them on every commit, which cost more than half of a
		// small commit's CPU on a file with many free pages (after a reap).
		FreelistType:    bolt.FreelistArrayType,
		InitialMmapSize: s.opts.InitialMmapSize,
		OpenFile: func(name string, flag int, mode os.FileMode) (*os.File, error) {
			f, err := os.OpenFile(name, flag, mode)
			file = f
			return f, err
		},
	}
	err := s.guard("open", func() error {
		db, err := bolt.Open(s.path, s.opts.FileMode, bo)
		s.db = db
		return err
	})
	switch {
	case err == nil:
		return nil
	case errors.Is(err, ErrCorrupt):
		if file != nil {
			file.Close()
		}
		return fmt.Errorf("boltstore: opening %s: %w", s.path, err)
	case errors.Is(err, berrors.ErrTimeout):
		return fmt.Errorf("%w: %s (the running application?)", ErrLocked, s.path)
	case errors.Is(err, berrors.ErrInvalid), errors.Is(err, berrors.ErrVersionMismatch):
		return fmt.Errorf("%w: %s: %w", ErrNotBolt, s.path, err)
	case errors.Is(err, berrors.ErrChecksum):
		return fmt.Errorf("%w: %s: %w", ErrCorrupt, s.path, err)
	}
	return fmt.Errorf("boltstore: opening %s: %w", s.path, err)
}

// prepare verifies the structure (Options.Verify), then checks the schema,
// creating the buckets of a new file.
func (s *Store) prepare() error {
	if s.opts.Verify {
		problems, err := s.walkStructure(1)
		if err != nil {
			return err
		}
		if len(problems) > 0 {
			return fmt.Errorf("%w: %s: %s", ErrCorrupt, s.path, problems[0])
		}
	}
	var version uint64
	err := s.view("open", func(tx *bolt.Tx) error {
		var err error
		version, err = checkSchema(tx)
		return err
	})
	if err != nil {
		return s.pathErr(err)
	}
	if version > 0 {
		if s.readOnly {
			return nil
		}
		if version < SchemaVersion {
			if err := s.migrate(version); err != nil {
				return s.pathErr(err)
			}
		}
		return s.pathErr(s.createOptionalBuckets())
	}
	if s.readOnly {
		return fmt.Errorf("%w: %s is not a sesbolt database (no meta bucket)", ErrSchema, s.path)
	}
	return s.pathErr(s.update("create buckets", func(tx *bolt.Tx) error {
		if version, err := checkSchema(tx); err != nil || version > 0 {
			return err
		}
		for _, name := range [][]byte{bucketSessions, bucketExpiry, bucketUsers, bucketRenewed, bucketReaped} {
			if _, err := tx.CreateBucket(name); err != nil {
				return err
			}
		}
		meta, err := tx.CreateBucket(bucketMeta)
		if err != nil {
			return err
		}
		for k, v := range map[string][]byte{
			string(metaFormat): []byte(formatName), string(metaSchema): putUint64(SchemaVersion),
			string(metaSessions): putUint64(0), string(metaUsers): putUint64(0),
		} {
			if err := meta.Put([]byte(k), v); err != nil {
				return err
			}
		}
		return nil
	}))
}

func (s *Store) pathErr(err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%w (%s)", err, s.path)
}

// checkSchema returns the schema version of the sesbolt database in tx, 0
// for an empty bbolt database, or an error unless it holds a sesbolt
// database of a schema this version reads.
func checkSchema(tx *bolt.Tx) (version uint64, err error) {
	meta := tx.Bucket(bucketMeta)
	if meta == nil {
		if k, _ := tx.Cursor().First(); k != nil {
			return 0, fmt.Errorf("%w: a bbolt file of another application (no sesbolt meta bucket)", ErrSchema)
		}
		return 0, nil
	}
	if f := meta.Get(metaFormat); string(f) != formatName {
		return 0, fmt.Errorf("%w: meta bucket does not name the sesbolt format", ErrSchema)
	}
	v, ok := getUint64(meta.Get(metaSchema))
	if !ok {
		return 0, fmt.Errorf("%w: meta bucket has no valid schema version", ErrSchema)
	}
	if v > SchemaVersion {
		return 0, fmt.Errorf("%w: schema version %d is newer than this version of sesbolt understands (%d); upgrade sesbolt",
			ErrSchema, v, SchemaVersion)
	}
	if v < 1 {
		return 0, fmt.Errorf("%w: invalid schema version %d", ErrSchema, v)
	}
	for _, name := range [][]byte{bucketSessions, bucketExpiry, bucketUsers} {
		if tx.Bucket(name) == nil {
			return 0, fmt.Errorf("%w: bucket %q is missing", ErrCorrupt, name)
		}
	}
	return v, nil
}

// migrate upgrades a file of an older schema in one write transaction, so
// a crash leaves it either upgraded or untouched. From schema 1 it re-keys
// the expiry index (minutes and creation times).
func (s *Store) migrate(from uint64) error {
	moved := 0
	err := s.update("migrate schema", func(tx *bolt.Tx) error {
		moved = 0
		t, err := s.newTxn(tx)
		if err != nil {
			return err
		}
		var old [][]byte
		c := t.expiry.Cursor()
		for k, _ := c.First(); k != nil; k, _ = c.Next() {
			if len(k) != expiryKeySize {
				old = append(old, bytes.Clone(k))
			}
		}
		for _, k := range old {
			if err := t.expiry.Delete(k); err != nil {
				return err
			}
			// The new key needs the record; an entry without one goes.
			nanos, id, ok := parseExpiryKey(k)
			if !ok {
				continue
			}
			v := t.sessions.Get(id[:])
			if v == nil {
				continue
			}
			key := expiryKeyAt(nanos-nanos%expiryGranule, 0, id)
			if r, err := decodeUnverified(id, v); err == nil {
				key = expiryKey(r)
			} // else keep its time, so the reaper still removes the damaged record when due
			if err := t.expiry.Put(key, []byte{}); err != nil {
				return err
			}
			moved++
		}
		return t.meta.Put(metaSchema, putUint64(SchemaVersion))
	})
	if err != nil {
		return fmt.Errorf("boltstore: upgrading schema %d to %d: %w", from, SchemaVersion, err)
	}
	s.log.Info("boltstore: upgraded the file's schema", "from", from, "to", SchemaVersion, "expiry_entries_moved", moved)
	return nil
}

// Path returns the path of the database file, as given to Open. With it
// the store is an admin.FileBacked store: admin.ServeSocket puts its
// socket beside the file by default.
func (s *Store) Path() string { return s.path }

// ReadOnly reports whether the store was opened with Options.ReadOnly.
func (s *Store) ReadOnly() bool { return s.readOnly }

// Close stops the reaper, waits for the operations in flight (every change
// already submitted is committed and its Apply returns normally), and
// closes the file. Long operations (Purge, Backup, Check) stop early with
// session.ErrClosed. Close an admin socket serving the store
// (admin.ServeSocket) first. Afterwards every method returns
// session.ErrClosed. Close is idempotent: later calls return the result of
// the first.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.cancel()
		s.mu.Lock() // waits for the operations in flight, so every queued change is committed
		s.closed = true
		s.mu.Unlock()
		s.leaders.Wait()
		if s.reaperDone != nil {
			<-s.reaperDone
		}
		if err := s.db.Close(); err != nil {
			s.closeErr = fmt.Errorf("boltstore: closing %s: %w", s.path, err)
		}
	})
	return s.closeErr
}

// enter registers an operation; false when the store is closed. Every true
// must be paired with leave.
func (s *Store) enter() bool {
	s.mu.RLock()
	if s.closed {
		s.mu.RUnlock()
		return false
	}
	return true
}

// leave ends an operation, then reports the seal failures it found.
func (s *Store) leave() {
	s.mu.RUnlock()
	s.seals.Deliver()
}

// stopping returns session.ErrClosed once Close has started, else ctx.Err().
func (s *Store) stopping(ctx context.Context) error {
	if s.ctx.Err() != nil {
		return session.ErrClosed
	}
	return ctx.Err()
}

// Load returns the record stored under id if it is live at now. It returns
// an error wrapping session.ErrNotFound when id is not stored, when the
// record is expired at now (reaped or not; Load never removes it), and when
// the stored record fails its seal (counted in Stats.SealFailures and
// logged once per id); session.ErrRenewed when id was renewed away less
// than session.RenewGrace before now. The record belongs to the caller.
func (s *Store) Load(ctx context.Context, id session.ID, now time.Time) (*session.Record, error) {
	r, err := s.LoadShared(ctx, id, now)
	if err != nil {
		return nil, err
	}
	return r.Clone(), nil
}

// LoadShared is Load without the copy (session.SharedLoader): the record
// may be the one in the store's read cache (Options.ReadCacheSize), so the
// caller must not modify it. session.Manager reads sessions this way.
func (s *Store) LoadShared(ctx context.Context, id session.ID, now time.Time) (*session.Record, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if !s.enter() {
		return nil, session.ErrClosed
	}
	defer s.leave()
	// Decoded inside the transaction, straight from the mapped page: the
	// record copies what it keeps, so the value needs no copy of its own.
	var r *session.Record
	var badSeal error
	var renewed bool
	err := s.view("load", func(tx *bolt.Tx) error {
		b, err := bucket(tx, bucketSessions)
		if err != nil {
			return err
		}
		if v := b.Get(id[:]); v != nil {
			r, badSeal = s.codec.decodeShared(id, v, true)
		} else {
			renewed = renewedAt(tx, id, now)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if renewed {
		return nil, session.ErrRenewed
	}
	if badSeal != nil {
		s.sealFailed(id, badSeal)
		return nil, session.ErrNotFound
	}
	if r == nil || r.Expired(now) {
		return nil, session.ErrNotFound
	}
	return r, nil
}

// Apply applies c to the latest stored record in a write transaction shared
// with the other changes waiting at that moment (group commit) and returns
// the resulting record (nil for Destroy). The errors follow session.Store:
// session.ErrNotFound for an update of a missing, expired (at c.Now) or
// tampered record (session.ErrRenewed while the id's tombstone lasts),
// session.ErrExists for an insert or renew onto a stored or tombstoned id
// (a renew leaves a tombstone for the old id), session.ErrTooLarge when the result exceeds Options.MaxRecordSize or
// its user id MaxUserIDSize; in each case nothing is written. With
// c.MaxUserSessions, the user's sessions over the limit are removed in the
// same transaction, found through the user index. A malformed
// change (see session.Change.Validate) fails before touching storage.
//
// When Apply returns nil the change is on disk (fsync). When it returns the
// context's error, the change was not applied. Any other error is a system
// failure (I/O, disk full, session.ErrClosed, ErrReadOnly, ErrCorrupt): the
// transaction was rolled back, so the change is not visible; only when the
// final fsync itself failed may it still reach the disk, which the store
// cannot know.
func (s *Store) Apply(ctx context.Context, c *session.Change) (*session.Record, error) {
	if c == nil {
		return nil, errors.New("boltstore: Apply of a nil change")
	}
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("boltstore: %w", err)
	}
	if s.readOnly {
		return nil, ErrReadOnly
	}
	if !s.enter() {
		return nil, session.ErrClosed
	}
	prep := s.prepareChange(c)
	s.leave()
	var done *prepared
	var ended []session.Ended
	err := s.submit(ctx, func(t *txn) (err error) {
		mark := len(t.ended)
		done, err = t.apply(c, prep)
		ended = t.endedSince(mark)
		return err
	})
	if err != nil {
		return nil, err
	}
	if done == nil {
		s.opts.Observer.ReportEnded(ctx, session.EndReasonFrom(ctx), ended)
		return nil, nil // Destroy
	}
	s.opts.Observer.ReportEnded(ctx, session.EndLimit, ended) // the user's surplus sessions (c.MaxUserSessions)
	if !done.enc.exact {
		// Decode what was stored, so the result equals what Load returns.
		return decodeRecord(c.TargetID(), done.enc.record, true)
	}
	r := done.next
	r.Created, r.LastSeen = r.Created.UTC(), r.LastSeen.UTC()
	r.IdleExpires, r.Deadline = r.IdleExpires.UTC(), r.Deadline.UTC()
	if r.Data == nil {
		r.Data = map[string]json.RawMessage{}
	}
	// The next read of this session finds it decoded. The encoded value is
	// this call's own (its transaction has ended), so the cache takes it
	// without a copy.
	s.codec.cache.addOwned(r.ID, done.enc.value, r.Clone())
	return r, nil
}

// prepareChange computes c's result (prepared) against the record as
// stored now, outside the committer. It returns nil when there is nothing
// to prepare: Destroy, or a record that is missing, fails its seal or is
// expired (the committer reports those).
func (s *Store) prepareChange(c *session.Change) *prepared {
	switch {
	case c.Destroy:
		return nil
	case c.Create != nil:
		return s.codec.prepare(c, nil)
	}
	var p *prepared
	_ = s.view("prepare", func(tx *bolt.Tx) error { // any failure: the committer meets it again
		b, err := bucket(tx, bucketSessions)
		if err != nil {
			return err
		}
		v := b.Get(c.ID[:])
		if v == nil {
			return nil
		}
		latest, err := s.codec.decodeShared(c.ID, v, false)
		if err != nil || latest.Expired(c.Now) {
			return nil
		}
		p = s.codec.prepare(c, latest)
		p.base = bytes.Clone(v)
		return nil
	})
	return p
}

// Delete removes the records stored under ids, live or expired (or failing
// their seal), with their index entries, and returns how many existed.
// Missing and repeated ids are not an error. Ids are deleted in
// transactions of up to Options.ReapBatch; on error, the count covers the
// transactions that committed.
func (s *Store) Delete(ctx context.Context, ids ...session.ID) (int, error) {
	if s.readOnly {
		return 0, ErrReadOnly
	}
	n := 0
	for len(ids) > 0 {
		chunk := ids[:min(len(ids), s.opts.ReapBatch)]
		ids = ids[len(chunk):]
		var deleted int
		var ended []session.Ended
		err := s.submit(ctx, func(t *txn) (err error) {
			mark := len(t.ended)
			deleted, err = t.delete(chunk)
			ended = t.endedSince(mark)
			return err
		})
		if err != nil {
			return n, err
		}
		s.opts.Observer.ReportEnded(ctx, session.EndReasonFrom(ctx), ended)
		n += deleted
	}
	return n, nil
}

// DeleteUser removes every session bound to user, live or expired, through
// the user index (cost: the user's sessions, not a scan), in transactions
// of up to Options.ReapBatch records, and returns how many it removed. An
// empty user names no sessions: it returns 0. Sessions bound to user while
// DeleteUser runs may survive.
func (s *Store) DeleteUser(ctx context.Context, user string) (int, error) {
	return s.DeleteUserExcept(ctx, user, session.ID{})
}

// DeleteUserExcept is DeleteUser sparing the session stored under keep
// (session.UserIndex): in the same transactions, through the user index.
func (s *Store) DeleteUserExcept(ctx context.Context, user string, keep session.ID) (int, error) {
	if s.readOnly {
		return 0, ErrReadOnly
	}
	if user == "" {
		return 0, nil
	}
	n := 0
	for {
		var deleted int
		var more bool
		var ended []session.Ended
		err := s.submit(ctx, func(t *txn) (err error) {
			mark := len(t.ended)
			deleted, more, err = t.deleteUser(user, keep, s.opts.ReapBatch)
			ended = t.endedSince(mark)
			return err
		})
		if err != nil {
			return n, err
		}
		s.opts.Observer.ReportEnded(ctx, session.EndReasonFrom(ctx), ended)
		n += deleted
		if !more {
			return n, nil
		}
	}
}

// Import inserts recs in one write transaction, all or none, and returns
// how many it inserted (session.Importer). Records whose id is already
// stored or tombstoned (or repeated in recs) and records expired at now are
// skipped, so
// running an import again is harmless. Each record's Version is kept (0
// becomes 1). A record that fails session.Record.Validate fails the import
// with an error wrapping session.ErrInvalid, one over the size limits with
// session.ErrTooLarge; nothing is inserted then. The records are copied.
// A large import holds the committer for its whole transaction; import
// millions of records in batches.
func (s *Store) Import(ctx context.Context, recs []*session.Record, now time.Time) (int, error) {
	if s.readOnly {
		return 0, ErrReadOnly
	}
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	prepared := make([]*session.Record, 0, len(recs))
	for _, r := range recs {
		if err := r.Validate(); err != nil {
			return 0, fmt.Errorf("boltstore: import: %w", err)
		}
		c := r.Clone()
		c.Version = max(c.Version, 1)
		prepared = append(prepared, c)
	}
	if len(prepared) == 0 {
		return 0, nil
	}
	var n int
	err := s.submit(ctx, func(t *txn) (err error) {
		n, err = t.importRecords(prepared, now)
		return err
	})
	if err != nil {
		return 0, err
	}
	return n, nil
}

// sealFailed counts and logs a record that failed its integrity check, once
// per id, and queues it for the observer (see sealcount.Failures).
func (s *Store) sealFailed(id session.ID, err error) {
	if !s.seals.Add(id) {
		return
	}
	s.log.Warn("boltstore: stored session failed its integrity check; treating it as absent",
		"id", id.String(), "reason", badReason(err), "path", s.path)
}

// badReason describes an errBadRecord without quoting stored bytes.
func badReason(err error) string {
	for _, e := range []error{errSeal, errWrongID, errRecordJSON, errEnvelope} {
		if errors.Is(err, e) {
			return strings.TrimPrefix(e.Error(), errBadRecord.Error()+": ")
		}
	}
	return "undecodable record"
}

// bucket returns the named top-level bucket, or ErrCorrupt when it is gone.
func bucket(tx *bolt.Tx, name []byte) (*bolt.Bucket, error) {
	b := tx.Bucket(name)
	if b == nil {
		return nil, fmt.Errorf("%w: bucket %q is missing", ErrCorrupt, name)
	}
	return b, nil
}
