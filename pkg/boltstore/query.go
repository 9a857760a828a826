package boltstore

import (
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"os"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/sesbolt/sesbolt/pkg/session"
)

// UserSessions returns the records of user's sessions live at now, oldest
// Created first (ties by id), found through the user index; nil when there
// are none. An empty user (anonymous sessions) has none. Records that fail
// their seal are left out (and counted).
func (s *Store) UserSessions(ctx context.Context, user string, now time.Time) ([]*session.Record, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if user == "" {
		return nil, nil
	}
	if !s.enter() {
		return nil, session.ErrClosed
	}
	defer s.leave()
	type stored struct {
		id  session.ID
		val []byte
	}
	var found []stored
	err := s.view("user sessions", func(tx *bolt.Tx) error {
		users, err := bucket(tx, bucketUsers)
		if err != nil {
			return err
		}
		sessions, err := bucket(tx, bucketSessions)
		if err != nil {
			return err
		}
		prefix := userPrefix(user)
		c := users.Cursor()
		for k, _ := c.Seek(prefix); k != nil && hasUserPrefix(k, prefix); k, _ = c.Next() {
			var id session.ID
			copy(id[:], k[len(prefix):])
			if v := sessions.Get(id[:]); v != nil {
				found = append(found, stored{id, bytes.Clone(v)})
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	var out []*session.Record
	for _, f := range found {
		r, err := s.codec.decode(f.id, f.val)
		if err != nil {
			s.sealFailed(f.id, err)
			continue
		}
		if r.UserID != user || r.Expired(now) {
			continue
		}
		out = append(out, r)
	}
	slices.SortFunc(out, func(a, b *session.Record) int {
		if c := a.Created.Compare(b.Created); c != 0 {
			return c
		}
		return bytes.Compare(a.ID[:], b.ID[:])
	})
	return out, nil
}

// List returns the next page of records matching q from one read
// transaction. An unknown q.Filter is an error wrapping session.ErrInvalid,
// and so is a q.After this kind of listing does not return. Records failing
// their seal are left out (and counted).
//
// With q.User it walks that user's index entries, in id order with id
// cursors (session.IDCursor), whatever the filter. Otherwise the Expired
// filter walks the due part of the expiry index in its own order (the
// expiry minute, then the creation time, then the id): each page seeks to
// where the previous one stopped, so a whole listing costs the expired
// records once, and Page.Next is an opaque cursor naming the last index
// entry read. The Live and All filters walk the sessions bucket in id
// order from q.After. Page.Next is zero when the listing is complete; a
// page may be followed by one empty page when the store cannot tell
// cheaply that nothing follows.
//
// A page reads records until it is full, however many it skips, so a walk
// checks ctx (and whether the store is closing) as it goes: a cancelled
// context ends it with an error wrapping ctx.Err(), Close with
// session.ErrClosed.
func (s *Store) List(ctx context.Context, q session.ListQuery) (session.Page, error) {
	if err := ctx.Err(); err != nil {
		return session.Page{}, err
	}
	switch q.Filter {
	case session.Live, session.Expired, session.All:
	default:
		return session.Page{}, fmt.Errorf("boltstore: list: %w: unknown filter %d", session.ErrInvalid, q.Filter)
	}
	l := lister{ctx: ctx, s: s, q: q, limit: q.PageLimit()}
	var err error
	if q.Filter == session.Expired && q.User == "" {
		l.from, err = parseExpiryCursor(q.After)
	} else {
		l.after, err = q.After.ID()
	}
	if err != nil {
		return session.Page{}, fmt.Errorf("boltstore: list: %w", err)
	}
	if !s.enter() {
		return session.Page{}, session.ErrClosed
	}
	defer s.leave()
	var page session.Page
	err = s.view("list", func(tx *bolt.Tx) error {
		var err error
		if l.sessions, err = bucket(tx, bucketSessions); err != nil {
			return err
		}
		switch {
		case q.User != "":
			b, err := bucket(tx, bucketUsers)
			if err != nil {
				return err
			}
			page, err = l.byUser(b)
			return err
		case q.Filter == session.Expired:
			b, err := bucket(tx, bucketExpiry)
			if err != nil {
				return err
			}
			page, err = l.expired(b)
			return err
		default:
			page, err = l.byID()
			return err
		}
	})
	if err != nil {
		return session.Page{}, err
	}
	return page, nil
}

// listCheckEvery is how many keys a listing walk reads between looks at
// its context.
const listCheckEvery = 4096

// lister builds one page inside a read transaction.
type lister struct {
	ctx      context.Context
	s        *Store
	q        session.ListQuery
	limit    int
	after    session.ID // q.After of an id-ordered listing
	from     []byte     // q.After of an expiry-ordered listing: an expiry-index key; nil: the start
	sessions *bolt.Bucket
	steps    int // keys the walk has read
}

// step counts a key the walk reads and, every listCheckEvery keys, returns
// the error that ends the walk early: ctx's, or session.ErrClosed once the
// store is closing.
func (l *lister) step() error {
	if l.steps++; l.steps%listCheckEvery == 0 {
		return l.s.stopping(l.ctx)
	}
	return nil
}

// match decodes the record stored under id (v is its value) and reports
// whether it passes the filter. The record shares no memory with v.
func (l *lister) match(id session.ID, v []byte) (*session.Record, bool) {
	r, err := l.s.codec.decode(id, v)
	if err != nil {
		l.s.sealFailed(id, err)
		return nil, false
	}
	if l.q.User != "" && r.UserID != l.q.User {
		return nil, false
	}
	switch l.q.Filter {
	case session.Live:
		return r, !r.Expired(l.q.Now)
	case session.Expired:
		return r, r.Expired(l.q.Now)
	}
	return r, true
}

// collect adds the record stored as v under id to p if it matches the
// query, and reports whether p is then full.
func (l *lister) collect(p *session.Page, id session.ID, v []byte) (full bool) {
	r, ok := l.match(id, v)
	if !ok {
		return false
	}
	p.Records = append(p.Records, r)
	return len(p.Records) == l.limit
}

// byID walks the sessions bucket from l.after.
func (l *lister) byID() (session.Page, error) {
	var p session.Page
	c := l.sessions.Cursor()
	k, v := c.Seek(l.after[:])
	if bytes.Equal(k, l.after[:]) {
		k, v = c.Next()
	}
	for ; k != nil; k, v = c.Next() {
		if err := l.step(); err != nil {
			return session.Page{}, err
		}
		if len(k) != idSize {
			continue
		}
		id := session.ID(k)
		if l.collect(&p, id, v) {
			if k, _ := c.Next(); k != nil {
				p.Next = session.IDCursor(id)
			}
			break
		}
	}
	return p, nil
}

// byUser walks q.User's index entries from l.after.
func (l *lister) byUser(users *bolt.Bucket) (session.Page, error) {
	var p session.Page
	prefix := userPrefix(l.q.User)
	start := userKey(l.q.User, l.after)
	c := users.Cursor()
	k, _ := c.Seek(start)
	if bytes.Equal(k, start) {
		k, _ = c.Next()
	}
	for ; k != nil && hasUserPrefix(k, prefix); k, _ = c.Next() {
		if err := l.step(); err != nil {
			return session.Page{}, err
		}
		id := session.ID(k[len(prefix):])
		v := l.sessions.Get(id[:])
		if v == nil {
			continue
		}
		if l.collect(&p, id, v) {
			if k, _ := c.Next(); k != nil && hasUserPrefix(k, prefix) {
				p.Next = session.IDCursor(id)
			}
			break
		}
	}
	return p, nil
}

// expired walks the due part of the expiry index (the entries of minutes
// that began by q.Now) from the entry after l.from, collecting the records
// expired at q.Now, each under its own entry: an entry left behind by an
// earlier version of a record is skipped, so no record is listed twice.
// Page.Next names the last entry read when due entries follow it.
func (l *lister) expired(expiry *bolt.Bucket) (session.Page, error) {
	var p session.Page
	limit := expiryNanos(l.q.Now)
	c := expiry.Cursor()
	var k []byte
	if l.from == nil {
		k, _ = c.First()
	} else if k, _ = c.Seek(l.from); bytes.Equal(k, l.from) {
		k, _ = c.Next()
	}
	for ; k != nil && due(k, limit); k, _ = c.Next() {
		if err := l.step(); err != nil {
			return session.Page{}, err
		}
		l.s.listSteps.Add(1)
		_, id, ok := parseExpiryKey(k)
		if !ok {
			continue
		}
		v := l.sessions.Get(id[:])
		if v == nil {
			continue // an orphan entry
		}
		r, ok := l.match(id, v)
		if !ok || !isEntryOf(k, r) {
			continue
		}
		p.Records = append(p.Records, r)
		if len(p.Records) == l.limit {
			last := bytes.Clone(k)
			if k, _ := c.Next(); k != nil && due(k, limit) {
				p.Next = expiryCursor(last)
			}
			break
		}
	}
	return p, nil
}

// expiryCursor returns the cursor of an expiry-ordered listing that resumes
// after expiry-index key k: k in hex.
func expiryCursor(k []byte) session.Cursor {
	return session.Cursor(hex.EncodeToString(k))
}

// parseExpiryCursor returns the expiry-index key of a cursor made by
// expiryCursor (nil for the zero cursor), or an error wrapping
// session.ErrInvalid.
func parseExpiryCursor(c session.Cursor) ([]byte, error) {
	if c.IsZero() {
		return nil, nil
	}
	k, err := hex.DecodeString(string(c))
	if err != nil || len(k) != expiryKeySize && len(k) != expiryKeySize1 {
		return nil, fmt.Errorf("%w: %.40q is not a cursor of a listing of expired sessions", session.ErrInvalid, string(c))
	}
	return k, nil
}

// expiredEntry reports whether expiry-index entry k names a record that is
// expired at now.
func expiredEntry(sessions *bolt.Bucket, k []byte, now time.Time) bool {
	_, id, ok := parseExpiryKey(k)
	if !ok {
		return true
	}
	v := sessions.Get(id[:])
	if v == nil {
		return true // an orphan entry, due like its minute
	}
	r, err := decodeUnverified(id, v)
	return err != nil || r.Expired(now)
}

// pendingReaped returns bucketReaped when it holds ids, records an expiry
// pass removed whose index entries it has yet to remove (reaped.go); nil
// when it is missing or empty, as it is between passes.
func pendingReaped(tx *bolt.Tx) *bolt.Bucket {
	b := tx.Bucket(bucketReaped)
	if b == nil {
		return nil
	}
	if k, _ := b.Cursor().First(); k == nil {
		return nil
	}
	return b
}

// Stats returns the store's counters without a full scan: Sessions and
// Users from counters kept in the meta bucket by every write transaction,
// Expired by walking the expiry index up to now (cost: the expired
// records, plus a look at the records of the current minute; entries of
// records an expiry pass removed but has yet to unindex do not count),
// Live as their difference, SizeBytes the file's size, FreeBytes
// the free and pending pages plus the file's unused tail, and the seal
// failures, latest expiry pass and group commits (Commits: count and
// duration percentiles) since Open. Users counts a user until the index
// entry of their last session is gone: while an expiry pass is between
// removing records and removing their index entries (moments within a
// pass; until the next pass after one that stopped halfway) it still
// counts users whose sessions that pass removed.
func (s *Store) Stats(ctx context.Context, now time.Time) (session.Stats, error) {
	if err := ctx.Err(); err != nil {
		return session.Stats{}, err
	}
	if !s.enter() {
		return session.Stats{}, session.ErrClosed
	}
	defer s.leave()
	var st session.Stats
	var dataSize int64
	err := s.view("stats", func(tx *bolt.Tx) error {
		meta, err := bucket(tx, bucketMeta)
		if err != nil {
			return err
		}
		expiry, err := bucket(tx, bucketExpiry)
		if err != nil {
			return err
		}
		n, _ := getUint64(meta.Get(metaSessions))
		u, _ := getUint64(meta.Get(metaUsers))
		st.Sessions, st.Users = int64(n), int64(u)
		limit := expiryNanos(now)
		c := expiry.Cursor()
		sessions, err := bucket(tx, bucketSessions)
		if err != nil {
			return err
		}
		reaped := pendingReaped(tx)
		for k, _ := c.First(); k != nil && due(k, limit); k, _ = c.Next() {
			if !surelyDue(k, limit) && !expiredEntry(sessions, k, now) {
				continue // the current minute's record that expires later
			}
			if reaped != nil {
				if _, id, ok := parseExpiryKey(k); ok && reaped.Get(id[:]) != nil {
					continue // its record is gone, as Sessions already counts
				}
			}
			st.Expired++
			if st.Expired%4096 == 0 {
				if err := s.stopping(ctx); err != nil {
					return err
				}
			}
		}
		dataSize = tx.Size()
		return nil
	})
	if err != nil {
		return session.Stats{}, err
	}
	st.Expired = min(st.Expired, st.Sessions)
	st.Live = st.Sessions - st.Expired
	st.SealFailures = s.seals.Count()
	if r := s.lastReap.Load(); r != nil {
		st.LastReap = *r
	}
	st.Commits = s.commitStats.Stats()
	bs := s.db.Stats()
	st.FreeBytes = int64(bs.FreePageN+bs.PendingPageN) * int64(s.db.Info().PageSize)
	if fi, err := os.Stat(s.path); err == nil {
		st.SizeBytes = fi.Size()
		st.FreeBytes += max(0, st.SizeBytes-dataSize)
	}
	return st, nil
}
