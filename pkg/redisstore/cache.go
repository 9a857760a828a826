package redisstore

import (
	"bytes"
	"encoding/binary"
	"sync/atomic"

	"github.com/sesbolt/sesbolt/pkg/session"
)

// recordCache remembers, per session id, the stored value this process
// last read or wrote and the record it decodes to. It serves two ends:
//
//   - A read whose fetched bytes are exactly the remembered ones skips
//     decoding them (the seal check and two JSON parses, a third of a
//     read's CPU).
//   - An update's first attempt starts from the remembered value instead
//     of reading it again (see Store.Apply): a request's own Load has
//     just remembered it, so an update costs one round trip to Redis
//     instead of two. The attempt's compare-and-set guard holds the
//     remembered bytes, so a stale entry (another process changed the
//     session since) only makes that attempt fail, and the next one reads.
//
// It is a memo of decode, a pure function of the id, the stored bytes and
// the store's keys, so it needs no invalidation: a read compares the bytes
// it fetched, and a write checks the bytes in Redis. Entries racing each
// other (a slow read remembering bytes a write has replaced) cost at most a
// failed first attempt.
//
// It has cacheSlots slots, and each id two of them (picked by two parts of
// its random bits): an entry goes to a free one or displaces the less
// recently added of the two. With one slot per id, 1 - e^(-1000/4096),
// about a fifth, of 1000 sessions share their slot with another, and reads
// cycling through them miss about one in six (a simulation of the policy);
// with two slots, none miss once every id has settled. Every operation is a few atomic loads and stores, so concurrent
// requests never wait for each other. Values over cacheMaxValue bytes are
// not kept. That bounds its memory: about 2.5 KB per typical session (10 MB
// when every slot is full), at most about 40 MB with records near the
// bound. A cached record is never modified: LoadShared lends it, Load and
// Apply hand out copies.
type recordCache struct {
	slots [cacheSlots]atomic.Pointer[cacheEntry]
	clock atomic.Uint64 // numbers the entries in the order they are added
}

const (
	cacheSlots    = 4096
	cacheMaxValue = 4 << 10
)

// cacheEntry is immutable once stored.
type cacheEntry struct {
	id    session.ID
	value []byte
	rec   *session.Record
	added uint64 // recordCache.clock when it was added
}

// pair returns the two slots of id. Ids are random (UUID v4); their last
// four bytes are random bits.
func (c *recordCache) pair(id session.ID) [2]*atomic.Pointer[cacheEntry] {
	return [2]*atomic.Pointer[cacheEntry]{
		&c.slots[binary.BigEndian.Uint16(id[14:])%cacheSlots],
		&c.slots[binary.BigEndian.Uint16(id[12:])%cacheSlots],
	}
}

// get returns the entry of id, or nil.
func (c *recordCache) get(id session.ID) *cacheEntry {
	for _, s := range c.pair(id) {
		if e := s.Load(); e != nil && e.id == id {
			return e
		}
	}
	return nil
}

// lookup returns the record of id if the entry was made from exactly
// value, else nil. The record is shared: the caller must not modify it.
func (c *recordCache) lookup(id session.ID, value []byte) *session.Record {
	if e := c.get(id); e != nil && bytes.Equal(e.value, value) {
		return e.rec
	}
	return nil
}

// add remembers that value, stored under id, decodes to rec. It keeps both
// as they are: neither may be modified afterwards. A value over
// cacheMaxValue bytes is not kept (and forgets id).
func (c *recordCache) add(id session.ID, value []byte, rec *session.Record) {
	if len(value) > cacheMaxValue {
		c.drop(id)
		return
	}
	e := &cacheEntry{id: id, value: value, rec: rec, added: c.clock.Add(1)}
	pair := c.pair(id)
	a, b := pair[0].Load(), pair[1].Load()
	switch {
	case a != nil && a.id == id:
		pair[0].Store(e)
	case b != nil && b.id == id:
		pair[1].Store(e)
	case a == nil:
		pair[0].Store(e)
	case b == nil:
		pair[1].Store(e)
	case a.added < b.added: // displace the entry added earlier
		pair[0].Store(e)
	default:
		pair[1].Store(e)
	}
}

// drop forgets id.
func (c *recordCache) drop(id session.ID) {
	for _, s := range c.pair(id) {
		if e := s.Load(); e != nil && e.id == id {
			s.CompareAndSwap(e, nil)
		}
	}
}
