package memstore

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/sesbolt/sesbolt/pkg/session"
)

// Defaults applied by New for zero Options fields.
const (
	// DefaultCleanupInterval is how often expired records are removed when
	// Options.CleanupInterval is zero.
	DefaultCleanupInterval = time.Minute

	// DefaultMaxRecordSize is the largest record, in bytes of its JSON
	// encoding, that Apply stores when Options.MaxRecordSize is zero: 64 KiB.
	DefaultMaxRecordSize = 64 << 10
)

// Options configures a Store. The zero value (or a nil *Options passed to New)
// means defaults for every field.
type Options struct {
	// CleanupInterval is how often a background goroutine removes the
	// records expired at Now(). Zero means DefaultCleanupInterval (one
	// minute); a negative value disables the goroutine, so expired records
	// stay stored (but are never returned as live) until Purge, Delete or
	// DeleteUser removes them.
	CleanupInterval time.Duration

	// Now is the clock the cleanup goroutine judges expiry by; nil means
	// time.Now. It is called without the Store's lock held. The Store's
	// methods never call it: they judge expiry by the time they are given.
	Now func() time.Time

	// MaxRecordSize caps the size of a record in bytes of its JSON encoding
	// (Data values included). Apply fails with an error wrapping
	// session.ErrTooLarge, and stores nothing, for a larger result. Zero
	// means DefaultMaxRecordSize (64 KiB); a negative value means no limit.
	MaxRecordSize int

	// Observer receives the store's events: sessions ended
	// (session.StoreObserver.Ended, by Apply with Destroy, Delete,
	// DeleteUser and DeleteUserExcept with the caller's reason, by Apply's
	// per-user limit as session.EndLimit, and as expired by the cleanup
	// and Purge) and expiry
	// passes (Reaped: each cleanup or Purge). The store has no commits,
	// seals or system errors to report. The zero value observes nothing.
	Observer session.StoreObserver
}

// Store is an in-memory session store. It implements session.Store,
// session.SharedLoader, session.UserIndex, session.Lister,
// session.StatsReporter, session.Purger and session.Importer, and is safe
// for concurrent use. Create one with New and
// release it with Close; after Close every method returns session.ErrClosed.
type Store struct {
	now     func() time.Time
	maxSize int // 0: no limit
	obs     session.StoreObserver

	mu       sync.RWMutex
	closed   bool
	recs     map[session.ID]*session.Record     // the records; never shared with callers
	users    map[string]map[session.ID]struct{} // user → ids bound to it; no empty sets, no "" user
	renewed  map[session.ID]time.Time           // tombstones: id renewed away → end of its tombstone
	lastReap session.ReapStats

	closeOnce sync.Once
	stop      chan struct{} // closed by Close; nil without cleanup goroutine
	done      chan struct{} // closed by the cleanup goroutine when it returns
}

// Compile-time checks of the interfaces Store implements: the ones the
// package documentation lists, no more and no fewer.
var (
	_ session.Store         = (*Store)(nil)
	_ session.SharedLoader  = (*Store)(nil)
	_ session.UserIndex     = (*Store)(nil)
	_ session.Lister        = (*Store)(nil)
	_ session.StatsReporter = (*Store)(nil)
	_ session.Purger        = (*Store)(nil)
	_ session.Importer      = (*Store)(nil)
)

// New returns an empty Store configured by opts; nil opts means defaults
// (see Options). Unless opts.CleanupInterval is negative, New starts a
// cleanup goroutine that runs until Close.
func New(opts *Options) *Store {
	var o Options
	if opts != nil {
		o = *opts
	}
	s := &Store{
		now:     o.Now,
		obs:     o.Observer,
		recs:    make(map[session.ID]*session.Record),
		users:   make(map[string]map[session.ID]struct{}),
		renewed: make(map[session.ID]time.Time),
	}
	if s.now == nil {
		s.now = time.Now
	}
	switch {
	case o.MaxRecordSize == 0:
		s.maxSize = DefaultMaxRecordSize
	case o.MaxRecordSize > 0:
		s.maxSize = o.MaxRecordSize
	}
	interval := o.CleanupInterval
	if interval == 0 {
		interval = DefaultCleanupInterval
	}
	if interval > 0 {
		s.stop = make(chan struct{})
		s.done = make(chan struct{})
		go s.cleanup(interval)
	}
	return s
}

// Close stops the cleanup goroutine, waits for it to return, and releases
// the stored records. It always returns nil; calling it again (also
// concurrently) is safe and waits for the first call to finish. Every other
// method returns session.ErrClosed after Close.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		if s.stop != nil {
			close(s.stop)
			<-s.done
		}
		s.mu.Lock()
		s.closed = true
		s.recs = nil
		s.users = nil
		s.renewed = nil
		s.mu.Unlock()
	})
	return nil
}

// Load returns a copy of the record stored under id if it is live at now.
// It returns session.ErrNotFound when id is not stored or the record is
// expired at now, session.ErrRenewed when id was renewed away less than
// session.RenewGrace before now, and session.ErrClosed after Close.
func (s *Store) Load(ctx context.Context, id session.ID, now time.Time) (*session.Record, error) {
	r, err := s.LoadShared(ctx, id, now)
	if err != nil {
		return nil, err
	}
	return r.Clone(), nil
}

// LoadShared is Load without the copy (session.SharedLoader): the record
// is the store's own, which it never modifies (Apply and Import store new
// records), and the caller must not modify it either.
func (s *Store) LoadShared(ctx context.Context, id session.ID, now time.Time) (*session.Record, error) {
	if err := s.rlock(ctx); err != nil {
		return nil, err
	}
	defer s.mu.RUnlock()
	r, ok := s.recs[id]
	if !ok && s.renewedAt(id, now) {
		return nil, session.ErrRenewed
	}
	if !ok || r.Expired(now) {
		return nil, session.ErrNotFound
	}
	return r, nil
}

// Apply applies c atomically to the latest stored record, as session.Store
// specifies, and returns a copy of the result (nil for Destroy). It
// validates c first (session.Change.Validate) and computes the result with
// session.Change.ApplyTo. In particular:
//   - an update of a record that is missing, or expired at c.Now, fails with
//     session.ErrNotFound, or session.ErrRenewed while the ID's tombstone
//     lasts;
//   - an insert, or a renew, onto an ID that is stored (live or expired but
//     not yet removed) or tombstoned (until the tombstone is removed) fails
//     with session.ErrExists;
//   - a renew leaves a tombstone for the old ID until
//     c.Now+session.RenewGrace, removed by the cleanup or Purge after that;
//   - a result whose JSON encoding is larger than Options.MaxRecordSize
//     fails with an error wrapping session.ErrTooLarge, and one that
//     cannot be encoded (a Data value that is not valid JSON, a time
//     outside the years 0 to 9999) with one wrapping session.ErrInvalid;
//   - Destroy of a missing record succeeds;
//   - a change that both creates and destroys is rejected as malformed;
//   - with c.MaxUserSessions, the user's sessions over the limit
//     (session.OverLimit) are removed under the same lock.
//
// On any error nothing is written. c is not retained: changing it, or the
// record it creates, after Apply returns does not affect the Store.
func (s *Store) Apply(ctx context.Context, c *session.Change) (*session.Record, error) {
	if c == nil {
		return nil, fmt.Errorf("memstore: nil change: %w", session.ErrInvalid)
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	if c.Destroy {
		_, err := s.Delete(ctx, c.ID)
		return nil, err
	}
	if err := s.wlock(ctx); err != nil {
		return nil, err
	}
	next, limited, err := s.applyLocked(c)
	s.mu.Unlock()
	s.obs.ReportEnded(ctx, session.EndLimit, limited)
	return next, err
}

// applyLocked is Apply of a change that is no Destroy; it also returns
// the sessions the change's limit removed. s.mu must be held for writing.
func (s *Store) applyLocked(c *session.Change) (*session.Record, []session.Ended, error) {
	if c.Create != nil {
		if s.taken(c.ID) {
			return nil, nil, session.ErrExists
		}
		next := c.ApplyTo(nil)
		if err := s.checkSize(next); err != nil {
			return nil, nil, err
		}
		s.put(next)
		return next.Clone(), s.limitUser(next, c), nil
	}

	latest, ok := s.recs[c.ID]
	if !ok && s.renewedAt(c.ID, c.Now) {
		return nil, nil, session.ErrRenewed
	}
	if !ok || latest.Expired(c.Now) {
		return nil, nil, session.ErrNotFound
	}
	target := c.TargetID()
	if target != c.ID && s.taken(target) {
		return nil, nil, session.ErrExists
	}
	next := c.ApplyTo(latest)
	if err := s.checkSize(next); err != nil {
		return nil, nil, err
	}
	s.remove(latest) // not an end: the session lives on as next
	s.put(next)
	if target != c.ID {
		s.renewed[c.ID] = c.Now.Add(session.RenewGrace)
	}
	return next.Clone(), s.limitUser(next, c), nil
}

// limitUser removes the sessions of next's user over c.MaxUserSessions
// (session.OverLimit) and returns them. s.mu must be held for writing.
func (s *Store) limitUser(next *session.Record, c *session.Change) []session.Ended {
	if c.MaxUserSessions <= 0 || next.UserID == "" {
		return nil
	}
	set := s.users[next.UserID]
	others := make([]*session.Record, 0, len(set))
	for id := range set {
		others = append(others, s.recs[id])
	}
	var removed []session.Ended
	for _, id := range session.OverLimit(c.MaxUserSessions, next, others, c.Now) {
		removed = append(removed, s.remove(s.recs[id]))
	}
	return removed
}

// Import inserts recs atomically, as session.Importer specifies: records
// whose ID is stored or tombstoned and records expired at now are skipped.
// A record that fails session.Record.Validate or cannot be encoded fails
// the whole batch with an error wrapping session.ErrInvalid, and one over
// Options.MaxRecordSize with one wrapping session.ErrTooLarge; nothing is
// written then.
func (s *Store) Import(ctx context.Context, recs []*session.Record, now time.Time) (int, error) {
	prepared := make([]*session.Record, 0, len(recs))
	for _, r := range recs {
		if err := r.Validate(); err != nil {
			return 0, fmt.Errorf("memstore: import: %w", err)
		}
		c := r.Clone()
		c.Version = max(c.Version, 1)
		if err := s.checkSize(c); err != nil {
			return 0, err
		}
		prepared = append(prepared, c)
	}
	if err := s.wlock(ctx); err != nil {
		return 0, err
	}
	defer s.mu.Unlock()
	n := 0
	for _, r := range prepared {
		if s.taken(r.ID) || r.Expired(now) {
			continue
		}
		s.put(r)
		n++
	}
	return n, nil
}

// Delete removes the records stored under ids, live or expired, with their
// index entries, and returns how many existed. Missing ids are not an error.
// Each removed session is reported to Options.Observer's Ended with the
// reason in ctx (session.WithEndReason).
func (s *Store) Delete(ctx context.Context, ids ...session.ID) (int, error) {
	if err := s.wlock(ctx); err != nil {
		return 0, err
	}
	var ended []session.Ended
	for _, id := range ids {
		if r, ok := s.recs[id]; ok {
			ended = append(ended, s.remove(r))
		}
	}
	s.mu.Unlock()
	s.obs.ReportEnded(ctx, session.EndReasonFrom(ctx), ended)
	return len(ended), nil
}

// UserSessions returns copies of the records of user's sessions live at
// now, oldest Created first (ties in ID order); nil when there are none.
// Anonymous sessions are not indexed, so an empty user yields nil. It costs
// the number of the user's sessions, not a scan.
func (s *Store) UserSessions(ctx context.Context, user string, now time.Time) ([]*session.Record, error) {
	if err := s.rlock(ctx); err != nil {
		return nil, err
	}
	defer s.mu.RUnlock()
	var out []*session.Record
	for id := range s.users[user] {
		if r := s.recs[id]; !r.Expired(now) {
			out = append(out, r.Clone())
		}
	}
	slices.SortFunc(out, func(a, b *session.Record) int {
		if c := a.Created.Compare(b.Created); c != 0 {
			return c
		}
		return compareID(a.ID, b.ID)
	})
	return out, nil
}

// DeleteUser removes every session bound to user, live or expired, and
// returns how many it removed. An empty user (anonymous sessions) removes
// nothing and returns 0. Each removed session is reported as Delete
// reports it.
func (s *Store) DeleteUser(ctx context.Context, user string) (int, error) {
	return s.DeleteUserExcept(ctx, user, session.ID{})
}

// DeleteUserExcept is DeleteUser sparing the session stored under keep
// when it is bound to user (session.UserIndex), all under one lock.
func (s *Store) DeleteUserExcept(ctx context.Context, user string, keep session.ID) (int, error) {
	if err := s.wlock(ctx); err != nil {
		return 0, err
	}
	var ended []session.Ended
	for id := range s.users[user] {
		if id != keep {
			ended = append(ended, s.remove(s.recs[id])) // deleting during range is safe for Go maps
		}
	}
	s.mu.Unlock()
	s.obs.ReportEnded(ctx, session.EndReasonFrom(ctx), ended)
	return len(ended), nil
}

// List returns the next page of copies of the records matching q, in
// ascending ID (byte) order with every filter, Expired included; cursors
// are ID cursors (session.IDCursor), and Page.Next is zero on the last
// page. It returns an error wrapping session.ErrInvalid for a Filter other
// than session.Live, session.Expired and session.All, and for a q.After
// that is not an ID cursor.
//
// Each call collects the matching ids after q.After (with q.User set, only
// among that user's sessions) and sorts them: O(n log n) in the number of
// matching records, which is fine for the sizes an in-memory store holds.
func (s *Store) List(ctx context.Context, q session.ListQuery) (session.Page, error) {
	switch q.Filter {
	case session.Live, session.Expired, session.All:
	default:
		return session.Page{}, fmt.Errorf("memstore: unknown list filter %d: %w", q.Filter, session.ErrInvalid)
	}
	after, err := q.After.ID()
	if err != nil {
		return session.Page{}, fmt.Errorf("memstore: list: %w", err)
	}
	limit := q.PageLimit()
	if err := s.rlock(ctx); err != nil {
		return session.Page{}, err
	}
	defer s.mu.RUnlock()
	var ids []session.ID
	consider := func(r *session.Record) {
		if compareID(r.ID, after) <= 0 {
			return
		}
		switch q.Filter {
		case session.Live:
			if r.Expired(q.Now) {
				return
			}
		case session.Expired:
			if !r.Expired(q.Now) {
				return
			}
		}
		ids = append(ids, r.ID)
	}
	if q.User != "" {
		for id := range s.users[q.User] {
			consider(s.recs[id])
		}
	} else {
		for _, r := range s.recs {
			consider(r)
		}
	}
	slices.SortFunc(ids, compareID)

	var page session.Page
	if len(ids) > limit {
		ids = ids[:limit]
		page.Next = session.IDCursor(ids[limit-1])
	}
	page.Records = make([]*session.Record, 0, len(ids))
	for _, id := range ids {
		page.Records = append(page.Records, s.recs[id].Clone())
	}
	return page, nil
}

// Stats returns the Store's counters judged at now: Sessions, Live, Expired,
// Users (distinct non-empty users with at least one stored session) and
// LastReap (the latest Purge or cleanup pass). SealFailures, SizeBytes and
// FreeBytes are always zero. It scans every record: O(n).
func (s *Store) Stats(ctx context.Context, now time.Time) (session.Stats, error) {
	if err := s.rlock(ctx); err != nil {
		return session.Stats{}, err
	}
	defer s.mu.RUnlock()
	st := session.Stats{
		Sessions: int64(len(s.recs)),
		Users:    int64(len(s.users)),
		LastReap: s.lastReap,
	}
	for _, r := range s.recs {
		if r.Expired(now) {
			st.Expired++
		}
	}
	st.Live = st.Sessions - st.Expired
	return st, nil
}

// Purge removes every record expired at now, with its index entries, and
// returns how many it removed. It holds the write lock for one scan of all
// records (O(n)), so a record refreshed before Purge takes the lock
// survives. It also removes the tombstones that ended at now (not counted).
// It updates Stats.LastReap and reports the pass to Options.Observer
// (Ended with session.EndExpired for each record, then Reaped).
func (s *Store) Purge(ctx context.Context, now time.Time) (int, error) {
	if err := s.wlock(ctx); err != nil {
		return 0, err
	}
	removed, pass := s.purgeLocked(now)
	s.mu.Unlock()
	s.reaped(ctx, removed, pass)
	return pass.Removed, nil
}

// cleanup runs Purge every interval until Close. Close sets s.closed only
// after this goroutine returned, so a pass never finds the store closed.
func (s *Store) cleanup(interval time.Duration) {
	defer close(s.done)
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-tick.C:
			now := s.now() // outside the lock: the clock is the caller's code
			s.mu.Lock()
			removed, pass := s.purgeLocked(now)
			s.mu.Unlock()
			s.reaped(context.Background(), removed, pass)
		}
	}
}

// purgeLocked removes the records expired at now, records the pass in
// lastReap and returns the sessions it removed and the pass. s.mu must be
// held for writing.
func (s *Store) purgeLocked(now time.Time) ([]session.Ended, session.ReapStats) {
	start := time.Now()
	var removed []session.Ended
	for _, r := range s.recs {
		if r.Expired(now) {
			removed = append(removed, s.remove(r)) // deleting during range is safe for Go maps
		}
	}
	for id, until := range s.renewed {
		if !now.Before(until) {
			delete(s.renewed, id)
		}
	}
	s.lastReap = session.ReapStats{At: now, Removed: len(removed), Duration: time.Since(start)}
	return removed, s.lastReap
}

// reaped reports an expiry pass that removed the sessions ended: each to
// the observer's Ended, then the pass to Reaped. s.mu must not be held:
// the observer is the application's code.
func (s *Store) reaped(ctx context.Context, ended []session.Ended, pass session.ReapStats) {
	s.obs.ReportEnded(ctx, session.EndExpired, ended)
	if f := s.obs.Reaped; f != nil {
		f(pass)
	}
}

// checkSize returns an error wrapping session.ErrInvalid when r cannot be
// encoded as JSON (a Data value that is not valid JSON, a time outside
// the years 0 to 9999), and one wrapping session.ErrTooLarge when its
// encoding exceeds the size limit.
func (s *Store) checkSize(r *session.Record) error {
	b, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("memstore: record %s cannot be encoded: %w: %w", r.ID, session.ErrInvalid, err)
	}
	if s.maxSize > 0 && len(b) > s.maxSize {
		return fmt.Errorf("memstore: record %s encodes to %d bytes, more than the limit of %d: %w",
			r.ID, len(b), s.maxSize, session.ErrTooLarge)
	}
	return nil
}

// rlock fails with ctx's error or, after Close, session.ErrClosed;
// otherwise it returns with s.mu held shared and the caller must RUnlock.
func (s *Store) rlock(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memstore: %w", err)
	}
	s.mu.RLock()
	if s.closed {
		s.mu.RUnlock()
		return session.ErrClosed
	}
	return nil
}

// wlock is rlock with s.mu held exclusively; the caller must Unlock.
func (s *Store) wlock(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memstore: %w", err)
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return session.ErrClosed
	}
	return nil
}

// renewedAt reports whether id was renewed away and its tombstone lasts at
// now. s.mu must be held.
func (s *Store) renewedAt(id session.ID, now time.Time) bool {
	until, ok := s.renewed[id]
	return ok && now.Before(until)
}

// taken reports whether id holds a record or a tombstone (ended or not, as
// long as it is stored), so nothing may be stored under it. s.mu must be
// held.
func (s *Store) taken(id session.ID) bool {
	_, rec := s.recs[id]
	_, tomb := s.renewed[id]
	return rec || tomb
}

// put stores r, which the Store then owns, and indexes it by user.
// s.mu must be held for writing.
func (s *Store) put(r *session.Record) {
	s.recs[r.ID] = r
	if r.UserID == "" {
		return
	}
	set := s.users[r.UserID]
	if set == nil {
		set = make(map[session.ID]struct{})
		s.users[r.UserID] = set
	}
	set[r.ID] = struct{}{}
}

// remove deletes the stored record r and its index entry, and returns
// the session it ended (without a reason: ReportEnded sets it).
// s.mu must be held for writing.
func (s *Store) remove(r *session.Record) session.Ended {
	delete(s.recs, r.ID)
	ended := session.Ended{ID: r.ID, User: r.UserID}
	if r.UserID == "" {
		return ended
	}
	set := s.users[r.UserID]
	delete(set, r.ID)
	if len(set) == 0 {
		delete(s.users, r.UserID)
	}
	return ended
}

// compareID orders ids by their bytes, the order of a listing.
func compareID(a, b session.ID) int { return bytes.Compare(a[:], b[:]) }
